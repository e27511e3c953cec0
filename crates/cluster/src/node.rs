//! [`Node`]: one member of a rollout cluster — its Raft, its state machine, its peer
//! API — and the calls an API layer makes: write, consistent read, status.

use crate::error::{ClusterError, StartError};
use crate::history::{History, Source};
use crate::log_store::LogStore;
use crate::proposer::Proposer;
use crate::secret::ClusterSecret;
use crate::snapshot::SnapshotFile;
use crate::state_machine::{Published, StateMachine};
use crate::transport::client::{Network, PeerClient};
use crate::transport::{
    path, server, AddMember, ForwardReply, ForwardWrite, IdentityReply, MembershipReply,
    ReadIndexReply, RemoveMember,
};
use crate::types::{NodeId, Proposal, RequestId, TypeConfig};
use crate::waiters::{Settled, Waiters};
use openraft::error::{CheckIsLeaderError, ClientWriteError, InitializeError, RaftError};
use openraft::{BasicNode, Raft, RaftMetrics, ServerState, SnapshotPolicy};
use rollout_engine::{Actor, Command, EngineConfig, Outcome, Stamp, State};
use rollout_store::{Committed, HistoryError, SystemStamp};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, oneshot, watch};
use tokio::task::JoinHandle;

/// Raft's clocks and log compaction. Every member of a cluster should use the same.
#[derive(Clone, Debug)]
pub struct RaftSettings {
    /// How often the leader sends heartbeats.
    pub heartbeat_ms: u64,
    /// A follower that hears from no leader for a random time in this range starts an
    /// election.
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Build a snapshot after this many entries since the last one.
    pub snapshot_every_entries: u64,
    /// Entries kept in the log below the newest snapshot, so that a follower a little
    /// behind catches up from the log rather than by a whole snapshot.
    pub entries_kept_after_snapshot: u64,
    /// Largest snapshot chunk sent in one RPC.
    pub snapshot_chunk_bytes: u64,
    /// Bound on one snapshot chunk's RPC.
    pub install_snapshot_timeout_ms: u64,
}

impl Default for RaftSettings {
    fn default() -> Self {
        RaftSettings {
            heartbeat_ms: 150,
            election_timeout_min_ms: 600,
            election_timeout_max_ms: 1200,
            snapshot_every_entries: 10_000,
            entries_kept_after_snapshot: 1_000,
            snapshot_chunk_bytes: 4 << 20,
            install_snapshot_timeout_ms: 10_000,
        }
    }
}

impl RaftSettings {
    fn to_openraft(&self, cluster_name: &str) -> Result<openraft::Config, StartError> {
        openraft::Config {
            cluster_name: cluster_name.to_owned(),
            heartbeat_interval: self.heartbeat_ms,
            election_timeout_min: self.election_timeout_min_ms,
            election_timeout_max: self.election_timeout_max_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_every_entries.max(1)),
            max_in_snapshot_log_to_keep: self.entries_kept_after_snapshot,
            snapshot_max_chunk_size: self.snapshot_chunk_bytes.max(1),
            install_snapshot_timeout: self.install_snapshot_timeout_ms,
            ..openraft::Config::default()
        }
        .validate()
        .map_err(|e| StartError::Config(e.to_string()))
    }
}

/// How to start a node.
#[derive(Clone)]
pub struct NodeConfig {
    /// This node's ID: stable across restarts, unique in the cluster.
    pub id: NodeId,
    /// Where the peer API listens (port 0: any free port, see [`Node::addr`]).
    pub listen: SocketAddr,
    /// The directory of the Raft log and the snapshot file.
    pub data_dir: PathBuf,
    /// The secret every member holds.
    pub secret: ClusterSecret,
    /// The configuration of the initial engine state (the same on every member).
    pub engine_config: EngineConfig,
    /// The clock and entropy this node stamps commands with while it is leader.
    pub stamp: Arc<dyn Stamp>,
    pub raft: RaftSettings,
    /// Bound on one RPC's connection attempt.
    pub connect_timeout: Duration,
    /// Bound on a write, from proposal until this node has applied it.
    pub write_timeout: Duration,
    /// How long a write or a consistent read waits for a leader to be elected before
    /// answering [`ClusterError::NoLeader`].
    pub leader_wait: Duration,
    /// Committed batches the [`Node::commits`] feed keeps for a slow receiver.
    pub commit_feed_capacity: usize,
    /// Tests only: network faults injected into every call this node makes to a peer
    /// (see [`crate::transport::faults`]). `None` in production.
    pub net_faults: Option<Arc<crate::transport::faults::NetFaults>>,
}

impl NodeConfig {
    /// A configuration with production defaults: the system clock and entropy, and
    /// [`RaftSettings::default`].
    pub fn new(
        id: NodeId,
        listen: SocketAddr,
        data_dir: impl Into<PathBuf>,
        secret: ClusterSecret,
    ) -> NodeConfig {
        NodeConfig {
            id,
            listen,
            data_dir: data_dir.into(),
            secret,
            engine_config: EngineConfig::default(),
            stamp: Arc::new(SystemStamp),
            raft: RaftSettings::default(),
            connect_timeout: Duration::from_secs(1),
            write_timeout: Duration::from_secs(10),
            leader_wait: Duration::from_secs(5),
            commit_feed_capacity: 1024,
            net_faults: None,
        }
    }
}

/// The leader as a node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderInfo {
    pub id: NodeId,
    /// Its peer API address (`host:port`), what `/v1/status/leader` shows.
    pub addr: String,
}

/// A member of the cluster's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: NodeId,
    pub addr: String,
    /// Voters elect leaders and count towards the quorum; learners only replicate.
    pub voter: bool,
}

/// What the peer API and the node's callers share.
pub(crate) struct Core {
    pub(crate) id: NodeId,
    pub(crate) raft: Raft<TypeConfig>,
    /// Gathers this leader's writes into entries.
    proposer: Proposer,
    pub(crate) secret: ClusterSecret,
    published: Arc<Published>,
    waiters: Arc<Waiters>,
    stamp: Arc<dyn Stamp>,
    client: PeerClient,
    last_leader_contact: Mutex<Option<Instant>>,
    write_timeout: Duration,
    leader_wait: Duration,
    /// The peer API address this node advertises.
    advertise: String,
    /// A follower that heard nothing from its leader for longer than this (the longest
    /// election timeout) no longer reports it as known: it is electing a new one.
    contact_bound: Duration,
    /// Nodes found by [`Node::bootstrap_expect`] (ID → peer API address).
    discovered: Mutex<BTreeMap<NodeId, String>>,
    /// What [`Node::history`] reads.
    log: LogStore,
    snapshot: Arc<SnapshotFile>,
    data_dir: PathBuf,
    engine_config: EngineConfig,
}

impl Core {
    /// Notes that a leader reached this node (an append or a snapshot chunk arrived).
    pub(crate) fn touch_leader_contact(&self) {
        *self
            .last_leader_contact
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }

    fn leader(&self) -> Option<LeaderInfo> {
        leader_of(&self.raft.metrics().borrow())
    }

    /// Whether this node belongs to a cluster: it has a configuration with voters.
    fn is_member(&self) -> bool {
        self.raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .next()
            .is_some()
    }

    /// The nodes this node knows of, itself included.
    fn known(&self) -> BTreeMap<NodeId, String> {
        let mut known = self
            .discovered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        known.insert(self.id, self.advertise.clone());
        known
    }

    /// What this node answers a peer that looks for the others.
    pub(crate) fn identity(&self) -> IdentityReply {
        IdentityReply {
            id: self.id,
            addr: self.advertise.clone(),
            member: self.is_member(),
            known: self.known(),
        }
    }

    /// Waits up to the configured time for a leader to be known.
    async fn await_leader(&self) -> Option<LeaderInfo> {
        if let Some(leader) = self.leader() {
            return Some(leader);
        }
        let mut metrics = self.raft.metrics();
        let found = tokio::time::timeout(
            self.leader_wait,
            metrics.wait_for(|m| m.current_leader.is_some()),
        )
        .await;
        match found {
            Ok(Ok(m)) => leader_of(&m),
            _ => None,
        }
    }

    /// Stamps and proposes a write on this node, which must be the leader, and answers
    /// once it is committed and applied here.
    pub(crate) async fn propose_here(
        &self,
        request_id: RequestId,
        command: Command,
        actor: Option<Actor>,
    ) -> ForwardReply {
        // The engine never lets time go back; stamping the later of the two keeps the
        // logged time equal to the applied one.
        let now = self.stamp.now().max(self.published.state.borrow().now());
        let entropy = match self.stamp.entropy() {
            Ok(entropy) => entropy,
            Err(e) => return ForwardReply::Failed(format!("no entropy to stamp the write: {e}")),
        };
        let proposal = Proposal {
            request_id,
            now,
            entropy,
            command,
            actor,
        };
        let proposed = tokio::time::timeout(self.write_timeout, self.proposer.propose(proposal));
        match proposed.await {
            Ok(reply) => reply,
            Err(_) => ForwardReply::Indeterminate(format!(
                "not committed within {} ms",
                self.write_timeout.as_millis()
            )),
        }
    }

    /// The read index, if this node is the leader: confirmed with a quorum, and applied
    /// here before it is returned.
    pub(crate) async fn read_index_here(&self) -> ReadIndexReply {
        match self.raft.ensure_linearizable().await {
            Ok(read) => ReadIndexReply::Index(read.map_or(0, |id| id.index)),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(to))) => {
                ReadIndexReply::NotLeader {
                    leader_id: to.leader_id,
                    leader_addr: to.leader_node.map(|n| n.addr),
                }
            }
            Err(e) => ReadIndexReply::Failed(e.to_string()),
        }
    }

    /// Takes voter `id` out of the configuration, on this node, which must lead: it no
    /// longer counts towards the quorum nor receives entries.
    pub(crate) async fn remove_here(&self, id: NodeId) -> MembershipReply {
        let known = {
            let metrics = self.raft.metrics();
            let m = metrics.borrow();
            let membership = m.membership_config.membership();
            membership.get_node(&id).is_some()
        };
        if !known {
            return MembershipReply::UnknownMember;
        }
        let change = openraft::ChangeMembers::RemoveVoters([id].into_iter().collect());
        membership_reply(self.raft.change_membership(change, false).await)
    }

    /// Makes node `id` (at `addr`) a voter, on this node, which must lead: first a
    /// learner, answered once it has caught up with the log (so that it does not stall
    /// the quorum while it copies), then a voter. A voter already is answered at once.
    pub(crate) async fn add_member_here(&self, id: NodeId, addr: String) -> MembershipReply {
        let voter_at = {
            let metrics = self.raft.metrics();
            let m = metrics.borrow();
            let config = &m.membership_config;
            config
                .membership()
                .voter_ids()
                .any(|v| v == id)
                .then(|| config.log_id().map_or(0, |l| l.index))
        };
        if let Some(index) = voter_at {
            return MembershipReply::Changed { index };
        }
        let learner = membership_reply(self.raft.add_learner(id, BasicNode::new(addr), true).await);
        if !matches!(learner, MembershipReply::Changed { .. }) {
            return learner;
        }
        let change = openraft::ChangeMembers::AddVoterIds([id].into_iter().collect());
        membership_reply(self.raft.change_membership(change, false).await)
    }

    /// Waits until this node has applied `index`, then answers with what the state
    /// machine settled for the request.
    async fn settle_here(
        &self,
        request_id: RequestId,
        mut settled: oneshot::Receiver<Settled>,
        index: u64,
    ) -> Result<Outcome, ClusterError> {
        let mut applied = self.published.applied_index.subscribe();
        let reached = tokio::time::timeout(self.write_timeout, async {
            tokio::select! {
                biased;
                s = &mut settled => s.ok(),
                _ = applied.wait_for(|a| *a >= index) => None,
            }
        })
        .await;
        let settled = match reached {
            Ok(Some(s)) => s,
            // Applied up to the index: the state machine settles a batch's waiters
            // before it publishes the batch's index, so an unsettled one was passed
            // over by a snapshot.
            Ok(None) => match settled.try_recv() {
                Ok(s) => s,
                Err(_) => return Err(ClusterError::OutcomeUnknown { index }),
            },
            Err(_) => return Err(ClusterError::Timeout { index }),
        };
        match settled {
            Settled::Applied(outcome) => Ok(outcome),
            Settled::Refused { index, error } => Err(ClusterError::Refused { index, error }),
            Settled::Duplicate { first_index } => Err(ClusterError::Duplicate {
                request_id,
                first_index,
            }),
        }
    }
}

/// A membership change's result as the peer API answers it.
fn membership_reply(
    result: Result<
        openraft::raft::ClientWriteResponse<TypeConfig>,
        RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>,
    >,
) -> MembershipReply {
    match result {
        Ok(response) => MembershipReply::Changed {
            index: response.log_id.index,
        },
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(to))) => {
            MembershipReply::NotLeader {
                leader_id: to.leader_id,
                leader_addr: to.leader_node.map(|n| n.addr),
            }
        }
        Err(e) => MembershipReply::Failed(e.to_string()),
    }
}

fn leader_of(m: &RaftMetrics<NodeId, BasicNode>) -> Option<LeaderInfo> {
    let id = m.current_leader?;
    let addr = m.membership_config.membership().get_node(&id)?.addr.clone();
    Some(LeaderInfo { id, addr })
}

/// A membership change asked of the leader.
enum MembershipChange {
    Add(AddMember),
    Remove(RemoveMember),
}

/// How many times a write follows "not the leader, try X" before giving up: each hop
/// proposed nothing, so following is safe; a bound keeps an election storm from
/// bouncing a write forever.
const MAX_FORWARD_HOPS: usize = 3;

/// How long a starting node waits for a stopped one's log to be let go of (see
/// [`LogStore::open_waiting`]).
const LOG_OPEN_WAIT: Duration = Duration::from_secs(10);

/// One running member of a rollout cluster.
pub struct Node {
    core: Arc<Core>,
    addr: SocketAddr,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.core.id)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Opens the node's storage, starts its Raft and serves its peer API. A node that
    /// was a member before rejoins its cluster; a new one waits to be bootstrapped or
    /// added.
    pub async fn start(config: NodeConfig) -> Result<Node, StartError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Listen {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        let log = LogStore::open_waiting(&config.data_dir, LOG_OPEN_WAIT).await?;
        let waiters = Arc::new(Waiters::default());
        let state_machine = StateMachine::open(
            &config.data_dir,
            config.engine_config.clone(),
            config.stamp.clone(),
            waiters.clone(),
            config.commit_feed_capacity,
        )?;
        let published = state_machine.published();
        let snapshot = state_machine.snapshot_file();
        let mut client = PeerClient::new(config.secret.clone(), config.connect_timeout)?;
        if let Some(faults) = &config.net_faults {
            client = client.with_faults(faults.clone(), addr.to_string());
        }
        let raft_config = Arc::new(config.raft.to_openraft("rollout")?);
        let raft = Raft::new(
            config.id,
            raft_config,
            Network::new(client.clone()),
            log.clone(),
            state_machine,
        )
        .await
        .map_err(|e| StartError::Raft(e.to_string()))?;
        let core = Arc::new(Core {
            id: config.id,
            proposer: Proposer::start(raft.clone(), config.write_timeout),
            raft,
            secret: config.secret.clone(),
            published,
            waiters,
            stamp: config.stamp.clone(),
            client,
            last_leader_contact: Mutex::new(None),
            write_timeout: config.write_timeout,
            leader_wait: config.leader_wait,
            advertise: addr.to_string(),
            contact_bound: Duration::from_millis(config.raft.election_timeout_max_ms),
            discovered: Mutex::new(BTreeMap::new()),
            log,
            snapshot,
            data_dir: config.data_dir.clone(),
            engine_config: config.engine_config.clone(),
        });
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(server::serve(listener, core.clone(), async move {
            let _ = stop_rx.await;
        }));
        Ok(Node {
            core,
            addr,
            stop: Mutex::new(Some(stop_tx)),
            server: Mutex::new(Some(server)),
        })
    }

    /// This node's ID.
    pub fn id(&self) -> NodeId {
        self.core.id
    }

    /// The address the peer API listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Makes `members` (ID → peer API address) the first configuration of a new
    /// cluster. Call it on one node, once; on a node that already has a configuration
    /// it does nothing (so every node of a fresh cluster may call it with the same
    /// members).
    pub async fn bootstrap(&self, members: &BTreeMap<NodeId, String>) -> Result<(), ClusterError> {
        let nodes: BTreeMap<NodeId, BasicNode> = members
            .iter()
            .map(|(id, addr)| (*id, BasicNode::new(addr)))
            .collect();
        match self.core.raft.initialize(nodes).await {
            Ok(()) => Ok(()),
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(ClusterError::Internal(e.to_string())),
        }
    }

    /// Bootstraps a new cluster once `expect` nodes found each other (Nomad's
    /// `bootstrap_expect` with `retry_join`): asks every address in `join` who it is
    /// and whom it found, every `interval`, until this node is a member of a cluster.
    /// The node with the lowest ID among those found bootstraps them all, so exactly one
    /// does; the others are made members by it. A node that is a member already (a
    /// restart) returns at once. A node that finds a member of a running cluster instead
    /// asks it to be added ([`Node::add_member`], through the leader) and returns once it
    /// is a voter: that is how a server is added to a running cluster. Returns early,
    /// without error, when `stop` turns true.
    pub async fn bootstrap_expect(
        &self,
        expect: usize,
        join: &[String],
        interval: Duration,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), ClusterError> {
        let core = &self.core;
        loop {
            if core.is_member() || *stop.borrow_and_update() {
                return Ok(());
            }
            let mut running = None;
            for addr in join {
                let asked: Result<IdentityReply, _> = core
                    .client
                    .call(addr, path::IDENTITY, &(), core.write_timeout)
                    .await;
                match asked {
                    Ok(peer) => {
                        if peer.member {
                            running = Some(addr.clone());
                        }
                        let mut found = core
                            .discovered
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner);
                        found.insert(peer.id, peer.addr);
                        found.extend(peer.known.into_iter().filter(|(id, _)| *id != core.id));
                    }
                    Err(e) => tracing::debug!("node {}: {addr} not reached yet: {e}", core.id),
                }
            }
            // A peer that is a member already: the cluster is running, so join it
            // (never bootstrap a second one beside it).
            if let Some(member) = running.take() {
                match self.join_through(&member).await {
                    Ok(index) => {
                        tracing::info!(
                            "node {}: joined the running cluster through {member} (configuration at index {index})",
                            core.id
                        );
                        return Ok(());
                    }
                    Err(e) => tracing::warn!(
                        "node {}: cannot join the cluster through {member} yet: {e}",
                        core.id
                    ),
                }
            } else {
                let known = core.known();
                let lowest = known.keys().next().copied();
                if known.len() >= expect.max(1) && lowest == Some(core.id) {
                    tracing::info!(
                        "node {}: bootstrapping a cluster of {} ({:?})",
                        core.id,
                        known.len(),
                        known.values().collect::<Vec<_>>()
                    );
                    return self.bootstrap(&known).await;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => return Ok(()),
            }
        }
    }

    /// Applies `command` once, through the leader, and answers with its outcome once
    /// this node has applied it too (so a read here right after sees it). A fresh
    /// request ID names the write.
    pub async fn write(&self, command: Command) -> Result<Outcome, ClusterError> {
        self.write_as(command, None).await
    }

    /// [`Node::write`], recording `actor` in the proposal (the audit trail every node's
    /// log and history carries).
    pub async fn write_as(
        &self,
        command: Command,
        actor: Option<Actor>,
    ) -> Result<Outcome, ClusterError> {
        let id = RequestId::random()
            .map_err(|e| ClusterError::Internal(format!("no entropy for a request ID: {e}")))?;
        self.write_with_id_as(id, command, actor).await
    }

    /// Like [`Node::write`] with the caller's request ID: retrying a write that ended
    /// [`ClusterError::Indeterminate`] with the same ID applies it at most once (a
    /// retry of an applied write answers [`ClusterError::Duplicate`]).
    pub async fn write_with_id(
        &self,
        request_id: RequestId,
        command: Command,
    ) -> Result<Outcome, ClusterError> {
        self.write_with_id_as(request_id, command, None).await
    }

    /// [`Node::write_with_id`], recording `actor` in the proposal.
    pub async fn write_with_id_as(
        &self,
        request_id: RequestId,
        command: Command,
        actor: Option<Actor>,
    ) -> Result<Outcome, ClusterError> {
        let settled = self.core.waiters.register(request_id);
        let _forget = Forget(&self.core.waiters, request_id);
        let mut leader = self
            .core
            .await_leader()
            .await
            .ok_or(ClusterError::NoLeader)?;
        for _ in 0..MAX_FORWARD_HOPS {
            let reply = if leader.id == self.core.id {
                self.core
                    .propose_here(request_id, command.clone(), actor.clone())
                    .await
            } else {
                self.forward(&leader, request_id, command.clone(), actor.clone())
                    .await?
            };
            match reply {
                ForwardReply::Committed { index } => {
                    return self.core.settle_here(request_id, settled, index).await;
                }
                ForwardReply::NotLeader {
                    leader_id: Some(id),
                    leader_addr: Some(addr),
                } if id != leader.id => leader = LeaderInfo { id, addr },
                ForwardReply::NotLeader { .. } => return Err(ClusterError::NoLeader),
                ForwardReply::Indeterminate(reason) => {
                    return Err(ClusterError::Indeterminate { request_id, reason })
                }
                ForwardReply::Failed(reason) => return Err(ClusterError::Internal(reason)),
            }
        }
        Err(ClusterError::NoLeader)
    }

    async fn forward(
        &self,
        leader: &LeaderInfo,
        request_id: RequestId,
        command: Command,
        actor: Option<Actor>,
    ) -> Result<ForwardReply, ClusterError> {
        let write = ForwardWrite {
            request_id,
            command,
            actor,
        };
        match self
            .core
            .client
            .call(
                &leader.addr,
                path::FORWARD_WRITE,
                &write,
                self.core.write_timeout,
            )
            .await
        {
            Ok(reply) => Ok(reply),
            // Nothing reached the leader: nothing was proposed.
            Err(e) if e.not_sent() => Err(ClusterError::NoLeader),
            Err(e) => Err(ClusterError::Indeterminate {
                request_id,
                reason: e.to_string(),
            }),
        }
    }

    /// Makes a following read on this node linearizable: confirms with a quorum that
    /// the leader is still leader (asking it, from a follower), then waits until this
    /// node has applied the leader's commit index. Returns that index.
    pub async fn ensure_linearizable(&self) -> Result<u64, ClusterError> {
        let mut leader = self
            .core
            .await_leader()
            .await
            .ok_or(ClusterError::NoLeader)?;
        for _ in 0..MAX_FORWARD_HOPS {
            let reply = if leader.id == self.core.id {
                self.core.read_index_here().await
            } else {
                self.ask_leader(&leader, path::READ_INDEX, &()).await?
            };
            match reply {
                ReadIndexReply::Index(index) => {
                    self.await_applied(index).await?;
                    return Ok(index);
                }
                ReadIndexReply::NotLeader {
                    leader_id: Some(id),
                    leader_addr: Some(addr),
                } if id != leader.id => leader = LeaderInfo { id, addr },
                ReadIndexReply::NotLeader { .. } => return Err(ClusterError::NoLeader),
                ReadIndexReply::Failed(reason) => return Err(ClusterError::Internal(reason)),
            }
        }
        Err(ClusterError::NoLeader)
    }

    /// Takes member `id` out of the cluster's configuration, through the leader (Nomad's
    /// `operator raft remove-peer`), and answers once the new configuration is committed.
    /// The removed process keeps running but is no longer part of the quorum; stop it.
    pub async fn remove_member(&self, id: NodeId) -> Result<u64, ClusterError> {
        self.change_membership(MembershipChange::Remove(RemoveMember { id }))
            .await
    }

    /// Makes node `id`, reachable at `addr`, a voting member, through the leader:
    /// answered once it has caught up with the log and the new configuration is
    /// committed. A node already a voter is answered at once.
    pub async fn add_member(&self, id: NodeId, addr: &str) -> Result<u64, ClusterError> {
        self.change_membership(MembershipChange::Add(AddMember {
            id,
            addr: addr.to_owned(),
        }))
        .await
    }

    async fn change_membership(&self, change: MembershipChange) -> Result<u64, ClusterError> {
        let mut leader = self
            .core
            .await_leader()
            .await
            .ok_or(ClusterError::NoLeader)?;
        for _ in 0..MAX_FORWARD_HOPS {
            let reply = match (&change, leader.id == self.core.id) {
                (MembershipChange::Remove(r), true) => self.core.remove_here(r.id).await,
                (MembershipChange::Add(a), true) => {
                    self.core.add_member_here(a.id, a.addr.clone()).await
                }
                (MembershipChange::Remove(r), false) => {
                    self.ask_leader(&leader, path::REMOVE_MEMBER, r).await?
                }
                (MembershipChange::Add(a), false) => {
                    self.ask_leader(&leader, path::ADD_MEMBER, a).await?
                }
            };
            match reply {
                MembershipReply::Changed { index } => return Ok(index),
                MembershipReply::UnknownMember => {
                    let id = match &change {
                        MembershipChange::Remove(r) => r.id,
                        MembershipChange::Add(a) => a.id,
                    };
                    return Err(ClusterError::UnknownMember(id));
                }
                MembershipReply::NotLeader {
                    leader_id: Some(next),
                    leader_addr: Some(addr),
                } if next != leader.id => leader = LeaderInfo { id: next, addr },
                MembershipReply::NotLeader { .. } => return Err(ClusterError::NoLeader),
                MembershipReply::Failed(reason) => return Err(ClusterError::Internal(reason)),
            }
        }
        Err(ClusterError::NoLeader)
    }

    /// Asks the cluster that the member at `addr` belongs to to add this node (following
    /// "not the leader, try X"), as a node does that finds a running cluster through
    /// `--retry-join`. Answers once this node is a voter.
    async fn join_through(&self, addr: &str) -> Result<u64, ClusterError> {
        let core = &self.core;
        let request = AddMember {
            id: core.id,
            addr: core.advertise.clone(),
        };
        let mut at = addr.to_owned();
        for _ in 0..MAX_FORWARD_HOPS {
            // Catching up as a learner may take a while: allow for it.
            let reply: MembershipReply = core
                .client
                .call(&at, path::ADD_MEMBER, &request, core.write_timeout * 4)
                .await
                .map_err(|e| ClusterError::Internal(e.to_string()))?;
            match reply {
                MembershipReply::Changed { index } => return Ok(index),
                MembershipReply::NotLeader {
                    leader_addr: Some(next),
                    ..
                } if next != at => at = next,
                MembershipReply::NotLeader { .. } | MembershipReply::UnknownMember => {
                    return Err(ClusterError::NoLeader)
                }
                MembershipReply::Failed(reason) => return Err(ClusterError::Internal(reason)),
            }
        }
        Err(ClusterError::NoLeader)
    }

    /// Calls the leader's peer API at `path`: a call that never reached it answers
    /// [`ClusterError::NoLeader`] (nothing was asked), any other failure is reported.
    async fn ask_leader<Req: serde::Serialize, Resp: serde::de::DeserializeOwned>(
        &self,
        leader: &LeaderInfo,
        path: &str,
        request: &Req,
    ) -> Result<Resp, ClusterError> {
        self.core
            .client
            .call(&leader.addr, path, request, self.core.write_timeout)
            .await
            .map_err(|e| {
                if e.not_sent() {
                    ClusterError::NoLeader
                } else {
                    ClusterError::Internal(e.to_string())
                }
            })
    }

    /// Waits until this node has applied the entry at `index`.
    pub async fn await_applied(&self, index: u64) -> Result<(), ClusterError> {
        let mut applied = self.core.published.applied_index.subscribe();
        let reached =
            tokio::time::timeout(self.core.write_timeout, applied.wait_for(|a| *a >= index))
                .await
                .map(|r| r.is_ok());
        match reached {
            Ok(true) => Ok(()),
            Ok(false) => Err(ClusterError::Internal("the state machine stopped".into())),
            Err(_) => Err(ClusterError::Timeout { index }),
        }
    }

    /// The state this node has applied (possibly behind the leader: a stale read).
    pub fn state(&self) -> State {
        self.core.published.state.borrow().clone()
    }

    /// A receiver of this node's state, changed after every applied batch: what
    /// blocking queries wait on.
    pub fn subscribe(&self) -> watch::Receiver<State> {
        self.core.published.state.subscribe()
    }

    /// A receiver of the engine state's index: it changes once [`Node::state`] shows
    /// the write at that index (what a blocking query waits on).
    pub fn subscribe_index(&self) -> watch::Receiver<u64> {
        self.core.published.state_index.subscribe()
    }

    /// The Raft index of the last entry this node applied (at least `state().index()`).
    pub fn applied_index(&self) -> u64 {
        *self.core.published.applied_index.borrow()
    }

    /// The writes this node applies from now on, with their outcomes and states.
    pub fn commits(&self) -> broadcast::Receiver<Arc<[Committed]>> {
        self.core.published.commits.subscribe()
    }

    /// Every write this node applied from index `from` up to the index it has applied
    /// now, re-derived from its snapshot and its log (see [`crate::history`]); older
    /// than its snapshot is [`HistoryError::TooOld`]. Blocking: call it off the async
    /// runtime.
    pub fn history(&self, from: u64) -> Result<History, HistoryError> {
        let core = &self.core;
        History::open(
            Source {
                snapshot: core.snapshot.current(),
                snapshot_path: core.data_dir.join(crate::snapshot::SNAPSHOT_FILE),
                log: &core.log,
                log_path: core.data_dir.join(crate::log_store::RAFT_DB_FILE),
                applied_index: self.applied_index(),
                engine_config: &core.engine_config,
                stamp: core.stamp.clone(),
            },
            from,
        )
    }

    /// The stamp this node stamps proposals with while it is leader (its clock is what
    /// reads that depend on time use).
    pub fn stamp(&self) -> &Arc<dyn Stamp> {
        &self.core.stamp
    }

    /// The leader, if this node knows one.
    pub fn leader(&self) -> Option<LeaderInfo> {
        self.core.leader()
    }

    /// Whether this node is the leader.
    pub fn is_leader(&self) -> bool {
        self.core.raft.metrics().borrow().state == ServerState::Leader
    }

    /// Whether this node knows a leader (`X-Nomad-KnownLeader`).
    pub fn known_leader(&self) -> bool {
        self.current_leader().is_some()
    }

    /// The leader as the status endpoints report it: the one Raft names, unless this
    /// follower has not heard from it for longer than an election timeout (it was
    /// killed or cut off, and Raft still names it until an election ends).
    pub fn current_leader(&self) -> Option<LeaderInfo> {
        let leader = self.leader()?;
        if leader.id == self.core.id {
            return Some(leader);
        }
        let fresh = self
            .last_contact()
            .is_some_and(|since| since <= self.core.contact_bound);
        fresh.then_some(leader)
    }

    /// Time since this node last heard from a leader (`X-Nomad-LastContact`): zero on
    /// the leader, `None` if it never has.
    pub fn last_contact(&self) -> Option<Duration> {
        if self.is_leader() {
            return Some(Duration::ZERO);
        }
        self.core
            .last_leader_contact
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map(|at| at.elapsed())
    }

    /// The members of the current configuration, by ID (`/v1/status/peers` lists the
    /// voters' addresses).
    pub fn members(&self) -> Vec<Member> {
        let metrics = self.core.raft.metrics();
        let m = metrics.borrow();
        let membership = m.membership_config.membership();
        let voters: std::collections::BTreeSet<NodeId> = membership.voter_ids().collect();
        membership
            .nodes()
            .map(|(id, node)| Member {
                id: *id,
                addr: node.addr.clone(),
                voter: voters.contains(id),
            })
            .collect()
    }

    /// The log index of the Raft configuration in force (0 before bootstrap).
    pub fn configuration_index(&self) -> u64 {
        self.core
            .raft
            .metrics()
            .borrow()
            .membership_config
            .log_id()
            .map_or(0, |id| id.index)
    }

    /// openraft's metrics of this node (term, log, snapshot, replication).
    pub fn metrics(&self) -> watch::Receiver<RaftMetrics<NodeId, BasicNode>> {
        self.core.raft.metrics()
    }

    /// How many snapshots this node installed from a leader since it started.
    pub fn snapshots_installed(&self) -> u64 {
        self.core.published.snapshots_installed()
    }

    /// Stops Raft and the peer API. Acknowledged writes are durable; a restart from the
    /// same directory rejoins the cluster.
    pub async fn shutdown(&self) {
        if let Err(e) = self.core.raft.shutdown().await {
            tracing::warn!("node {}: Raft did not stop cleanly: {e}", self.core.id);
        }
        let stop = self
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        let server = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut server) = server {
            // Graceful: in-flight RPCs finish and idle peer connections close, so that
            // a restart on the same address is not answered by this instance. Bounded.
            if tokio::time::timeout(Duration::from_secs(5), &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        }
    }
}

/// Stops waiting for a request when the write ends, however it ends.
struct Forget<'a>(&'a Waiters, RequestId);

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.0.forget(&self.1);
    }
}
