//! Timings the store reports as they happen, for an agent's metrics: each batch's
//! commit (its fsync included) and each snapshot write. The store does no metrics of its
//! own; whoever runs it installs an observer once ([`Store::set_observer`]).
//!
//! [`Store::set_observer`]: crate::Store::set_observer

use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Told about the store's commits and snapshots, on the store's own threads: it must
/// return quickly (record a number, never block).
pub trait StoreObserver: Send + Sync {
    /// A batch of `commands` commands was committed in `took` (one fsync).
    fn batch_committed(&self, commands: usize, took: Duration);
    /// A snapshot was written in `took`.
    fn snapshot_written(&self, took: Duration);
}

/// The observer, once installed; shared by the writer and the snapshotter.
#[derive(Default)]
pub(crate) struct ObserverSlot(OnceLock<Arc<dyn StoreObserver>>);

impl ObserverSlot {
    /// Installs `observer`; false if one was installed before (it stays).
    pub(crate) fn set(&self, observer: Arc<dyn StoreObserver>) -> bool {
        self.0.set(observer).is_ok()
    }

    pub(crate) fn batch_committed(&self, commands: usize, took: Duration) {
        if let Some(o) = self.0.get() {
            o.batch_committed(commands, took);
        }
    }

    pub(crate) fn snapshot_written(&self, took: Duration) {
        if let Some(o) = self.0.get() {
            o.snapshot_written(took);
        }
    }
}
