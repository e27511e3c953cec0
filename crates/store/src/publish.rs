//! The latest committed state, shared with readers.
//!
//! Readers never wait for the writer: the state is behind an [`ArcSwap`], so `load` is a
//! few atomic operations and an O(1) clone, whatever the writer is doing. Waiting for an
//! index (what blocking queries need) uses a condition variable for threads and a
//! `tokio::sync::watch` channel for async callers; both are signalled after the pointer
//! swap, so a woken waiter always finds a state at least as new as it was told.

use arc_swap::ArcSwap;
use rollout_engine::State;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub(crate) struct Published {
    state: ArcSwap<State>,
    /// The published index, mirrored under a mutex for the condition variable.
    index: Mutex<u64>,
    changed: Condvar,
    watch: watch::Sender<u64>,
}

impl Published {
    pub(crate) fn new(state: Arc<State>) -> Published {
        let index = state.index();
        Published {
            state: ArcSwap::new(state),
            index: Mutex::new(index),
            changed: Condvar::new(),
            watch: watch::Sender::new(index),
        }
    }

    pub(crate) fn load(&self) -> Arc<State> {
        self.state.load_full()
    }

    /// Makes a committed state visible. Only the writer calls this, with increasing
    /// indexes.
    pub(crate) fn publish(&self, state: Arc<State>) {
        let index = state.index();
        debug_assert!(index >= self.state.load().index());
        self.state.store(state);
        {
            // The value is a plain number, so a poisoned lock still holds a valid one.
            let mut guard = self.index.lock().unwrap_or_else(PoisonError::into_inner);
            *guard = index;
        }
        self.changed.notify_all();
        self.watch.send_replace(index);
    }

    /// Blocks until the published index is at least `min_index` or `timeout` passed, then
    /// returns the latest state (whose index tells which happened).
    pub(crate) fn wait_for_index(&self, min_index: u64, timeout: Duration) -> Arc<State> {
        let deadline = Instant::now().checked_add(timeout);
        let mut guard = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        while *guard < min_index {
            let remaining = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if remaining.is_zero() {
                break;
            }
            guard = self
                .changed
                .wait_timeout(guard, remaining)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        drop(guard);
        self.load()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.watch.subscribe()
    }
}
