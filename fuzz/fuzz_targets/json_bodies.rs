//! See `rollout_fuzz::bodies`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rollout_fuzz::bodies::run(data));
