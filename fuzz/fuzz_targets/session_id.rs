//! Fuzz target: see `session_tests::fuzz::session_id` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_tests::fuzz::session_id(data));
