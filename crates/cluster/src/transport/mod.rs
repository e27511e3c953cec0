//! The peer transport: Raft RPCs and forwarded writes between nodes, as HTTP/1.1
//! requests over TCP with MessagePack bodies.
//!
//! Each request is a POST to one path below, carrying the cluster secret in
//! [`SECRET_HEADER`](crate::secret::SECRET_HEADER); the body is the named MessagePack of
//! openraft's request type (or ours, for forwarding), and the answer is the named
//! MessagePack of a `Result` — a Raft error travels as data and is handed back to
//! openraft as the remote's error. The [`client`] bounds every call by a timeout and
//! backs off from peers it cannot reach; the server refuses any request without the
//! secret before reading its body.

pub mod client;
pub mod faults;
pub(crate) mod server;

use crate::types::{NodeId, RequestId};
use rollout_engine::Command;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Paths of the peer API.
pub mod path {
    pub const APPEND: &str = "/v1/cluster/raft/append";
    pub const VOTE: &str = "/v1/cluster/raft/vote";
    pub const SNAPSHOT: &str = "/v1/cluster/raft/snapshot";
    pub const FORWARD_WRITE: &str = "/v1/cluster/forward/write";
    pub const READ_INDEX: &str = "/v1/cluster/forward/read-index";
    pub const IDENTITY: &str = "/v1/cluster/identity";
    pub const REMOVE_MEMBER: &str = "/v1/cluster/forward/remove-member";
    pub const ADD_MEMBER: &str = "/v1/cluster/forward/add-member";
}

/// A request to the leader to make a node a voting member: a node that finds, through
/// `--retry-join`, a cluster that is already running asks to be added.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AddMember {
    pub id: NodeId,
    /// Its peer API address, as it advertises it.
    pub addr: String,
}

/// A request to the leader to take a member out of the configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RemoveMember {
    pub id: NodeId,
}

/// What the leader did with a [`RemoveMember`] or an [`AddMember`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipReply {
    /// The new configuration is committed at this index.
    Changed {
        index: u64,
    },
    /// No such member in the configuration.
    UnknownMember,
    NotLeader {
        leader_id: Option<NodeId>,
        leader_addr: Option<String>,
    },
    Failed(String),
}

/// Who a node is, as it tells a peer that is looking for the others to bootstrap with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityReply {
    pub id: NodeId,
    /// Its peer API address, as it advertises it.
    pub addr: String,
    /// Whether it is a member of a cluster already (it has a configuration).
    pub member: bool,
    /// The nodes it found so far (ID → address), so that every node learns the whole
    /// set even when each names only some of the others in `--retry-join`.
    pub known: std::collections::BTreeMap<NodeId, String>,
}

/// The content type of every body.
pub const CONTENT_TYPE: &str = "application/msgpack";

/// Largest request body a node accepts: a batch of entries or a snapshot chunk.
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// A write a follower hands to the leader: the leader stamps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForwardWrite {
    pub request_id: RequestId,
    pub command: Command,
    /// Who submitted it: the leader puts it in the proposal. Absent from older nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<rollout_engine::Actor>,
}

/// What the leader did with a forwarded write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForwardReply {
    /// Committed and applied on the leader at this index.
    Committed { index: u64 },
    /// The receiver is not the leader (it may know who is).
    NotLeader {
        leader_id: Option<NodeId>,
        leader_addr: Option<String>,
    },
    /// Proposed, but it is not known whether it committed (leadership was lost).
    Indeterminate(String),
    /// Not proposed: the leader could not stamp it.
    Failed(String),
}

/// What the leader answers to a read-index request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadIndexReply {
    /// Reads that see every write acknowledged before the request must wait for this
    /// index to be applied.
    Index(u64),
    NotLeader {
        leader_id: Option<NodeId>,
        leader_addr: Option<String>,
    },
    Failed(String),
}

/// Encodes a body.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    rmp_serde::to_vec_named(value)
}

/// Decodes a body.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, rmp_serde::decode::Error> {
    rmp_serde::from_slice(bytes)
}
