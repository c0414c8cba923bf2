//! Integration tests of `nba-server`: the real server on ephemeral ports, against a real
//! ClickHouse (nba-testkit) holding season 2023-24 loaded from the real pages and built,
//! and a registry holding models trained on it by the real trainer.

// Helpers outside #[test] functions may panic: this is a test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod calibration;
mod faults;
mod flight;
mod game_day;
mod lines;
mod market_day;
mod names;
mod ops;
mod predict;
mod slate_run;
mod util;
