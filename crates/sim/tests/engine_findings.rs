//! Engine behaviours the simulator found, each reduced to a minimal command sequence
//! driven straight through the engine (no simulator in between).
//!
//! Each was fixed in the engine and stays here as a regression test; each says which
//! spec rule it pins.

use rollout_engine::command::*;
use rollout_engine::model::*;
use rollout_engine::{
    next_deadline, plan, Command, DeploymentEngine, EngineConfig, Outcome, SeededStamp, State,
    VirtualClock,
};
use uuid::Uuid;

const T0: i64 = 1_700_000_000_000_000_000;

/// The smallest driver: the engine on a virtual clock, entropy from a counter.
struct Driver {
    engine: DeploymentEngine,
    clock: VirtualClock,
}

impl Driver {
    fn new() -> Driver {
        let clock = VirtualClock::new(T0);
        Driver {
            engine: DeploymentEngine::new(
                EngineConfig::default(),
                SeededStamp::new(1, clock.clone()),
            ),
            clock,
        }
    }

    fn state(&self) -> &State {
        self.engine.state()
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    fn advance(&mut self, ns: i64) {
        self.clock.advance(ns);
    }

    fn apply(&mut self, command: Command) -> Outcome {
        let applied = self
            .engine
            .submit(command)
            .unwrap_or_else(|e| panic!("{e}"));
        applied.outcome
    }

    fn register(&mut self, job: Job) -> Outcome {
        self.apply(Command::RegisterJob(RegisterJob {
            job,
            ..RegisterJob::default()
        }))
    }

    /// Plans every due pending evaluation, submits the whole plan, acknowledges it.
    fn schedule(&mut self) -> Vec<Uuid> {
        let mut placed = Vec::new();
        let due: Vec<Uuid> = self
            .state()
            .pending_evals()
            .iter()
            .filter(|e| e.wait_until.nanos() <= self.now())
            .map(|e| e.id)
            .collect();
        for id in due {
            let p = plan(self.state(), &id, self.now()).unwrap();
            if !p.is_empty() || !p.reschedule_later.is_empty() {
                let o = self.apply(Command::ApplyPlanResult(p.accept_on_node("node-1", "n1")));
                placed.extend(o.allocs_created);
            }
            self.apply(Command::UpdateEvalStatus(UpdateEvalStatus {
                eval_id: id,
                status: "complete".into(),
                status_description: String::new(),
            }));
        }
        placed
    }

    fn client(&mut self, id: Uuid, status: &str, healthy: Option<bool>) {
        let now = self.now();
        self.apply(Command::UpdateAllocsFromClient(ClientAllocUpdates {
            allocations: vec![ClientAllocUpdate {
                id,
                client_status: status.into(),
                deployment_status: healthy.map(|h| ClientDeploymentStatus {
                    healthy: Some(h),
                    timestamp: Timestamp(now),
                    canary: false,
                }),
                modify_time: now,
                ..ClientAllocUpdate::default()
            }],
        }));
    }

    fn latest(&self) -> Deployment {
        (**self
            .state()
            .latest_deployment_any("default", "web")
            .unwrap())
        .clone()
    }
}

fn job(image: &str, count: i64, update: UpdateStrategy) -> Job {
    Job {
        id: "web".into(),
        name: "web".into(),
        namespace: "default".into(),
        job_type: "service".into(),
        priority: 50,
        task_groups: vec![TaskGroup {
            name: "api".into(),
            count: Some(count),
            update: Some(update),
            reschedule_policy: Some(ReschedulePolicy {
                delay: Some(30 * SECOND_NS),
                delay_function: Some("constant".into()),
                ..ReschedulePolicy::service_default()
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

fn update(canary: i64, progress_deadline: i64) -> UpdateStrategy {
    UpdateStrategy {
        max_parallel: Some(1),
        canary: Some(canary),
        progress_deadline: Some(progress_deadline),
        ..UpdateStrategy::nomad_default()
    }
}

/// v0 deployed and healthy (its deployment successful, the version stable).
fn deployed(d: &mut Driver, count: i64, u: UpdateStrategy) -> Vec<Uuid> {
    d.register(job("app:1", count, u));
    let placed = d.schedule();
    for id in &placed {
        d.client(*id, "running", Some(true));
    }
    assert_eq!(d.latest().status, status::SUCCESSFUL);
    placed
}

/// A lost allocation inside an active deployment is never replaced: no evaluation is
/// created for it (the client path creates one only outside active deployments, and
/// the watcher only reacts to health), and with `progress_deadline = 0` there is no
/// deadline either, so the deployment is stuck for good. C10 says lost allocations are
/// replaced even when paused or failed; Nomad's node-down path creates a node-update
/// evaluation for every job with allocations on the node. Found by the "never-stuck"
/// property (a lost node during a rollout).
#[test]
fn lost_alloc_in_active_deployment_gets_an_evaluation() {
    let mut d = Driver::new();
    d.register(job("app:1", 1, update(0, 0)));
    let placed = d.schedule();
    d.advance(SECOND_NS);
    d.client(placed[0], "running", None);
    d.advance(SECOND_NS);
    d.client(placed[0], "lost", None);
    let dep = d.latest();
    assert!(dep.active());
    let pending = d.state().pending_evals().len();
    assert!(
        pending > 0 || next_deadline(d.state()).is_some(),
        "deployment {} is active with its only allocation lost, no pending evaluation and no deadline",
        dep.id
    );
}

/// A canary that was healthy and then failed is held (T1: no `Reschedule` transition,
/// because its health stays `true`), and the held canary takes the name slot of the old
/// allocation it shadows. The next plan then stops that *old* allocation as "alloc not
/// needed due to job update" while the group is still canarying: capacity is lost
/// before promotion, against C8 ("while canarying, no destructive updates and no
/// ordinary placements") — Nomad keeps canaries out of the name-slot accounting.
#[test]
fn failed_canary_does_not_stop_old_allocations_while_canarying() {
    let mut d = Driver::new();
    let old = deployed(&mut d, 2, update(1, 10 * MINUTE_NS));
    d.register(job("app:2", 2, update(1, 10 * MINUTE_NS)));
    let canaries = d.schedule();
    assert_eq!(canaries.len(), 1);
    d.advance(15 * SECOND_NS);
    d.client(canaries[0], "running", Some(true));
    d.advance(15 * SECOND_NS);
    d.client(canaries[0], "failed", None);
    assert!(d.latest().task_groups["api"].canarying());
    for e in d.state().pending_evals() {
        let p = plan(d.state(), &e.id, d.now()).unwrap();
        let stopped: Vec<&Uuid> = p
            .stops
            .iter()
            .map(|s| &s.alloc_id)
            .filter(|id| old.contains(id))
            .collect();
        assert!(
            stopped.is_empty(),
            "the plan stops old allocations {stopped:?} while the group is canarying: {:?}",
            p.stops
        );
    }
}

/// Re-registering a job with exactly the same spec must not create a version (§3.16:
/// SpecChanged ignores Status, Stable, Version, the indexes and SubmitTime), but
/// `job::spec_changed` compares whole jobs, so every registration bumps the version and
/// starts a deployment. Seen in runs whose operator re-registered the running release.
#[test]
fn identical_registration_creates_no_version() {
    let mut d = Driver::new();
    deployed(&mut d, 1, update(0, 10 * MINUTE_NS));
    let o = d.register(job("app:1", 1, update(0, 10 * MINUTE_NS)));
    assert!(o.deployments_created.is_empty());
    assert_eq!(d.state().job("default", "web").unwrap().version, 0);
}

/// When the only thing that keeps a promoted deployment from completing is a delayed
/// reschedule of an old failed allocation (whose slot a promoted canary now holds), the
/// follow-up evaluation that runs when the delay is over finds nothing to do, but
/// nothing re-checks X1: success is only decided in writes that touch the job's
/// allocations or deployments (decision 14), and acknowledging the evaluation does not.
#[test]
fn deployment_completes_after_a_delayed_reschedule_turns_out_moot() {
    let mut d = Driver::new();
    let old = deployed(&mut d, 1, update(1, 0));
    d.register(job("app:2", 1, update(1, 0)));
    let canaries = d.schedule();
    assert_eq!(canaries.len(), 1);
    d.advance(SECOND_NS);
    // The old allocation fails outside any active deployment: a delayed reschedule.
    d.client(old[0], "failed", None);
    d.schedule();
    d.advance(10 * SECOND_NS);
    d.client(canaries[0], "running", Some(true));
    let dep = d.latest();
    d.apply(Command::PromoteDeployment(PromoteDeployment {
        deployment_id: dep.id,
        all: true,
        groups: None,
    }));
    d.schedule();
    d.advance(60 * SECOND_NS);
    d.schedule();
    d.schedule();
    let dep = d.latest();
    assert!(d.state().pending_evals().is_empty());
    let key = rollout_engine::JobKey::new("default", "web");
    let rec = rollout_engine::reconcile::reconcile(d.state(), &key, d.now());
    assert!(
        rec.current.is_none() || rec.complete(),
        "the reconciler itself still sees work"
    );
    assert_eq!(
        dep.status,
        status::SUCCESSFUL,
        "promoted, healthy and nothing left to do, yet {:?}",
        dep.status_description
    );
}

/// Failed allocations of an older version that may not be rescheduled (attempts used
/// up) are held as they are instead of being replaced by the new version. A deployment
/// created while one old allocation still ran has `DesiredTotal = 1`; when that
/// allocation fails too, the plan has nothing left to do, nothing was ever placed (so
/// `RequireProgressBy` stays zero and there is no deadline) and no evaluation is
/// pending: the deployment is active for ever. Nomad's reconciler treats such failed
/// allocations as untainted and gives them destructive updates to the new version.
/// Found by the "never-stuck" property (seeds 2553677981778717053 and
/// 8875739268633391650).
#[test]
fn deployment_is_not_stuck_when_old_failed_allocations_cannot_reschedule() {
    let mut d = Driver::new();
    let mut v0 = job("app:1", 2, update(0, 10 * MINUTE_NS));
    v0.task_groups[0].reschedule_policy = Some(ReschedulePolicy {
        attempts: Some(0),
        unlimited: Some(false),
        ..ReschedulePolicy::default()
    });
    d.register(v0.clone());
    let placed = d.schedule();
    for id in &placed {
        d.client(*id, "running", Some(true));
    }
    d.advance(MINUTE_NS);
    d.client(placed[0], "failed", None);
    d.schedule();
    let mut v1 = v0.clone();
    v1.task_groups[0].tasks[0].config = Some(serde_json::json!({ "image": "app:2" }));
    d.register(v1);
    d.client(placed[1], "failed", None);
    d.schedule();
    let dep = d.latest();
    let stuck =
        dep.active() && d.state().pending_evals().is_empty() && next_deadline(d.state()).is_none();
    assert!(
        !stuck,
        "deployment {} is {} with {:?}, no pending evaluation and no deadline",
        dep.id, dep.status, dep.task_groups
    );
}
