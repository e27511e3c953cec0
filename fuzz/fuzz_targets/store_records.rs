//! See `rollout_fuzz::records`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rollout_fuzz::records::run(data));
