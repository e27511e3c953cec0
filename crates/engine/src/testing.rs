//! A test kit for embedders (cargo feature `testing`): job builders, client reports and a
//! [`World`] that owns a [`DeploymentEngine`] on a virtual clock and plays scheduler and
//! clients in the simplest way (everything on one node, health when told).
//!
//! It is what this crate's own tests, the simulator, the store, fuzzing and benchmarks
//! build on, and what an embedder's property tests of their own policies can use:
//!
//! ```
//! use rollout_engine::testing::{service_job, update, with_image, World};
//!
//! let mut w = World::new();
//! w.deploy(service_job("web", 3, update(1, 1)));          // version 0, stable
//! w.register(with_image(service_job("web", 3, update(1, 1)), "app:2"));
//! let canary = w.schedule();
//! assert_eq!(canary.len(), 1);
//! let d = w.latest_deployment("web");
//! assert_eq!(d.status_description, "Deployment is running but requires manual promotion");
//! w.healthy(&canary);
//! w.promote(d.id).unwrap();
//! w.drive_until_done(d.id);
//! assert_eq!(w.deployment(d.id).status, "successful");
//! w.state().check_invariants().unwrap();
//! assert!(w.replay_equals_live());
//! ```
//!
//! `crates/engine/tests/embedder_policy.rs` is a worked property test of an embedder's
//! own policy with proptest on top of this kit.

use crate::command::{
    ClientAllocUpdate, ClientAllocUpdates, ClientDeploymentStatus, UpdateEvalStatus,
};
use crate::engine::{Applied, DeploymentEngine};
use crate::model::{
    Allocation, Deployment, Evaluation, Job, ReschedulePolicy, Task, TaskGroup, Timestamp,
    UnixNanos, UpdateStrategy, MINUTE_NS, SECOND_NS,
};
use crate::planner::Plan;
use crate::reconcile::{Placement, PlacementKind};
use crate::stamp::{SeededStamp, VirtualClock};
use crate::state::{EngineConfig, State};
use crate::{apply, Command, Envelope, Error, Outcome};
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

/// 2023-11-14T22:13:20Z: where every [`World`] starts its clock.
pub const T0: UnixNanos = 1_700_000_000_000_000_000;

/// The node every [`World`] places allocations on.
pub const NODE_ID: &str = "node-1";
/// The name of [`NODE_ID`].
pub const NODE_NAME: &str = "n1";

// --- builders -----------------------------------------------------------------------------

/// A service job in `default` with one group `web` of `count` allocations under `update`.
pub fn service_job(id: &str, count: i64, update: UpdateStrategy) -> Job {
    Job {
        id: id.into(),
        name: id.into(),
        namespace: "default".into(),
        job_type: "service".into(),
        priority: 50,
        task_groups: vec![group("web", count, update)],
        ..Job::default()
    }
}

/// A task group running one docker task `app` with image `app:1`, a reschedule policy of
/// two attempts, and a kill timeout short enough for sub-second progress deadlines.
pub fn group(name: &str, count: i64, update: UpdateStrategy) -> TaskGroup {
    TaskGroup {
        name: name.into(),
        count: Some(count),
        update: Some(update),
        reschedule_policy: Some(ReschedulePolicy {
            attempts: Some(2),
            interval: Some(10 * MINUTE_NS),
            delay: Some(5 * SECOND_NS),
            delay_function: Some("constant".into()),
            unlimited: Some(false),
            max_delay: Some(0),
        }),
        tasks: vec![Task {
            name: "app".into(),
            driver: "docker".into(),
            config: Some(serde_json::json!({"image": "app:1"})),
            kill_timeout: Some(1_000_000),
            ..Task::default()
        }],
        ..TaskGroup::default()
    }
}

/// An update block: `max_parallel` destructive updates at a time, `canary` canaries.
pub fn update(max_parallel: i64, canary: i64) -> UpdateStrategy {
    UpdateStrategy {
        max_parallel: Some(max_parallel),
        canary: Some(canary),
        ..UpdateStrategy::default()
    }
}

/// The same job with a new image in every task: a destructive change (C16).
pub fn with_image(mut job: Job, image: &str) -> Job {
    for g in &mut job.task_groups {
        for t in &mut g.tasks {
            t.config = Some(serde_json::json!({ "image": image }));
        }
    }
    job
}

/// A client's report of one allocation: its client status and, if given, its health,
/// stamped `now`.
pub fn client_report(id: Uuid, status: &str, healthy: Option<bool>, now: UnixNanos) -> Command {
    Command::UpdateAllocsFromClient(ClientAllocUpdates {
        allocations: vec![client_update(id, status, healthy, now)],
    })
}

/// One entry of a client report (see [`client_report`]).
pub fn client_update(
    id: Uuid,
    status: &str,
    healthy: Option<bool>,
    now: UnixNanos,
) -> ClientAllocUpdate {
    ClientAllocUpdate {
        id,
        client_status: status.into(),
        deployment_status: healthy.map(|h| ClientDeploymentStatus {
            healthy: Some(h),
            timestamp: Timestamp(now),
            canary: false,
        }),
        modify_time: now,
        ..Default::default()
    }
}

/// The acknowledgement a scheduler sends when it is done with an evaluation.
pub fn eval_complete(eval: Uuid) -> Command {
    Command::UpdateEvalStatus(UpdateEvalStatus {
        eval_id: eval,
        status: "complete".into(),
        status_description: String::new(),
    })
}

/// Allocations counted by task group.
pub fn by_group(allocs: &[Allocation]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for a in allocs {
        *m.entry(a.task_group.to_string()).or_default() += 1;
    }
    m
}

/// Replays a log onto an empty state with `config`.
pub fn replay(config: EngineConfig, log: &[Envelope]) -> Result<State, Error> {
    let mut state = State::with_config(config);
    for env in log {
        state = apply(&state, env)?.0;
    }
    Ok(state)
}

// --- the world ----------------------------------------------------------------------------

/// An engine on a virtual clock plus the simplest scheduler and clients: every placement
/// goes to one node, allocations run and become healthy only when told. Commands are
/// submitted through the [`DeploymentEngine`] (entropy seeded, so runs repeat exactly) and
/// every accepted envelope is kept in [`World::log`].
///
/// A clone is an independent world: its own clock and its own copy of the entropy
/// sequence, so the original and the clone given the same commands end up equal.
#[derive(Debug)]
pub struct World {
    /// The engine under test.
    pub engine: DeploymentEngine,
    /// The clock the engine's stamp reads; [`World::advance`] moves it.
    pub clock: VirtualClock,
    /// Every accepted envelope, in order: replaying it gives [`World::state`].
    pub log: Vec<Envelope>,
    stamp: Arc<SeededStamp>,
}

impl Clone for World {
    fn clone(&self) -> World {
        let clock = VirtualClock::new(self.clock.now());
        let stamp = Arc::new(self.stamp.fork(clock.clone()));
        World {
            engine: DeploymentEngine::from_shared(self.engine.state().clone(), stamp.clone()),
            clock,
            log: self.log.clone(),
            stamp,
        }
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

impl World {
    /// An empty state at [`T0`], default configuration, entropy seed 2.
    pub fn new() -> World {
        World::with_config(EngineConfig::default())
    }

    /// An empty state with `config`.
    pub fn with_config(config: EngineConfig) -> World {
        let clock = VirtualClock::new(T0);
        let stamp = Arc::new(SeededStamp::new(2, clock.clone()));
        World {
            engine: DeploymentEngine::from_shared(State::with_config(config), stamp.clone()),
            clock,
            log: Vec::new(),
            stamp,
        }
    }

    /// The engine's state.
    pub fn state(&self) -> &State {
        self.engine.state()
    }

    /// The virtual time.
    pub fn now(&self) -> UnixNanos {
        self.clock.now()
    }

    /// Moves the clock forward by `ns`.
    pub fn advance(&mut self, ns: i64) {
        self.clock.advance(ns);
    }

    /// Sets the clock (the engine still never applies a command earlier than the last).
    pub fn set_now(&mut self, now: UnixNanos) {
        self.clock.set(now);
    }

    /// Submits a command; on error the state is unchanged (checked).
    pub fn try_submit(&mut self, command: Command) -> Result<Applied, Error> {
        self.via(|engine| engine.submit(command))
    }

    /// Runs one submission on the engine, logs what it accepted, and checks that a
    /// rejection left the state as it was.
    fn via(
        &mut self,
        submit: impl FnOnce(&mut DeploymentEngine) -> Result<Applied, Error>,
    ) -> Result<Applied, Error> {
        let before = self.engine.state().clone();
        match submit(&mut self.engine) {
            Ok(applied) => {
                self.log.push(applied.envelope.clone());
                Ok(applied)
            }
            Err(e) => {
                assert!(
                    *self.engine.state() == before,
                    "a rejection changed the state"
                );
                Err(e)
            }
        }
    }

    /// Submits a command and returns its outcome; on error the state is unchanged.
    pub fn try_apply(&mut self, command: Command) -> Result<Outcome, Error> {
        self.try_submit(command).map(|a| a.outcome)
    }

    /// Submits a command that must be accepted.
    ///
    /// # Panics
    /// If the engine rejects it.
    pub fn apply(&mut self, command: Command) -> Outcome {
        match self.try_apply(command) {
            Ok(o) => o,
            Err(e) => panic!("command failed: {e}"),
        }
    }

    /// Registers a job (must be accepted).
    pub fn register(&mut self, job: Job) -> Outcome {
        self.apply(Command::RegisterJob(crate::command::RegisterJob {
            job,
            ..Default::default()
        }))
    }

    /// The current version of job `id` in `default`.
    ///
    /// # Panics
    /// If there is none.
    pub fn job(&self, id: &str) -> Arc<Job> {
        self.state().job("default", id).cloned().expect("job")
    }

    /// A deployment by ID.
    ///
    /// # Panics
    /// If there is none.
    pub fn deployment(&self, id: Uuid) -> Deployment {
        (**self.state().deployment(&id).expect("deployment")).clone()
    }

    /// The newest deployment of job `job` in `default`, any job instance.
    ///
    /// # Panics
    /// If there is none.
    pub fn latest_deployment(&self, job: &str) -> Deployment {
        (**self
            .state()
            .latest_deployment_any("default", job)
            .expect("deployment"))
        .clone()
    }

    /// An allocation by ID.
    ///
    /// # Panics
    /// If there is none.
    pub fn alloc(&self, id: Uuid) -> Allocation {
        (**self.state().alloc(&id).expect("alloc")).clone()
    }

    /// The evaluations of job `job` in `default`.
    pub fn evals_of(&self, job: &str) -> Vec<Evaluation> {
        self.state()
            .job_evals("default", job)
            .map(|e| (**e).clone())
            .collect()
    }

    /// Allocations of job `job` that are not terminal.
    pub fn live_allocs(&self, job: &str) -> Vec<Allocation> {
        self.state()
            .job_allocs("default", job)
            .filter(|a| !a.terminal())
            .map(|a| (**a).clone())
            .collect()
    }

    /// Pending evaluations that are due (`WaitUntil` passed).
    pub fn pending_evals(&self) -> Vec<Uuid> {
        self.state()
            .pending_evals()
            .iter()
            .filter(|e| e.wait_until.nanos() <= self.now())
            .map(|e| e.id)
            .collect()
    }

    /// Plans every due evaluation, places everything on [`NODE_ID`] and acknowledges the
    /// evaluation, until none is due (at most 20 rounds). Returns the new allocations.
    pub fn schedule(&mut self) -> Vec<Uuid> {
        let mut placed = Vec::new();
        for _ in 0..20 {
            let evals = self.pending_evals();
            if evals.is_empty() {
                break;
            }
            for e in evals {
                let p = self.engine.plan(&e).expect("plan");
                if !p.is_empty() {
                    let o = self.apply(Command::ApplyPlanResult(
                        p.accept_on_node(NODE_ID, NODE_NAME),
                    ));
                    placed.extend(o.allocs_created);
                }
                self.apply(eval_complete(e));
            }
        }
        placed
    }

    /// The plan of the newest due evaluation (without applying it).
    ///
    /// # Panics
    /// If no evaluation is due.
    pub fn pending_plan(&self) -> Plan {
        let evals = self.pending_evals();
        let Some(last) = evals.last() else {
            panic!("no pending evaluation");
        };
        self.engine.plan(last).expect("plan")
    }

    /// Applies the whole plan of the newest due evaluation, then acknowledges it.
    pub fn apply_pending_plan(&mut self) -> (Plan, Vec<Uuid>) {
        let p = self.pending_plan();
        let placed = if p.is_empty() {
            Vec::new()
        } else {
            self.apply(Command::ApplyPlanResult(
                p.accept_on_node(NODE_ID, NODE_NAME),
            ))
            .allocs_created
        };
        self.apply(eval_complete(p.eval_id));
        (p, placed)
    }

    /// Submits only the placements of the newest due evaluation's plan that `keep`
    /// selects (with the destructive stops of the kept ones and everything else of the
    /// plan), then acknowledges it.
    pub fn apply_partial(&mut self, keep: impl Fn(&Placement) -> bool) -> Vec<Uuid> {
        let p = self.pending_plan();
        let mut result = p.accept_on_node(NODE_ID, NODE_NAME);
        let kept: Vec<bool> = p.placements.iter().map(&keep).collect();
        let mut i = 0;
        result.allocations.retain(|_| {
            let k = kept[i];
            i += 1;
            k
        });
        let prevs: Vec<Uuid> = p
            .placements
            .iter()
            .zip(&kept)
            .filter(|(q, k)| !**k && q.kind == PlacementKind::Destructive)
            .filter_map(|(q, _)| q.previous_allocation)
            .collect();
        result.stops.retain(|s| !prevs.contains(&s.alloc_id));
        let placed = self.apply(Command::ApplyPlanResult(result)).allocs_created;
        self.apply(eval_complete(p.eval_id));
        placed
    }

    /// The planner's answer for job `job` right now, as a fresh evaluation would get it.
    pub fn plan_now(&self, job: &str) -> Plan {
        let eval = Evaluation {
            id: Uuid::from_u128(0xE0A1),
            namespace: "default".into(),
            job_id: job.into(),
            status: "pending".into(),
            ..Default::default()
        };
        crate::planner::plan_for(self.state(), &eval, self.now())
    }

    /// A client reports allocation `id` with `status` and, if given, its health.
    pub fn client(&mut self, id: Uuid, status: &str, healthy: Option<bool>) -> Outcome {
        let now = self.now();
        self.apply(client_report(id, status, healthy, now))
    }

    /// Clients report each allocation running and healthy, one report each.
    pub fn healthy(&mut self, ids: &[Uuid]) {
        for id in ids {
            self.client(*id, "running", Some(true));
        }
    }

    /// Registers `job`, places everything and reports it healthy until nothing more is
    /// placed: a stable version. Returns every allocation placed.
    pub fn deploy(&mut self, job: Job) -> Vec<Uuid> {
        self.register(job);
        let mut all = Vec::new();
        for _ in 0..50 {
            let placed = self.schedule();
            if placed.is_empty() {
                break;
            }
            self.healthy(&placed);
            all.extend(placed);
        }
        all
    }

    /// Drives deployment `id` to its end as a cooperative cluster would: place what is
    /// asked, report it healthy, promote when it waits for promotion. Stops when the
    /// deployment is no longer active or nothing moves (at most 100 rounds).
    pub fn drive_until_done(&mut self, id: Uuid) {
        for _ in 0..100 {
            let Some(d) = self.state().deployment(&id).cloned() else {
                return;
            };
            if !d.active() {
                return;
            }
            let placed = self.schedule();
            let unreported: Vec<Uuid> = self
                .state()
                .deployment_allocs(&id)
                .filter(|a| !a.terminal() && !a.has_health())
                .map(|a| a.id)
                .collect();
            self.healthy(&unreported);
            let d = self.deployment(id);
            let promoted = d.requires_promotion() && self.promote(id).is_ok();
            if placed.is_empty() && unreported.is_empty() && !promoted {
                return;
            }
        }
    }

    /// Sets allocation health as an operator does.
    pub fn set_health(
        &mut self,
        deployment: Uuid,
        healthy: &[Uuid],
        unhealthy: &[Uuid],
    ) -> Result<Outcome, Error> {
        self.via(|e| e.set_health(deployment, healthy, unhealthy))
            .map(|a| a.outcome)
    }

    /// Promotes every group of a deployment.
    pub fn promote(&mut self, deployment: Uuid) -> Result<Outcome, Error> {
        self.via(|e| e.promote(deployment)).map(|a| a.outcome)
    }

    /// Promotes the named groups of a deployment.
    pub fn promote_groups(&mut self, deployment: Uuid, groups: &[&str]) -> Result<Outcome, Error> {
        self.via(|e| e.promote_groups(deployment, groups))
            .map(|a| a.outcome)
    }

    /// Pauses (`true`) or resumes (`false`) a deployment.
    pub fn pause(&mut self, deployment: Uuid, pause: bool) -> Result<Outcome, Error> {
        self.via(|e| {
            if pause {
                e.pause(deployment)
            } else {
                e.resume(deployment)
            }
        })
        .map(|a| a.outcome)
    }

    /// Fails a deployment.
    pub fn fail(&mut self, deployment: Uuid) -> Result<Outcome, Error> {
        self.via(|e| e.fail(deployment)).map(|a| a.outcome)
    }

    /// Submits a [`Command::Tick`] (whether or not a deadline is due).
    pub fn tick(&mut self) -> Outcome {
        self.apply(Command::Tick)
    }

    /// Submits a [`Command::Tick`] only if a deadline is due ([`DeploymentEngine::tick`]),
    /// logging it; `None` when nothing was due.
    ///
    /// # Panics
    /// If the engine rejects the tick.
    pub fn tick_if_due(&mut self) -> Option<Outcome> {
        match self.engine.tick() {
            Ok(Some(applied)) => {
                self.log.push(applied.envelope);
                Some(applied.outcome)
            }
            Ok(None) => None,
            Err(e) => panic!("tick failed: {e}"),
        }
    }

    /// Whether replaying [`World::log`] from an empty state gives the same bytes.
    pub fn replay_equals_live(&self) -> bool {
        let Ok(replayed) = replay(self.state().config().clone(), &self.log) else {
            return false;
        };
        serde_json::to_vec(&replayed).ok() == serde_json::to_vec(self.state()).ok()
    }
}
