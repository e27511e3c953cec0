//! The replicated state machine: envelopes applied in log order through the engine.
//!
//! Every node applies the same entries in the same order with
//! [`DeploymentEngine::replay`], so every node holds the byte-identical state. The Raft
//! log index of an entry is the index of its envelopes — the index the API shows: the
//! commands one entry carries ([`Batch`]) all get it, the first that applies through
//! `replay` and the ones after it through [`DeploymentEngine::replay_in_entry`]. Entries
//! without a command (the blank entry a new leader writes, membership changes) leave
//! gaps in the engine's indexes, which `replay` accepts.
//!
//! The state machine keeps the engine state in memory. It is made durable by the
//! snapshot file and the Raft log: at start the state is the last snapshot's, and
//! openraft re-applies the committed entries after it (the committed index is saved).

use crate::dedup::AppliedRequests;
use crate::snapshot::{self, SnapshotError, SnapshotFile, Stored};
use crate::types::{AppliedAs, Batch, NodeId, Proposal, RequestId, TypeConfig, WriteResponse};
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
    /// The engine state's index (`state.index()`), for waiters that need only that
    /// (blocking queries).
    pub state_index: watch::Sender<u64>,
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
            state_index: watch::Sender::new(state.index()),
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

    /// The snapshot file this state machine saves to (what a history starts from).
    pub fn snapshot_file(&self) -> Arc<SnapshotFile> {
        self.file.clone()
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
        match replay_at(&mut self.engine, &proposal.envelope(index)) {
            Ok(outcome) => {
                self.requests.record(index, id);
                committed.push(Committed {
                    command: proposal.command.name(),
                    outcome: outcome.clone(),
                    state: Arc::new(self.engine.state().clone()),
                    before: Arc::new(before),
                    actor: proposal.actor.clone(),
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

    /// Shows the batch just applied: first the state (and its index), then the answers to the callers
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
        let index = self.engine.state().index();
        self.published.state_index.send_if_modified(|i| {
            let changed = *i != index;
            *i = index;
            changed
        });
        self.published
            .applied_index
            .send_replace(self.applied.map_or(0, |id| id.index));
        if !committed.is_empty() {
            // No receiver is not an error: nobody follows the feed yet.
            let _ = self.published.commits.send(committed.into());
        }
    }
}

/// Applies one command of an entry at the entry's index: through
/// [`DeploymentEngine::replay`] if it is the first of its entry to apply, else through
/// [`DeploymentEngine::replay_in_entry`]. Entry indexes only go up and only an applied
/// command moves the state's index, so the state already being at the entry's index
/// means exactly that an earlier command of this entry applied.
pub(crate) fn replay_at(
    engine: &mut DeploymentEngine,
    envelope: &rollout_engine::Envelope,
) -> rollout_engine::Result<rollout_engine::Outcome> {
    if engine.index() == envelope.index {
        engine.replay_in_entry(envelope)
    } else {
        engine.replay(envelope)
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
            let proposals = match entry.payload {
                EntryPayload::Blank => Vec::new(),
                EntryPayload::Membership(membership) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), membership);
                    Vec::new()
                }
                EntryPayload::Normal(Batch { proposals }) => proposals
                    .iter()
                    .map(|p| {
                        let applied = self.apply_proposal(index, p, &mut committed, &mut settled);
                        (p.request_id, applied)
                    })
                    .collect(),
            };
            responses.push(WriteResponse { index, proposals });
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
        tracing::info!(
            index = meta.last_log_id.map_or(0, |l| l.index),
            "snapshot installed from the leader (this member was behind its log)"
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, Membership};
    use rollout_engine::command::RegisterJob;
    use rollout_engine::testing::{service_job, update};
    use rollout_engine::{Command, Entropy, SeededStamp, VirtualClock};
    use std::collections::BTreeSet;
    use uuid::Uuid;

    fn open(dir: &Path) -> StateMachine {
        StateMachine::open(
            dir,
            EngineConfig::default(),
            Arc::new(SeededStamp::new(1, VirtualClock::new(0))),
            Arc::new(Waiters::default()),
            16,
        )
        .unwrap()
    }

    fn log_id(index: u64) -> LogId<NodeId> {
        LogId::new(CommittedLeaderId::new(1, 1), index)
    }

    fn register(index: u64, request: u128, job: &str) -> Proposal {
        Proposal {
            request_id: RequestId(Uuid::from_u128(request)),
            now: 1_700_000_000_000_000_000 + index as i64,
            entropy: Entropy::from_u64(index * 1_000 + request as u64),
            command: Command::RegisterJob(RegisterJob {
                job: service_job(job, 1, update(1, 0)),
                ..RegisterJob::default()
            }),
            actor: None,
        }
    }

    fn proposal(index: u64, request: u128, job: &str) -> Entry<TypeConfig> {
        batch(index, vec![register(index, request, job)])
    }

    fn batch(index: u64, proposals: Vec<Proposal>) -> Entry<TypeConfig> {
        Entry {
            log_id: log_id(index),
            payload: EntryPayload::Normal(Batch::from(proposals)),
        }
    }

    /// The answer for the one proposal of an entry.
    fn only(response: &WriteResponse) -> AppliedAs {
        assert_eq!(response.proposals.len(), 1, "{response:?}");
        response.proposals[0].1.clone()
    }

    fn membership(index: u64) -> Entry<TypeConfig> {
        let voters: BTreeSet<NodeId> = [1, 2, 3].into_iter().collect();
        Entry {
            log_id: log_id(index),
            payload: EntryPayload::Membership(Membership::new(vec![voters], None)),
        }
    }

    fn blank(index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: log_id(index),
            payload: EntryPayload::Blank,
        }
    }

    #[tokio::test]
    async fn raft_log_index_is_the_engine_index_and_entries_without_command_leave_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let mut sm = open(dir.path());
        let mut feed = sm.published.commits.subscribe();
        let answers = sm
            .apply(vec![
                membership(0),
                blank(1),
                proposal(2, 1, "a"),
                blank(3),
                proposal(4, 2, "b"),
            ])
            .await
            .unwrap();
        let applied: Vec<_> = answers
            .iter()
            .map(|a| {
                let answers: Vec<_> = a.proposals.iter().map(|(_, x)| x.clone()).collect();
                (a.index, answers)
            })
            .collect();
        assert_eq!(
            applied,
            vec![
                (0, vec![]),
                (1, vec![]),
                (2, vec![AppliedAs::Applied]),
                (3, vec![]),
                (4, vec![AppliedAs::Applied]),
            ]
        );
        let state = sm.engine.state();
        assert_eq!(state.index(), 4);
        assert_eq!(state.job("default", "a").unwrap().job_modify_index, 2);
        assert_eq!(state.job("default", "b").unwrap().job_modify_index, 4);
        assert_eq!(*sm.published.applied_index.borrow(), 4);
        assert_eq!(sm.published.state.borrow().index(), 4);
        // Blocking queries wait on the state index alone: it moves with the state.
        assert_eq!(*sm.published.state_index.borrow(), 4);
        // The feed carries the two writes only, named and at their Raft indexes.
        let batch = feed.try_recv().unwrap();
        let fed: Vec<_> = batch.iter().map(|c| (c.command, c.outcome.index)).collect();
        let name = register(2, 1, "a").command.name();
        assert_eq!(fed, vec![(name, 2), (name, 4)]);
        assert_eq!(batch[1].before.index(), 2);
    }

    #[tokio::test]
    async fn commands_of_one_entry_share_its_index_each_applied_once_and_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut sm = open(dir.path());
        let mut feed = sm.published.commits.subscribe();
        let mut refused = register(3, 4, "x");
        refused.command = Command::FailDeployment(rollout_engine::command::FailDeployment {
            deployment_id: Uuid::from_u128(99),
        });
        let answers = sm
            .apply(vec![
                blank(1),
                batch(2, vec![register(2, 1, "a"), register(2, 2, "b")]),
                // A refusal first, then a duplicate of request 1, then a new write: the
                // refusal changes nothing, the third still applies at index 3.
                batch(
                    3,
                    vec![refused, register(3, 1, "a-again"), register(3, 3, "c")],
                ),
            ])
            .await
            .unwrap();
        let applied: Vec<Vec<AppliedAs>> = answers
            .iter()
            .map(|a| a.proposals.iter().map(|(_, x)| x.clone()).collect())
            .collect();
        assert_eq!(applied[0], vec![]);
        assert_eq!(applied[1], vec![AppliedAs::Applied, AppliedAs::Applied]);
        assert!(matches!(applied[2][0], AppliedAs::Refused(_)));
        assert_eq!(applied[2][1], AppliedAs::Duplicate { first_index: 2 });
        assert_eq!(applied[2][2], AppliedAs::Applied);
        let state = sm.engine.state();
        assert_eq!(state.index(), 3);
        let modify = |job| state.job("default", job).unwrap().job_modify_index;
        assert_eq!((modify("a"), modify("b"), modify("c")), (2, 2, 3));
        assert!(state.job("default", "a-again").is_none());
        // The feed has one record per applied command, each with its own before-state.
        let fed = feed.try_recv().unwrap();
        let indexes: Vec<_> = fed.iter().map(|c| c.outcome.index).collect();
        assert_eq!(indexes, vec![2, 2, 3]);
        assert!(fed[0].before.job("default", "a").is_none());
        assert!(fed[1].before.job("default", "a").is_some());
        assert!(fed[1].before.job("default", "b").is_none());
    }

    #[test]
    fn an_entry_written_before_batching_decodes_as_a_batch_of_one() {
        let old = register(4, 9, "legacy");
        let bytes = rmp_serde::to_vec_named(&old).unwrap();
        let decoded: Batch = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(decoded, Batch::one(old));
        let garbage = rmp_serde::to_vec_named(&serde_json::json!({"now": 1})).unwrap();
        let err = rmp_serde::from_slice::<Batch>(&garbage).unwrap_err();
        assert!(err.to_string().contains("neither a batch"), "{err}");
    }

    #[tokio::test]
    async fn dedup_a_request_proposed_twice_is_applied_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut sm = open(dir.path());
        let answers = sm
            .apply(vec![proposal(1, 7, "a"), proposal(2, 7, "a-again")])
            .await
            .unwrap();
        assert_eq!(only(&answers[0]), AppliedAs::Applied);
        assert_eq!(only(&answers[1]), AppliedAs::Duplicate { first_index: 1 });
        assert!(sm.engine.state().job("default", "a-again").is_none());
        assert_eq!(sm.engine.state().index(), 1);
        // Also when the duplicate comes in a later batch.
        let later = sm.apply(vec![proposal(5, 7, "a-late")]).await.unwrap();
        assert_eq!(only(&later[0]), AppliedAs::Duplicate { first_index: 1 });
    }

    #[tokio::test]
    async fn refused_command_is_answered_and_leaves_the_state_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let mut sm = open(dir.path());
        sm.apply(vec![proposal(1, 1, "a")]).await.unwrap();
        let before = rollout_store::codec::state_fingerprint(sm.engine.state()).unwrap();
        let mut refused = register(2, 2, "x");
        refused.command = Command::FailDeployment(rollout_engine::command::FailDeployment {
            deployment_id: Uuid::from_u128(99),
        });
        let bad = batch(2, vec![refused]);
        let answers = sm.apply(vec![bad]).await.unwrap();
        assert!(matches!(only(&answers[0]), AppliedAs::Refused(_)));
        assert_eq!(
            rollout_store::codec::state_fingerprint(sm.engine.state()).unwrap(),
            before
        );
        // A refused request is not remembered: it may be decided again.
        assert_eq!(
            sm.requests.first_index(&RequestId(Uuid::from_u128(2))),
            None
        );
    }

    #[tokio::test]
    async fn snapshot_built_on_one_node_installs_on_another_with_its_request_ids() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut leader = open(a.path());
        leader
            .apply(vec![
                membership(0),
                blank(1),
                proposal(2, 5, "a"),
                proposal(3, 6, "b"),
            ])
            .await
            .unwrap();
        let snapshot = leader
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        assert_eq!(snapshot.meta.last_log_id, Some(log_id(3)));
        let mut follower = open(b.path());
        follower
            .install_snapshot(&snapshot.meta, snapshot.snapshot)
            .await
            .unwrap();
        let fp =
            |sm: &StateMachine| rollout_store::codec::state_fingerprint(sm.engine.state()).unwrap();
        assert_eq!(fp(&follower), fp(&leader));
        assert_eq!(follower.published.snapshots_installed(), 1);
        // The follower deduplicates as the leader does.
        let again = follower.apply(vec![proposal(4, 5, "a")]).await.unwrap();
        assert_eq!(only(&again[0]), AppliedAs::Duplicate { first_index: 2 });
        // And a restart of either comes back at its snapshot.
        drop(follower);
        let reopened = open(b.path());
        assert_eq!(reopened.applied, Some(log_id(3)));
        assert_eq!(fp(&reopened), fp(&leader));
    }

    #[tokio::test]
    async fn older_snapshot_never_replaces_a_newer_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut sm = open(dir.path());
        sm.apply(vec![proposal(1, 1, "a")]).await.unwrap();
        let mut old_builder = sm.get_snapshot_builder().await;
        sm.apply(vec![proposal(2, 2, "b")]).await.unwrap();
        let newer = sm
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        // The builder taken earlier finishes last.
        old_builder.build_snapshot().await.unwrap();
        let held = sm.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(held.meta.last_log_id, newer.meta.last_log_id);
        drop(sm);
        assert_eq!(open(dir.path()).applied, Some(log_id(2)));
    }
}
