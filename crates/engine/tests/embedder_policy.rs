//! How an embedder property-tests a policy of its own with the engine's test kit.
//!
//! The embedder here runs canary rollouts with auto-revert and two rules of its own
//! that it wants to hold whatever operators and clients do:
//! 1. *a deployment succeeds only if every canary it placed was reported healthy* — and
//!    still healthy when the deployment was promoted, or at its success (the deploy gate
//!    its users were promised; a canary that fails after the promotion is an ordinary
//!    allocation by then, replaced under the progress deadline), and
//! 2. *every failure of an auto-reverting deployment says what happened to the rollback*
//!    (a rollback decision in the same outcome, so its audit log is never silent).
//!
//! proptest generates random sequences of operator commands (promote, pause, resume,
//! fail), health reports and the passing of time; each step is driven through
//! [`World`], and after each step the engine's own invariants
//! ([`State::check_invariants`](rollout_engine::State::check_invariants)) and the two
//! rules above are checked. A failing case shrinks to the shortest sequence that breaks a
//! rule, and replays exactly: the engine is deterministic.

mod common;
use common::*;
use proptest::prelude::*;
use rollout_engine::model::{status, UpdateStrategy, SECOND_NS};
use rollout_engine::{Outcome, RollbackOutcome};
use std::collections::BTreeSet;
use uuid::Uuid;

#[derive(Clone, Debug)]
enum Step {
    /// A new version (a new image).
    Release,
    /// The scheduler places what the pending evaluations ask for.
    Schedule,
    /// A client reports the `pick`-th live allocation: running and healthy, or failed.
    Report {
        pick: u8,
        healthy: bool,
    },
    Promote,
    Pause,
    Resume,
    Fail,
    /// Time passes and due deadlines fire.
    Wait {
        seconds: u16,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => Just(Step::Release),
        4 => Just(Step::Schedule),
        6 => (any::<u8>(), prop::bool::weighted(0.8))
            .prop_map(|(pick, healthy)| Step::Report { pick, healthy }),
        2 => Just(Step::Promote),
        1 => Just(Step::Pause),
        1 => Just(Step::Resume),
        1 => Just(Step::Fail),
        2 => (1u16..900).prop_map(|seconds| Step::Wait { seconds }),
    ]
}

fn strategy() -> UpdateStrategy {
    UpdateStrategy {
        auto_revert: Some(true),
        progress_deadline: Some(600 * SECOND_NS),
        ..update(1, 1)
    }
}

/// The embedder's memory: which allocations its clients last reported healthy, and which
/// canaries were so when their deployment was promoted.
#[derive(Default)]
struct Reports {
    healthy: BTreeSet<Uuid>,
    healthy_at_promotion: BTreeSet<Uuid>,
}

impl Reports {
    /// Remembers the canaries of `deployment` that were healthy when it was promoted.
    fn promoted(&mut self, w: &World, deployment: &Uuid) {
        let Some(d) = w.state().deployment(deployment) else {
            return;
        };
        for g in d.task_groups.values() {
            for c in g.placed_canaries_slice() {
                if self.healthy.contains(c) {
                    self.healthy_at_promotion.insert(*c);
                }
            }
        }
    }

    /// Whether canary `c` passed the gate: healthy now, or when it was promoted.
    fn gate_passed(&self, c: &Uuid) -> bool {
        self.healthy.contains(c) || self.healthy_at_promotion.contains(c)
    }
}

/// Rule 1: a deployment that turned successful in this step placed only canaries that
/// were reported healthy (and still were at its promotion, or are now).
fn deploy_gate_holds(w: &World, before: &rollout_engine::State, r: &Reports) -> Result<(), String> {
    for d in w.state().deployments_in_namespace(None) {
        let was = before.deployment(&d.id).map(|o| o.status.clone());
        if d.status != status::SUCCESSFUL || was.as_deref() == Some(status::SUCCESSFUL) {
            continue;
        }
        for g in d.task_groups.values() {
            if let Some(c) = g.placed_canaries_slice().iter().find(|c| !r.gate_passed(c)) {
                return Err(format!(
                    "deployment {} succeeded with canary {c} never reported healthy",
                    d.id
                ));
            }
        }
    }
    Ok(())
}

/// Rule 2: an auto-reverting deployment that failed in this step has a rollback decision.
fn failures_are_explained(
    w: &World,
    before: &rollout_engine::State,
    o: &Outcome,
) -> Result<(), String> {
    for d in w.state().deployments_in_namespace(None) {
        let newly_failed = d.status == status::FAILED
            && before
                .deployment(&d.id)
                .is_some_and(|b| b.status != status::FAILED);
        let reverts = d.task_groups.values().any(|g| g.auto_revert);
        if newly_failed && reverts && !o.rollbacks.iter().any(|r| r.deployment_id == d.id) {
            return Err(format!(
                "deployment {} failed with auto_revert and no rollback decision",
                d.id
            ));
        }
    }
    Ok(())
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let mut w = World::new();
    let mut reports = Reports::default();
    let mut release = 1;
    w.deploy(service_job("web", 3, strategy()));
    for s in steps {
        let before = w.state().clone();
        let latest = w.latest_deployment("web").id;
        let outcome = match s {
            Step::Release => {
                release += 1;
                let job = with_image(service_job("web", 3, strategy()), &format!("app:{release}"));
                w.try_apply(rollout_engine::Command::RegisterJob(
                    rollout_engine::command::RegisterJob {
                        job,
                        ..Default::default()
                    },
                ))
                .ok()
            }
            Step::Schedule => {
                w.schedule();
                None
            }
            Step::Report { pick, healthy } => {
                let live = w.live_allocs("web");
                let Some(a) = live.get(*pick as usize % live.len().max(1)) else {
                    continue;
                };
                if *healthy {
                    reports.healthy.insert(a.id);
                    Some(w.client(a.id, "running", Some(true)))
                } else {
                    reports.healthy.remove(&a.id);
                    Some(w.client(a.id, "failed", Some(false)))
                }
            }
            Step::Promote => {
                let promoted = w.promote(latest).ok();
                if promoted.is_some() {
                    reports.promoted(&w, &latest);
                }
                promoted
            }
            Step::Pause => w.pause(latest, true).ok(),
            Step::Resume => w.pause(latest, false).ok(),
            Step::Fail => w.fail(latest).ok(),
            Step::Wait { seconds } => {
                w.advance(i64::from(*seconds) * SECOND_NS);
                w.tick_if_due()
            }
        };
        w.state()
            .check_invariants()
            .map_err(|v| TestCaseError::fail(v.to_string()))?;
        deploy_gate_holds(&w, &before, &reports).map_err(TestCaseError::fail)?;
        if let Some(o) = &outcome {
            failures_are_explained(&w, &before, o).map_err(TestCaseError::fail)?;
            for r in &o.rollbacks {
                if let RollbackOutcome::RolledBack { new_version, .. } = r.outcome {
                    prop_assert_eq!(w.job("web").version, new_version);
                }
            }
        }
    }
    prop_assert!(w.replay_equals_live());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn embedder_policy_holds_under_random_operators_and_clients(steps in prop::collection::vec(step(), 1..60)) {
        run(&steps)?;
    }
}

/// Found by the property above (its regression file replays it too): a rollback's
/// deployment is created without canaries (nothing destructive yet), then a failed
/// allocation's replacement brings a destructive change and the scheduler places a
/// canary into it. C7 makes `DesiredCanaries` follow, so promotion waits for the
/// canary's health; before the fix the deployment was promoted "0/0 canaries healthy"
/// and succeeded with its canary never reported healthy.
#[test]
fn c7_a_canary_placed_into_an_existing_deployment_must_be_healthy_before_success() {
    use Step::*;
    let r = |pick: u8, healthy: bool| Report { pick, healthy };
    let mut steps = vec![r(0, true); 10];
    steps.extend([
        Release,
        r(17, false),
        Schedule,
        r(55, true),
        Promote,
        r(1, true),
        Release,
        Wait { seconds: 4 },
        r(0, true),
        Schedule,
        r(1, true),
        r(1, true),
        r(9, true),
        r(53, true),
        r(1, true),
        Fail,
        r(0, true),
        r(0, true),
        r(0, true),
        r(17, false),
        Schedule,
        Pause,
        r(105, true),
        r(232, true),
        Wait { seconds: 4 },
        r(45, true),
        r(9, true),
        r(0, true),
        Promote,
        Schedule,
        r(182, true),
    ]);
    if let Err(e) = run(&steps) {
        panic!("{e}");
    }
}

/// Found by the property above (its regression file replays it too): a canary reported
/// healthy, the deployment promoted, then the canary fails. With a progress deadline an
/// unhealthy allocation does not fail the deployment (it is replaced: W2, D8), so the
/// replacement — an ordinary allocation after promotion — comes up healthy and the
/// deployment succeeds with the failed canary still in `PlacedCanaries`. The rule's first
/// version kept only the *current* health of each canary and called that a breach of the
/// gate; the gate (canaries healthy before promotion) held.
#[test]
fn a_canary_that_fails_after_promotion_is_replaced_and_the_deployment_may_succeed() {
    use Step::*;
    let r = |pick: u8, healthy: bool| Report { pick, healthy };
    let mut steps = vec![r(0, true); 6];
    steps.extend([
        r(1, false),
        Release,
        Schedule,
        r(107, true),
        Resume,
        Fail,
        r(0, true),
        r(0, true),
        Schedule,
        r(45, true),
        r(46, true),
        Wait { seconds: 600 },
        r(0, true),
        r(0, true),
        r(0, true),
        Promote,
        r(178, false),
        Schedule,
        Schedule,
        Schedule,
        Schedule,
        Schedule,
        Schedule,
        r(175, true),
        Schedule,
        Schedule,
        Schedule,
        r(20, true),
        Wait { seconds: 4 },
        Schedule,
    ]);
    if let Err(e) = run(&steps) {
        panic!("{e}");
    }
}
