//! Integration tests of `nba-ingest` against a real ClickHouse (started by nba-testkit) on
//! real pages: the sample archive, one season archive and fixtures cut from the sample.
//! Expected figures come from `scripts/independent_counts.py`, which reads the same pages
//! with Python's standard library only.

mod build;
mod load;
mod ops;
mod util;
