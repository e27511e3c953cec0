//! Operator policies: the people (or tools) that promote, pause, resume, fail, mark
//! health and ship new versions while a rollout is in progress.
//!
//! Two kinds of decisions: *duties* that a rollout waits for (promote healthy canaries,
//! mark manual-health allocations), which the operator keeps doing for the whole run; and
//! *chaos* (random pause/resume/fail, a new version mid-rollout), which stops at
//! `chaos_until_ns` so that every run can settle.

use crate::client::{health_policy, Clients, HealthPolicy};
use crate::faults::Fate;
use crate::jobs::{release_of, JobChange};
use crate::rng::SimRng;
use rollout_engine::command::{FailDeployment, PauseDeployment, PromoteDeployment, SetAllocHealth};
use rollout_engine::model::{client_status, status, Deployment, DurationNs, UnixNanos};
use rollout_engine::{Command, State};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

/// What the operator does, and how often.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperatorPolicy {
    /// How often the operator looks at the cluster.
    pub tick_ns: DurationNs,
    /// Promote a deployment once every canary group has enough healthy canaries (unless
    /// it auto-promotes).
    pub promote: bool,
    /// Mark allocations of `health_check = "manual"` groups: healthy once they ran for
    /// `min_healthy_time`, unhealthy if they hang or fail.
    pub manual_health: bool,
    /// Per tick and active running deployment, before `chaos_until_ns`.
    pub pause_chance: f64,
    /// Per tick and paused deployment, before `chaos_until_ns`.
    pub resume_chance: f64,
    /// Per tick and active deployment, before `chaos_until_ns`.
    pub fail_chance: f64,
    /// Per tick and job with an active deployment, before `chaos_until_ns`: register a
    /// new version mid-rollout.
    pub new_version_chance: f64,
    /// Of those new versions, the share that is an in-place change (a new revision)
    /// rather than a new release.
    pub in_place_chance: f64,
    /// Releases a new version picks from.
    pub releases: Vec<String>,
    /// Chaos stops this long after the start.
    pub chaos_until_ns: DurationNs,
}

impl Default for OperatorPolicy {
    /// A diligent operator that causes no chaos.
    fn default() -> Self {
        OperatorPolicy {
            tick_ns: 5_000_000_000,
            promote: true,
            manual_health: true,
            pause_chance: 0.0,
            resume_chance: 0.0,
            fail_chance: 0.0,
            new_version_chance: 0.0,
            in_place_chance: 0.0,
            releases: Vec::new(),
            chaos_until_ns: 0,
        }
    }
}

/// One operator decision.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// A command about one deployment.
    Deployment {
        deployment: Uuid,
        command: Box<Command>,
    },
    /// Register a new version of a job.
    NewVersion { job: String, change: JobChange },
}

/// Duties for every active deployment: promotion and manual health.
pub fn duties(
    policy: &OperatorPolicy,
    state: &State,
    clients: &Clients,
    now: UnixNanos,
) -> Vec<Decision> {
    let mut out = Vec::new();
    for d in state.active_deployments() {
        if policy.promote && ready_to_promote(state, d) {
            out.push(Decision::Deployment {
                deployment: d.id,
                command: Box::new(Command::PromoteDeployment(PromoteDeployment {
                    deployment_id: d.id,
                    all: true,
                    groups: None,
                })),
            });
        }
        if policy.manual_health {
            if let Some(cmd) = manual_health(state, clients, d, now) {
                out.push(Decision::Deployment {
                    deployment: d.id,
                    command: Box::new(cmd),
                });
            }
        }
    }
    out
}

/// Random interventions, drawn in deployment-ID order so a seed fixes them.
pub fn chaos(policy: &OperatorPolicy, state: &State, rng: &mut SimRng) -> Vec<Decision> {
    let mut out = Vec::new();
    let active: Vec<Arc<Deployment>> = state.active_deployments().cloned().collect();
    for d in &active {
        let id = d.id;
        if d.status == status::PAUSED {
            if rng.chance(policy.resume_chance) {
                out.push(pause(id, false));
            }
        } else if rng.chance(policy.pause_chance) {
            out.push(pause(id, true));
        }
        if rng.chance(policy.fail_chance) {
            out.push(Decision::Deployment {
                deployment: id,
                command: Box::new(Command::FailDeployment(FailDeployment {
                    deployment_id: id,
                })),
            });
        }
        if rng.chance(policy.new_version_chance) {
            if let Some(change) = new_version(policy, state, d, rng) {
                out.push(Decision::NewVersion {
                    job: d.job_id.clone(),
                    change,
                });
            }
        }
    }
    out
}

fn pause(id: Uuid, pause: bool) -> Decision {
    Decision::Deployment {
        deployment: id,
        command: Box::new(Command::PauseDeployment(PauseDeployment {
            deployment_id: id,
            pause,
        })),
    }
}

/// A different release than the job runs now, or (sometimes) an in-place revision.
fn new_version(
    policy: &OperatorPolicy,
    state: &State,
    d: &Deployment,
    rng: &mut SimRng,
) -> Option<JobChange> {
    let job = state.job(&d.namespace, &d.job_id)?;
    let group = job.task_groups.first()?;
    let current = release_of(job, &group.name).unwrap_or_default();
    if rng.chance(policy.in_place_chance) {
        return Some(JobChange::Revision);
    }
    let others: Vec<&String> = policy.releases.iter().filter(|r| **r != current).collect();
    rng.pick(&others).map(|r| JobChange::Release((*r).clone()))
}

/// The operator's promotion rule: the deployment waits for a manual promotion and every
/// canary group has at least `DesiredCanaries` healthy, live canaries (P4–P5).
pub fn ready_to_promote(state: &State, d: &Deployment) -> bool {
    if !d.requires_promotion() || d.has_auto_promote() {
        return false;
    }
    d.task_groups
        .iter()
        .filter(|(_, g)| g.canarying())
        .all(|(name, g)| {
            let healthy = g
                .placed_canaries_slice()
                .iter()
                .filter_map(|id| state.alloc(id))
                .filter(|a| a.task_group == *name && a.is_healthy() && !a.terminal())
                .count() as u64;
            healthy >= g.desired_canaries
        })
}

/// Manual health for one deployment: allocations of manual groups that are running,
/// have no health yet, and ran for `min_healthy_time` are judged by their fate; failed
/// ones are marked unhealthy.
fn manual_health(
    state: &State,
    clients: &Clients,
    d: &Deployment,
    now: UnixNanos,
) -> Option<Command> {
    let mut healthy = Vec::new();
    let mut unhealthy = Vec::new();
    for a in state.deployment_allocs(&d.id) {
        if a.server_terminal() || a.has_health() {
            continue;
        }
        let HealthPolicy::Manual { min_healthy_ns } = health_policy(state, a) else {
            continue;
        };
        // A failed allocation is plainly unhealthy; nobody else will say so (§3.3).
        if a.client_status == client_status::FAILED {
            unhealthy.push(a.id);
            continue;
        }
        if a.client_status != client_status::RUNNING {
            continue;
        }
        let Some(c) = clients.get(&a.id) else {
            continue;
        };
        let Some(started) = c.started_at else {
            continue;
        };
        if now < started + min_healthy_ns {
            continue;
        }
        match c.fate {
            Fate::Hang => unhealthy.push(a.id),
            _ => healthy.push(a.id),
        }
    }
    if healthy.is_empty() && unhealthy.is_empty() {
        return None;
    }
    Some(Command::SetAllocHealth(SetAllocHealth {
        deployment_id: d.id,
        healthy_allocation_ids: healthy,
        unhealthy_allocation_ids: unhealthy,
    }))
}
