//! An in-memory [`Backend`]: one [`DeploymentEngine`] behind a mutex, for tests and
//! embedders that need no durability. Nothing survives the process.

use super::{Backend, BackendError, BoxFuture};
use rollout_engine::model::UnixNanos;
use rollout_engine::{Command, DeploymentEngine, EngineConfig, Outcome, Stamp, State};
use rollout_store::SystemStamp;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::watch;

/// Applies commands to an in-memory engine, one at a time.
pub struct MemoryBackend {
    engine: Mutex<DeploymentEngine>,
    applied: watch::Sender<u64>,
}

impl MemoryBackend {
    /// The system clock, OS entropy, an empty state.
    pub fn new() -> MemoryBackend {
        MemoryBackend::with_stamp(SystemStamp)
    }

    /// An empty state stamped by `stamp` (a `SeededStamp` on a `VirtualClock` makes the
    /// same requests give the same bytes).
    pub fn with_stamp(stamp: impl Stamp + 'static) -> MemoryBackend {
        MemoryBackend::from_engine(DeploymentEngine::new(EngineConfig::default(), stamp))
    }

    /// Starts from an existing engine (say, one restored from a snapshot).
    pub fn from_engine(engine: DeploymentEngine) -> MemoryBackend {
        let (applied, _) = watch::channel(engine.index());
        MemoryBackend {
            engine: Mutex::new(engine),
            applied,
        }
    }

    /// The engine lock. A panic while holding it cannot leave a half-applied state
    /// (the engine replaces its state whole), so a poisoned lock is still safe to use.
    fn lock(&self) -> MutexGuard<'_, DeploymentEngine> {
        self.engine.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn apply_now(&self, command: Command) -> Result<Outcome, BackendError> {
        let mut engine = self.lock();
        let applied = engine.submit(command).map_err(|e| match e {
            rollout_engine::Error::NoEntropy(_) => BackendError::Internal(e.to_string()),
            e => BackendError::Rejected(e),
        })?;
        drop(engine);
        self.applied.send_replace(applied.envelope.index);
        Ok(applied.outcome)
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
        self.lock().state().clone()
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    fn now_ns(&self) -> UnixNanos {
        self.lock().now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollout_engine::command::UpdateEvalStatus;

    #[tokio::test]
    async fn rejected_commands_change_nothing_and_publish_nothing() {
        let backend = MemoryBackend::with_stamp(rollout_engine::SeededStamp::new(
            1,
            rollout_engine::VirtualClock::new(1_700_000_000_000_000_000),
        ));
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
