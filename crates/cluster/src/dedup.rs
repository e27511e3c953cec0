//! Exactly-once application: the request IDs the state machine has applied.
//!
//! A write may reach the log twice — a client retries after a timeout, or a forwarded
//! write is sent again after a leader change — and must change the state once. The
//! state machine remembers the request IDs of the last [`WINDOW`] applied proposals with
//! the index each was applied at; a proposal whose ID is remembered is not applied
//! again and is answered with that first index.
//!
//! The window is part of the replicated state: it is in every snapshot, and it is a
//! constant rather than a setting, because two nodes with different windows would
//! decide differently about the same entry and their states would drift apart.

use crate::types::RequestId;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

/// How many recent request IDs are remembered. A retry arrives within seconds; this
/// many writes take far longer than that even at the store's full speed.
pub const WINDOW: usize = 100_000;

/// The remembered request IDs, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<(u64, RequestId)>", into = "Vec<(u64, RequestId)>")]
pub struct AppliedRequests {
    order: VecDeque<(u64, RequestId)>,
    index_of: HashMap<RequestId, u64>,
}

impl AppliedRequests {
    /// The index `id` was first applied at, if it is still remembered.
    pub fn first_index(&self, id: &RequestId) -> Option<u64> {
        self.index_of.get(id).copied()
    }

    /// Remembers that `id` was applied at `index`, forgetting the oldest beyond the
    /// window. Indexes come in log order; the proposals of one entry share its index.
    pub fn record(&mut self, index: u64, id: RequestId) {
        debug_assert!(self.order.back().is_none_or(|(last, _)| *last <= index));
        if self.index_of.insert(id, index).is_none() {
            self.order.push_back((index, id));
        }
        while self.order.len() > WINDOW {
            if let Some((_, old)) = self.order.pop_front() {
                self.index_of.remove(&old);
            }
        }
    }

    /// How many IDs are remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

impl From<Vec<(u64, RequestId)>> for AppliedRequests {
    fn from(list: Vec<(u64, RequestId)>) -> Self {
        let mut applied = AppliedRequests::default();
        for (index, id) in list {
            applied.record(index, id);
        }
        applied
    }
}

impl From<AppliedRequests> for Vec<(u64, RequestId)> {
    fn from(applied: AppliedRequests) -> Self {
        applied.order.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn id(n: u128) -> RequestId {
        RequestId(Uuid::from_u128(n))
    }

    #[test]
    fn dedup_remembers_the_first_index_of_a_request() {
        let mut applied = AppliedRequests::default();
        applied.record(3, id(1));
        applied.record(5, id(2));
        assert_eq!(applied.first_index(&id(1)), Some(3));
        assert_eq!(applied.first_index(&id(2)), Some(5));
        assert_eq!(applied.first_index(&id(3)), None);
    }

    #[test]
    fn dedup_window_forgets_the_oldest_beyond_its_size() {
        let mut applied = AppliedRequests::default();
        for n in 0..(WINDOW as u128 + 2) {
            applied.record(n as u64 + 1, id(n));
        }
        assert_eq!(applied.len(), WINDOW);
        assert_eq!(applied.first_index(&id(0)), None);
        assert_eq!(applied.first_index(&id(1)), None);
        assert_eq!(applied.first_index(&id(2)), Some(3));
    }

    #[test]
    fn dedup_survives_a_snapshot_round_trip_in_order() {
        let mut applied = AppliedRequests::default();
        applied.record(2, id(9));
        applied.record(4, id(7));
        let bytes = rmp_serde::to_vec_named(&applied).unwrap();
        let back: AppliedRequests = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, applied);
        assert_eq!(back.first_index(&id(7)), Some(4));
    }
}
