//! A node's history: the writes it applied, re-derived from its snapshot and its log.
//!
//! What the durable store offers as `Store::history`, a cluster node offers from what
//! Raft keeps: the snapshot it last built or installed, and the log entries after it.
//! Replaying those entries through the engine as the state machine applied them — a
//! request ID once ([`AppliedRequests`]), a refused command skipped, entries without a
//! command leaving gaps — gives back every write with the same outcome and the same
//! states it had when it was applied, on every node.
//!
//! The oldest index a node can replay is the one right after its snapshot: the log
//! below it may already be deleted. A snapshot is built every
//! `RaftSettings::snapshot_every_entries` entries, so at least that many recent writes
//! can always be asked about.

use crate::dedup::AppliedRequests;
use crate::snapshot::{self, Stored};
use crate::state_machine::replay_at;
use crate::types::{Proposal, TypeConfig};
use openraft::{Entry, EntryPayload};
use rollout_engine::{DeploymentEngine, EngineConfig, Stamp, State};
use rollout_store::{Committed, HistoryError};
use std::path::PathBuf;
use std::sync::Arc;

/// Committed writes from a start index up to the index applied when the history was
/// opened, in log order.
pub struct History {
    engine: DeploymentEngine,
    requests: AppliedRequests,
    entries: std::vec::IntoIter<Entry<TypeConfig>>,
    /// The entry being replayed: its index, its proposals and how many were replayed.
    current: (u64, Arc<[Proposal]>, usize),
    /// The first index to yield; the entries before it are replayed silently.
    from: u64,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("from", &self.from)
            .field("index", &self.engine.index())
            .finish_non_exhaustive()
    }
}

/// Where a history reads: the node's snapshot, its log, and how far it has applied.
pub(crate) struct Source<'a> {
    pub snapshot: Option<Stored>,
    pub snapshot_path: PathBuf,
    pub log: &'a crate::log_store::LogStore,
    pub log_path: PathBuf,
    pub applied_index: u64,
    pub engine_config: &'a EngineConfig,
    /// Unused by replay (envelopes carry their stamps); the engine needs one.
    pub stamp: Arc<dyn Stamp>,
}

impl History {
    /// The writes from index `from` (at least 1) up to `source.applied_index`.
    pub(crate) fn open(source: Source<'_>, from: u64) -> Result<History, HistoryError> {
        let from = from.max(1);
        let (state, requests, base) = match &source.snapshot {
            Some(held) => {
                let (state, requests) =
                    snapshot::decode(&held.body).map_err(|e| HistoryError::Snapshot {
                        path: source.snapshot_path.clone(),
                        message: e.to_string(),
                    })?;
                (
                    state,
                    requests,
                    held.meta.last_log_id.map_or(0, |id| id.index),
                )
            }
            None => (
                State::with_config(source.engine_config.clone()),
                AppliedRequests::default(),
                0,
            ),
        };
        if from <= base {
            return Err(HistoryError::TooOld {
                requested: from,
                oldest: base + 1,
            });
        }
        let entries = source
            .log
            .entries(base + 1..=source.applied_index)
            .map_err(|e| HistoryError::Snapshot {
                path: source.log_path.clone(),
                message: format!("reading the Raft log: {e}"),
            })?;
        Ok(History {
            engine: DeploymentEngine::from_shared(state, source.stamp),
            requests,
            entries: entries.into_iter(),
            current: (0, Arc::new([]), 0),
            from,
        })
    }
}

impl History {
    /// The next proposal of the log after the ones replayed: its entry's index, the
    /// entry's proposals and its position among them.
    fn next_proposal(&mut self) -> Option<(u64, Arc<[Proposal]>, usize)> {
        loop {
            let (index, proposals, done) = &mut self.current;
            if *done < proposals.len() {
                *done += 1;
                return Some((*index, proposals.clone(), *done - 1));
            }
            let entry = self.entries.next()?;
            // A blank or membership entry is a gap in the engine's indexes.
            if let EntryPayload::Normal(batch) = entry.payload {
                self.current = (entry.log_id.index, batch.proposals, 0);
            }
        }
    }
}

impl Iterator for History {
    type Item = Result<Committed, HistoryError>;

    fn next(&mut self) -> Option<Self::Item> {
        while let Some((index, proposals, at)) = self.next_proposal() {
            let proposal = &proposals[at];
            if self.requests.first_index(&proposal.request_id).is_some() {
                continue; // applied once already, as the state machine decided
            }
            let before = self.engine.state().clone();
            // A refusal changed nothing when it was applied, and changes nothing now.
            let Ok(outcome) = replay_at(&mut self.engine, &proposal.envelope(index)) else {
                continue;
            };
            self.requests.record(index, proposal.request_id);
            if index >= self.from {
                return Some(Ok(Committed {
                    command: proposal.command.name(),
                    outcome,
                    state: Arc::new(self.engine.state().clone()),
                    before: Arc::new(before),
                    actor: proposal.actor.clone(),
                }));
            }
        }
        None
    }
}
