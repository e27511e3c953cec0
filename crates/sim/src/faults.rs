//! The fault model: what goes wrong, where, and how often.
//!
//! Faults are keyed by *release* (the image a job version runs) rather than by version
//! number, because an automatic rollback re-registers the stable spec under a new version
//! number: the rolled-back version must behave like the release it runs, not like a new
//! version. Rules are tried in order; the first whose filter matches and whose dice roll
//! hits decides an allocation's fate, drawn once when the allocation is placed.

use crate::rng::SimRng;
use rollout_engine::model::DurationNs;
use serde::{Deserialize, Serialize};

/// What an allocation will do once placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fate {
    /// Starts, passes its checks, stays up.
    Healthy,
    /// Its task fails on start: client status `failed`, unhealthy at once.
    FailToStart,
    /// Runs, then fails this long after starting (healthy first if that comes sooner).
    FailAfter { after_ns: DurationNs },
    /// Runs but never passes its checks: unhealthy when the healthy deadline passes.
    Hang,
}

/// A kind of fault with its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FaultKind {
    FailToStart,
    /// Fails after a delay drawn uniformly from `min_ns..=max_ns`.
    FailAfter {
        min_ns: DurationNs,
        max_ns: DurationNs,
    },
    Hang,
}

/// One rule: a filter and a probability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Only allocations running this release (`None`: any).
    pub release: Option<String>,
    /// Only allocations of this task group (`None`: any).
    pub group: Option<String>,
    /// Chance in `0..=1` that a matching allocation gets the fault.
    pub probability: f64,
    pub kind: FaultKind,
}

impl FaultRule {
    fn matches(&self, release: &str, group: &str) -> bool {
        self.release.as_deref().is_none_or(|r| r == release)
            && self.group.as_deref().is_none_or(|g| g == group)
    }
}

/// Nodes that disappear: every `interval_ns` each chance is rolled once; a lost node's
/// allocations are reported `lost` and it comes back after `repair_after_ns`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeLoss {
    pub interval_ns: DurationNs,
    pub chance: f64,
    pub repair_after_ns: DurationNs,
}

/// Every fault the simulation injects.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultModel {
    pub rules: Vec<FaultRule>,
    pub node_loss: Option<NodeLoss>,
}

impl FaultModel {
    /// No faults at all.
    pub fn none() -> FaultModel {
        FaultModel::default()
    }

    /// A release that always fails its health checks (hangs): the classic bad deploy.
    pub fn bad_release(release: &str) -> FaultModel {
        FaultModel {
            rules: vec![FaultRule {
                release: Some(release.to_string()),
                group: None,
                probability: 1.0,
                kind: FaultKind::Hang,
            }],
            node_loss: None,
        }
    }

    /// Draws the fate of a new allocation of `group` running `release`. Exactly one
    /// draw per matching rule, so the stream stays aligned whatever the outcome.
    pub fn fate(&self, release: &str, group: &str, rng: &mut SimRng) -> Fate {
        for rule in self.rules.iter().filter(|r| r.matches(release, group)) {
            if !rng.chance(rule.probability) {
                continue;
            }
            return match rule.kind {
                FaultKind::FailToStart => Fate::FailToStart,
                FaultKind::Hang => Fate::Hang,
                FaultKind::FailAfter { min_ns, max_ns } => Fate::FailAfter {
                    after_ns: rng.range_i64(min_ns, max_ns),
                },
            };
        }
        Fate::Healthy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_filter_by_release_and_group() {
        let model = FaultModel::bad_release("web:v2");
        let mut rng = SimRng::seed_from_u64(3);
        assert_eq!(model.fate("web:v2", "api", &mut rng), Fate::Hang);
        assert_eq!(model.fate("web:v1", "api", &mut rng), Fate::Healthy);
    }

    #[test]
    fn first_hitting_rule_wins() {
        let model = FaultModel {
            rules: vec![
                FaultRule {
                    release: None,
                    group: Some("db".into()),
                    probability: 1.0,
                    kind: FaultKind::FailToStart,
                },
                FaultRule {
                    release: None,
                    group: None,
                    probability: 1.0,
                    kind: FaultKind::Hang,
                },
            ],
            node_loss: None,
        };
        let mut rng = SimRng::seed_from_u64(3);
        assert_eq!(model.fate("x", "db", &mut rng), Fate::FailToStart);
        assert_eq!(model.fate("x", "web", &mut rng), Fate::Hang);
    }
}
