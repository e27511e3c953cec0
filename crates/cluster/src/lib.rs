//! # rollout-cluster
//!
//! rollout's engine replicated on Raft: a cluster of three or five nodes that each hold
//! the byte-identical engine state, so that losing a machine loses no acknowledged write
//! and stops no deployment. Consensus is [openraft]'s; this crate supplies what openraft
//! leaves to its user — storage, state machine, transport — and the calls an API layer
//! needs ([`Node`]).
//!
//! * **Entries** ([`types`]): a [`Proposal`] is a command the leader stamped with its
//!   clock and fresh entropy, plus the client's [`RequestId`]. Every node applies the
//!   entry at Raft index *i* as the engine envelope with index *i*: the Raft log index
//!   is the index the API shows. Membership and blank leader entries leave gaps, which
//!   the engine's `replay` accepts.
//! * **Storage** ([`log_store`]): the Raft log, the vote and the committed index in
//!   redb, each write one durable transaction before openraft is told it is done.
//! * **State machine** ([`state_machine`]): applies entries in log order through
//!   [`DeploymentEngine::replay`](rollout_engine::DeploymentEngine::replay); applies a
//!   request ID at most once ([`dedup`]); snapshots are the engine's snapshot encoding
//!   plus the remembered request IDs ([`snapshot`]).
//! * **Transport** ([`transport`]): HTTP/1.1 over TCP (axum serves, reqwest calls),
//!   MessagePack bodies, timeouts and backoff, and the shared [`ClusterSecret`] checked
//!   in constant time on every RPC.
//! * **[`Node`]**: start, bootstrap once, `write` (forwarded to the leader from any
//!   node, answered once applied on the node asked), `ensure_linearizable` (read index),
//!   leader, members and last contact for the status endpoints.
//!
//! ## Why openraft 0.9.25
//!
//! The version is pinned exactly (`=0.9.25`). openraft has two lines: 0.9, the stable
//! one (0.9.25 is its latest release), and 0.10, published only as alphas
//! (0.10.0-alpha.37 at the time of writing) whose API its authors call not stable yet
//! and which changes between alphas. A consensus library is the last place to take a
//! moving API: an upgrade must be a deliberate step with the conformance suite and the
//! cluster tests re-run, not something a `cargo update` does. 0.9 already has all this
//! crate needs: the split storage traits (`RaftLogStorage` with a flush callback, and
//! `RaftStateMachine`, behind the `storage-v2` feature), the storage conformance suite
//! (`openraft::testing::Suite`), snapshot transfer in chunks, and read-index
//! linearizable reads (`ensure_linearizable`). 0.10 reshapes the storage and network
//! traits (an `IOFlushed` callback, `RaftNetworkV2` sending whole snapshots); moving to
//! it once it is released stable is listed in `docs/cluster.md`.
//!
//! [openraft]: https://docs.rs/openraft/0.9.25

pub mod dedup;
mod error;
pub mod history;
pub mod log_store;
mod node;
mod proposer;
pub mod secret;
pub mod snapshot;
pub mod state_machine;
pub mod transport;
pub mod types;
pub mod waiters;

pub use error::{ClusterError, StartError};
pub use node::{LeaderInfo, Member, Node, NodeConfig, RaftSettings};
pub use secret::ClusterSecret;
pub use types::{Batch, NodeId, Proposal, RequestId, TypeConfig, WriteResponse};
