//! Command sequences applied to a state: no panic, every invariant after every step,
//! determinism, replay and snapshot round trips. See `rollout_fuzz::engine`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rollout_fuzz::engine::run(data));
