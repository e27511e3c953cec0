//! Fixtures for rollout's benchmarks: the stores and targets of the go-memdb anchor
//! (`docs/benchmarks-anchor.md`, the anchor and its workload definitions), built with the
//! same objects, counts and shapes so that figures compare one to one.

pub mod baseline;
pub mod fixture;
