#![no_main]
//! See nba_fuzz::archive.

libfuzzer_sys::fuzz_target!(|data: &[u8]| nba_fuzz::archive(data));
