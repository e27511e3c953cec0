//! An in-memory [`Backend`]: one [`DeploymentEngine`] behind a mutex, for tests and
//! embedders that need no durability. Nothing survives the process.
//!
//! It keeps every envelope it applied (and the state it started from), so that its
//! history can be re-derived like the store's: memory grows with the number of writes,
//! which suits tests and short-lived embedders, not a long-running agent.

use super::{Backend, BackendError, BoxFuture, HistoryIter};
use rollout_engine::model::UnixNanos;
use rollout_engine::{
    apply, Actor, Command, DeploymentEngine, EngineConfig, Envelope, Outcome, Stamp, State,
};
use rollout_store::{Committed, HistoryError, SystemStamp};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, watch};

/// Committed batches the live feed keeps for a receiver that has not read them.
const FEED_CAPACITY: usize = 1024;

/// Applies commands to an in-memory engine, one at a time.
pub struct MemoryBackend {
    engine: Mutex<Inner>,
    /// Shared with the task that wakes blocking queries after a write is answered.
    applied: Arc<watch::Sender<u64>>,
    feed: broadcast::Sender<Arc<[Committed]>>,
}

struct Inner {
    engine: DeploymentEngine,
    /// The state the backend started from: history begins after it.
    origin: Arc<State>,
    /// Every envelope applied since, in order.
    log: Vec<Arc<Envelope>>,
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
        let applied = Arc::new(watch::Sender::new(engine.index()));
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        MemoryBackend {
            engine: Mutex::new(Inner {
                origin: Arc::new(engine.state().clone()),
                engine,
                log: Vec::new(),
            }),
            applied,
            feed,
        }
    }

    /// The engine lock. A panic while holding it cannot leave a half-applied state
    /// (the engine replaces its state whole), so a poisoned lock is still safe to use.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.engine.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn apply_now(&self, command: Command, actor: Option<Actor>) -> Result<Outcome, BackendError> {
        let mut inner = self.lock();
        let before = Arc::new(inner.engine.state().clone());
        let name = command.name();
        let applied = inner
            .engine
            .submit_as(command, actor)
            .map_err(|e| match e {
                rollout_engine::Error::NoEntropy(_) => BackendError::Internal(e.to_string()),
                e => BackendError::Rejected(e),
            })?;
        inner.log.push(Arc::new(applied.envelope.clone()));
        // Fed under the lock, so that the feed is in index order.
        if self.feed.receiver_count() > 0 {
            let committed = Committed {
                command: name,
                outcome: applied.outcome.clone(),
                state: Arc::new(applied.state.clone()),
                before,
                actor: applied.envelope.actor.clone(),
            };
            let _ = self.feed.send(Arc::from(vec![committed]));
        }
        drop(inner);
        wake_waiters(&self.applied, applied.envelope.index);
        Ok(applied.outcome)
    }
}

/// Wakes the blocking queries waiting for `index` from a task of its own when there is a
/// runtime, so that the write is answered before thousands of waiters are woken; inline
/// otherwise. Signals only a newer index: tasks may run out of order.
fn wake_waiters(applied: &Arc<watch::Sender<u64>>, index: u64) {
    let signal = move |applied: &watch::Sender<u64>| {
        applied.send_if_modified(|current| {
            let newer = index > *current;
            if newer {
                *current = index;
            }
            newer
        });
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            let applied = applied.clone();
            runtime.spawn(async move { signal(&applied) });
        }
        Err(_) => signal(applied),
    }
}

impl Default for MemoryBackend {
    fn default() -> Self {
        MemoryBackend::new()
    }
}

impl Backend for MemoryBackend {
    fn submit_as(
        &self,
        command: Command,
        actor: Option<Actor>,
    ) -> BoxFuture<'_, Result<Outcome, BackendError>> {
        Box::pin(async move { self.apply_now(command, actor) })
    }

    fn state(&self) -> State {
        self.lock().engine.state().clone()
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    fn commits(&self) -> broadcast::Receiver<Arc<[Committed]>> {
        self.feed.subscribe()
    }

    fn history(&self, from: u64) -> Result<HistoryIter, HistoryError> {
        let (origin, log) = {
            let inner = self.lock();
            (inner.origin.clone(), inner.log.clone())
        };
        let from = from.max(1);
        if from <= origin.index() {
            return Err(HistoryError::TooOld {
                requested: from,
                oldest: origin.index() + 1,
            });
        }
        let mut state = origin;
        let mut entries = log.into_iter();
        let replay = move |state: &mut Arc<State>, e: &Envelope| {
            let (after, outcome) = apply(state, e).map_err(|err| HistoryError::Replay {
                index: e.index,
                message: err.to_string(),
            })?;
            let after = Arc::new(after);
            let before = std::mem::replace(state, after.clone());
            Ok(Committed {
                command: e.command.name(),
                outcome,
                state: after,
                before,
                actor: e.actor.clone(),
            })
        };
        // Replay silently up to `from - 1`.
        for e in entries.by_ref() {
            if e.index >= from {
                let first = replay(&mut state, &e);
                let rest = entries.map(move |e| replay(&mut state, &e));
                return Ok(Box::new(std::iter::once(first).chain(rest)));
            }
            replay(&mut state, &e)?;
        }
        Ok(Box::new(std::iter::empty()))
    }

    fn now_ns(&self) -> UnixNanos {
        self.lock().engine.now()
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
