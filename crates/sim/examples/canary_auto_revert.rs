//! A canary rollout of a bad release that auto-reverts, told as a timeline.
//!
//! `cargo run -p rollout-sim --example canary_auto_revert [SEED]`
//!
//! Version 0 (`web:1.0`) rolls out and becomes stable. Two minutes in, version 1
//! (`web:1.1`) is registered; its canary never passes its checks, the client reports it
//! unhealthy at the healthy deadline, the deployment fails, and because the group has
//! `auto_revert` the engine re-registers the stable spec as version 2, which rolls out
//! again (in place: it is the spec the old allocations already run).

use rollout_engine::model::{UpdateStrategy, MINUTE_NS, SECOND_NS};
use rollout_sim::clock::format_elapsed;
use rollout_sim::timeline::short;
use rollout_sim::{
    Action, FaultModel, GroupSpec, JobChange, JobSpec, ScriptStep, SimConfig, Simulation,
};

fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let mut api = GroupSpec::new("api", 3);
    api.update = UpdateStrategy {
        canary: Some(1),
        max_parallel: Some(1),
        min_healthy_time: Some(10 * SECOND_NS),
        healthy_deadline: Some(MINUTE_NS),
        // 0: the first unhealthy allocation fails the deployment (§3.10 D8).
        progress_deadline: Some(0),
        auto_revert: Some(true),
        ..UpdateStrategy::nomad_default()
    };
    let web = JobSpec {
        id: "web".into(),
        groups: vec![api],
        initial_release: "web:1.0".into(),
    };
    let mut config = SimConfig::new(seed, 3, vec![web]);
    config.faults = FaultModel::bad_release("web:1.1");
    config.script.push(ScriptStep {
        at_ns: 2 * MINUTE_NS,
        action: Action::Register {
            job: "web".into(),
            change: JobChange::Release("web:1.1".into()),
        },
    });
    let mut sim = Simulation::new(config);
    let report = sim.run();

    println!("Canary rollout of a bad release with auto_revert (seed {seed}, 3 nodes)");
    println!("job web, group api: count 3, canary 1, max_parallel 1, min_healthy_time 10s,");
    println!("healthy_deadline 1m, progress_deadline 0, auto_revert; release web:1.1 never passes its checks\n");
    for entry in sim.timeline() {
        println!("{entry}");
    }
    println!("\nDeployments:");
    for d in sim.state().deployments_in_namespace(None) {
        println!(
            "  {}  version {}  {:<10} {}",
            short(&d.id),
            d.job_version,
            d.status,
            d.status_description
        );
    }
    println!("Job versions:");
    for j in sim.state().job_versions("default", "web") {
        let release = rollout_sim::jobs::release_of(j, "api").unwrap_or_default();
        println!("  version {}  {release}  stable: {}", j.version, j.stable);
    }
    println!(
        "\nsettled after {} ({} commands applied, {} rollbacks); properties {}",
        format_elapsed(report.elapsed_ns),
        sim.log().len(),
        report.rollbacks,
        if report.is_clean() { "held" } else { "BROKEN" }
    );
    if !report.is_clean() {
        eprintln!("{report:#?}");
        std::process::exit(1);
    }
}
