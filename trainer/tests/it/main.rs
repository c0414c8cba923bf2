//! Integration tests of `nba-trainer` against a real ClickHouse (nba-testkit) holding
//! season 2023-24 loaded from the real pages and built into `player_features`. A short
//! date split (train Oct-Jan, validate Feb, test Mar) with few trees keeps them quick.

// Helpers outside #[test] functions may panic: this is a test binary.
#![allow(clippy::unwrap_used)]

mod calibration;
mod errors;
mod faults;
mod game_day;
mod password_user;
mod rolling;
mod train;
mod util;
