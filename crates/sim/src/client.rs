//! Simulated clients: what a Nomad client does with an allocation once it is placed.
//!
//! A client starts the allocation after a start delay, reports `running`, and — when the
//! allocation is part of a deployment whose group health-checks automatically (§3.3) —
//! reports it healthy after `min_healthy_time`, or unhealthy if that cannot happen before
//! `healthy_deadline`. Health is reported once per deployment; an in-place update that
//! moves the allocation into another deployment starts the watch over. Groups with
//! `health_check = "manual"` never get client health: the operator marks them.
//!
//! Every report carries the allocation's whole `TaskStates` map, as Nomad's client sends
//! it: one state per task of the group, with the events Nomad's task runner records
//! ([`crate::tasks`]).
//!
//! The client decides nothing about the cluster: it only turns the allocation's [`Fate`]
//! and the clock into `UpdateAllocsFromClient` commands, which the simulation applies.

use crate::faults::Fate;
use crate::fleet::Fleet;
use crate::jobs::release_of;
use crate::rng::SimRng;
use crate::tasks::{self, TaskSpec};
use rollout_engine::command::{ClientAllocUpdate, ClientDeploymentStatus};
use rollout_engine::model::{
    client_status, Allocation, DurationNs, SmallMap, TaskState, Timestamp, UnixNanos,
};
use rollout_engine::State;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Client timing knobs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// Placement to task start (image pull, …), drawn uniformly per allocation.
    pub start_delay_ns: (DurationNs, DurationNs),
    /// Stop request to `complete` (kill timeout, shutdown delay).
    pub stop_delay_ns: (DurationNs, DurationNs),
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            start_delay_ns: (1_000_000_000, 3_000_000_000),
            stop_delay_ns: (500_000_000, 2_000_000_000),
        }
    }
}

/// How an allocation's health is decided (§3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthPolicy {
    /// Not in a deployment, or the group has no update strategy: nobody reports health.
    None,
    /// `health_check = "manual"`: only `SetAllocHealth` sets it.
    Manual { min_healthy_ns: DurationNs },
    /// `checks` / `task_states`: the client reports it.
    Auto {
        min_healthy_ns: DurationNs,
        healthy_deadline_ns: DurationNs,
    },
}

/// The health policy of a stored allocation: its group's update block in the job
/// version it runs.
pub fn health_policy(state: &State, a: &Allocation) -> HealthPolicy {
    if a.deployment_id.is_none() {
        return HealthPolicy::None;
    }
    let strategy = state
        .job_version(&a.namespace, &a.job_id, a.job_version)
        .and_then(|j| j.group(&a.task_group))
        .and_then(|g| g.strategy());
    match strategy {
        None => HealthPolicy::None,
        Some(s) if s.is_manual_health() => HealthPolicy::Manual {
            min_healthy_ns: s.min_healthy_time,
        },
        Some(s) => HealthPolicy::Auto {
            min_healthy_ns: s.min_healthy_time,
            healthy_deadline_ns: s.healthy_deadline,
        },
    }
}

/// Something a client does at a scheduled time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientEvent {
    /// The task starts (or fails to).
    Start,
    /// `min_healthy_time` of continuous health passed (for health watch `generation`).
    Healthy { generation: u32 },
    /// `healthy_deadline` passed without health (for health watch `generation`).
    DeadlineMissed { generation: u32 },
    /// The task fails ([`Fate::FailAfter`]).
    Fail,
    /// The server asked to stop it and it has now exited.
    Stopped,
}

/// The client's view of one allocation.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientAlloc {
    pub id: Uuid,
    pub node_id: String,
    pub fate: Fate,
    /// When the task started running, if it has.
    pub started_at: Option<UnixNanos>,
    /// The client reported a terminal status (`failed`, `lost`, `complete`).
    pub terminal: bool,
    /// A stop was requested and its completion is scheduled.
    pub stopping: bool,
    /// The deployment whose health watch is running.
    pub deployment_id: Option<Uuid>,
    /// When the current health watch began (the healthy deadline counts from here).
    pub watch_from: UnixNanos,
    /// Bumped whenever the health watch restarts, so stale timers are ignored.
    pub generation: u32,
    /// The group's tasks, in the job's order.
    pub tasks: Vec<TaskSpec>,
    /// When the stop request arrived (the `Killing` events' time).
    pub kill_requested_at: Option<UnixNanos>,
    /// What every report carries as `TaskStates`.
    pub task_states: SmallMap<TaskState>,
}

impl ClientAlloc {
    /// The task whose failure fails the allocation: the group's first.
    fn failing_task(&self) -> Option<TaskSpec> {
        self.tasks.first().cloned()
    }

    /// The task states after the task failed (and its siblings were killed).
    fn fail_tasks(&mut self, now: UnixNanos) {
        if let Some(failed) = self.failing_task() {
            tasks::on_failed(&mut self.task_states, &self.tasks, &failed, now);
        }
    }

    /// An update with status `status`, health `healthy` and the current task states.
    fn report(&self, status: &str, healthy: Option<bool>, now: UnixNanos) -> ClientAllocUpdate {
        ClientAllocUpdate {
            task_states: Some(self.task_states.clone()),
            ..update(self.id, status, healthy, now)
        }
    }
}

/// The group's tasks in the job version the allocation runs.
fn task_specs(state: &State, a: &Allocation) -> Vec<TaskSpec> {
    state
        .job_version(&a.namespace, &a.job_id, a.job_version)
        .and_then(|j| j.group(&a.task_group))
        .map(|g| g.tasks.iter().map(TaskSpec::of).collect())
        .unwrap_or_default()
}

/// Every allocation's client, keyed by allocation ID.
#[derive(Clone, Debug, Default)]
pub struct Clients {
    config: ClientConfig,
    allocs: BTreeMap<Uuid, ClientAlloc>,
}

/// A client update to apply, and timers to arm.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reaction {
    pub update: Option<ClientAllocUpdate>,
    pub timers: Vec<(UnixNanos, ClientEvent)>,
}

impl Clients {
    pub fn new(config: ClientConfig) -> Clients {
        Clients {
            config,
            allocs: BTreeMap::new(),
        }
    }

    pub fn get(&self, id: &Uuid) -> Option<&ClientAlloc> {
        self.allocs.get(id)
    }

    pub fn len(&self) -> usize {
        self.allocs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.allocs.is_empty()
    }

    /// The client sees the stored allocation after a write touched it: a new placement
    /// (draw its fate, arm the start), a stop request (arm the exit), or a move into
    /// another deployment by an in-place update (restart the health watch). `fate` draws
    /// a new allocation's fate from its release and group.
    pub fn observe(
        &mut self,
        state: &State,
        id: &Uuid,
        now: UnixNanos,
        fleet: &mut Fleet,
        rng: &mut SimRng,
        fate: impl FnOnce(&str, &str) -> Fate,
    ) -> Vec<(UnixNanos, ClientEvent)> {
        let Some(a) = state.alloc(id) else {
            // Purged: the client forgets it.
            if let Some(c) = self.allocs.remove(id) {
                fleet.release(&c.node_id, id);
            }
            return Vec::new();
        };
        let Some(c) = self.allocs.get_mut(id) else {
            if a.client_terminal() {
                return Vec::new();
            }
            let release = state
                .job_version(&a.namespace, &a.job_id, a.job_version)
                .and_then(|j| release_of(j, &a.task_group))
                .unwrap_or_default();
            let fate = fate(&release, &a.task_group);
            fleet.assign(&a.node_id, a.id);
            let tasks = task_specs(state, a);
            let task_states = tasks::on_received(&tasks, now);
            self.allocs.insert(
                a.id,
                ClientAlloc {
                    id: a.id,
                    node_id: a.node_id.to_string(),
                    fate,
                    started_at: None,
                    terminal: false,
                    stopping: false,
                    deployment_id: a.deployment_id,
                    watch_from: now,
                    generation: 0,
                    tasks,
                    kill_requested_at: None,
                    task_states,
                },
            );
            let (lo, hi) = self.config.start_delay_ns;
            return vec![(now + rng.range_i64(lo, hi), ClientEvent::Start)];
        };
        let mut timers = Vec::new();
        if c.terminal {
            return timers;
        }
        if a.server_terminal() && !c.stopping {
            c.stopping = true;
            c.kill_requested_at = Some(now);
            let (lo, hi) = self.config.stop_delay_ns;
            timers.push((now + rng.range_i64(lo, hi), ClientEvent::Stopped));
            return timers;
        }
        if a.deployment_id != c.deployment_id {
            c.deployment_id = a.deployment_id;
            c.generation += 1;
            c.watch_from = now;
            if c.started_at.is_some() && !c.stopping {
                timers.extend(health_timers(c, health_policy(state, a), now));
            }
        }
        timers
    }

    /// Runs a timer. Returns the update to send (if any) and follow-up timers.
    pub fn handle(
        &mut self,
        state: &State,
        id: &Uuid,
        event: ClientEvent,
        now: UnixNanos,
        fleet: &mut Fleet,
    ) -> Reaction {
        let Some(c) = self.allocs.get_mut(id) else {
            return Reaction::default();
        };
        let Some(a) = state.alloc(id) else {
            return Reaction::default();
        };
        if c.terminal {
            return Reaction::default();
        }
        let policy = health_policy(state, a);
        let wants_auto_health = matches!(policy, HealthPolicy::Auto { .. }) && !a.has_health();
        let mut reaction = Reaction::default();
        match event {
            ClientEvent::Start => {
                if c.stopping {
                    return reaction;
                }
                c.started_at = Some(now);
                tasks::on_started(&mut c.task_states, now);
                if c.fate == Fate::FailToStart {
                    c.terminal = true;
                    fleet.release(&c.node_id, id);
                    c.fail_tasks(now);
                    reaction.update = Some(c.report(
                        client_status::FAILED,
                        wants_auto_health.then_some(false),
                        now,
                    ));
                    return reaction;
                }
                reaction.update = Some(c.report(client_status::RUNNING, None, now));
                if let Fate::FailAfter { after_ns } = c.fate {
                    reaction.timers.push((now + after_ns, ClientEvent::Fail));
                }
                reaction.timers.extend(health_timers(c, policy, now));
            }
            ClientEvent::Healthy { generation } | ClientEvent::DeadlineMissed { generation } => {
                if generation != c.generation || c.stopping || !wants_auto_health {
                    return reaction;
                }
                let healthy = matches!(event, ClientEvent::Healthy { .. });
                reaction.update = Some(c.report(client_status::RUNNING, Some(healthy), now));
            }
            ClientEvent::Fail => {
                if c.stopping {
                    return reaction;
                }
                c.terminal = true;
                fleet.release(&c.node_id, id);
                c.fail_tasks(now);
                reaction.update = Some(c.report(
                    client_status::FAILED,
                    wants_auto_health.then_some(false),
                    now,
                ));
            }
            ClientEvent::Stopped => {
                c.terminal = true;
                fleet.release(&c.node_id, id);
                let requested = c.kill_requested_at.unwrap_or(now);
                tasks::on_stopped(&mut c.task_states, &c.tasks, requested, now);
                reaction.update = Some(c.report(client_status::COMPLETE, None, now));
            }
        }
        reaction
    }

    /// A node was lost: every allocation it ran is reported `lost` (without health: the
    /// client is gone and cannot judge it).
    pub fn lose(&mut self, ids: &[Uuid], now: UnixNanos) -> Vec<ClientAllocUpdate> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(c) = self.allocs.get_mut(id) {
                if !c.terminal {
                    c.terminal = true;
                    out.push(update(*id, client_status::LOST, None, now));
                }
            }
        }
        out
    }
}

/// Health timers of a watch starting now: healthy after `min_healthy_time` unless the
/// deadline comes first; a hanging allocation only ever misses the deadline.
fn health_timers(
    c: &ClientAlloc,
    policy: HealthPolicy,
    now: UnixNanos,
) -> Vec<(UnixNanos, ClientEvent)> {
    let HealthPolicy::Auto {
        min_healthy_ns,
        healthy_deadline_ns,
    } = policy
    else {
        return Vec::new();
    };
    let generation = c.generation;
    let deadline = c.watch_from + healthy_deadline_ns;
    let healthy_at = now + min_healthy_ns;
    match c.fate {
        Fate::Healthy | Fate::FailAfter { .. } if healthy_at < deadline => {
            vec![(healthy_at, ClientEvent::Healthy { generation })]
        }
        _ => vec![(
            deadline.max(now),
            ClientEvent::DeadlineMissed { generation },
        )],
    }
}

fn update(id: Uuid, status: &str, healthy: Option<bool>, now: UnixNanos) -> ClientAllocUpdate {
    ClientAllocUpdate {
        id,
        client_status: status.to_string(),
        deployment_status: healthy.map(|h| ClientDeploymentStatus {
            healthy: Some(h),
            timestamp: Timestamp(now),
            canary: false,
        }),
        modify_time: now,
        ..ClientAllocUpdate::default()
    }
}
