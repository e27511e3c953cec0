//! The callers on this node waiting for their writes to be applied here.
//!
//! openraft answers a write on the leader only; a write that came in through a follower
//! is forwarded, and the follower answers its client once it has applied the entry
//! itself — so that the client's next read on that node sees its write, and so that the
//! full engine outcome never has to cross the network: the state machine of every node
//! computes the same outcome from the same entry. A caller registers its request ID
//! here before proposing; the state machine settles it when it applies the entry.

use crate::types::RequestId;
use rollout_engine::Outcome;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use tokio::sync::oneshot;

/// What became of a request when this node applied it.
#[derive(Clone, Debug)]
pub enum Settled {
    /// Applied: the engine's outcome (`outcome.index` is the entry's index).
    Applied(Outcome),
    /// Refused by the engine at `index`; nothing changed.
    Refused {
        index: u64,
        error: rollout_engine::Error,
    },
    /// Its request ID was applied before, at `first_index`; nothing was applied again.
    Duplicate { first_index: u64 },
}

/// Request IDs awaited on this node.
#[derive(Debug, Default)]
pub struct Waiters {
    waiting: Mutex<HashMap<RequestId, oneshot::Sender<Settled>>>,
}

impl Waiters {
    /// Waits for `id`. A second registration of the same ID replaces the first, whose
    /// receiver then sees a closed channel.
    pub fn register(&self, id: RequestId) -> oneshot::Receiver<Settled> {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id, tx);
        rx
    }

    /// Stops waiting for `id` (the caller gave up).
    pub fn forget(&self, id: &RequestId) {
        self.lock().remove(id);
    }

    /// Tells the waiter of `id`, if any, what became of it.
    pub fn settle(&self, id: &RequestId, settled: Settled) {
        if let Some(tx) = self.lock().remove(id) {
            // A waiter that stopped listening just misses the answer.
            let _ = tx.send(settled);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RequestId, oneshot::Sender<Settled>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
