//! Fixtures for rollout's benchmarks: the stores and targets of the go-memdb anchor
//! (`../shared/anchors/gomemdb.md`, `gomemdb-workloads.md`), built with the same objects,
//! counts and shapes so that figures compare one to one.

pub mod baseline;
pub mod fixture;
