//! The system clock and the operating system's RNG as a [`Stamp`]: what a real agent
//! stamps its commands with.
//!
//! The engine reads no clock and no random source; reading them is I/O, so it lives in
//! this adapter. Tests and simulations use the engine's deterministic
//! [`rollout_engine::SeededStamp`] instead, so that two runs produce identical logs.

use rollout_engine::model::UnixNanos;
use rollout_engine::{Entropy, Stamp, StampError};
use std::time::{SystemTime, UNIX_EPOCH};

/// The system clock and the operating system's RNG.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemStamp;

impl Stamp for SystemStamp {
    fn now(&self) -> UnixNanos {
        system_now_ns()
    }

    fn entropy(&self) -> Result<Entropy, StampError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| StampError(format!("no OS entropy: {e}")))?;
        Ok(Entropy(bytes))
    }
}

/// The wall clock as Unix nanoseconds, the one way this workspace reads it: 0 before
/// 1970, `i64::MAX` after 2262 (a clock that wrong is a broken machine; the engine's
/// clock rule keeps the log's time from going backwards either way).
pub fn system_now_ns() -> UnixNanos {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}
