//! The simulated scheduler and clients against a live engine: one that other writers (an
//! HTTP API, operators) change too, on whatever clock the caller runs. This is what
//! `rollout agent --dev` runs as its cluster (R7).
//!
//! [`crate::Simulation`] owns its engine state and its virtual clock, so it can react to
//! each command's outcome the moment it applies it. A live cluster owns neither: the
//! state lives in a store behind an API and changes under it, and time is the wall clock.
//! So it is level-triggered, like a controller: handed the latest state, it works out
//! what changed since it last looked — new, stopped and moved allocations, pending
//! evaluations — and what to do about it. A missed notification therefore loses nothing,
//! and writes made through the API are seen exactly like its own.
//!
//! It is sans-I/O, in the style of quinn-proto: the caller feeds it states and the time
//! ([`LiveCluster::observe`]), takes the next command to submit
//! ([`LiveCluster::next_work`]), reports how the engine took it ([`LiveCluster::done`]),
//! and sleeps until [`LiveCluster::next_wake`] or the next state change, whichever comes
//! first. The scheduling and client behaviour are the simulation's own
//! ([`crate::scheduler`], [`crate::client`]); faults come from the job's `Meta`
//! ([`crate::knobs`]) instead of a seeded fault model.

use crate::client::{ClientConfig, ClientEvent, Clients};
use crate::faults::Fate;
use crate::fleet::Fleet;
use crate::knobs::knobs;
use crate::rng::SimRng;
use crate::scheduler::{bind, Scheduler, SchedulerConfig};
use rollout_engine::command::{ClientAllocUpdate, ClientAllocUpdates, UpdateEvalStatus};
use rollout_engine::command::{ClientDeploymentStatus, PlanResult};
use rollout_engine::model::{client_status, eval_status, SharedStr, Timestamp, UnixNanos};
use rollout_engine::node::{node_status, Node, RegisterNode};
use rollout_engine::{plan, Command, Error, State};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

/// How a live cluster behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveConfig {
    /// Seeds the cluster's own choices (node picks, start delays); IDs and times come
    /// from whoever stamps the commands.
    pub seed: u64,
    pub nodes: usize,
    pub client: ClientConfig,
    /// Plans of one evaluation the engine may reject as stale (another write landed
    /// between planning and applying) before the evaluation is acknowledged as failed.
    pub max_plan_attempts: u32,
    /// The fate of every allocation new to its client, instead of what its job's knobs
    /// say (a what-if's assumption; `None` in the dev agent).
    pub fate: Option<Fate>,
    /// The fate of every canary new to its client, before [`Self::fate`].
    pub canary_fate: Option<Fate>,
}

impl LiveConfig {
    /// What the dev agent runs: three nodes, allocations that start within a second and
    /// stop within half a second, so that a rollout can be watched in real time.
    pub fn dev(seed: u64) -> LiveConfig {
        LiveConfig {
            seed,
            nodes: 3,
            client: ClientConfig {
                start_delay_ns: (200_000_000, 800_000_000),
                stop_delay_ns: (100_000_000, 500_000_000),
            },
            max_plan_attempts: 8,
            fate: None,
            canary_fate: None,
        }
    }
}

/// A command to submit, with what it is for.
#[derive(Clone, Debug, PartialEq)]
pub struct Work {
    pub ticket: Ticket,
    pub command: Command,
}

/// What a submitted command was for; hand it back to [`LiveCluster::done`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ticket {
    /// The placements, updates and stops of an evaluation's plan.
    PlanResult { eval: Uuid },
    /// The evaluation is finished (`complete`, or `failed` after too many stale plans).
    Ack { eval: Uuid },
    /// A client reports an allocation's status or health.
    ClientUpdate { alloc: Uuid },
    /// A node registers, or reports its status (`node` is its place in the fleet).
    NodeRegistration { node: usize },
}

impl Ticket {
    /// Who sends this work in a real cluster, and so what its envelope records (the
    /// audit trail): the scheduler for plans and acks, a client for the rest.
    pub fn actor(&self) -> rollout_engine::Actor {
        match self {
            Ticket::PlanResult { .. } | Ticket::Ack { .. } => rollout_engine::Actor::scheduler(),
            Ticket::ClientUpdate { .. } | Ticket::NodeRegistration { .. } => {
                rollout_engine::Actor::client()
            }
        }
    }
}

/// `plan for eval <id>`, `ack of eval <id>`, `client update of alloc <id>`: for log lines.
impl std::fmt::Display for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ticket::PlanResult { eval } => write!(f, "plan for eval {eval}"),
            Ticket::Ack { eval } => write!(f, "ack of eval {eval}"),
            Ticket::ClientUpdate { alloc } => write!(f, "client update of alloc {alloc}"),
            Ticket::NodeRegistration { node } => write!(f, "registration of node {node}"),
        }
    }
}

/// Something worth telling the operator (the caller logs it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A `rollout.sim.*` knob of a job version was ignored.
    Knob {
        job: String,
        version: u64,
        problem: String,
    },
    /// The engine refused one of the cluster's commands.
    Rejected { ticket: Ticket, error: String },
    /// An evaluation could not be planned.
    PlanFailed { eval: Uuid, error: String },
}

/// Where the cluster is with an evaluation it has started on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct EvalProgress {
    /// Stale rejections so far.
    stale: u32,
    /// The plan result is applied (or there was nothing to apply): acknowledge next.
    placed: bool,
    /// Give up: acknowledge as failed.
    failed: bool,
}

/// The simulated scheduler and client nodes of a live engine.
pub struct LiveCluster {
    config: LiveConfig,
    fleet: Fleet,
    clients: Clients,
    scheduler: Scheduler,
    rng_clients: SimRng,
    rng_scheduler: SimRng,
    /// Client timers: (due, sequence) → (allocation, event).
    timers: BTreeMap<(UnixNanos, u64), (Uuid, ClientEvent)>,
    seq: u64,
    /// The index of the last state observed.
    observed_index: u64,
    /// Each known allocation's `ModifyIndex` when last observed.
    seen: HashMap<Uuid, u64>,
    evals: BTreeMap<Uuid, EvalProgress>,
    /// Evaluations the engine would not let us finish: never picked up again.
    abandoned: BTreeSet<Uuid>,
    /// Nodes whose registration the engine refused: not tried again.
    unregistrable: BTreeSet<usize>,
    /// Job versions whose knob problems were already noted (once each is enough).
    noted_versions: BTreeSet<(SharedStr, SharedStr, u64)>,
    notes: Vec<Note>,
}

impl LiveCluster {
    pub fn new(config: LiveConfig) -> LiveCluster {
        let mut root = SimRng::seed_from_u64(config.seed);
        LiveCluster {
            fleet: Fleet::new(config.nodes),
            clients: Clients::new(config.client.clone()),
            scheduler: Scheduler::new(SchedulerConfig::default()),
            rng_clients: root.fork(3),
            rng_scheduler: root.fork(4),
            timers: BTreeMap::new(),
            seq: 0,
            observed_index: 0,
            seen: HashMap::new(),
            evals: BTreeMap::new(),
            abandoned: BTreeSet::new(),
            unregistrable: BTreeSet::new(),
            noted_versions: BTreeSet::new(),
            notes: Vec::new(),
            config,
        }
    }

    /// Notes since the last call, oldest first.
    pub fn drain_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    /// Looks at the latest state: clients pick up allocations that are new to them,
    /// stopped, moved into another deployment or gone. Cheap when nothing changed; a
    /// scan of every allocation otherwise (dev clusters are small).
    pub fn observe(&mut self, state: &State, now: UnixNanos) {
        if state.index() == self.observed_index {
            return;
        }
        self.observed_index = state.index();
        let changed: Vec<Uuid> = state
            .allocs_in_namespace(None)
            .into_iter()
            .filter(|a| self.seen.get(&a.id) != Some(&a.modify_index))
            .map(|a| a.id)
            .collect();
        for id in changed {
            self.observe_alloc(state, &id, now);
        }
        if self.seen.len() > state.alloc_count() {
            let gone: Vec<Uuid> = self
                .seen
                .keys()
                .filter(|id| state.alloc(id).is_none())
                .copied()
                .collect();
            for id in gone {
                // The client forgets a garbage-collected allocation.
                self.clients.observe(
                    state,
                    &id,
                    now,
                    &mut self.fleet,
                    &mut self.rng_clients,
                    |_, _| Fate::Healthy,
                );
                self.seen.remove(&id);
            }
        }
    }

    fn observe_alloc(&mut self, state: &State, id: &Uuid, now: UnixNanos) {
        let Some(a) = state.alloc(id) else { return };
        self.seen.insert(a.id, a.modify_index);
        // Knobs only matter for an allocation new to its client: its fate is drawn once.
        let knobs = match self.clients.get(id) {
            Some(_) => Default::default(),
            None => match state.job_version(&a.namespace, &a.job_id, a.job_version) {
                Some(job) => {
                    let (k, problems) = knobs(job, &a.task_group);
                    let version = (a.namespace.clone(), a.job_id.clone(), a.job_version);
                    if !problems.is_empty() && self.noted_versions.insert(version) {
                        self.notes
                            .extend(problems.into_iter().map(|problem| Note::Knob {
                                job: a.job_id.to_string(),
                                version: a.job_version,
                                problem,
                            }));
                    }
                    k
                }
                None => Default::default(),
            },
        };
        let fate = if a.is_canary() {
            self.config.canary_fate.or(self.config.fate)
        } else {
            self.config.fate
        }
        .unwrap_or(knobs.fate);
        let timers = self.clients.observe(
            state,
            id,
            now,
            &mut self.fleet,
            &mut self.rng_clients,
            |_, _| fate,
        );
        for (at, event) in timers {
            let at = match (event, knobs.start_delay_ns) {
                (ClientEvent::Start, Some(delay)) => now.saturating_add(delay),
                _ => at,
            };
            self.arm(at, *id, event);
        }
    }

    fn arm(&mut self, at: UnixNanos, alloc: Uuid, event: ClientEvent) {
        self.seq += 1;
        self.timers.insert((at, self.seq), (alloc, event));
    }

    /// The next command to submit now, if any: node registrations first, then
    /// evaluations (acknowledgements, then plans), then due client reports. Call
    /// [`LiveCluster::observe`] with the state the previous command produced before
    /// asking again.
    pub fn next_work(&mut self, state: &State, now: UnixNanos) -> Option<Work> {
        if let Some(work) = self.next_registration(state) {
            return Some(work);
        }
        if let Some(work) = self.next_ack(state) {
            return Some(work);
        }
        let due = self.scheduler.due(state, now);
        for eval in due.now {
            if self.abandoned.contains(&eval) {
                continue;
            }
            if let Some(work) = self.plan_eval(state, eval, now) {
                return Some(work);
            }
        }
        self.next_client_update(state, now)
    }

    /// A node the state does not know, or knows with another status than the fleet's
    /// (`ready` while up, `down` otherwise): its client registers, as Nomad's does when
    /// it starts and on every status change. Level-triggered like the rest, so a node an
    /// operator deregistered registers again.
    fn next_registration(&self, state: &State) -> Option<Work> {
        self.fleet
            .nodes()
            .enumerate()
            .filter(|(i, _)| !self.unregistrable.contains(i))
            .find_map(|(i, n)| {
                let status = if n.up {
                    node_status::READY
                } else {
                    node_status::DOWN
                };
                if state
                    .node(&n.id)
                    .is_some_and(|known| known.status == status)
                {
                    return None;
                }
                Some(Work {
                    ticket: Ticket::NodeRegistration { node: i },
                    command: Command::RegisterNode(RegisterNode {
                        node: dev_node(&n.id, &n.name, status),
                    }),
                })
            })
    }

    /// An evaluation whose plan is applied (or abandoned) and that is still pending.
    fn next_ack(&mut self, state: &State) -> Option<Work> {
        let ready: Vec<(Uuid, bool)> = self
            .evals
            .iter()
            .filter(|(_, p)| p.placed || p.failed)
            .map(|(id, p)| (*id, p.failed))
            .collect();
        for (eval, failed) in ready {
            if !state.eval(&eval).is_some_and(|e| e.is_pending()) {
                // Someone else finished it (an external scheduler, a deregistration).
                self.evals.remove(&eval);
                continue;
            }
            let (status, description) = if failed {
                (
                    eval_status::FAILED,
                    format!(
                        "plan rejected as stale {} times",
                        self.config.max_plan_attempts
                    ),
                )
            } else {
                (eval_status::COMPLETE, String::new())
            };
            return Some(Work {
                ticket: Ticket::Ack { eval },
                command: Command::UpdateEvalStatus(UpdateEvalStatus {
                    eval_id: eval,
                    status: status.to_string(),
                    status_description: description,
                }),
            });
        }
        None
    }

    /// Plans a due evaluation and binds it to nodes. `None` when there is nothing to
    /// submit for it right now (it is then ready to be acknowledged, or was dropped).
    fn plan_eval(&mut self, state: &State, eval: Uuid, now: UnixNanos) -> Option<Work> {
        let p = match plan(state, &eval, now) {
            Ok(p) => p,
            Err(e) => {
                self.notes.push(Note::PlanFailed {
                    eval,
                    error: e.to_string(),
                });
                self.abandoned.insert(eval);
                return None;
            }
        };
        let progress = self.evals.entry(eval).or_default();
        // A plan whose only content is a delayed reschedule is still submitted: applying
        // it is what creates the follow-up evaluation (§3.13 T2).
        let binding = bind(&p, &self.fleet, &mut self.rng_scheduler, false);
        let r: &PlanResult = &binding.result;
        let nothing = r.allocations.is_empty()
            && r.stops.is_empty()
            && r.in_place_updates.is_empty()
            && p.reschedule_later.is_empty();
        if nothing {
            progress.placed = true;
            return self.next_ack(state);
        }
        Some(Work {
            ticket: Ticket::PlanResult { eval },
            command: Command::ApplyPlanResult(binding.result),
        })
    }

    /// Fires due client timers until one produces a report.
    fn next_client_update(&mut self, state: &State, now: UnixNanos) -> Option<Work> {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                return None;
            }
            let (alloc, event) = entry.remove();
            let reaction = self
                .clients
                .handle(state, &alloc, event, now, &mut self.fleet);
            for (at, e) in reaction.timers {
                self.arm(at, alloc, e);
            }
            if let Some(mut update) = reaction.update {
                unhealthy_if_failed_in_deployment(state, &mut update, now);
                return Some(Work {
                    ticket: Ticket::ClientUpdate { alloc },
                    command: Command::UpdateAllocsFromClient(ClientAllocUpdates {
                        allocations: vec![update],
                    }),
                });
            }
        }
        None
    }

    /// How the engine took a command from [`LiveCluster::next_work`]: `None` if it was
    /// applied, else the engine's error.
    pub fn done(&mut self, ticket: Ticket, rejection: Option<&Error>) {
        match (ticket, rejection) {
            (Ticket::PlanResult { eval }, None) => {
                self.evals.entry(eval).or_default().placed = true;
            }
            (Ticket::PlanResult { eval }, Some(Error::StalePlan { .. })) => {
                // Plan again from the newer state, a bounded number of times.
                let max = self.config.max_plan_attempts;
                let p = self.evals.entry(eval).or_default();
                p.stale += 1;
                p.failed = p.stale >= max;
            }
            (Ticket::Ack { eval }, None) => {
                self.evals.remove(&eval);
            }
            (Ticket::PlanResult { eval } | Ticket::Ack { eval }, Some(e)) => {
                self.evals.remove(&eval);
                self.abandoned.insert(eval);
                self.notes.push(Note::Rejected {
                    ticket,
                    error: e.to_string(),
                });
            }
            (Ticket::NodeRegistration { .. }, None) => {}
            (Ticket::NodeRegistration { node }, Some(e)) => {
                self.unregistrable.insert(node);
                self.notes.push(Note::Rejected {
                    ticket,
                    error: e.to_string(),
                });
            }
            (Ticket::ClientUpdate { .. }, None) => {}
            (Ticket::ClientUpdate { .. }, Some(e)) => self.notes.push(Note::Rejected {
                ticket,
                error: e.to_string(),
            }),
        }
    }

    /// Takes node `node` down, as a lost machine: its allocations are reported `lost`
    /// (the returned work) and it registers as `down` next. `None` when the node is
    /// unknown, already down, the last one up, or ran nothing still running.
    pub fn lose_node(&mut self, node: &str, now: UnixNanos) -> Option<Work> {
        let ids = self.fleet.take_down(node)?;
        let updates = self.clients.lose(&ids, now);
        let first = updates.first()?.id;
        Some(Work {
            ticket: Ticket::ClientUpdate { alloc: first },
            command: Command::UpdateAllocsFromClient(ClientAllocUpdates {
                allocations: updates,
            }),
        })
    }

    /// When something is due next without any state change: a client timer, or the
    /// `WaitUntil` of a delayed evaluation.
    pub fn next_wake(&self, state: &State, now: UnixNanos) -> Option<UnixNanos> {
        let timer = self.timers.keys().next().map(|(at, _)| *at);
        let eval = self.scheduler.due(state, now).next_wake;
        [timer, eval].into_iter().flatten().min()
    }
}

/// Nomad's client marks a failed allocation of a deployment unhealthy when nothing set
/// its health yet, whatever the group's health check (`clientAlloc` in the alloc runner):
/// otherwise a manual-health deployment would wait for its progress deadline to notice
/// an allocation that could not even start. The deterministic clients only report
/// health for automatic checks, so the live cluster adds it here.
fn unhealthy_if_failed_in_deployment(state: &State, u: &mut ClientAllocUpdate, now: UnixNanos) {
    if u.client_status != client_status::FAILED || u.deployment_status.is_some() {
        return;
    }
    let Some(a) = state.alloc(&u.id) else { return };
    if a.deployment_id.is_some() && !a.has_health() {
        u.deployment_status = Some(ClientDeploymentStatus {
            healthy: Some(false),
            timestamp: Timestamp(now),
            canary: false,
        });
    }
}

/// A simulated node as its client registers it: datacenter `dc1`, the `mock` driver the
/// simulator stands for, Linux attributes as Nomad fingerprints them.
fn dev_node(id: &str, name: &str, status: &str) -> Node {
    let attributes = [
        ("kernel.name", "linux"),
        ("os.name", "rollout-sim"),
        ("driver.mock", "1"),
        ("nomad.version", env!("CARGO_PKG_VERSION")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Node {
        id: id.to_string(),
        name: name.to_string(),
        datacenter: "dc1".to_string(),
        status: status.to_string(),
        attributes,
        drivers: Some(serde_json::json!({
            "mock": {"Detected": true, "Healthy": true, "HealthDescription": "Healthy"}
        })),
        ..Node::default()
    }
}
