#![no_main]
//! See nba_fuzz::box_score.

libfuzzer_sys::fuzz_target!(|data: &[u8]| nba_fuzz::box_score(data));
