//! Drives a canary rollout through the engine and prints what happens.
//!
//! `cargo run -p rollout-engine --example rollout`
//!
//! It plays scheduler and clients in the simplest possible way (everything is placed on
//! one node and becomes healthy at once); `rollout-sim` is the full simulator.

use rollout_engine::command::*;
use rollout_engine::model::*;
use rollout_engine::{apply, plan, Command, Entropy, Envelope, Outcome, State};
use uuid::Uuid;

struct Driver {
    state: State,
    now: i64,
}

impl Driver {
    fn apply(&mut self, command: Command) -> Result<Outcome, rollout_engine::Error> {
        let index = self.state.index() + 1;
        let env = Envelope::new(index, self.now, Entropy::from_u64(index), command);
        let (state, outcome) = apply(&self.state, &env)?;
        self.state = state;
        self.now += SECOND_NS;
        Ok(outcome)
    }

    /// Plans and places every pending evaluation; returns the new allocations.
    fn schedule(&mut self) -> Result<Vec<Uuid>, rollout_engine::Error> {
        let mut placed = Vec::new();
        for eval in self
            .state
            .pending_evals()
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>()
        {
            let p = plan(&self.state, &eval, self.now)?;
            let result = p.accept_on_node("node-1", "node-1");
            placed.extend(self.apply(Command::ApplyPlanResult(result))?.allocs_created);
            self.apply(Command::UpdateEvalStatus(UpdateEvalStatus {
                eval_id: eval,
                status: "complete".into(),
                status_description: String::new(),
            }))?;
        }
        Ok(placed)
    }

    fn report_healthy(&mut self, allocs: &[Uuid]) -> Result<(), rollout_engine::Error> {
        let now = self.now;
        let allocations = allocs
            .iter()
            .map(|id| ClientAllocUpdate {
                id: *id,
                client_status: "running".into(),
                deployment_status: Some(ClientDeploymentStatus {
                    healthy: Some(true),
                    timestamp: Timestamp(now),
                    canary: false,
                }),
                modify_time: now,
                ..Default::default()
            })
            .collect();
        self.apply(Command::UpdateAllocsFromClient(ClientAllocUpdates {
            allocations,
        }))?;
        Ok(())
    }

    fn show(&self, what: &str) {
        let d = self.state.latest_deployment_any("default", "web");
        match d {
            Some(d) => {
                let g = &d.task_groups["web"];
                println!(
                    "[index {:>3}] {what:<34} deployment v{} {:<10} healthy {}/{} canaries {}/{} — {}",
                    self.state.index(),
                    d.job_version,
                    d.status,
                    g.healthy_allocs,
                    g.desired_total,
                    g.placed_canaries_slice().len(),
                    g.desired_canaries,
                    d.status_description
                );
            }
            None => println!("[index {:>3}] {what}", self.state.index()),
        }
    }
}

fn job(image: &str) -> Job {
    Job {
        id: "web".into(),
        task_groups: vec![TaskGroup {
            name: "web".into(),
            count: Some(3),
            update: Some(UpdateStrategy {
                canary: Some(1),
                max_parallel: Some(1),
                auto_revert: Some(true),
                ..Default::default()
            }),
            tasks: vec![Task {
                name: "app".into(),
                driver: "docker".into(),
                config: Some(serde_json::json!({ "image": image })),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut d = Driver {
        state: State::new(),
        now: 1_700_000_000_000_000_000,
    };
    d.apply(Command::RegisterJob(RegisterJob {
        job: job("app:1"),
        ..Default::default()
    }))?;
    d.show("registered version 0");
    let placed = d.schedule()?;
    d.show("placed 3 allocations");
    d.report_healthy(&placed)?;
    d.show("all healthy");

    let outcome = d.apply(Command::RegisterJob(RegisterJob {
        job: job("app:2"),
        ..Default::default()
    }))?;
    d.show("registered version 1 (new image)");
    let canary = d.schedule()?;
    d.show("canary placed");
    d.report_healthy(&canary)?;
    d.show("canary healthy");
    let deployment = outcome
        .deployments_created
        .first()
        .copied()
        .ok_or("registering a new version creates a deployment")?;
    d.apply(Command::PromoteDeployment(PromoteDeployment {
        deployment_id: deployment,
        all: true,
        groups: None,
    }))?;
    d.show("promoted");
    loop {
        let placed = d.schedule()?;
        if placed.is_empty() {
            break;
        }
        d.report_healthy(&placed)?;
        d.show("replacement healthy");
    }

    d.apply(Command::RegisterJob(RegisterJob {
        job: job("app:3-broken"),
        ..Default::default()
    }))?;
    d.show("registered version 2 (bad image)");
    let canary = d.schedule()?;
    let deployment = d
        .state
        .latest_deployment_any("default", "web")
        .map(|d| d.id)
        .ok_or("registering a new version creates a deployment")?;
    let out = d.apply(Command::SetAllocHealth(SetAllocHealth {
        deployment_id: deployment,
        healthy_allocation_ids: vec![],
        unhealthy_allocation_ids: canary,
    }))?;
    d.show("canary marked unhealthy");
    println!(
        "             reverted to job version {:?}; the job is now at version {}",
        out.reverted_job_version,
        d.state
            .job("default", "web")
            .map(|j| j.version)
            .unwrap_or_default()
    );
    d.schedule()?;
    d.show("rollback deployment scheduled");
    Ok(())
}
