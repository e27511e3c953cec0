//! What happens next, from a given state: the live cluster ([`LiveCluster`]) continues
//! it on a virtual clock, under stated assumptions (every allocation healthy, canaries
//! failing, a node lost at some time), and the engine's changes are told as a timeline.
//! This is what `rollout what-if` runs from an agent's state and `rollout replay
//! --simulate` from a replayed one. Nothing is written anywhere: the state is a copy.
//!
//! Deterministic: the same state, assumptions and seed give the same timeline, in
//! milliseconds of real time however long the virtual run.

use crate::faults::Fate;
use crate::live::{LiveCluster, LiveConfig, Ticket};
use crate::timeline::{narrate, Actor, Entry};
use rollout_engine::model::DurationNs;
use rollout_engine::{next_deadline, Command, DeploymentEngine, SeededStamp, State, VirtualClock};
use std::fmt;
use std::str::FromStr;

/// What the run assumes about the allocations and nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assumption {
    /// Every allocation starts and passes its checks (unless its job's knobs say
    /// otherwise).
    Healthy,
    /// Every canary runs but never passes its checks; other allocations are healthy.
    CanaryFails,
    /// Every allocation new to its client runs but never passes its checks.
    Unhealthy,
    /// The node running most of the watched job's allocations is lost this long after
    /// the start (allocations otherwise healthy).
    NodeLost { after_ns: DurationNs },
}

impl fmt::Display for Assumption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Assumption::Healthy => f.write_str("healthy"),
            Assumption::CanaryFails => f.write_str("canary-fails"),
            Assumption::Unhealthy => f.write_str("unhealthy"),
            Assumption::NodeLost { after_ns } => {
                write!(f, "node-lost@{}s", after_ns / 1_000_000_000)
            }
        }
    }
}

/// `healthy`, `canary-fails`, `unhealthy`, `node-lost@30s` (Go durations: `90s`, `2m`,
/// `1m30s`).
impl FromStr for Assumption {
    type Err = String;

    fn from_str(s: &str) -> Result<Assumption, String> {
        match s {
            "healthy" => Ok(Assumption::Healthy),
            "canary-fails" => Ok(Assumption::CanaryFails),
            "unhealthy" => Ok(Assumption::Unhealthy),
            _ => match s.strip_prefix("node-lost@") {
                Some(at) => rollout_engine::model::parse_go_duration(at)
                    .ok()
                    .filter(|ns| *ns >= 0)
                    .map(|after_ns| Assumption::NodeLost { after_ns })
                    .ok_or_else(|| {
                        format!("invalid time {at:?} in {s:?}: use a duration such as 30s or 2m")
                    }),
                None => Err(format!(
                    "unknown assumption {s:?}: use healthy, canary-fails, unhealthy or node-lost@DURATION"
                )),
            },
        }
    }
}

/// How to run.
#[derive(Clone, Debug, PartialEq)]
pub struct WhatIf {
    pub assumption: Assumption,
    /// Seeds the cluster's choices and the new IDs.
    pub seed: u64,
    /// How much virtual time the run may take at most.
    pub horizon_ns: DurationNs,
    /// The job whose allocations `node-lost` looks at: (namespace, job ID).
    pub job: Option<(String, String)>,
}

/// What the run did.
#[derive(Clone, Debug)]
pub struct Continuation {
    /// What changed, command by command, with virtual time since the start.
    pub entries: Vec<Entry>,
    /// The state at the end.
    pub state: State,
    /// Virtual time the run took.
    pub elapsed_ns: DurationNs,
    /// Why it ended.
    pub end: End,
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The caller's condition held.
    Reached,
    /// Nothing more would happen without someone acting (a manual promotion, say).
    Quiet,
    /// The horizon passed first.
    Horizon,
    /// The step bound was hit (a run that never settles).
    Steps,
}

/// At most this many commands per run.
const MAX_STEPS: usize = 100_000;

/// Continues `state` under `what`, until `done` holds for the state, nothing more is
/// due, or the horizon passes.
pub fn continue_from(state: State, what: &WhatIf, done: impl Fn(&State) -> bool) -> Continuation {
    let start = state.now().max(1);
    let clock = VirtualClock::new(start);
    let mut engine =
        DeploymentEngine::from_state(state, SeededStamp::new(what.seed, clock.clone()));
    let mut config = LiveConfig::dev(what.seed);
    match what.assumption {
        Assumption::Healthy | Assumption::NodeLost { .. } => {}
        Assumption::CanaryFails => config.canary_fate = Some(Fate::Hang),
        Assumption::Unhealthy => config.fate = Some(Fate::Hang),
    }
    let mut cluster = LiveCluster::new(config);
    let mut node_loss = match what.assumption {
        Assumption::NodeLost { after_ns } => Some(start.saturating_add(after_ns)),
        _ => None,
    };
    let horizon = start.saturating_add(what.horizon_ns);
    let mut entries = Vec::new();
    let mut end = End::Steps;
    for _ in 0..MAX_STEPS {
        if done(engine.state()) {
            end = End::Reached;
            break;
        }
        let now = clock.now();
        cluster.observe(engine.state(), now);
        cluster.drain_notes();
        let lost = node_loss
            .filter(|at| *at <= now)
            .and_then(|_| busiest_node(engine.state(), what.job.as_ref()))
            .and_then(|node| {
                node_loss = None;
                cluster.lose_node(&node, now)
            });
        if let Some(work) = lost.or_else(|| cluster.next_work(engine.state(), now)) {
            let actor = match work.ticket {
                Ticket::PlanResult { .. } | Ticket::Ack { .. } => Actor::Scheduler,
                Ticket::ClientUpdate { .. } | Ticket::NodeRegistration { .. } => Actor::Client,
            };
            let before = engine.state().clone();
            let result = engine.submit(work.command);
            cluster.done(work.ticket, result.as_ref().err());
            if let Ok(applied) = result {
                record(&mut entries, &before, &applied, actor, start);
            }
            continue;
        }
        let deadline = next_deadline(engine.state());
        let wake = cluster.next_wake(engine.state(), now);
        let Some(next) = [deadline, wake, node_loss].into_iter().flatten().min() else {
            end = End::Quiet;
            break;
        };
        if next > horizon {
            end = End::Horizon;
            break;
        }
        clock.set(now.max(next));
        if deadline.is_some_and(|d| d <= clock.now()) {
            let before = engine.state().clone();
            if let Ok(applied) = engine.submit(Command::Tick) {
                record(&mut entries, &before, &applied, Actor::Clock, start);
            }
        }
    }
    Continuation {
        entries,
        elapsed_ns: clock.now() - start,
        state: engine.into_state(),
        end,
    }
}

/// Narrates one applied command; commands that changed nothing worth telling (an
/// evaluation acknowledged, a node heartbeat) add no line.
fn record(
    entries: &mut Vec<Entry>,
    before: &State,
    applied: &rollout_engine::Applied,
    actor: Actor,
    start: i64,
) {
    for text in narrate(before, &applied.state, &applied.envelope, &applied.outcome) {
        entries.push(Entry {
            elapsed_ns: applied.envelope.now - start,
            index: applied.envelope.index,
            actor,
            text,
        });
    }
}

/// The node with the most live allocations of `job` (of any job without one); ties go
/// to the lowest ID, so the choice is deterministic.
fn busiest_node(state: &State, job: Option<&(String, String)>) -> Option<String> {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    let allocs = state.allocs_in_namespace(job.map(|(ns, _)| ns.as_str()));
    for a in allocs {
        let of_job = job.is_none_or(|(_, id)| a.job_id == *id);
        if of_job && !a.terminal() && !a.node_id.is_empty() {
            *counts.entry(a.node_id.as_str()).or_default() += 1;
        }
    }
    let max = counts.values().copied().max()?;
    counts
        .into_iter()
        .find(|(_, n)| *n == max)
        .map(|(node, _)| node.to_string())
}
