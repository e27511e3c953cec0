//! `what_if::continue_from`: the live cluster continuing a state under assumptions, on a
//! virtual clock — the engine behind `rollout what-if` and `rollout replay --simulate`.

use rollout_engine::command::RegisterJob;
use rollout_engine::model::{health_check, Job, UpdateStrategy, SECOND_NS};
use rollout_engine::{Command, DeploymentEngine, EngineConfig, SeededStamp, State, VirtualClock};
use rollout_sim::jobs::JobSpec;
use rollout_sim::what_if::{continue_from, Assumption, End, WhatIf};
use rollout_sim::GroupSpec;

const T0: i64 = 1_700_000_000_000_000_000;

fn job(release: &str, update: UpdateStrategy) -> Job {
    let mut group = GroupSpec::new("web", 3);
    group.update = update;
    JobSpec {
        id: "web".into(),
        groups: vec![group],
        initial_release: "app:1".into(),
    }
    .job(release, 0)
}

fn canary(auto_promote: bool) -> UpdateStrategy {
    UpdateStrategy {
        canary: Some(1),
        max_parallel: Some(1),
        auto_revert: Some(true),
        auto_promote: Some(auto_promote),
        health_check: Some(health_check::CHECKS.into()),
        min_healthy_time: Some(2 * SECOND_NS),
        healthy_deadline: Some(30 * SECOND_NS),
        progress_deadline: Some(60 * SECOND_NS),
        ..UpdateStrategy::nomad_default()
    }
}

fn what(assumption: Assumption) -> WhatIf {
    WhatIf {
        assumption,
        seed: 5,
        horizon_ns: 3600 * SECOND_NS,
        job: Some(("default".into(), "web".into())),
    }
}

/// Version 0 running healthy, version 1 just registered: its canary deployment is the
/// one to ask about.
fn state_with_a_canary_deployment(auto_promote: bool) -> (State, uuid::Uuid) {
    let clock = VirtualClock::new(T0);
    let mut engine = DeploymentEngine::new(EngineConfig::default(), SeededStamp::new(1, clock));
    for release in ["app:1", "app:2"] {
        engine
            .submit(Command::RegisterJob(RegisterJob {
                job: job(release, canary(auto_promote)),
                ..RegisterJob::default()
            }))
            .expect("registered");
        if release == "app:1" {
            let settled = continue_from(engine.state().clone(), &what(Assumption::Healthy), |s| {
                s.latest_job_deployment("default", "web")
                    .is_some_and(|d| d.status == "successful")
            });
            assert_eq!(settled.end, End::Reached);
            engine = DeploymentEngine::from_state(
                settled.state,
                SeededStamp::new(2, VirtualClock::new(T0 + 600 * SECOND_NS)),
            );
        }
    }
    let d = engine
        .state()
        .latest_job_deployment("default", "web")
        .expect("deployment")
        .id;
    (engine.into_state(), d)
}

fn terminal(d: uuid::Uuid) -> impl Fn(&State) -> bool {
    move |s: &State| s.deployment(&d).is_some_and(|d| !d.active())
}

#[test]
fn what_if_canaries_fail_the_deployment_fails_and_rolls_back() {
    let (state, d) = state_with_a_canary_deployment(false);
    let before = state.clone();
    let run = continue_from(state, &what(Assumption::CanaryFails), terminal(d));
    assert_eq!(run.end, End::Reached, "{:#?}", run.entries);
    let dep = run.state.deployment(&d).unwrap();
    assert_eq!(dep.status, "failed");
    let text: Vec<String> = run.entries.iter().map(|e| e.to_string()).collect();
    assert!(text.iter().any(|l| l.contains("auto-revert")), "{text:#?}");
    assert!(
        before.index() < run.state.index(),
        "the run applied commands to its copy"
    );
    // The same state, assumption and seed: the same timeline.
    let again = continue_from(before, &what(Assumption::CanaryFails), terminal(d));
    assert_eq!(again.entries, run.entries);
}

#[test]
fn what_if_healthy_with_auto_promote_succeeds_and_without_it_waits() {
    let (state, d) = state_with_a_canary_deployment(true);
    let run = continue_from(state, &what(Assumption::Healthy), terminal(d));
    assert_eq!(run.end, End::Reached, "{:#?}", run.entries);
    assert_eq!(run.state.deployment(&d).unwrap().status, "successful");
    let (state, d) = state_with_a_canary_deployment(false);
    let run = continue_from(state, &what(Assumption::Healthy), terminal(d));
    assert_eq!(run.end, End::Quiet, "a manual promotion is never assumed");
    assert!(run.state.deployment(&d).unwrap().active());
}

#[test]
fn what_if_a_node_is_lost_its_allocations_are_replaced() {
    let (state, d) = state_with_a_canary_deployment(true);
    let run = continue_from(
        state,
        &what(Assumption::NodeLost {
            after_ns: 3 * SECOND_NS,
        }),
        terminal(d),
    );
    let text: Vec<String> = run.entries.iter().map(|e| e.to_string()).collect();
    assert!(text.iter().any(|l| l.contains("lost")), "{text:#?}");
    assert!(run.state.nodes().any(|n| n.status == "down"), "{text:#?}");
}

#[test]
fn assumptions_parse_as_the_cli_writes_them() {
    assert_eq!("healthy".parse(), Ok(Assumption::Healthy));
    assert_eq!("canary-fails".parse(), Ok(Assumption::CanaryFails));
    assert_eq!(
        "node-lost@1m30s".parse(),
        Ok(Assumption::NodeLost {
            after_ns: 90 * SECOND_NS
        })
    );
    assert_eq!(
        "node-lost@soon".parse::<Assumption>().unwrap_err(),
        "invalid time \"soon\" in \"node-lost@soon\": use a duration such as 30s or 2m"
    );
    assert!("maybe"
        .parse::<Assumption>()
        .unwrap_err()
        .starts_with("unknown assumption"));
}
