//! An in-memory [`Backend`]: one `State` behind a mutex, for tests and `rollout agent
//! --dev`. Nothing survives the process.

use super::{system_now_ns, Backend, BackendError, BoxFuture};
use rollout_engine::model::UnixNanos;
use rollout_engine::{apply, Command, Entropy, Envelope, Outcome, State};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// Where a backend gets `now` for its envelopes.
pub trait Clock: Send + Sync + 'static {
    fn now_ns(&self) -> UnixNanos;
}

/// The operating system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ns(&self) -> UnixNanos {
        system_now_ns()
    }
}

/// A clock that only moves when told to: deterministic tests and snapshots.
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ns: AtomicI64,
}

impl ManualClock {
    pub fn new(now_ns: UnixNanos) -> ManualClock {
        ManualClock {
            now_ns: AtomicI64::new(now_ns),
        }
    }

    pub fn advance(&self, ns: i64) {
        self.now_ns.fetch_add(ns, Ordering::SeqCst);
    }

    pub fn set(&self, now_ns: UnixNanos) {
        self.now_ns.store(now_ns, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ns(&self) -> UnixNanos {
        self.now_ns.load(Ordering::SeqCst)
    }
}

/// Where a backend gets the entropy new IDs derive from.
#[derive(Debug)]
pub enum EntropySource {
    /// The operating system's random source: what a real agent uses.
    Os,
    /// A counter: the same seed gives the same IDs (tests, snapshots).
    Seeded(AtomicU64),
}

impl EntropySource {
    pub fn seeded(seed: u64) -> EntropySource {
        EntropySource::Seeded(AtomicU64::new(seed))
    }

    fn next(&self) -> Result<Entropy, BackendError> {
        match self {
            EntropySource::Os => {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes)
                    .map_err(|e| BackendError::Internal(format!("no entropy: {e}")))?;
                Ok(Entropy(bytes))
            }
            EntropySource::Seeded(counter) => {
                Ok(Entropy::from_u64(counter.fetch_add(1, Ordering::SeqCst)))
            }
        }
    }
}

/// Applies commands to an in-memory state, one at a time.
pub struct MemoryBackend {
    state: Mutex<State>,
    applied: watch::Sender<u64>,
    clock: Arc<dyn Clock>,
    entropy: EntropySource,
}

impl MemoryBackend {
    /// Real clock, OS entropy, empty state.
    pub fn new() -> MemoryBackend {
        MemoryBackend::with_sources(Arc::new(SystemClock), EntropySource::Os)
    }

    pub fn with_sources(clock: Arc<dyn Clock>, entropy: EntropySource) -> MemoryBackend {
        MemoryBackend::from_state(State::new(), clock, entropy)
    }

    /// Starts from an existing state (e.g. one loaded elsewhere).
    pub fn from_state(
        state: State,
        clock: Arc<dyn Clock>,
        entropy: EntropySource,
    ) -> MemoryBackend {
        let (applied, _) = watch::channel(state.index());
        MemoryBackend {
            state: Mutex::new(state),
            applied,
            clock,
            entropy,
        }
    }

    /// The state lock. A panic while holding it cannot leave a half-applied state
    /// (states are replaced whole), so a poisoned lock is still safe to use.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn apply_now(&self, command: Command) -> Result<Outcome, BackendError> {
        let mut state = self.lock();
        let envelope = Envelope::new(
            state.index() + 1,
            self.clock.now_ns(),
            self.entropy.next()?,
            command,
        );
        let (next, outcome) = apply(&state, &envelope)?;
        *state = next;
        let index = state.index();
        drop(state);
        self.applied.send_replace(index);
        Ok(outcome)
    }
}

impl Default for MemoryBackend {
    fn default() -> Self {
        MemoryBackend::new()
    }
}

impl Backend for MemoryBackend {
    fn submit(&self, command: Command) -> BoxFuture<'_, Result<Outcome, BackendError>> {
        Box::pin(async move { self.apply_now(command) })
    }

    fn state(&self) -> State {
        self.lock().clone()
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    fn now_ns(&self) -> UnixNanos {
        self.clock.now_ns()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollout_engine::command::UpdateEvalStatus;

    #[tokio::test]
    async fn rejected_commands_change_nothing_and_publish_nothing() {
        let backend = MemoryBackend::with_sources(
            Arc::new(ManualClock::new(1_700_000_000_000_000_000)),
            EntropySource::seeded(1),
        );
        let rx = backend.subscribe();
        let err = backend
            .submit(Command::UpdateEvalStatus(UpdateEvalStatus {
                status: "complete".into(),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert!(matches!(err, BackendError::Rejected(_)));
        assert_eq!(backend.state().index(), 0);
        assert!(!rx.has_changed().unwrap());
    }

    #[tokio::test]
    async fn applied_commands_advance_the_index_and_notify() {
        let backend = MemoryBackend::new();
        let mut rx = backend.subscribe();
        backend.submit(Command::Tick).await.unwrap();
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow(), 1);
        assert_eq!(backend.state().index(), 1);
    }
}
