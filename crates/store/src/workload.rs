//! Realistic command streams for the store's tests, benchmarks and crash test, built from
//! the engine's own command types. Not a stable API.

use crate::{Store, SubmitError};
use rollout_engine::command::{
    ClientAllocUpdate, ClientAllocUpdates, ClientDeploymentStatus, FailDeployment, RegisterJob,
    UpdateEvalStatus,
};
use rollout_engine::model::{Job, Task, TaskGroup, Timestamp, UpdateStrategy};
use rollout_engine::{plan, Command};
use uuid::Uuid;

/// A service job with one group `web` of `count` allocations running `image`.
pub fn service_job(id: &str, count: i64, image: &str) -> Job {
    Job {
        id: id.into(),
        name: id.into(),
        namespace: "default".into(),
        job_type: "service".into(),
        priority: 50,
        task_groups: vec![TaskGroup {
            name: "web".into(),
            count: Some(count),
            update: Some(UpdateStrategy {
                max_parallel: Some(1),
                canary: Some(0),
                ..UpdateStrategy::default()
            }),
            tasks: vec![Task {
                name: "app".into(),
                driver: "docker".into(),
                config: Some(serde_json::json!({ "image": image })),
                ..Task::default()
            }],
            ..TaskGroup::default()
        }],
        ..Job::default()
    }
}

pub fn register(id: &str, count: i64, image: &str) -> Command {
    Command::RegisterJob(RegisterJob {
        job: service_job(id, count, image),
        ..RegisterJob::default()
    })
}

/// Like [`register`], but a batch job, which gets no deployment: for tests of log
/// truncation, which a deployment in the state holds back (its history is kept while it
/// exists, see [`crate::retention`]).
pub fn register_without_deployment(id: &str, count: i64, image: &str) -> Command {
    let mut job = service_job(id, count, image);
    job.job_type = "batch".into();
    for group in &mut job.task_groups {
        group.update = None;
    }
    Command::RegisterJob(RegisterJob {
        job,
        ..RegisterJob::default()
    })
}

/// Failing a deployment that does not exist: always rejected by the engine.
pub fn fail_unknown_deployment(seed: u64) -> Command {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8] = 0xfe;
    Command::FailDeployment(FailDeployment {
        deployment_id: Uuid::from_bytes(bytes),
    })
}

/// A client reporting an allocation running (and healthy) at `modify_time`.
pub fn client_running(alloc: Uuid, modify_time: i64, healthy: bool) -> Command {
    Command::UpdateAllocsFromClient(ClientAllocUpdates {
        allocations: vec![ClientAllocUpdate {
            id: alloc,
            client_status: "running".into(),
            client_description: format!("Tasks are running ({modify_time})"),
            deployment_status: Some(ClientDeploymentStatus {
                healthy: Some(healthy),
                timestamp: Timestamp(modify_time),
                canary: false,
            }),
            modify_time,
            ..ClientAllocUpdate::default()
        }],
    })
}

/// Command `n` of a mixed stream over `jobs` jobs: mostly registrations of new versions
/// (each creates a deployment and an evaluation), some ticks, and one command in ten the
/// engine rejects.
pub fn mixed(n: u64, jobs: u64) -> Command {
    match n % 10 {
        9 => fail_unknown_deployment(n),
        4 => Command::Tick,
        _ => register(
            &format!("job-{}", n % jobs.max(1)),
            1 + (n % 3) as i64,
            &format!("app:{n}"),
        ),
    }
}

/// Plays scheduler and clients through the store until no evaluation is pending (at most
/// `rounds` rounds): plans each pending evaluation, places everything, completes the
/// evaluation and reports the new allocations healthy. Returns the allocations placed.
/// Commands the engine rejects (a plan gone stale under concurrent writers) are skipped,
/// as a real scheduler would re-plan.
pub fn schedule(store: &Store, now_ns: i64, rounds: usize) -> Result<Vec<Uuid>, SubmitError> {
    let mut placed = Vec::new();
    for _ in 0..rounds {
        let state = store.state();
        let evals: Vec<Uuid> = state.pending_evals().iter().map(|e| e.id).collect();
        if evals.is_empty() {
            break;
        }
        for eval_id in evals {
            let state = store.state();
            let Ok(p) = plan(&state, &eval_id, now_ns) else {
                continue;
            };
            if !p.is_empty() {
                let Some(c) = accepted(
                    store.submit(Command::ApplyPlanResult(p.accept_on_node("node-1", "n1"))),
                )?
                else {
                    continue;
                };
                for alloc in &c.outcome.allocs_created {
                    accepted(store.submit(client_running(*alloc, now_ns, true)))?;
                }
                placed.extend(c.outcome.allocs_created);
            }
            accepted(store.submit(Command::UpdateEvalStatus(UpdateEvalStatus {
                eval_id,
                status: "complete".into(),
                status_description: String::new(),
            })))?;
        }
    }
    Ok(placed)
}

/// `None` for a command the engine rejected; storage failures stay errors.
fn accepted(
    result: Result<crate::Committed, SubmitError>,
) -> Result<Option<crate::Committed>, SubmitError> {
    match result {
        Ok(c) => Ok(Some(c)),
        Err(SubmitError::Rejected(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
