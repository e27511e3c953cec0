//! # rollout-cluster
//!
//! rollout replicated on Raft. (Module overview below.)

pub mod dedup;
pub mod log_store;
pub mod snapshot;
pub mod state_machine;
pub mod types;
pub mod waiters;
