//! The durable [`Backend`]: `rollout-store`'s command log and snapshots.
//!
//! R5 says a 200 on a write means the command is in the log on disk. The store gives
//! exactly that: [`Store::submit_async`] resolves after the group commit that carried the
//! command was fsynced, so this adapter only translates types. It never blocks a tokio
//! worker: commands are queued on the store's writer thread and the answer comes back
//! through a oneshot channel.

use super::{Backend, BackendError, BoxFuture, HistoryIter};
use rollout_engine::model::UnixNanos;
use rollout_engine::{Actor, Command, Outcome, State};
use rollout_store::{Committed, HistoryError, Store, SubmitError};
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

/// A [`Backend`] over a durable [`Store`].
pub struct StoreBackend {
    store: Arc<Store>,
}

impl StoreBackend {
    /// Wraps an open store.
    pub fn new(store: Arc<Store>) -> StoreBackend {
        StoreBackend { store }
    }

    /// The store itself: recovery report, statistics, log reads.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }
}

impl Backend for StoreBackend {
    fn submit_as(
        &self,
        command: Command,
        actor: Option<Actor>,
    ) -> BoxFuture<'_, Result<Outcome, BackendError>> {
        // Queued now, so that commands are ordered as submitted; resolves after the fsync.
        let committed = self.store.submit_async_as(command, actor);
        Box::pin(async move { committed.await.map(|c| c.outcome).map_err(backend_error) })
    }

    fn state(&self) -> State {
        // An O(1) clone of the published state (persistent maps share structure).
        State::clone(&self.store.state())
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.store.subscribe()
    }

    fn commits(&self) -> broadcast::Receiver<Arc<[Committed]>> {
        self.store.commits()
    }

    fn history(&self, from: u64) -> Result<HistoryIter, HistoryError> {
        Ok(Box::new(self.store.history(from)?))
    }

    /// The recent past from the store's memory, older states re-derived from the log.
    fn state_at(&self, index: u64) -> Result<State, HistoryError> {
        self.store.state_at(index).map(|s| State::clone(&s))
    }

    /// The store's clock, so that reads that depend on time (the planner, the deadline
    /// timer) agree with what the next envelope will be stamped with.
    fn now_ns(&self) -> UnixNanos {
        self.store.now()
    }

    fn refusing_writes(&self) -> Option<String> {
        self.store.refusing_writes()
    }

    fn store_stats(&self) -> Option<rollout_store::StoreStats> {
        Some(self.store.stats())
    }

    fn observe_store(&self, observer: Arc<dyn rollout_store::StoreObserver>) {
        self.store.set_observer(observer);
    }
}

/// Which store failures are the client's (rejections), which are transient (503) and
/// which are real faults (500, logged by the API). The commit that failed is a fault;
/// the writes refused while the store reopens its database are transient: it recovers
/// by itself, so clients should retry.
fn backend_error(e: SubmitError) -> BackendError {
    match e {
        SubmitError::Rejected(e) => BackendError::Rejected(e),
        e @ (SubmitError::Overloaded { .. } | SubmitError::Closed | SubmitError::Failed(_)) => {
            BackendError::Unavailable(e.to_string())
        }
        e @ (SubmitError::Storage(_) | SubmitError::Entropy(_) | SubmitError::Encode(_)) => {
            BackendError::Internal(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollout_engine::command::UpdateEvalStatus;
    use rollout_engine::{SeededStamp, VirtualClock};
    use rollout_store::Options;

    fn open(dir: &std::path::Path) -> StoreBackend {
        let clock = VirtualClock::new(1_700_000_000_000_000_000);
        let options = Options {
            stamp: Arc::new(SeededStamp::stepping(7, clock, 1_000)),
            ..Options::default()
        };
        let store = Store::open(dir, options).expect("open");
        StoreBackend::new(Arc::new(store))
    }

    #[tokio::test]
    async fn an_acknowledged_command_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let backend = open(dir.path());
        let mut applied = backend.subscribe();
        let outcome = backend.submit(Command::Tick).await.unwrap();
        assert_eq!(outcome.index, 1);
        applied.changed().await.unwrap();
        assert_eq!(*applied.borrow(), 1);
        assert_eq!(backend.state().index(), 1);
        drop(backend);

        let backend = open(dir.path());
        assert_eq!(backend.state().index(), 1);
        assert_eq!(backend.store().recovery_report().entries_replayed, 1);
    }

    #[tokio::test]
    async fn rejections_keep_the_engine_error_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let backend = open(dir.path());
        let err = backend
            .submit(Command::UpdateEvalStatus(UpdateEvalStatus {
                status: "complete".into(),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert!(matches!(err, BackendError::Rejected(_)), "{err:?}");
        assert_eq!(backend.state().index(), 0);
    }
}
