//! The simulation: one event queue, one virtual clock, one engine state, and the loop
//! that ties scheduler, clients, operator and faults together.
//!
//! This is the worked example of driving `rollout-engine`:
//! 1. every input goes through [`rollout_engine::apply`] in an [`Envelope`] carrying
//!    the next index, the virtual `now` and entropy from the seeded RNG, and every applied
//!    envelope is appended to the log (replaying the log rebuilds the state exactly);
//! 2. evaluations created by a write wake the scheduler, which asks
//!    [`rollout_engine::plan`] what to do, binds placements to nodes, submits the result
//!    and acknowledges the evaluation;
//! 3. allocations written by the engine are observed by their clients, which report
//!    status and health later;
//! 4. time jumps to the next queued event or to [`rollout_engine::next_deadline`],
//!    whichever comes first; at a deadline the driver applies [`Command::Tick`].

use crate::client::{ClientConfig, ClientEvent, Clients};
use crate::clock::Clock;
use crate::faults::FaultModel;
use crate::fleet::Fleet;
use crate::invariants::{waiting_on_operator, Checker, Placed, Violation};
use crate::jobs::{release_of, revision_of, JobChange, JobSpec, NAMESPACE};
use crate::operator::{self, Decision, OperatorPolicy};
use crate::rng::SimRng;
use crate::scheduler::{bind, Scheduler, SchedulerConfig};
use crate::timeline::{narrate, Actor, Entry};
use rollout_engine::command::{
    ClientAllocUpdates, FailDeployment, PauseDeployment, PromoteDeployment, RegisterJob,
    UpdateEvalStatus,
};
use rollout_engine::model::{eval_status, DurationNs, UnixNanos, HOUR_NS};
use rollout_engine::reconcile::PlacementKind;
use rollout_engine::{
    next_deadline, plan, Command, DeploymentEngine, EngineConfig, Entropy, Envelope, Error,
    Outcome, Plan, Stamp, StampError, State, Topic, VirtualClock,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use uuid::Uuid;

/// 2023-11-14T22:13:20Z: where virtual time starts unless a config says otherwise.
pub const DEFAULT_START_NS: UnixNanos = 1_700_000_000_000_000_000;

/// A scripted step of a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScriptStep {
    /// When, relative to the start.
    pub at_ns: DurationNs,
    pub action: Action,
}

/// What a script can do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// Register a new version of a job.
    Register { job: String, change: JobChange },
    /// Promote the job's active deployment.
    Promote { job: String },
    /// Pause (or resume) the job's active deployment.
    Pause { job: String, pause: bool },
    /// Fail the job's active deployment.
    Fail { job: String },
    /// Lose a node (its allocations are reported lost).
    LoseNode { node: String },
}

/// Bounds on a run, so that a bug cannot make a run endless (TigerBeetle's "put a limit
/// on everything").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_steps: u64,
    pub max_elapsed_ns: DurationNs,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: 50_000,
            max_elapsed_ns: 48 * HOUR_NS,
        }
    }
}

/// Everything a run depends on. Same config (seed included) ⇒ same run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    pub seed: u64,
    pub start_ns: UnixNanos,
    pub nodes: usize,
    /// Jobs registered at the start with their initial release.
    pub jobs: Vec<JobSpec>,
    pub script: Vec<ScriptStep>,
    pub client: ClientConfig,
    pub scheduler: SchedulerConfig,
    pub faults: FaultModel,
    pub operator: OperatorPolicy,
    pub limits: Limits,
    /// Check the properties of [`crate::invariants`] after every command.
    pub check_invariants: bool,
    /// Keep a human-readable [`Entry`] per change.
    pub keep_timeline: bool,
}

impl SimConfig {
    /// A fault-free run of `jobs` on `nodes` nodes with a diligent operator.
    pub fn new(seed: u64, nodes: usize, jobs: Vec<JobSpec>) -> SimConfig {
        SimConfig {
            seed,
            start_ns: DEFAULT_START_NS,
            nodes,
            jobs,
            script: Vec::new(),
            client: ClientConfig::default(),
            scheduler: SchedulerConfig::default(),
            faults: FaultModel::none(),
            operator: OperatorPolicy::default(),
            limits: Limits::default(),
            check_invariants: true,
            keep_timeline: true,
        }
    }
}

/// Something queued for a point in virtual time.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Script(usize),
    SchedulerWake,
    SubmitPlan {
        eval: Uuid,
    },
    Client {
        alloc: Uuid,
        event: ClientEvent,
    },
    NodeRepair {
        node: String,
    },
    /// The operator looks around (recurs for the whole run).
    OperatorTick,
    /// Maybe lose a node (recurs until `chaos_until_ns`).
    NodeLossTick,
}

impl Event {}

/// A command the engine refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub elapsed_ns: i64,
    pub actor: Actor,
    pub command: &'static str,
    pub error: String,
}

/// Counters of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Applied commands by name.
    pub commands: BTreeMap<&'static str, u64>,
    pub rejected: u64,
    pub stale_plans: u64,
    pub partial_plans: u64,
    pub nodes_lost: u64,
}

/// What one call to [`Simulation::step`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Something happened; there is more to do.
    Progress,
    /// Nothing is left but operator decisions nobody will take and background ticks.
    Settled,
    /// A limit was hit or the driver found the engine misbehaving.
    Halted(String),
}

/// The summary of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    pub seed: u64,
    pub steps: u64,
    pub elapsed_ns: i64,
    pub end: Step,
    /// Final deployment statuses and how many have each.
    pub deployments: BTreeMap<String, u64>,
    pub rollbacks: u64,
    pub stats: Stats,
    pub violations: Vec<Violation>,
    /// Stuck deployments explained by a known engine finding
    /// ([`crate::invariants::known_stuck`]).
    pub known: Vec<Violation>,
    /// Driver-level surprises (a plan result the engine refused for a reason other than
    /// staleness, a tick that did not consume its deadline, …).
    pub anomalies: Vec<String>,
}

impl RunReport {
    /// True when the run settled and broke nothing.
    pub fn is_clean(&self) -> bool {
        self.end == Step::Settled && self.violations.is_empty() && self.anomalies.is_empty()
    }
}

/// The simulation's stamp: its virtual clock and its own entropy stream (forked from the
/// run's seed like every other subsystem's, so a seed fixes every ID).
struct SimStamp {
    clock: VirtualClock,
    entropy: Mutex<SimRng>,
}

impl Stamp for SimStamp {
    fn now(&self) -> UnixNanos {
        self.clock.now()
    }

    fn entropy(&self) -> Result<Entropy, StampError> {
        // Only the simulation's thread draws; a poisoned lock still holds a valid stream.
        let mut rng = self.entropy.lock().unwrap_or_else(|p| p.into_inner());
        Ok(rng.entropy())
    }
}

/// A deterministic simulated cluster driving one engine.
pub struct Simulation {
    config: SimConfig,
    clock: Clock,
    /// The engine; its stamp reads `engine_clock`, set to `clock` before each command.
    engine: DeploymentEngine,
    engine_clock: VirtualClock,
    log: Vec<Envelope>,
    queue: BTreeMap<(UnixNanos, u64), Event>,
    seq: u64,
    scripts_pending: usize,
    wake_at: Option<UnixNanos>,
    fleet: Fleet,
    clients: Clients,
    scheduler: Scheduler,
    kinds: BTreeMap<Uuid, Placed>,
    pending_kinds: Vec<PlacementKind>,
    rng_faults: SimRng,
    rng_clients: SimRng,
    rng_scheduler: SimRng,
    rng_operator: SimRng,
    rng_nodes: SimRng,
    timeline: Vec<Entry>,
    rejections: Vec<Rejection>,
    anomalies: Vec<String>,
    checker: Checker,
    steps: u64,
    stats: Stats,
    rollbacks: u64,
    halted: Option<String>,
}

impl Simulation {
    pub fn new(config: SimConfig) -> Simulation {
        let mut root = SimRng::seed_from_u64(config.seed);
        let engine_clock = VirtualClock::new(config.start_ns);
        let stamp = SimStamp {
            clock: engine_clock.clone(),
            entropy: Mutex::new(root.fork(1)),
        };
        let mut sim = Simulation {
            clock: Clock::new(config.start_ns),
            engine: DeploymentEngine::new(EngineConfig::default(), stamp),
            engine_clock,
            log: Vec::new(),
            queue: BTreeMap::new(),
            seq: 0,
            scripts_pending: 0,
            wake_at: None,
            fleet: Fleet::new(config.nodes),
            clients: Clients::new(config.client.clone()),
            scheduler: Scheduler::new(config.scheduler.clone()),
            kinds: BTreeMap::new(),
            pending_kinds: Vec::new(),
            rng_faults: root.fork(2),
            rng_clients: root.fork(3),
            rng_scheduler: root.fork(4),
            rng_operator: root.fork(5),
            rng_nodes: root.fork(6),
            timeline: Vec::new(),
            rejections: Vec::new(),
            anomalies: Vec::new(),
            checker: Checker::new(),
            steps: 0,
            stats: Stats::default(),
            rollbacks: 0,
            halted: None,
            config,
        };
        let start = sim.clock.now();
        for (i, step) in sim.config.script.clone().iter().enumerate() {
            sim.push(start + step.at_ns, Event::Script(i));
        }
        sim.push(start, Event::OperatorTick);
        if sim.config.faults.node_loss.is_some() {
            sim.push(start, Event::NodeLossTick);
        }
        for job in sim.config.jobs.clone() {
            let j = job.job(&job.initial_release, 0);
            sim.register(Actor::Script, j);
        }
        sim
    }

    // --- reads -----------------------------------------------------------------------

    pub fn config(&self) -> &SimConfig {
        &self.config
    }
    pub fn state(&self) -> &State {
        self.engine.state()
    }
    /// Every applied envelope, in order: replaying it from an empty state gives
    /// [`Self::state`].
    pub fn log(&self) -> &[Envelope] {
        &self.log
    }
    pub fn timeline(&self) -> &[Entry] {
        &self.timeline
    }
    pub fn rejections(&self) -> &[Rejection] {
        &self.rejections
    }
    pub fn violations(&self) -> &[Violation] {
        &self.checker.violations
    }
    pub fn anomalies(&self) -> &[String] {
        &self.anomalies
    }
    pub fn now(&self) -> UnixNanos {
        self.clock.now()
    }
    pub fn elapsed(&self) -> i64 {
        self.clock.elapsed()
    }
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    /// How each allocation was placed (canary, destructive, …).
    pub fn placement(&self, alloc: &Uuid) -> Option<Placed> {
        self.kinds.get(alloc).copied()
    }

    /// The final state and the log as JSON bytes: two runs of one seed must agree.
    pub fn fingerprint(&self) -> (Vec<u8>, Vec<u8>) {
        (
            serde_json::to_vec(self.engine.state()).unwrap_or_default(),
            serde_json::to_vec(&self.log).unwrap_or_default(),
        )
    }

    // --- the driver --------------------------------------------------------------------

    /// Applies one command at the next index and the current virtual time, logs it, and
    /// lets the cluster react: clients observe the allocations it wrote, the scheduler
    /// wakes for the evaluations it created. On error the state is unchanged.
    pub fn apply(&mut self, actor: Actor, command: Command) -> Result<Outcome, Error> {
        self.engine_clock.set(self.clock.now());
        let name = command.name();
        let before = self.engine.state().clone();
        let applied = match self.engine.submit(command) {
            Ok(a) => a,
            Err(e) => {
                self.stats.rejected += 1;
                self.rejections.push(Rejection {
                    elapsed_ns: self.clock.elapsed(),
                    actor,
                    command: name,
                    error: e.to_string(),
                });
                self.pending_kinds.clear();
                return Err(e);
            }
        };
        let (env, outcome) = (applied.envelope, applied.outcome);
        for (id, kind) in outcome
            .allocs_created
            .iter()
            .zip(self.pending_kinds.drain(..))
        {
            let deployment = self.engine.state().alloc(id).and_then(|a| a.deployment_id);
            self.kinds.insert(*id, Placed { kind, deployment });
        }
        *self.stats.commands.entry(env.command.name()).or_default() += 1;
        self.rollbacks += outcome
            .rollbacks
            .iter()
            .filter(|r| {
                matches!(
                    r.outcome,
                    rollout_engine::RollbackOutcome::RolledBack { .. }
                )
            })
            .count() as u64;
        if self.config.check_invariants {
            self.checker
                .after_apply(&before, self.engine.state(), &env, &outcome, &self.kinds);
        }
        if self.config.keep_timeline {
            for text in narrate(&before, self.engine.state(), &env, &outcome) {
                self.timeline.push(Entry {
                    elapsed_ns: self.clock.elapsed(),
                    index: env.index,
                    actor,
                    text,
                });
            }
        }
        self.log.push(env);
        self.react(&outcome);
        Ok(outcome)
    }

    /// Clients observe every allocation the write touched; new evaluations wake the
    /// scheduler after the broker delay.
    fn react(&mut self, outcome: &Outcome) {
        let now = self.clock.now();
        for e in outcome
            .events
            .iter()
            .filter(|e| e.topic == Topic::Allocation)
        {
            let Ok(id) = e.key.parse::<Uuid>() else {
                continue;
            };
            let faults = &self.config.faults;
            let rng_faults = &mut self.rng_faults;
            let timers = self.clients.observe(
                self.engine.state(),
                &id,
                now,
                &mut self.fleet,
                &mut self.rng_clients,
                |release, group| faults.fate(release, group, rng_faults),
            );
            for (at, event) in timers {
                self.push(at, Event::Client { alloc: id, event });
            }
        }
        if !outcome.evals_created.is_empty() {
            let (lo, hi) = self.config.scheduler.eval_delay_ns;
            let at = now + self.rng_scheduler.range_i64(lo, hi);
            self.wake_scheduler(at);
        }
    }

    /// Advances to the next thing that happens and does it.
    pub fn step(&mut self) -> Step {
        if let Some(why) = &self.halted {
            return Step::Halted(why.clone());
        }
        if self.steps >= self.config.limits.max_steps
            || self.clock.elapsed() > self.config.limits.max_elapsed_ns
        {
            // What still runs concerns no rollout that could move without an operator
            // (say, an old allocation crash-looping through reschedules next to a
            // deployment that waits for a promotion nobody will make).
            if self.rollouts_wait_on_operator() {
                return Step::Settled;
            }
            return self.halt(format!(
                "limits reached: {} steps, {} ns elapsed",
                self.steps,
                self.clock.elapsed()
            ));
        }
        self.steps += 1;
        let deadline = next_deadline(self.engine.state());
        let head = self.queue.keys().next().map(|(t, _)| *t);
        if deadline.is_none() && self.quiet() {
            return self.settle();
        }
        match (deadline, head) {
            (Some(d), h) if h.is_none_or(|h| d < h) => self.tick(d),
            (_, Some(_)) => {
                let Some(((at, _), event)) = self.queue.pop_first() else {
                    return Step::Settled;
                };
                if matches!(event, Event::Script(_)) {
                    self.scripts_pending -= 1;
                }
                self.clock.advance_to(at);
                self.handle(event);
                Step::Progress
            }
            (None, None) => self.settle(),
            (Some(_), None) => unreachable!("covered by the first arm"),
        }
    }

    /// Steps until the run settles (or halts) and returns its report. With invariant
    /// checking on, the end-of-run properties are checked too.
    pub fn run(&mut self) -> RunReport {
        loop {
            match self.step() {
                Step::Progress => {}
                end => return self.finish(end),
            }
        }
    }

    /// Steps until virtual time reaches `elapsed_ns` after the start (or the run settles).
    pub fn run_until(&mut self, elapsed_ns: DurationNs) -> Step {
        let target = self.clock.start() + elapsed_ns;
        loop {
            let deadline = next_deadline(self.engine.state());
            let head = self.queue.keys().next().map(|(t, _)| *t);
            let next = [deadline, head].into_iter().flatten().min();
            if next.is_none_or(|t| t > target) {
                self.clock.advance_to(target);
                return Step::Progress;
            }
            match self.step() {
                Step::Progress => {}
                end => return end,
            }
        }
    }

    fn finish(&mut self, end: Step) -> RunReport {
        if self.config.check_invariants {
            if let Step::Halted(why) = &end {
                self.checker.violations.push(Violation {
                    index: self.engine.state().index(),
                    rule: "run-settles",
                    detail: why.clone(),
                });
            }
            self.checker.finish(
                self.engine.state(),
                &self.log,
                end == Step::Settled,
                self.config.operator.manual_health,
                self.clock.now(),
            );
        }
        self.report(end)
    }

    /// A summary of the run so far.
    pub fn report(&self, end: Step) -> RunReport {
        let mut deployments = BTreeMap::new();
        for d in self.engine.state().deployments_in_namespace(None) {
            *deployments.entry(d.status.clone()).or_default() += 1;
        }
        RunReport {
            seed: self.config.seed,
            steps: self.steps,
            elapsed_ns: self.clock.elapsed(),
            end,
            deployments,
            rollbacks: self.rollbacks,
            stats: self.stats.clone(),
            violations: self.checker.violations.clone(),
            known: self.checker.known.clone(),
            anomalies: self.anomalies.clone(),
        }
    }

    fn halt(&mut self, why: String) -> Step {
        self.halted = Some(why.clone());
        Step::Halted(why)
    }

    fn rollouts_wait_on_operator(&self) -> bool {
        let manual = self.config.operator.manual_health;
        self.engine
            .state()
            .active_deployments()
            .all(|d| waiting_on_operator(self.engine.state(), d, manual).is_some())
    }

    /// Nothing left to do but wait for operators or for timers of jobs that no rollout
    /// depends on: no scripted step is pending; no client or plan event is queued; no
    /// evaluation is pending for a job with an active deployment, nor due now for any
    /// other job; and no background tick matters ([`Self::keep_ticking`]). A delayed
    /// reschedule of a job without an active deployment (an allocation crash-looping
    /// through reschedules for ever) does not keep a run alive.
    fn quiet(&self) -> bool {
        if self.scripts_pending > 0 {
            return false;
        }
        let active: BTreeSet<(&str, &str)> = self
            .engine
            .state()
            .active_deployments()
            .map(|d| (d.namespace.as_str(), d.job_id.as_str()))
            .collect();
        let now = self.clock.now();
        let evals_busy = self.engine.state().pending_evals().iter().any(|e| {
            active.contains(&(e.namespace.as_str(), e.job_id.as_str()))
                || e.wait_until.nanos() <= now
        });
        let queue_busy = self.queue.values().any(|e| match e {
            Event::Client { .. } | Event::SubmitPlan { .. } | Event::Script(_) => true,
            Event::SchedulerWake
            | Event::NodeRepair { .. }
            | Event::OperatorTick
            | Event::NodeLossTick => false,
        });
        !evals_busy && !queue_busy && !self.keep_ticking()
    }

    /// With no foreground work and no deadline, background ticks still matter while
    /// chaos may strike an active deployment or an operator duty ripens later.
    fn keep_ticking(&self) -> bool {
        let active = self.engine.state().active_deployments().next().is_some();
        let chaos = self.clock.elapsed() < self.config.operator.chaos_until_ns;
        active && (chaos || self.manual_health_ripening())
    }

    fn manual_health_ripening(&self) -> bool {
        self.config.operator.manual_health
            && self.engine.state().active_deployments().any(|d| {
                self.engine.state().deployment_allocs(&d.id).any(|a| {
                    !a.terminal()
                        && !a.has_health()
                        && matches!(
                            crate::client::health_policy(self.engine.state(), a),
                            crate::client::HealthPolicy::Manual { .. }
                        )
                })
            })
    }

    /// Nothing is scheduled: the operator does its duties once more; if it has none the
    /// run is settled.
    fn settle(&mut self) -> Step {
        if self.operator_duties() > 0 {
            return Step::Progress;
        }
        Step::Settled
    }

    /// §3.10: time reached a progress deadline.
    fn tick(&mut self, deadline: UnixNanos) -> Step {
        self.clock.advance_to(deadline);
        if let Err(e) = self.apply(Actor::Clock, Command::Tick) {
            self.anomalies.push(format!("tick rejected: {e}"));
        }
        if next_deadline(self.engine.state()).is_some_and(|d| d <= deadline) {
            let why = format!("a tick at {deadline} did not consume its deadline");
            self.anomalies.push(why.clone());
            return self.halt(why);
        }
        Step::Progress
    }

    fn push(&mut self, at: UnixNanos, event: Event) {
        if matches!(event, Event::Script(_)) {
            self.scripts_pending += 1;
        }
        self.seq += 1;
        self.queue.insert((at, self.seq), event);
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Script(i) => {
                if let Some(step) = self.config.script.get(i).cloned() {
                    self.script(step.action);
                }
            }
            Event::SchedulerWake => {
                if self.wake_at.is_some_and(|w| w <= self.clock.now()) {
                    self.wake_at = None;
                }
                self.schedule_evals();
            }
            Event::SubmitPlan { eval } => {
                if let Some(f) = self.scheduler.take(&eval) {
                    self.submit(f.plan, f.attempts);
                }
            }
            Event::Client { alloc, event } => {
                let now = self.clock.now();
                let reaction =
                    self.clients
                        .handle(self.engine.state(), &alloc, event, now, &mut self.fleet);
                for (at, e) in reaction.timers {
                    self.push(at, Event::Client { alloc, event: e });
                }
                if let Some(u) = reaction.update {
                    self.client_updates(vec![u]);
                }
            }
            Event::NodeRepair { node } => self.fleet.bring_up(&node),
            Event::OperatorTick => {
                self.operator_duties();
                if self.clock.elapsed() < self.config.operator.chaos_until_ns {
                    self.operator_chaos();
                }
                let at = self.clock.now() + self.config.operator.tick_ns.max(1);
                self.push(at, Event::OperatorTick);
            }
            Event::NodeLossTick => self.node_loss_tick(),
        }
    }

    fn client_updates(&mut self, updates: Vec<rollout_engine::command::ClientAllocUpdate>) {
        let cmd = Command::UpdateAllocsFromClient(ClientAllocUpdates {
            allocations: updates,
        });
        if let Err(e) = self.apply(Actor::Client, cmd) {
            self.anomalies.push(format!("client update rejected: {e}"));
        }
    }

    // --- scheduler -----------------------------------------------------------------------

    fn wake_scheduler(&mut self, at: UnixNanos) {
        if self.wake_at.is_none_or(|w| at < w) {
            self.wake_at = Some(at);
            self.push(at, Event::SchedulerWake);
        }
    }

    /// Plans every due evaluation; with plan latency the result is submitted later.
    fn schedule_evals(&mut self) {
        let now = self.clock.now();
        let due = self.scheduler.due(self.engine.state(), now);
        for eval in due.now {
            let p = match plan(self.engine.state(), &eval, now) {
                Ok(p) => p,
                Err(e) => {
                    self.anomalies.push(format!("planning {eval} failed: {e}"));
                    continue;
                }
            };
            let (lo, hi) = self.config.scheduler.plan_latency_ns;
            let latency = self.rng_scheduler.range_i64(lo, hi);
            if latency <= 0 {
                self.submit(p, 1);
            } else {
                self.scheduler.hold(p, 1);
                self.push(now + latency, Event::SubmitPlan { eval });
            }
        }
        if let Some(at) = due.next_wake {
            self.wake_scheduler(at);
        }
    }

    /// Binds and submits a plan, re-planning on a stale rejection, then acknowledges the
    /// evaluation.
    fn submit(&mut self, p: Plan, attempts: u32) {
        let eval = p.eval_id;
        // A plan whose only content is a delayed reschedule still has to be submitted:
        // applying it is what creates the follow-up evaluation (§3.13 T2), and
        // `Plan::is_empty` does not count `reschedule_later`.
        if !p.is_empty() || !p.reschedule_later.is_empty() {
            let partial = self
                .rng_scheduler
                .chance(self.config.scheduler.partial_plan_chance);
            let binding = bind(&p, &self.fleet, &mut self.rng_scheduler, partial);
            let dropped = binding.result.allocations.len() < p.placements.len();
            if dropped {
                self.stats.partial_plans += 1;
                if let Some(d) = p.deployment_id {
                    self.checker.note_cause(d);
                }
            }
            let r = &binding.result;
            let empty = r.allocations.is_empty()
                && r.stops.is_empty()
                && r.in_place_updates.is_empty()
                && p.reschedule_later.is_empty();
            if !empty {
                self.pending_kinds = binding.kinds;
                match self.apply(Actor::Scheduler, Command::ApplyPlanResult(binding.result)) {
                    Ok(_) => {}
                    Err(Error::StalePlan { .. }) => {
                        self.stats.stale_plans += 1;
                        if let Some(d) = p.deployment_id {
                            self.checker.note_cause(d);
                        }
                        if attempts < self.config.scheduler.max_plan_attempts {
                            match plan(self.engine.state(), &eval, self.clock.now()) {
                                Ok(again) => return self.submit(again, attempts + 1),
                                Err(e) => self
                                    .anomalies
                                    .push(format!("re-planning {eval} failed: {e}")),
                            }
                        } else {
                            self.anomalies
                                .push(format!("plan for {eval} stale {attempts} times"));
                        }
                    }
                    Err(e) => self
                        .anomalies
                        .push(format!("plan result for {eval} rejected: {e}")),
                }
            }
        }
        let pending = self
            .engine
            .state()
            .eval(&eval)
            .is_some_and(|e| e.is_pending());
        if pending {
            let ack = Command::UpdateEvalStatus(UpdateEvalStatus {
                eval_id: eval,
                status: eval_status::COMPLETE.to_string(),
                status_description: String::new(),
            });
            if let Err(e) = self.apply(Actor::Scheduler, ack) {
                self.anomalies
                    .push(format!("acknowledging {eval} failed: {e}"));
            }
        }
    }

    // --- operator, script, faults --------------------------------------------------------

    /// Promotions and manual health that are due now. Returns how many were applied.
    fn operator_duties(&mut self) -> usize {
        let decisions = operator::duties(
            &self.config.operator,
            self.engine.state(),
            &self.clients,
            self.clock.now(),
        );
        self.decide(decisions)
    }

    fn operator_chaos(&mut self) {
        let decisions = operator::chaos(
            &self.config.operator,
            self.engine.state(),
            &mut self.rng_operator,
        );
        self.decide(decisions);
    }

    fn decide(&mut self, decisions: Vec<Decision>) -> usize {
        let mut applied = 0;
        for d in decisions {
            let ok = match d {
                Decision::Deployment { command, .. } => {
                    self.apply(Actor::Operator, *command).is_ok()
                }
                Decision::NewVersion { job, change } => {
                    self.change_job(Actor::Operator, &job, &change)
                }
            };
            applied += usize::from(ok);
        }
        applied
    }

    fn script(&mut self, action: Action) {
        match action {
            Action::Register { job, change } => {
                self.change_job(Actor::Script, &job, &change);
            }
            Action::Promote { job } => {
                if let Some(id) = self.active_deployment(&job) {
                    let _ = self.apply(
                        Actor::Script,
                        Command::PromoteDeployment(PromoteDeployment {
                            deployment_id: id,
                            all: true,
                            groups: None,
                        }),
                    );
                }
            }
            Action::Pause { job, pause } => {
                if let Some(id) = self.active_deployment(&job) {
                    let _ = self.apply(
                        Actor::Script,
                        Command::PauseDeployment(PauseDeployment {
                            deployment_id: id,
                            pause,
                        }),
                    );
                }
            }
            Action::Fail { job } => {
                if let Some(id) = self.active_deployment(&job) {
                    let _ = self.apply(
                        Actor::Script,
                        Command::FailDeployment(FailDeployment { deployment_id: id }),
                    );
                }
            }
            Action::LoseNode { node } => self.lose_node(&node),
        }
    }

    fn active_deployment(&self, job: &str) -> Option<Uuid> {
        self.engine
            .state()
            .deployments_of_job_any(NAMESPACE, job)
            .rev()
            .find(|d| d.active())
            .map(|d| d.id)
    }

    /// Registers a changed version of a job: another release, or the next revision.
    fn change_job(&mut self, actor: Actor, job: &str, change: &JobChange) -> bool {
        let Some(spec) = self.config.jobs.iter().find(|j| j.id == job).cloned() else {
            return false;
        };
        let current = self.engine.state().job(NAMESPACE, job).cloned();
        let first_group = spec
            .groups
            .first()
            .map(|g| g.name.clone())
            .unwrap_or_default();
        let release = current
            .as_deref()
            .and_then(|j| release_of(j, &first_group))
            .unwrap_or_else(|| spec.initial_release.clone());
        let revision = current.as_deref().map_or(0, revision_of);
        let next = match change {
            JobChange::Release(r) => spec.job(r, revision),
            JobChange::Revision => spec.job(&release, revision + 1),
        };
        self.register(actor, next)
    }

    fn register(&mut self, actor: Actor, job: rollout_engine::model::Job) -> bool {
        let cmd = Command::RegisterJob(RegisterJob {
            job,
            ..RegisterJob::default()
        });
        self.apply(actor, cmd).is_ok()
    }

    fn node_loss_tick(&mut self) {
        let Some(loss) = self.config.faults.node_loss.clone() else {
            return;
        };
        if self.clock.elapsed() >= self.config.operator.chaos_until_ns {
            return;
        }
        if self.rng_nodes.chance(loss.chance) {
            let up = self.fleet.up_nodes();
            if let Some(node) = self.rng_nodes.pick(&up).cloned() {
                self.lose_node(&node);
            }
        }
        let at = self.clock.now() + loss.interval_ns.max(1);
        self.push(at, Event::NodeLossTick);
    }

    /// A node disappears: its allocations are reported lost, and it comes back after the
    /// repair time.
    fn lose_node(&mut self, node: &str) {
        let Some(allocs) = self.fleet.take_down(node) else {
            return;
        };
        self.stats.nodes_lost += 1;
        let updates = self.clients.lose(&allocs, self.clock.now());
        if !updates.is_empty() {
            self.client_updates(updates);
        }
        let repair = self
            .config
            .faults
            .node_loss
            .as_ref()
            .map_or(5 * 60 * 1_000_000_000, |l| l.repair_after_ns);
        let at = self.clock.now() + repair;
        self.push(
            at,
            Event::NodeRepair {
                node: node.to_string(),
            },
        );
    }
}
