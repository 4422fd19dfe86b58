#![no_main]
//! See `roomrec_tests::fuzz_bodies::signaling_room` for the input layout.

libfuzzer_sys::fuzz_target!(|data: &[u8]| roomrec_tests::fuzz_bodies::signaling_room(data));
