#![no_main]
//! See nba_fuzz::v2_tensor.

libfuzzer_sys::fuzz_target!(|input: nba_fuzz::V2Input| nba_fuzz::v2_tensor(&input));
