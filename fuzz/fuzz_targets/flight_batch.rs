#![no_main]
//! See nba_fuzz::flight_batches.

libfuzzer_sys::fuzz_target!(|data: &[u8]| nba_fuzz::flight_batches(data));
