//! Integration tests of `nba-ingest` against a real ClickHouse (started by nba-testkit) on
//! real pages: the sample archive, one season archive and fixtures cut from the sample.
//! Expected figures come from `scripts/independent_counts.py`, which reads the same pages
//! with Python's standard library only.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod build;
mod faults;
mod grading;
mod hostile;
mod injuries;
mod lines;
mod load;
mod operations;
mod scrape;
mod util;
