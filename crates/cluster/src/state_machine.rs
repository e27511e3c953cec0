//! The replicated state machine: envelopes applied in log order through the engine.
//!
//! Every node applies the same entries in the same order with
//! [`DeploymentEngine::replay`], so every node holds the byte-identical state. The Raft
//! log index of an entry is the index of its envelope — the index the API shows — and
//! entries without a command (the blank entry a new leader writes, membership changes)
//! leave gaps in the engine's indexes, which `replay` accepts.
//!
//! The state machine keeps the engine state in memory. It is made durable by the
//! snapshot file and the Raft log: at start the state is the last snapshot's, and
//! openraft re-applies the committed entries after it (the committed index is saved).

use crate::dedup::AppliedRequests;
use crate::snapshot::{self, SnapshotError, SnapshotFile, Stored};
use crate::types::{AppliedAs, NodeId, Proposal, RequestId, TypeConfig, WriteResponse};
use crate::waiters::{Settled, Waiters};
use openraft::storage::RaftStateMachine;
use openraft::{
    AnyError, BasicNode, Entry, EntryPayload, LogId, RaftSnapshotBuilder, Snapshot, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership,
};
use rollout_engine::{DeploymentEngine, EngineConfig, Stamp, State};
use rollout_store::Committed;
use std::io::Cursor;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

type StorageResult<T> = Result<T, StorageError<NodeId>>;

/// What a node shows of its state machine, updated after every applied batch.
#[derive(Debug)]
pub struct Published {
    /// The engine state.
    pub state: watch::Sender<State>,
    /// The Raft index of the last applied entry (with or without a command): it is at
    /// least `state.index()`.
    pub applied_index: watch::Sender<u64>,
    /// Every applied write, in order, with the states before and after it.
    pub commits: broadcast::Sender<Arc<[Committed]>>,
    /// Snapshots installed from a leader since the node started.
    installed: AtomicU64,
}

impl Published {
    /// How many snapshots were installed from a leader since the node started.
    pub fn snapshots_installed(&self) -> u64 {
        self.installed.load(Ordering::Relaxed)
    }

    fn new(state: State, applied_index: u64, feed_capacity: usize) -> Published {
        Published {
            state: watch::Sender::new(state),
            applied_index: watch::Sender::new(applied_index),
            commits: broadcast::Sender::new(feed_capacity.max(1)),
            installed: AtomicU64::new(0),
        }
    }
}

/// The state machine of one node.
pub struct StateMachine {
    applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
    engine: DeploymentEngine,
    requests: AppliedRequests,
    file: Arc<SnapshotFile>,
    published: Arc<Published>,
    waiters: Arc<Waiters>,
    builds: Arc<AtomicU64>,
}

impl std::fmt::Debug for StateMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateMachine")
            .field("applied", &self.applied)
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl StateMachine {
    /// Opens the state machine of the node whose data directory is `dir`: the state of
    /// its snapshot file, or an empty state with `config`.
    pub fn open(
        dir: &Path,
        config: EngineConfig,
        stamp: Arc<dyn Stamp>,
        waiters: Arc<Waiters>,
        feed_capacity: usize,
    ) -> Result<StateMachine, SnapshotError> {
        std::fs::create_dir_all(dir).map_err(|source| SnapshotError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let file = SnapshotFile::open(dir)?;
        let (applied, membership, state, requests) = match file.current() {
            Some(held) => {
                let (state, requests) = snapshot::decode(&held.body)?;
                (
                    held.meta.last_log_id,
                    held.meta.last_membership,
                    state,
                    requests,
                )
            }
            None => (
                None,
                StoredMembership::default(),
                State::with_config(config),
                AppliedRequests::default(),
            ),
        };
        let applied_index = applied.map_or(0, |id| id.index);
        Ok(StateMachine {
            applied,
            membership,
            published: Arc::new(Published::new(state.clone(), applied_index, feed_capacity)),
            engine: DeploymentEngine::from_shared(state, stamp),
            requests,
            file: Arc::new(file),
            waiters,
            builds: Arc::new(AtomicU64::new(0)),
        })
    }

    /// What this state machine publishes.
    pub fn published(&self) -> Arc<Published> {
        self.published.clone()
    }

    /// Applies one proposal at `index`: once per request ID, all or nothing.
    fn apply_proposal(
        &mut self,
        index: u64,
        proposal: &Proposal,
        committed: &mut Vec<Committed>,
        settled: &mut Vec<(RequestId, Settled)>,
    ) -> AppliedAs {
        let id = proposal.request_id;
        if let Some(first_index) = self.requests.first_index(&id) {
            settled.push((id, Settled::Duplicate { first_index }));
            return AppliedAs::Duplicate { first_index };
        }
        let before = self.engine.state().clone();
        match self.engine.replay(&proposal.envelope(index)) {
            Ok(outcome) => {
                self.requests.record(index, id);
                committed.push(Committed {
                    outcome: outcome.clone(),
                    state: Arc::new(self.engine.state().clone()),
                    before: Arc::new(before),
                });
                settled.push((id, Settled::Applied(outcome)));
                AppliedAs::Applied
            }
            // A refused command changed nothing and is not remembered: a retry is
            // decided afresh, which cannot apply anything twice.
            Err(error) => {
                let text = error.to_string();
                settled.push((id, Settled::Refused { index, error }));
                AppliedAs::Refused(text)
            }
        }
    }

    /// Shows the batch just applied: first the state, then the answers to the callers
    /// waiting here (so that a caller's next read sees its write), then the applied
    /// index (so that whoever waits for the index finds every waiter of the batch
    /// settled), then the feed.
    fn publish(&self, committed: Vec<Committed>, settled: Vec<(RequestId, Settled)>) {
        self.published
            .state
            .send_replace(self.engine.state().clone());
        for (id, s) in settled {
            self.waiters.settle(&id, s);
        }
        self.published
            .applied_index
            .send_replace(self.applied.map_or(0, |id| id.index));
        if !committed.is_empty() {
            // No receiver is not an error: nobody follows the feed yet.
            let _ = self.published.commits.send(committed.into());
        }
    }
}

fn request_id(entry: &Entry<TypeConfig>) -> Option<RequestId> {
    match &entry.payload {
        EntryPayload::Normal(p) => Some(p.request_id),
        _ => None,
    }
}

fn any(e: impl std::error::Error + 'static) -> AnyError {
    AnyError::new(&e)
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> StorageResult<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>)> {
        Ok((self.applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<WriteResponse>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut responses = Vec::new();
        let mut committed = Vec::new();
        let mut settled = Vec::new();
        for entry in entries {
            let index = entry.log_id.index;
            self.applied = Some(entry.log_id);
            let request_id = request_id(&entry);
            let applied = match entry.payload {
                EntryPayload::Blank => AppliedAs::NoCommand,
                EntryPayload::Membership(membership) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), membership);
                    AppliedAs::NoCommand
                }
                EntryPayload::Normal(proposal) => {
                    self.apply_proposal(index, &proposal, &mut committed, &mut settled)
                }
            };
            responses.push(WriteResponse {
                index,
                request_id,
                applied,
            });
        }
        self.publish(committed, settled);
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            applied: self.applied,
            membership: self.membership.clone(),
            state: self.engine.state().clone(),
            requests: self.requests.clone(),
            file: self.file.clone(),
            builds: self.builds.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> StorageResult<()> {
        let body = snapshot.into_inner();
        let read_error = |e: SnapshotError| {
            StorageError::from(StorageIOError::read_snapshot(
                Some(meta.signature()),
                any(e),
            ))
        };
        let (state, requests) = snapshot::decode(&body).map_err(read_error)?;
        // Durable first: openraft drops the log the snapshot covers once this returns.
        self.file
            .save(Stored {
                meta: meta.clone(),
                body: Arc::new(body),
            })
            .map_err(|e| {
                StorageError::from(StorageIOError::write_snapshot(
                    Some(meta.signature()),
                    any(e),
                ))
            })?;
        self.applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.engine = DeploymentEngine::from_shared(state, self.engine.stamp().clone());
        self.requests = requests;
        self.published.installed.fetch_add(1, Ordering::Relaxed);
        self.publish(Vec::new(), Vec::new());
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        Ok(self.file.current().map(|held| Snapshot {
            meta: held.meta,
            snapshot: Box::new(Cursor::new(held.body.to_vec())),
        }))
    }
}

/// Builds a snapshot of the state as it was when openraft asked for the builder (an
/// O(1) clone), off the state machine's task.
pub struct SnapshotBuilder {
    applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
    state: State,
    requests: AppliedRequests,
    file: Arc<SnapshotFile>,
    builds: Arc<AtomicU64>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<TypeConfig>> {
        let write_error =
            |e: SnapshotError| StorageError::from(StorageIOError::write_snapshot(None, any(e)));
        let body = snapshot::encode(&self.state, &self.requests).map_err(write_error)?;
        let build = self.builds.fetch_add(1, Ordering::Relaxed);
        let snapshot_id = match self.applied {
            Some(id) => format!("{}-{}-{build}", id.leader_id, id.index),
            None => format!("empty-{build}"),
        };
        let meta = SnapshotMeta {
            last_log_id: self.applied,
            last_membership: self.membership.clone(),
            snapshot_id,
        };
        let body = Arc::new(body);
        self.file
            .save(Stored {
                meta: meta.clone(),
                body: body.clone(),
            })
            .map_err(write_error)?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(body.to_vec())),
        })
    }
}
