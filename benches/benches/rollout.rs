//! A whole simulated rollout of 1,000 allocations: the first version is placed and
//! becomes healthy, then a new release replaces every allocation 100 at a time, through
//! the planner, plan results, client health and the watcher, until the deployment is
//! successful. Measures the engine and the reference embedder together (invariant
//! checks and the timeline off).

use criterion::{criterion_group, criterion_main, Criterion};
use rollout_engine::model::{UpdateStrategy, MINUTE_NS, SECOND_NS};
use rollout_sim::{Action, GroupSpec, JobChange, JobSpec, ScriptStep, SimConfig, Simulation};
use std::hint::black_box;
use std::time::Duration;

fn config() -> SimConfig {
    let mut group = GroupSpec::new("web", 1_000);
    group.update = UpdateStrategy {
        max_parallel: Some(100),
        min_healthy_time: Some(SECOND_NS),
        healthy_deadline: Some(MINUTE_NS),
        progress_deadline: Some(10 * MINUTE_NS),
        ..UpdateStrategy::nomad_default()
    };
    let job = JobSpec {
        id: "web".into(),
        groups: vec![group],
        initial_release: "web:v1".into(),
    };
    let mut config = SimConfig::new(7, 50, vec![job]);
    config.script = vec![ScriptStep {
        at_ns: 10 * MINUTE_NS,
        action: Action::Register {
            job: "web".into(),
            change: JobChange::Release("web:v2".into()),
        },
    }];
    config.check_invariants = false;
    config.keep_timeline = false;
    config
}

fn whole_rollout(c: &mut Criterion) {
    // Once up front: the run must succeed, and say how much work it is.
    let mut sim = Simulation::new(config());
    let report = sim.run();
    assert_eq!(report.deployments.get("successful"), Some(&2), "{report:?}");
    println!(
        "whole rollout: {} commands applied, {} steps, final index {}",
        sim.log().len(),
        report.steps,
        sim.state().index()
    );
    let mut g = c.benchmark_group("sim_rollout");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("1000_allocs_max_parallel_100", |b| {
        b.iter(|| {
            let mut sim = Simulation::new(config());
            black_box(sim.run())
        })
    });
    g.finish();
}

criterion_group!(benches, whole_rollout);
criterion_main!(benches);
