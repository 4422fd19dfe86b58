#![no_main]
//! See `roomrec_tests::fuzz_bodies::codec_parse` for the input layout.

libfuzzer_sys::fuzz_target!(|data: &[u8]| roomrec_tests::fuzz_bodies::codec_parse(data));
