//! A small driver for engine tests: applies commands at increasing indexes and plays
//! scheduler and client in the simplest way.
#![allow(dead_code)]

use rollout_engine::command::*;
use rollout_engine::model::*;
use rollout_engine::{apply, plan, Command, Entropy, Envelope, Error, Outcome, State};
use std::collections::BTreeMap;
use uuid::Uuid;

pub const T0: i64 = 1_700_000_000_000_000_000;

pub struct World {
    pub state: State,
    pub now: i64,
    pub seed: u64,
    pub log: Vec<Envelope>,
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

impl World {
    pub fn new() -> World {
        World {
            state: State::new(),
            now: T0,
            seed: 1,
            log: Vec::new(),
        }
    }

    pub fn advance(&mut self, ns: i64) {
        self.now += ns;
    }

    /// Applies a command at the next index; on error the state is unchanged.
    pub fn try_apply(&mut self, command: Command) -> Result<Outcome, Error> {
        self.seed += 1;
        let env = Envelope::new(
            self.state.index() + 1,
            self.now,
            Entropy::from_u64(self.seed),
            command,
        );
        let before = self.state.clone();
        match apply(&self.state, &env) {
            Ok((state, outcome)) => {
                self.state = state;
                self.log.push(env);
                Ok(outcome)
            }
            Err(e) => {
                assert!(self.state == before);
                Err(e)
            }
        }
    }

    pub fn apply(&mut self, command: Command) -> Outcome {
        match self.try_apply(command) {
            Ok(o) => o,
            Err(e) => panic!("command failed: {e}"),
        }
    }

    pub fn register(&mut self, job: Job) -> Outcome {
        self.apply(Command::RegisterJob(RegisterJob {
            job,
            ..Default::default()
        }))
    }

    pub fn job(&self, id: &str) -> std::sync::Arc<Job> {
        self.state.job("default", id).cloned().expect("job")
    }

    pub fn deployment(&self, id: Uuid) -> Deployment {
        (**self.state.deployment(&id).expect("deployment")).clone()
    }

    pub fn latest_deployment(&self, job: &str) -> Deployment {
        (**self
            .state
            .latest_deployment_any("default", job)
            .expect("deployment"))
        .clone()
    }

    /// Pending evaluations that are due (`WaitUntil` passed).
    pub fn pending_evals(&self) -> Vec<Uuid> {
        self.state
            .pending_evals()
            .iter()
            .filter(|e| e.wait_until.nanos() <= self.now)
            .map(|e| e.id)
            .collect()
    }

    /// Plans every pending eval, places everything on node "n1", acks the eval.
    pub fn schedule(&mut self) -> Vec<Uuid> {
        let mut placed = Vec::new();
        for _ in 0..20 {
            let evals = self.pending_evals();
            if evals.is_empty() {
                break;
            }
            for e in evals {
                let p = plan(&self.state, &e, self.now).expect("plan");
                if !p.is_empty() {
                    let o = self.apply(Command::ApplyPlanResult(p.accept_on_node("node-1", "n1")));
                    placed.extend(o.allocs_created);
                }
                self.apply(Command::UpdateEvalStatus(UpdateEvalStatus {
                    eval_id: e,
                    status: "complete".into(),
                    status_description: String::new(),
                }));
            }
        }
        placed
    }

    pub fn client(&mut self, id: Uuid, status: &str, healthy: Option<bool>) -> Outcome {
        let now = self.now;
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
                ..Default::default()
            }],
        }))
    }

    pub fn healthy(&mut self, ids: &[Uuid]) {
        for id in ids {
            self.client(*id, "running", Some(true));
        }
    }

    pub fn live_allocs(&self, job: &str) -> Vec<Allocation> {
        self.state
            .job_allocs("default", job)
            .filter(|a| !a.terminal())
            .map(|a| (**a).clone())
            .collect()
    }

    pub fn replay_equals_live(&self) -> bool {
        let mut s = State::new();
        for env in &self.log {
            s = apply(&s, env).expect("replay").0;
        }
        serde_json::to_vec(&s).unwrap() == serde_json::to_vec(&self.state).unwrap()
    }
}

/// A service job with one group `web`.
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
            // Short enough for the sub-second progress deadlines some scenarios use.
            kill_timeout: Some(1_000_000),
            ..Task::default()
        }],
        ..TaskGroup::default()
    }
}

pub fn update(max_parallel: i64, canary: i64) -> UpdateStrategy {
    UpdateStrategy {
        max_parallel: Some(max_parallel),
        canary: Some(canary),
        ..UpdateStrategy::default()
    }
}

/// A destructive change: a new image.
pub fn with_image(mut job: Job, image: &str) -> Job {
    for g in &mut job.task_groups {
        for t in &mut g.tasks {
            t.config = Some(serde_json::json!({ "image": image }));
        }
    }
    job
}

pub fn by_group(allocs: &[Allocation]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for a in allocs {
        *m.entry(a.task_group.clone()).or_default() += 1;
    }
    m
}

impl World {
    /// Registers `job`, places everything and reports it healthy: a stable version.
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

    /// The plan of the single pending evaluation (without applying it).
    pub fn pending_plan(&self) -> rollout_engine::Plan {
        let evals = self.pending_evals();
        assert!(!evals.is_empty(), "no pending evaluation");
        plan(&self.state, evals.last().unwrap(), self.now).expect("plan")
    }

    pub fn set_health(
        &mut self,
        deployment: Uuid,
        healthy: &[Uuid],
        unhealthy: &[Uuid],
    ) -> Result<Outcome, Error> {
        self.try_apply(Command::SetAllocHealth(SetAllocHealth {
            deployment_id: deployment,
            healthy_allocation_ids: healthy.to_vec(),
            unhealthy_allocation_ids: unhealthy.to_vec(),
        }))
    }

    pub fn promote(&mut self, deployment: Uuid) -> Result<Outcome, Error> {
        self.try_apply(Command::PromoteDeployment(PromoteDeployment {
            deployment_id: deployment,
            all: true,
            groups: None,
        }))
    }

    pub fn promote_groups(&mut self, deployment: Uuid, groups: &[&str]) -> Result<Outcome, Error> {
        self.try_apply(Command::PromoteDeployment(PromoteDeployment {
            deployment_id: deployment,
            all: false,
            groups: Some(groups.iter().map(|g| g.to_string()).collect()),
        }))
    }

    pub fn pause(&mut self, deployment: Uuid, pause: bool) -> Result<Outcome, Error> {
        self.try_apply(Command::PauseDeployment(PauseDeployment {
            deployment_id: deployment,
            pause,
        }))
    }

    pub fn fail(&mut self, deployment: Uuid) -> Result<Outcome, Error> {
        self.try_apply(Command::FailDeployment(FailDeployment {
            deployment_id: deployment,
        }))
    }

    pub fn tick(&mut self) -> Outcome {
        self.apply(Command::Tick)
    }

    pub fn alloc(&self, id: Uuid) -> Allocation {
        (**self.state.alloc(&id).expect("alloc")).clone()
    }

    pub fn evals_of(&self, job: &str) -> Vec<Evaluation> {
        self.state
            .job_evals("default", job)
            .map(|e| (**e).clone())
            .collect()
    }

    /// Applies a plan result for the pending evaluation: all of the plan, then ack.
    pub fn apply_pending_plan(&mut self) -> (rollout_engine::Plan, Vec<Uuid>) {
        let p = self.pending_plan();
        let placed = if p.is_empty() {
            Vec::new()
        } else {
            self.apply(Command::ApplyPlanResult(p.accept_on_node("node-1", "n1")))
                .allocs_created
        };
        self.apply(Command::UpdateEvalStatus(UpdateEvalStatus {
            eval_id: p.eval_id,
            status: "complete".into(),
            status_description: String::new(),
        }));
        (p, placed)
    }
}

pub fn names(placements: &[rollout_engine::reconcile::Placement]) -> Vec<String> {
    placements.iter().map(|p| p.name.clone()).collect()
}

pub fn count_kind(
    p: &rollout_engine::Plan,
    kind: rollout_engine::reconcile::PlacementKind,
) -> usize {
    p.placements.iter().filter(|q| q.kind == kind).count()
}

impl World {
    /// The planner's answer for the job right now, as a fresh evaluation would get it.
    pub fn plan_now(&self, job: &str) -> rollout_engine::Plan {
        let eval = Evaluation {
            id: Uuid::from_u128(0xE0A1),
            namespace: "default".into(),
            job_id: job.into(),
            status: "pending".into(),
            ..Default::default()
        };
        rollout_engine::planner::plan_for(&self.state, &eval, self.now)
    }

    /// Submits only the placements selected by `keep` (and everything else of the plan).
    pub fn apply_partial(
        &mut self,
        keep: impl Fn(&rollout_engine::reconcile::Placement) -> bool,
    ) -> Vec<Uuid> {
        let p = self.pending_plan();
        let mut result = p.accept_on_node("node-1", "n1");
        let kept: Vec<bool> = p.placements.iter().map(&keep).collect();
        let mut i = 0;
        result.allocations.retain(|_| {
            let k = kept[i];
            i += 1;
            k
        });
        // Destructive stops go with their placements.
        let prevs: Vec<Uuid> = p
            .placements
            .iter()
            .zip(&kept)
            .filter(|(q, k)| {
                !**k && q.kind == rollout_engine::reconcile::PlacementKind::Destructive
            })
            .filter_map(|(q, _)| q.previous_allocation)
            .collect();
        result.stops.retain(|s| !prevs.contains(&s.alloc_id));
        let placed = self.apply(Command::ApplyPlanResult(result)).allocs_created;
        self.apply(Command::UpdateEvalStatus(UpdateEvalStatus {
            eval_id: p.eval_id,
            status: "complete".into(),
            status_description: String::new(),
        }));
        placed
    }
}

pub fn ignore(p: &rollout_engine::Plan, group: &str) -> u64 {
    p.desired_tg_updates.get(group).map_or(0, |u| u.ignore)
}
