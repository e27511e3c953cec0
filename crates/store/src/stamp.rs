//! Where an envelope's non-determinism comes from: the time and the entropy.
//!
//! The engine reads no clock and no random source; the store supplies both when it stamps
//! an envelope. Production uses the system clock and the OS RNG; tests inject a
//! [`SeededStamper`] so that two runs produce identical logs.

use rollout_engine::Entropy;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Supplies `now` and entropy for each envelope. Called on the writer thread.
pub trait Stamper: Send + Sync + 'static {
    /// Wall-clock time, Unix nanoseconds.
    fn now_ns(&self) -> i64;
    /// 32 fresh bytes of entropy. An error fails the submission (nothing is written):
    /// guessable IDs are worse than an unavailable store.
    fn entropy(&self) -> std::io::Result<Entropy>;
}

/// The system clock and the operating system's RNG.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemStamper;

impl Stamper for SystemStamper {
    fn now_ns(&self) -> i64 {
        // Before 1970 or after 2262 the clock is wrong; 0 keeps the store running and the
        // store's monotonic clamp keeps the log's time from going backwards.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_nanos()).ok())
            .unwrap_or(0)
    }

    fn entropy(&self) -> std::io::Result<Entropy> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Entropy(bytes))
    }
}

/// Deterministic stamps for tests and simulations: time starts at `start_ns` and advances
/// by `step_ns` per envelope; entropy is derived from a counter.
#[derive(Debug)]
pub struct SeededStamper {
    start_ns: i64,
    step_ns: i64,
    calls: AtomicU64,
    seed: u64,
}

impl SeededStamper {
    pub fn new(seed: u64, start_ns: i64, step_ns: i64) -> SeededStamper {
        SeededStamper {
            start_ns,
            step_ns,
            calls: AtomicU64::new(0),
            seed,
        }
    }
}

impl Stamper for SeededStamper {
    fn now_ns(&self) -> i64 {
        let n = self.calls.load(Ordering::Relaxed) as i64;
        self.start_ns.saturating_add(n.saturating_mul(self.step_ns))
    }

    fn entropy(&self) -> std::io::Result<Entropy> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let mut e = Entropy::from_u64(self.seed);
        e.0[8..16].copy_from_slice(&n.to_le_bytes());
        Ok(e)
    }
}
