//! Embedding the engine: a canary rollout driven through `DeploymentEngine`, with a toy
//! storage of its own (a log of JSON lines), a what-if before each operator command, and
//! the decision trace of the write that fails a bad version.
//!
//! `cargo run -p rollout-engine --example embed`
//!
//! The pieces an embedder brings are all here, in their simplest form: a stamp (the
//! engine's deterministic one on a virtual clock; a real service uses the system clock
//! and the OS RNG, `rollout_store::SystemStamp`), a storage for envelopes, a scheduler
//! that binds the planner's placements to nodes, and clients that report health.

use rollout_engine::command::{
    ClientAllocUpdate, ClientAllocUpdates, ClientDeploymentStatus, PromoteDeployment,
    UpdateEvalStatus,
};
use rollout_engine::model::{Job, Task, TaskGroup, Timestamp, UpdateStrategy, SECOND_NS};
use rollout_engine::{
    Applied, Command, DeploymentEngine, EngineConfig, Envelope, SeededStamp, VirtualClock,
};
use uuid::Uuid;

/// The embedder's storage: envelopes as JSON lines. Appending before acknowledging and
/// replaying on start is all durability needs, because the engine is deterministic.
#[derive(Default)]
struct ToyLog {
    lines: Vec<String>,
}

impl ToyLog {
    fn append(&mut self, envelope: &Envelope) -> Result<(), serde_json::Error> {
        self.lines.push(serde_json::to_string(envelope)?);
        Ok(())
    }

    fn envelopes(&self) -> impl Iterator<Item = Result<Envelope, serde_json::Error>> + '_ {
        self.lines.iter().map(|l| serde_json::from_str(l))
    }
}

/// The embedder's orchestrator: an engine, its clock, its log.
struct Orchestrator {
    engine: DeploymentEngine,
    clock: VirtualClock,
    log: ToyLog,
}

type Failure = Box<dyn std::error::Error>;

impl Orchestrator {
    fn new() -> Orchestrator {
        let clock = VirtualClock::new(1_700_000_000_000_000_000);
        Orchestrator {
            engine: DeploymentEngine::new(
                EngineConfig::default(),
                SeededStamp::new(7, clock.clone()),
            ),
            clock,
            log: ToyLog::default(),
        }
    }

    /// Submits a command and persists its envelope. (A real embedder persists first and
    /// acknowledges after; `DeploymentEngine` is `Clone` in O(1) for exactly that: submit
    /// to a clone, persist, then keep the clone.)
    fn submit(&mut self, command: Command) -> Result<Applied, Failure> {
        let applied = self.engine.submit(command)?;
        self.log.append(&applied.envelope)?;
        self.clock.advance(SECOND_NS);
        Ok(applied)
    }

    /// The scheduler: every pending evaluation's plan, all on one node, acknowledged.
    fn schedule(&mut self) -> Result<Vec<Uuid>, Failure> {
        let mut placed = Vec::new();
        let pending: Vec<Uuid> = self
            .engine
            .state()
            .pending_evals()
            .iter()
            .map(|e| e.id)
            .collect();
        for eval in pending {
            let plan = self.engine.plan(&eval)?;
            if !plan.is_empty() {
                let result = plan.accept_on_node("node-1", "node-1");
                placed.extend(
                    self.submit(Command::ApplyPlanResult(result))?
                        .outcome
                        .allocs_created,
                );
            }
            self.submit(Command::UpdateEvalStatus(UpdateEvalStatus {
                eval_id: eval,
                status: "complete".into(),
                status_description: String::new(),
            }))?;
        }
        Ok(placed)
    }

    /// The clients: each allocation runs and reports its health.
    fn report(&mut self, allocs: &[Uuid], healthy: bool) -> Result<Applied, Failure> {
        let now = self.engine.now();
        let allocations = allocs
            .iter()
            .map(|id| ClientAllocUpdate {
                id: *id,
                client_status: if healthy { "running" } else { "failed" }.into(),
                deployment_status: Some(ClientDeploymentStatus {
                    healthy: Some(healthy),
                    timestamp: Timestamp(now),
                    canary: false,
                }),
                modify_time: now,
                ..Default::default()
            })
            .collect();
        self.submit(Command::UpdateAllocsFromClient(ClientAllocUpdates {
            allocations,
        }))
    }

    fn show(&self, what: &str) {
        let state = self.engine.state();
        match state.latest_deployment_any("default", "web") {
            Some(d) => {
                let g = &d.task_groups["web"];
                println!(
                    "[{:>3}] {what:<32} v{} {:<10} healthy {}/{} canaries {}/{}: {}",
                    state.index(),
                    d.job_version,
                    d.status,
                    g.healthy_allocs,
                    g.desired_total,
                    g.placed_canaries_slice().len(),
                    g.desired_canaries,
                    d.status_description
                );
            }
            None => println!("[{:>3}] {what}", state.index()),
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
                progress_deadline: Some(0),
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

fn main() -> Result<(), Failure> {
    let mut o = Orchestrator::new();

    // Version 0: nothing to replace, so no canary.
    o.submit(Command::RegisterJob(rollout_engine::command::RegisterJob {
        job: job("app:1"),
        ..Default::default()
    }))?;
    let placed = o.schedule()?;
    o.report(&placed, true)?;
    o.show("version 0 healthy");

    // Version 1: a canary first.
    let applied = o.submit(Command::RegisterJob(rollout_engine::command::RegisterJob {
        job: job("app:2"),
        ..Default::default()
    }))?;
    let deployment = applied.outcome.deployments_created[0];
    let canary = o.schedule()?;
    o.report(&canary, true)?;
    o.show("version 1 canary healthy");

    // What would promoting do? A dry run answers without doing it.
    let promote = Command::PromoteDeployment(PromoteDeployment {
        deployment_id: deployment,
        all: true,
        groups: None,
    });
    let what_if = o.engine.dry_run(promote.clone())?;
    println!("      what-if promote:");
    for d in what_if.deployments() {
        println!(
            "        deployment {} → {:?}",
            &d.id.to_string()[..8],
            d.status_description
        );
    }
    for decision in &what_if.outcome.trace {
        println!(
            "        {} {}: {}",
            decision.rule, decision.key, decision.reason
        );
    }
    o.submit(promote)?;
    loop {
        let placed = o.schedule()?;
        if placed.is_empty() {
            break;
        }
        o.report(&placed, true)?;
    }
    o.show("version 1 promoted and done");

    // Version 2 is bad: its canary fails, and the trace says why the deployment failed
    // and what the rollback registered.
    o.submit(Command::RegisterJob(rollout_engine::command::RegisterJob {
        job: job("app:3-broken"),
        ..Default::default()
    }))?;
    let canary = o.schedule()?;
    let failing = o.report(&canary, false)?;
    o.show("version 2 canary failed");
    println!("      why:");
    for decision in &failing.outcome.trace {
        println!(
            "        {} {:?} {}: {}",
            decision.rule, decision.topic, decision.key, decision.reason
        );
    }

    // A restart: replaying the toy log gives the same state, byte for byte.
    let mut restarted = DeploymentEngine::new(
        EngineConfig::default(),
        SeededStamp::new(7, VirtualClock::new(0)),
    );
    for envelope in o.log.envelopes() {
        restarted.replay(&envelope?)?;
    }
    let same = serde_json::to_vec(restarted.state())? == serde_json::to_vec(o.engine.state())?;
    println!(
        "      replayed {} envelopes: identical state = {same}",
        o.log.lines.len()
    );
    o.engine.state().check_invariants()?;
    Ok(())
}
