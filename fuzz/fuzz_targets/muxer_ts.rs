#![no_main]
//! See `roomrec_tests::fuzz_bodies::muxer_ts` for the input layout.

libfuzzer_sys::fuzz_target!(|data: &[u8]| roomrec_tests::fuzz_bodies::muxer_ts(data));
