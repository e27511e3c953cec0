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
