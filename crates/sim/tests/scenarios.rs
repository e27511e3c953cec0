//! Hand-written scenarios: each pins one behaviour of a whole rollout.

use rollout_engine::model::{UpdateStrategy, MINUTE_NS, SECOND_NS};
use rollout_sim::jobs::JobSpec;
use rollout_sim::{Action, FaultModel, GroupSpec, JobChange, ScriptStep, SimConfig, Simulation};

fn web(count: u64, update: UpdateStrategy) -> JobSpec {
    let mut g = GroupSpec::new("api", count);
    g.update = update;
    JobSpec {
        id: "web".into(),
        groups: vec![g],
        initial_release: "web:v1".into(),
    }
}

fn canary_update() -> UpdateStrategy {
    UpdateStrategy {
        canary: Some(1),
        max_parallel: Some(1),
        min_healthy_time: Some(10 * SECOND_NS),
        healthy_deadline: Some(MINUTE_NS),
        progress_deadline: Some(3 * MINUTE_NS),
        auto_revert: Some(true),
        ..UpdateStrategy::nomad_default()
    }
}

#[test]
fn fresh_job_deploys_successfully() {
    let mut sim = Simulation::new(SimConfig::new(
        1,
        3,
        vec![web(3, UpdateStrategy::nomad_default())],
    ));
    let report = sim.run();
    for e in sim.timeline() {
        println!("{e}");
    }
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.deployments.get("successful"), Some(&1));
}

#[test]
fn bad_canary_release_auto_reverts() {
    let mut config = SimConfig::new(7, 3, vec![web(3, canary_update())]);
    config.faults = FaultModel::bad_release("web:v2");
    config.script.push(ScriptStep {
        at_ns: 2 * MINUTE_NS,
        action: Action::Register {
            job: "web".into(),
            change: JobChange::Release("web:v2".into()),
        },
    });
    let mut sim = Simulation::new(config);
    let report = sim.run();
    for e in sim.timeline() {
        println!("{e}");
    }
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.rollbacks, 1);
}

fn bad_release_config(seed: u64, update: UpdateStrategy) -> SimConfig {
    let mut config = SimConfig::new(seed, 3, vec![web(3, update)]);
    config.faults = FaultModel::bad_release("web:v2");
    config.script.push(ScriptStep {
        at_ns: 2 * MINUTE_NS,
        action: Action::Register {
            job: "web".into(),
            change: JobChange::Release("web:v2".into()),
        },
    });
    config
}

/// The example's story, pinned: the unhealthy canary fails the deployment at once
/// (`progress_deadline = 0`, §3.10 D8) with the exact rollback description (§2.3), the
/// stable version 0 comes back as version 2 and that deployment succeeds.
#[test]
fn unhealthy_canary_fails_with_rollback_description_and_version_2_succeeds() {
    let update = UpdateStrategy {
        progress_deadline: Some(0),
        ..canary_update()
    };
    let mut sim = Simulation::new(bad_release_config(7, update));
    let report = sim.run();
    assert!(report.is_clean(), "{report:#?}");
    let st = sim.state();
    let deployments = st.deployments_in_namespace(None);
    let summary: Vec<(u64, &str, &str)> = deployments
        .iter()
        .map(|d| {
            (
                d.job_version,
                d.status.as_str(),
                d.status_description.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (0, "successful", "Deployment completed successfully"),
            (
                1,
                "failed",
                "Failed due to unhealthy allocations - rolling back to job version 0"
            ),
            (2, "successful", "Deployment completed successfully"),
        ]
    );
    let v2 = st.job_version("default", "web", 2).unwrap();
    assert_eq!(
        rollout_sim::jobs::release_of(v2, "api").as_deref(),
        Some("web:v1")
    );
}

/// Without an operator who promotes, a canary deployment waits (D6): the run settles
/// with the deployment running and "requires manual promotion", which counts as
/// waiting on an operator, not as stuck.
#[test]
fn unpromoted_canaries_wait_for_the_operator() {
    let mut config = bad_release_config(3, canary_update());
    config.faults = FaultModel::none();
    config.operator.promote = false;
    let mut sim = Simulation::new(config);
    let report = sim.run();
    assert!(report.is_clean(), "{report:#?}");
    let d = sim.state().latest_deployment_any("default", "web").unwrap();
    assert_eq!(d.status, "running");
    assert_eq!(
        d.status_description,
        "Deployment is running but requires manual promotion"
    );
}

/// `health_check = "manual"`: clients never report health; the operator marks
/// allocations and the rollout completes.
#[test]
fn manual_health_rollout_completes_through_the_operator() {
    let update = UpdateStrategy {
        health_check: Some("manual".into()),
        ..UpdateStrategy::nomad_default()
    };
    let mut sim = Simulation::new(SimConfig::new(5, 2, vec![web(2, update)]));
    let report = sim.run();
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.deployments.get("successful"), Some(&1));
    assert!(
        report
            .stats
            .commands
            .get("set_alloc_health")
            .copied()
            .unwrap_or(0)
            >= 1
    );
    assert!(report
        .stats
        .commands
        .contains_key("update_allocs_from_client"));
}

/// A lost node's allocations are reported lost and replaced on the nodes left.
#[test]
fn lost_node_allocations_are_replaced() {
    let mut config = SimConfig::new(11, 2, vec![web(2, UpdateStrategy::nomad_default())]);
    config.script.push(ScriptStep {
        at_ns: MINUTE_NS,
        action: Action::LoseNode {
            node: "node-000".into(),
        },
    });
    let mut sim = Simulation::new(config);
    let report = sim.run();
    assert!(report.is_clean(), "{report:#?}");
    let st = sim.state();
    let live: Vec<_> = st
        .job_allocs("default", "web")
        .filter(|a| !a.terminal())
        .collect();
    assert_eq!(live.len(), 2, "{live:#?}");
    assert!(live.iter().all(|a| a.node_id == "node-001"));
}

/// Plans that lag behind the state are rejected as stale and planned again; the
/// rollout still completes and keeps every property.
#[test]
fn stale_plans_are_replanned() {
    let mut config = bad_release_config(13, canary_update());
    config.faults = FaultModel::none();
    config.scheduler.plan_latency_ns = (SECOND_NS, 20 * SECOND_NS);
    config.scheduler.partial_plan_chance = 0.5;
    let mut sim = Simulation::new(config);
    let report = sim.run();
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.deployments.get("successful"), Some(&2));
}
