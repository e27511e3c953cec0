//! The latest committed state, shared with readers.
//!
//! Readers never wait for the writer: the state is behind an [`ArcSwap`], so `load` is a
//! few atomic operations and an O(1) clone, whatever the writer is doing. Waiting for an
//! index (what blocking queries need) uses a condition variable for threads and a
//! `tokio::sync::watch` channel for async callers; both are signalled after the pointer
//! swap, so a woken waiter always finds a state at least as new as it was told.
//!
//! Waking is off the write path. Signalling the watch channel wakes every task waiting on
//! it, one waker call each: with 10,000 blocking queries that is milliseconds, and done by
//! the writer it delayed the acknowledgements of the batch that woke them and the start of
//! the next. So the writer only swaps the pointer ([`Published::publish`]), answers its
//! submitters, then hands the index to the *waker* thread ([`Published::wake_waiters`], one
//! channel send); the waker signals both, coalescing indexes that arrive while it works.
//! Every published index is followed by a signal of it or a later one, so no wake-up is
//! lost: a waiter that subscribed before its read either read the new state or is woken.
//!
//! The last [`RECENT_STATES_KEPT`] committed states are kept too, so that a time-travel
//! read of the recent past ("what did this look like a moment ago", a UI stepping back)
//! is a lookup rather than a replay from the last snapshot. They share structure with
//! each other and with the current state, so each costs only what its write copied.

use arc_swap::ArcSwap;
use rollout_engine::State;
use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Committed states kept for time travel to the recent past.
pub const RECENT_STATES_KEPT: usize = 1024;

pub(crate) struct Published {
    state: ArcSwap<State>,
    /// The last committed states, oldest first, by increasing index.
    recent: Mutex<VecDeque<Arc<State>>>,
    signals: Arc<Signals>,
    /// To the waker thread; `None` if it could not be started (then the caller wakes).
    waker: Option<mpsc::Sender<u64>>,
}

/// What waiters wait on: the index signalled last.
struct Signals {
    /// The signalled index, mirrored under a mutex for the condition variable.
    index: Mutex<u64>,
    changed: Condvar,
    watch: watch::Sender<u64>,
}

impl Signals {
    fn signal(&self, index: u64) {
        {
            // The value is a plain number, so a poisoned lock still holds a valid one.
            let mut guard = self.index.lock().unwrap_or_else(PoisonError::into_inner);
            *guard = (*guard).max(index);
        }
        self.changed.notify_all();
        self.watch.send_if_modified(|current| {
            let newer = index > *current;
            if newer {
                *current = index;
            }
            newer
        });
    }
}

/// The waker thread: signals the latest index it was handed, until the [`Published`]
/// holding the sender is dropped.
fn run_waker(signals: Arc<Signals>, indexes: mpsc::Receiver<u64>) {
    while let Ok(mut index) = indexes.recv() {
        // Indexes that queued up while the last signal ran: one signal covers them all.
        while let Ok(later) = indexes.try_recv() {
            index = index.max(later);
        }
        signals.signal(index);
    }
}

impl Published {
    pub(crate) fn new(state: Arc<State>) -> Published {
        let index = state.index();
        let signals = Arc::new(Signals {
            index: Mutex::new(index),
            changed: Condvar::new(),
            watch: watch::Sender::new(index),
        });
        let (tx, rx) = mpsc::channel();
        let for_thread = signals.clone();
        let waker = std::thread::Builder::new()
            .name("rollout-store-waker".into())
            .spawn(move || run_waker(for_thread, rx))
            .map_err(|e| tracing::warn!(error = %e, "no waker thread; the writer wakes waiters"))
            .ok()
            .map(|_| tx);
        Published {
            state: ArcSwap::new(state),
            recent: Mutex::new(VecDeque::with_capacity(RECENT_STATES_KEPT)),
            signals,
            waker,
        }
    }

    pub(crate) fn load(&self) -> Arc<State> {
        self.state.load_full()
    }

    /// Makes a committed state visible to readers ([`Published::load`]); waiters learn
    /// of it from [`Published::wake_waiters`]. Only the writer calls this, with increasing
    /// indexes.
    pub(crate) fn publish(&self, state: Arc<State>) {
        debug_assert!(state.index() >= self.state.load().index());
        self.state.store(state);
    }

    /// Keeps the states a batch committed (in index order) for [`Published::recent`],
    /// forgetting the oldest beyond [`RECENT_STATES_KEPT`]. Only the writer calls this.
    pub(crate) fn remember(&self, states: impl IntoIterator<Item = Arc<State>>) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        for state in states {
            if recent.len() >= RECENT_STATES_KEPT {
                recent.pop_front();
            }
            recent.push_back(state);
        }
    }

    /// The committed state at exactly `index`, if it is among the recent ones. (They
    /// stay right across a reopen after a failed commit: only acknowledged writes are
    /// remembered, and recovery rebuilds exactly those.)
    pub(crate) fn recent(&self, index: u64) -> Option<Arc<State>> {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        let at = recent.binary_search_by_key(&index, |s| s.index()).ok()?;
        recent.get(at).cloned()
    }

    /// Wakes everything waiting for an index up to the published one: hands it to the
    /// waker thread (one channel send) so the caller does not wait for the wake-ups.
    pub(crate) fn wake_waiters(&self) {
        let index = self.state.load().index();
        let handed = self.waker.as_ref().is_some_and(|w| w.send(index).is_ok());
        if !handed {
            self.signals.signal(index);
        }
    }

    /// Blocks until the published index is at least `min_index` or `timeout` passed, then
    /// returns the latest state (whose index tells which happened).
    pub(crate) fn wait_for_index(&self, min_index: u64, timeout: Duration) -> Arc<State> {
        // Already there (perhaps not yet signalled): no need to wait for the waker.
        let latest = self.load();
        if latest.index() >= min_index {
            return latest;
        }
        let deadline = Instant::now().checked_add(timeout);
        let signals = &self.signals;
        let mut guard = signals.index.lock().unwrap_or_else(PoisonError::into_inner);
        while *guard < min_index {
            let remaining = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if remaining.is_zero() {
                break;
            }
            guard = signals
                .changed
                .wait_timeout(guard, remaining)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        drop(guard);
        self.load()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.signals.watch.subscribe()
    }
}
