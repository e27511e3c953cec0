//! What can go wrong for a caller of a [`Node`](crate::Node).

use crate::types::{NodeId, RequestId};

/// Why a write or a consistent read was not answered with a result.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No node is leader (an election is under way, or no quorum is reachable): nothing
    /// was proposed. The text is Nomad's.
    #[error("No cluster leader")]
    NoLeader,
    /// The node asked is not the leader; `leader_addr` is, as far as it knows. Nothing
    /// was proposed.
    #[error("not the cluster leader; the leader is node {leader_id} at {leader_addr}")]
    NotLeader {
        leader_id: NodeId,
        leader_addr: String,
    },
    /// The engine refused the command at `index`; nothing changed. Its text is Nomad's.
    #[error("{error}")]
    Refused {
        index: u64,
        error: rollout_engine::Error,
    },
    /// The request ID was applied before, at `first_index`; it was not applied again.
    #[error("request {request_id} was already applied at index {first_index}")]
    Duplicate {
        request_id: RequestId,
        first_index: u64,
    },
    /// The write was proposed but it is not known whether it committed (leadership was
    /// lost, or the answer did not arrive in time). Retrying with the same request ID
    /// is safe: it is applied at most once.
    #[error("request {request_id} may or may not have been applied: {reason}")]
    Indeterminate {
        request_id: RequestId,
        reason: String,
    },
    /// The write was applied at `index`, but this node caught up past it by installing
    /// a snapshot, so its outcome is not known here.
    #[error("applied at index {index}; its outcome is unknown on this node (it caught up from a snapshot)")]
    OutcomeUnknown { index: u64 },
    /// This node did not reach `index` in time.
    #[error("timed out waiting for index {index} to be applied on this node")]
    Timeout { index: u64 },
    /// No member of the configuration has this ID (Nomad's text).
    #[error("id \"{0}\" was not found in the Raft configuration")]
    UnknownMember(NodeId),
    /// A fault of this node (stamping, shutting down).
    #[error("{0}")]
    Internal(String),
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("opening the Raft log: {0}")]
    Log(#[from] redb::Error),
    #[error("opening the state machine: {0}")]
    StateMachine(#[from] crate::snapshot::SnapshotError),
    #[error("invalid Raft settings: {0}")]
    Config(String),
    #[error("starting the peer client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("starting Raft: {0}")]
    Raft(String),
}
