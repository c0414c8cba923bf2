#![no_main]
//! See nba_fuzz::schedule.

libfuzzer_sys::fuzz_target!(|data: &[u8]| nba_fuzz::schedule(data));
