//! The Raft type configuration: what one log entry carries and what applying it answers.
//!
//! An entry's application data is a [`Batch`] of [`Proposal`]s: commands the leader
//! stamped with its time and entropy, each with the request ID its client chose, gathered
//! while the leader's previous entry was committing. The entry's Raft log index is the
//! index of every command in it (see [`Proposal::envelope`]), so no index travels in a
//! proposal and every node derives the same envelopes from the same entry.

use openraft::BasicNode;
use rollout_engine::model::UnixNanos;
use rollout_engine::{Actor, Command, Entropy, Envelope};
use serde::{Deserialize, Serialize};
use std::io::Cursor;
use std::sync::Arc;
use uuid::Uuid;

/// A node's ID in the cluster (openraft's default width).
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// rollout's Raft types: batches of proposals in, [`WriteResponse`]s out, peers addressed by a
    /// `host:port` ([`BasicNode`]), snapshots as bytes.
    pub TypeConfig:
        D = Batch,
        R = WriteResponse,
        NodeId = NodeId,
        Node = BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// The client's name for one write, so that a write proposed twice (a retry after a
/// timeout, a forward that may or may not have arrived) is applied once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RequestId(pub Uuid);

impl RequestId {
    /// A fresh random ID from the operating system's source.
    pub fn random() -> Result<RequestId, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        Ok(RequestId(Uuid::from_bytes(bytes)))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A command as the leader proposes it: stamped (time, entropy) and named by its
/// client's request ID.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub request_id: RequestId,
    /// The leader's clock when it proposed, Unix ns (the engine never lets time go back).
    pub now: UnixNanos,
    /// The seed of every ID the command creates.
    pub entropy: Entropy,
    pub command: Command,
    /// Who submitted the write (the audit trail): in the proposal, so every node's log
    /// and history has it. Absent in entries written before actors were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
}

impl Proposal {
    /// The envelope this proposal is applied as at Raft log index `index`.
    pub fn envelope(&self, index: u64) -> Envelope {
        Envelope::new(index, self.now, self.entropy, self.command.clone())
            .with_actor(self.actor.clone())
    }
}

/// The commands of one log entry, applied in order at the entry's index.
///
/// A leader proposes what arrived while its previous entry was committing as one entry,
/// so one disk write and one replication round carry them all (Nomad batches its
/// allocation updates into one Raft entry the same way). Each proposal is still applied
/// on its own, all or nothing, once per request ID. Entries written before batching
/// carried one proposal's fields at the top level; they still decode, as a batch of one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "BatchWire")]
pub struct Batch {
    /// Shared, so that the copies of an entry the log keeps in memory, the replication
    /// streams send and the state machine applies are one.
    pub proposals: Arc<[Proposal]>,
}

impl Batch {
    /// A batch of one proposal.
    pub fn one(proposal: Proposal) -> Batch {
        Batch::from(vec![proposal])
    }
}

impl From<Vec<Proposal>> for Batch {
    fn from(proposals: Vec<Proposal>) -> Batch {
        Batch {
            proposals: proposals.into(),
        }
    }
}

/// A batch as it may be found in a log: the current shape (`proposals`), or the single
/// proposal an entry held before batching.
#[derive(Deserialize)]
struct BatchWire {
    #[serde(default)]
    proposals: Option<Arc<[Proposal]>>,
    request_id: Option<RequestId>,
    now: Option<UnixNanos>,
    entropy: Option<Entropy>,
    command: Option<Command>,
    #[serde(default)]
    actor: Option<Actor>,
}

impl TryFrom<BatchWire> for Batch {
    type Error = &'static str;

    fn try_from(w: BatchWire) -> Result<Batch, Self::Error> {
        if let Some(proposals) = w.proposals {
            return Ok(Batch { proposals });
        }
        match (w.request_id, w.now, w.entropy, w.command) {
            (Some(request_id), Some(now), Some(entropy), Some(command)) => {
                Ok(Batch::one(Proposal {
                    request_id,
                    now,
                    entropy,
                    command,
                    actor: w.actor,
                }))
            }
            _ => Err("a log entry's data is neither a batch of proposals nor one proposal"),
        }
    }
}

/// What the state machine answers for an applied entry. It stays small and serializable:
/// the engine's full outcome is delivered on the node that asked (see
/// [`crate::waiters`]), where the entry is applied too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteResponse {
    /// The entry's Raft log index.
    pub index: u64,
    /// What became of each proposal of the entry, in order; empty for an entry without
    /// a command (a leader's blank entry, a membership change).
    pub proposals: Vec<(RequestId, AppliedAs)>,
}

/// How the state machine treated one proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppliedAs {
    /// The engine applied the command: the state's index is now the entry's.
    Applied,
    /// The engine refused the command (its text): the state is unchanged.
    Refused(String),
    /// The request ID was applied before, at this index: nothing was applied again.
    Duplicate { first_index: u64 },
}
