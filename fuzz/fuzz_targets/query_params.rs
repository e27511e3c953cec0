//! See `rollout_fuzz::queries`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rollout_fuzz::queries::run(data));
