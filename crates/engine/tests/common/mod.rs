//! The engine's test kit (`rollout_engine::testing`) plus a few helpers only these tests
//! use.
#![allow(dead_code)]

pub use rollout_engine::testing::*;

pub fn names(placements: &[rollout_engine::reconcile::Placement]) -> Vec<String> {
    placements.iter().map(|p| p.name.clone()).collect()
}

pub fn count_kind(
    p: &rollout_engine::Plan,
    kind: rollout_engine::reconcile::PlacementKind,
) -> usize {
    p.placements.iter().filter(|q| q.kind == kind).count()
}

pub fn ignore(p: &rollout_engine::Plan, group: &str) -> u64 {
    p.desired_tg_updates.get(group).map_or(0, |u| u.ignore)
}
