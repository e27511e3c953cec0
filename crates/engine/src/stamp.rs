//! Where a command's time and entropy come from.
//!
//! The engine reads no clock and draws no random numbers: a [`DeploymentEngine`] asks its
//! [`Stamp`] for both when it turns a command into an [`Envelope`](crate::Envelope), and
//! nowhere else. This module has the deterministic stamp that tests, simulations and
//! benchmarks use; the system clock and the operating system's RNG live in an adapter
//! crate (`rollout-store`'s `SystemStamp`), because reading them is I/O.
//!
//! Whatever a stamp says, the engine's clock never goes backwards: [`apply`](crate::apply)
//! uses the later of the envelope's time and the state's [`now`](crate::State::now).
//!
//! [`DeploymentEngine`]: crate::DeploymentEngine

use crate::command::Entropy;
use crate::model::UnixNanos;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// Supplies the time and the entropy of each command a [`DeploymentEngine`] submits.
///
/// Implementations are shared (`Send + Sync`, `&self`): an engine clone, a store's writer
/// thread and a timer may all hold the same stamp.
///
/// [`DeploymentEngine`]: crate::DeploymentEngine
pub trait Stamp: Send + Sync {
    /// The current time, Unix nanoseconds. It may go backwards (a wall clock stepped by
    /// NTP); the engine clamps it to the last applied time.
    fn now(&self) -> UnixNanos;

    /// 32 fresh bytes from which the command's new IDs are derived. An error refuses the
    /// submission ([`Error::NoEntropy`](crate::Error::NoEntropy)) and applies nothing.
    fn entropy(&self) -> Result<Entropy, StampError>;
}

/// A stamp that could not produce entropy (say, the OS random source failed).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StampError(pub String);

impl<S: Stamp + ?Sized> Stamp for Arc<S> {
    fn now(&self) -> UnixNanos {
        (**self).now()
    }
    fn entropy(&self) -> Result<Entropy, StampError> {
        (**self).entropy()
    }
}

/// A clock that moves only when told to. Clones share the time, so a test can keep one
/// handle and give another to the engine.
///
/// ```
/// use rollout_engine::VirtualClock;
/// let clock = VirtualClock::new(1_000);
/// let handle = clock.clone();
/// handle.advance(500);
/// assert_eq!(clock.now(), 1_500);
/// ```
#[derive(Clone, Debug, Default)]
pub struct VirtualClock {
    now_ns: Arc<AtomicI64>,
}

impl VirtualClock {
    /// A clock showing `now_ns`.
    pub fn new(now_ns: UnixNanos) -> VirtualClock {
        VirtualClock {
            now_ns: Arc::new(AtomicI64::new(now_ns)),
        }
    }

    /// The time it shows.
    pub fn now(&self) -> UnixNanos {
        self.now_ns.load(Ordering::SeqCst)
    }

    /// Moves the clock by `ns` (saturating at the ends of time; negative moves it back,
    /// which the engine then clamps).
    pub fn advance(&self, ns: i64) {
        let _ = self
            .now_ns
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(t.saturating_add(ns))
            });
    }

    /// Sets the time.
    pub fn set(&self, now_ns: UnixNanos) {
        self.now_ns.store(now_ns, Ordering::SeqCst);
    }
}

/// The deterministic stamp: time from a [`VirtualClock`], entropy from a seed and a
/// counter (the `n`th command gets [`Entropy::from_u64`]`(seed + n)`). The same seed and the same sequence of submissions give the same log, byte
/// for byte — what tests, the simulator, fuzzing and benchmarks need.
///
/// `step_ns` moves the clock after every draw of entropy (that is, after every submitted
/// command), for drivers that want time to pass without managing a clock.
///
/// ```
/// use rollout_engine::{SeededStamp, Stamp, VirtualClock};
/// let a = SeededStamp::new(7, VirtualClock::new(0));
/// let b = SeededStamp::new(7, VirtualClock::new(0));
/// assert_eq!(a.entropy(), b.entropy());
/// assert_eq!(a.draws(), 1);
/// assert_ne!(SeededStamp::new(1, VirtualClock::new(0)).entropy(), b.entropy());
/// ```
#[derive(Debug)]
pub struct SeededStamp {
    clock: VirtualClock,
    seed: u64,
    draws: AtomicU64,
    step_ns: i64,
}

impl SeededStamp {
    /// Entropy from `seed`; time from `clock`, which the caller advances.
    pub fn new(seed: u64, clock: VirtualClock) -> SeededStamp {
        SeededStamp {
            clock,
            seed,
            draws: AtomicU64::new(0),
            step_ns: 0,
        }
    }

    /// Like [`SeededStamp::new`], and the clock advances by `step_ns` after each command.
    pub fn stepping(seed: u64, clock: VirtualClock, step_ns: i64) -> SeededStamp {
        SeededStamp {
            step_ns,
            ..SeededStamp::new(seed, clock)
        }
    }

    /// An independent stamp that continues this one's sequence on `clock`: the next
    /// entropy it draws is the one this stamp would draw next. For forking a world (a
    /// what-if) without the two sharing a counter.
    pub fn fork(&self, clock: VirtualClock) -> SeededStamp {
        SeededStamp {
            clock,
            seed: self.seed,
            draws: AtomicU64::new(self.draws()),
            step_ns: self.step_ns,
        }
    }

    /// The clock this stamp reads.
    pub fn clock(&self) -> &VirtualClock {
        &self.clock
    }

    /// How many times entropy was drawn: the number of commands stamped so far.
    pub fn draws(&self) -> u64 {
        self.draws.load(Ordering::SeqCst)
    }
}

impl Stamp for SeededStamp {
    fn now(&self) -> UnixNanos {
        self.clock.now()
    }

    fn entropy(&self) -> Result<Entropy, StampError> {
        let n = self.draws.fetch_add(1, Ordering::SeqCst);
        if self.step_ns != 0 {
            self.clock.advance(self.step_ns);
        }
        Ok(Entropy::from_u64(self.seed.wrapping_add(n)))
    }
}
