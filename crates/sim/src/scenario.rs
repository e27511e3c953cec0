//! Random scenarios from a seed: fleets, jobs, update blocks, fault models, operator
//! policies and scripts. The property tests draw seeds; one seed fixes both the scenario
//! and the run, so a failure replays from its seed alone.

use crate::client::ClientConfig;
use crate::faults::{FaultKind, FaultModel, FaultRule, NodeLoss};
use crate::jobs::{GroupSpec, JobChange, JobSpec};
use crate::operator::OperatorPolicy;
use crate::rng::SimRng;
use crate::scheduler::SchedulerConfig;
use crate::simulation::{Action, Limits, ScriptStep, SimConfig, DEFAULT_START_NS};
use rollout_engine::model::{
    health_check, DurationNs, ReschedulePolicy, UpdateStrategy, HOUR_NS, MINUTE_NS, SECOND_NS,
};

/// Mixes the seed so that the scenario's draws and the run's draws are unrelated.
const SCENARIO_SALT: u64 = 0x5CE7_A210_0000_0001;

/// How big and how hostile generated scenarios may be.
#[derive(Clone, Debug, PartialEq)]
pub struct Bounds {
    pub max_nodes: u64,
    pub max_jobs: u64,
    pub max_groups: u64,
    pub max_count: u64,
    pub max_releases: u64,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_nodes: 5,
            max_jobs: 2,
            max_groups: 2,
            max_count: 5,
            max_releases: 4,
        }
    }
}

/// The scenario for `seed` within the default bounds.
pub fn random(seed: u64) -> SimConfig {
    random_within(seed, &Bounds::default())
}

/// The scenario for `seed` within `bounds`.
pub fn random_within(seed: u64, bounds: &Bounds) -> SimConfig {
    let mut rng = SimRng::seed_from_u64(seed ^ SCENARIO_SALT);
    let nodes = rng.range_u64(1, bounds.max_nodes) as usize;
    let job_count = rng.range_u64(1, bounds.max_jobs);
    let jobs: Vec<JobSpec> = (0..job_count)
        .map(|j| job(&mut rng, &format!("job{j}"), bounds))
        .collect();
    let mut releases = Vec::new();
    let mut rules = Vec::new();
    let mut script = Vec::new();
    for job in &jobs {
        let names: Vec<String> = (1..=rng.range_u64(2, bounds.max_releases))
            .map(|r| format!("{}:v{r}", job.id))
            .collect();
        for _ in 0..rng.range_u64(0, 3) {
            rules.push(fault_rule(&mut rng, &names, job));
        }
        // A second release some time into the run, sometimes a third.
        let mut at = 0;
        for release in names.iter().skip(1).take(2) {
            if !rng.chance(0.8) {
                break;
            }
            at += rng.range_i64(30 * SECOND_NS, 8 * MINUTE_NS);
            let change = if rng.chance(0.15) {
                JobChange::Revision
            } else {
                JobChange::Release(release.clone())
            };
            script.push(ScriptStep {
                at_ns: at,
                action: Action::Register {
                    job: job.id.clone(),
                    change,
                },
            });
        }
        releases.extend(names);
    }
    let chaos = rng.chance(0.6);
    let chaos_until_ns = rng.range_i64(5 * MINUTE_NS, 40 * MINUTE_NS);
    let node_loss = rng.chance(0.3).then(|| NodeLoss {
        interval_ns: 30 * SECOND_NS,
        chance: rng.range_u64(1, 8) as f64 / 100.0,
        repair_after_ns: rng.range_i64(MINUTE_NS, 10 * MINUTE_NS),
    });
    let operator = OperatorPolicy {
        tick_ns: rng.range_i64(2 * SECOND_NS, 20 * SECOND_NS),
        promote: rng.chance(0.85),
        manual_health: rng.chance(0.9),
        pause_chance: if chaos {
            rng.range_u64(0, 5) as f64 / 100.0
        } else {
            0.0
        },
        resume_chance: rng.range_u64(10, 60) as f64 / 100.0,
        fail_chance: if chaos {
            rng.range_u64(0, 10) as f64 / 1000.0
        } else {
            0.0
        },
        new_version_chance: if chaos {
            rng.range_u64(0, 3) as f64 / 100.0
        } else {
            0.0
        },
        in_place_chance: 0.2,
        releases,
        chaos_until_ns,
    };
    let latency_max = if rng.chance(0.4) {
        rng.range_i64(0, 3 * SECOND_NS)
    } else {
        0
    };
    SimConfig {
        seed,
        start_ns: DEFAULT_START_NS,
        nodes,
        jobs,
        script,
        client: ClientConfig {
            start_delay_ns: (
                rng.range_i64(0, SECOND_NS),
                rng.range_i64(SECOND_NS, 20 * SECOND_NS),
            ),
            stop_delay_ns: (0, rng.range_i64(0, 5 * SECOND_NS)),
        },
        scheduler: SchedulerConfig {
            eval_delay_ns: (0, rng.range_i64(0, 2 * SECOND_NS)),
            plan_latency_ns: (0, latency_max),
            partial_plan_chance: if rng.chance(0.3) { 0.3 } else { 0.0 },
            ..SchedulerConfig::default()
        },
        faults: FaultModel { rules, node_loss },
        operator,
        // Crash-looping allocations outside any rollout can keep a run busy for ever;
        // eight virtual hours is far past every deadline a scenario sets.
        limits: Limits {
            max_steps: 10_000,
            max_elapsed_ns: 8 * HOUR_NS,
        },
        check_invariants: true,
        keep_timeline: false,
    }
}

fn job(rng: &mut SimRng, id: &str, bounds: &Bounds) -> JobSpec {
    let groups = (0..rng.range_u64(1, bounds.max_groups))
        .map(|g| group(rng, &format!("g{g}"), bounds))
        .collect();
    JobSpec {
        id: id.to_string(),
        groups,
        initial_release: format!("{id}:v1"),
    }
}

fn group(rng: &mut SimRng, name: &str, bounds: &Bounds) -> GroupSpec {
    let count = rng.range_u64(1, bounds.max_count);
    let canary = if rng.chance(0.5) {
        rng.range_u64(1, 3) as i64
    } else {
        0
    };
    let min_healthy: DurationNs = rng.range_i64(0, 15) * SECOND_NS;
    let healthy_deadline = min_healthy + rng.range_i64(5, 120) * SECOND_NS;
    let progress_deadline = if rng.chance(0.15) {
        0
    } else {
        healthy_deadline + rng.range_i64(10, 600) * SECOND_NS
    };
    let health = match rng.below(10) {
        0 => health_check::MANUAL,
        1..=4 => health_check::TASK_STATES,
        _ => health_check::CHECKS,
    };
    let update = UpdateStrategy {
        max_parallel: Some(rng.range_u64(1, 3) as i64),
        canary: Some(canary),
        auto_promote: Some(canary > 0 && rng.chance(0.4)),
        auto_revert: Some(rng.chance(0.6)),
        health_check: Some(health.to_string()),
        min_healthy_time: Some(min_healthy),
        healthy_deadline: Some(healthy_deadline),
        progress_deadline: Some(progress_deadline),
        stagger: Some(30 * SECOND_NS),
    };
    let reschedule = if rng.chance(0.5) {
        ReschedulePolicy {
            delay: Some(rng.range_i64(1, 30) * SECOND_NS),
            ..ReschedulePolicy::service_default()
        }
    } else {
        ReschedulePolicy {
            attempts: Some(rng.range_u64(0, 3) as i64),
            interval: Some(10 * MINUTE_NS),
            delay: Some(5 * SECOND_NS),
            delay_function: Some("constant".to_string()),
            max_delay: Some(0),
            unlimited: Some(false),
        }
    };
    GroupSpec {
        name: name.to_string(),
        count,
        update,
        reschedule,
    }
}

fn fault_rule(rng: &mut SimRng, releases: &[String], job: &JobSpec) -> FaultRule {
    let release = if rng.chance(0.7) {
        rng.pick(releases).cloned()
    } else {
        None
    };
    let group = if rng.chance(0.3) {
        rng.pick(&job.groups).map(|g| g.name.clone())
    } else {
        None
    };
    let probability = if rng.chance(0.3) {
        1.0
    } else {
        rng.range_u64(5, 50) as f64 / 100.0
    };
    let kind = match rng.below(3) {
        0 => FaultKind::FailToStart,
        1 => FaultKind::Hang,
        _ => FaultKind::FailAfter {
            min_ns: SECOND_NS,
            max_ns: 5 * MINUTE_NS,
        },
    };
    FaultRule {
        release,
        group,
        probability,
        kind,
    }
}
