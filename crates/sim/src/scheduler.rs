//! The simulated scheduler: pending evaluations → the engine's planner → placements bound
//! to nodes → a plan result → the evaluation acknowledged.
//!
//! This is the loop every embedder writes (see [`crate::Simulation`] for the driving
//! code): the engine says *what* to place, update and stop; the scheduler says *where*.
//! Plans can be made to lag behind the state (`plan_latency_ns`) so that other writes
//! land between planning and submitting: the engine then rejects the result as stale and
//! the scheduler plans again, as Nomad's plan applier forces a re-plan.

use crate::fleet::Fleet;
use crate::rng::SimRng;
use rollout_engine::command::{AllocStop, PlacedAllocation, PlanResult};
use rollout_engine::model::{DurationNs, UnixNanos};
use rollout_engine::reconcile::PlacementKind;
use rollout_engine::{Plan, State};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// Scheduler knobs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchedulerConfig {
    /// Time an evaluation waits in the broker before a worker picks it up.
    pub eval_delay_ns: (DurationNs, DurationNs),
    /// Time between computing a plan and submitting it (0: at once).
    pub plan_latency_ns: (DurationNs, DurationNs),
    /// Chance that only part of a plan's placements is submitted (the engine accepts a
    /// subset; the rest is planned again).
    pub partial_plan_chance: f64,
    /// Evaluations processed per wake-up; the rest waits for the next one.
    pub max_evals_per_wake: usize,
    /// Re-plans after a stale rejection before the scheduler gives up on the evaluation.
    pub max_plan_attempts: u32,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            eval_delay_ns: (100_000_000, 500_000_000),
            plan_latency_ns: (0, 0),
            partial_plan_chance: 0.0,
            max_evals_per_wake: 16,
            max_plan_attempts: 4,
        }
    }
}

/// A plan waiting to be submitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlight {
    pub plan: Plan,
    pub attempts: u32,
}

/// The scheduler's own state: plans in flight.
#[derive(Clone, Debug, Default)]
pub struct Scheduler {
    pub config: SchedulerConfig,
    in_flight: BTreeMap<Uuid, InFlight>,
}

/// Which pending evaluations to work on now, and when the next one becomes due.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Due {
    pub now: Vec<Uuid>,
    /// The earliest `WaitUntil` (or the time of evaluations left over by the per-wake
    /// limit) at which a wake-up is needed.
    pub next_wake: Option<UnixNanos>,
}

impl Scheduler {
    pub fn new(config: SchedulerConfig) -> Scheduler {
        Scheduler {
            config,
            in_flight: BTreeMap::new(),
        }
    }

    /// Pending evaluations not already being planned, oldest first. Evaluations whose
    /// `WaitUntil` is in the future are not due (a delayed reschedule, §3.13 T2).
    pub fn due(&self, state: &State, now: UnixNanos) -> Due {
        let mut due = Due::default();
        for e in state.pending_evals() {
            if self.in_flight.contains_key(&e.id) {
                continue;
            }
            let wait_until = e.wait_until.nanos();
            if wait_until > now {
                due.next_wake = Some(due.next_wake.map_or(wait_until, |w| w.min(wait_until)));
            } else if due.now.len() < self.config.max_evals_per_wake {
                due.now.push(e.id);
            } else {
                due.next_wake = Some(now);
            }
        }
        due
    }

    pub fn hold(&mut self, plan: Plan, attempts: u32) {
        self.in_flight
            .insert(plan.eval_id, InFlight { plan, attempts });
    }

    pub fn take(&mut self, eval: &Uuid) -> Option<InFlight> {
        self.in_flight.remove(eval)
    }

    pub fn in_flight_count(&self) -> usize {
        self.in_flight.len()
    }
}

/// A plan bound to nodes, with the kind of each submitted placement (kept by the
/// simulation to check the `max_parallel` property).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Binding {
    pub result: PlanResult,
    pub kinds: Vec<PlacementKind>,
}

/// Binds a plan's placements to nodes. With `partial`, only a random non-empty prefix of
/// the placements is kept, and the stops that belong to dropped destructive replacements
/// are dropped with them (stopping an old allocation without placing its replacement
/// would be a different plan, not a part of this one). Placements for which no node is
/// up are dropped too.
pub fn bind(plan: &Plan, fleet: &Fleet, rng: &mut SimRng, partial: bool) -> Binding {
    let mut keep = plan.placements.len();
    if partial && keep > 1 {
        keep = rng.range_u64(1, keep as u64 - 1) as usize;
    }
    let mut load: BTreeMap<String, usize> = fleet
        .nodes()
        .filter(|n| n.up)
        .map(|n| (n.id.clone(), n.allocs.len()))
        .collect();
    let names: BTreeMap<String, String> = fleet
        .nodes()
        .map(|n| (n.id.clone(), n.name.clone()))
        .collect();
    let mut binding = Binding {
        result: PlanResult {
            eval_id: plan.eval_id,
            snapshot_index: plan.snapshot_index,
            deployment_id: plan.deployment_id,
            in_place_updates: plan.in_place_updates.iter().map(|u| u.alloc_id).collect(),
            ..PlanResult::default()
        },
        kinds: Vec::new(),
    };
    let mut dropped_previous: BTreeSet<Uuid> = BTreeSet::new();
    for (i, p) in plan.placements.iter().enumerate() {
        let node = (i < keep).then(|| least_loaded(&load, rng)).flatten();
        let Some(node) = node else {
            if let Some(prev) = p.previous_allocation {
                dropped_previous.insert(prev);
            }
            continue;
        };
        *load.entry(node.clone()).or_default() += 1;
        binding.result.allocations.push(PlacedAllocation {
            name: p.name.clone(),
            task_group: p.task_group.clone(),
            job_version: p.job_version,
            canary: p.canary,
            previous_allocation: p.previous_allocation,
            node_name: names.get(&node).cloned().unwrap_or_default(),
            node_id: node,
            ..PlacedAllocation::default()
        });
        binding.kinds.push(p.kind);
    }
    binding.result.stops = plan
        .stops
        .iter()
        .filter(|s| !dropped_previous.contains(&s.alloc_id))
        .map(|s| AllocStop {
            alloc_id: s.alloc_id,
            description: String::new(),
        })
        .collect();
    binding
}

fn least_loaded(load: &BTreeMap<String, usize>, rng: &mut SimRng) -> Option<String> {
    let min = load.values().min()?;
    let candidates: Vec<&String> = load
        .iter()
        .filter(|(_, l)| *l == min)
        .map(|(n, _)| n)
        .collect();
    rng.pick(&candidates).map(|n| (*n).clone())
}
