#![no_main]
//! See `roomrec_tests::fuzz_bodies::session_datagram` for the input layout.

libfuzzer_sys::fuzz_target!(|data: &[u8]| roomrec_tests::fuzz_bodies::session_datagram(data));
