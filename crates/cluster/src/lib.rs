//! # rollout-cluster
//!
//! rollout replicated on Raft (placeholder; expanded below).

pub mod dedup;
mod error;
pub mod log_store;
mod node;
pub mod secret;
pub mod snapshot;
pub mod state_machine;
pub mod transport;
pub mod types;
pub mod waiters;

pub use error::{ClusterError, StartError};
pub use node::{LeaderInfo, Member, Node, NodeConfig, RaftSettings};
pub use secret::ClusterSecret;
pub use types::{NodeId, Proposal, RequestId, TypeConfig, WriteResponse};
