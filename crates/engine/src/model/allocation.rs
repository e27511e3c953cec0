//! Allocations and the per-allocation deployment bookkeeping (§1.3–§1.6, `http-api.md` §7.4).
//!
//! The engine stores an allocation with the job *version* it runs instead of a copy of the
//! job (Nomad denormalises the whole job into every allocation); readers join the two.

use super::compact::{Opaque, SmallMap};
use super::id::empty_as_none;
use super::skip::{is_zero_i64, is_zero_u64};
use super::time::{DurationNs, Timestamp, UnixNanos};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod desired_status {
    pub const RUN: &str = "run";
    pub const STOP: &str = "stop";
    pub const EVICT: &str = "evict";
}

pub mod client_status {
    pub const PENDING: &str = "pending";
    pub const RUNNING: &str = "running";
    pub const COMPLETE: &str = "complete";
    pub const FAILED: &str = "failed";
    pub const LOST: &str = "lost";
    pub const UNKNOWN: &str = "unknown";
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Allocation {
    #[serde(rename = "ID")]
    pub id: Uuid,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(
        rename = "EvalID",
        with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub eval_id: Option<Uuid>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "NodeID", skip_serializing_if = "String::is_empty")]
    pub node_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node_name: String,
    #[serde(rename = "JobID", skip_serializing_if = "String::is_empty")]
    pub job_id: String,
    /// The job version this allocation runs (Nomad embeds the whole job instead).
    pub job_version: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub task_group: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocated_resources: Option<Opaque>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Opaque>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub desired_status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub desired_description: String,
    pub desired_transition: DesiredTransition,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_states: Option<SmallMap<TaskState>>,
    #[serde(
        rename = "DeploymentID",
        with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub deployment_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_status: Option<AllocDeploymentStatus>,
    /// Boxed: most allocations were never rescheduled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reschedule_tracker: Option<Box<RescheduleTracker>>,
    #[serde(
        rename = "FollowupEvalID",
        with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub followup_eval_id: Option<Uuid>,
    #[serde(with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub previous_allocation: Option<Uuid>,
    #[serde(with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub next_allocation: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preempted_allocations: Option<Vec<String>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub preempted_by_allocation: String,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub create_index: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub modify_index: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub alloc_modify_index: u64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub create_time: UnixNanos,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub modify_time: UnixNanos,
}

impl Allocation {
    /// `ServerTerminal`: the server wants it stopped or evicted.
    pub fn server_terminal(&self) -> bool {
        matches!(
            self.desired_status.as_str(),
            desired_status::STOP | desired_status::EVICT
        )
    }

    /// `ClientTerminal`: the client reports it finished, failed or lost.
    pub fn client_terminal(&self) -> bool {
        matches!(
            self.client_status.as_str(),
            client_status::COMPLETE | client_status::FAILED | client_status::LOST
        )
    }

    pub fn terminal(&self) -> bool {
        self.server_terminal() || self.client_terminal()
    }

    pub fn health(&self) -> Option<bool> {
        self.deployment_status.as_ref().and_then(|s| s.healthy)
    }
    pub fn has_health(&self) -> bool {
        self.health().is_some()
    }
    pub fn is_healthy(&self) -> bool {
        self.health() == Some(true)
    }
    pub fn is_unhealthy(&self) -> bool {
        self.health() == Some(false)
    }
    pub fn is_canary(&self) -> bool {
        self.deployment_status.as_ref().is_some_and(|s| s.canary)
    }

    /// The `n` of a `job.group[n]` name, if the name has that shape.
    pub fn name_index(&self) -> Option<u64> {
        parse_name_index(&self.name)
    }
}

/// The `n` of `job.group[n]`.
pub fn parse_name_index(name: &str) -> Option<u64> {
    let open = name.rfind('[')?;
    let inner = name.get(open + 1..)?.strip_suffix(']')?;
    inner.parse().ok()
}

/// `job.group[n]`, the allocation name Nomad derives from its slot.
pub fn alloc_name(job_id: &str, group: &str, index: u64) -> String {
    format!("{job_id}.{group}[{index}]")
}

/// `DeploymentStatus` of an allocation (§1.3).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocDeploymentStatus {
    pub canary: bool,
    pub healthy: Option<bool>,
    pub modify_index: u64,
    pub timestamp: Timestamp,
}

/// `DesiredTransition` (§1.5): a value object, never null.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DesiredTransition {
    pub force_reschedule: Option<bool>,
    pub migrate: Option<bool>,
    pub migrate_disable_placement: Option<bool>,
    pub no_shutdown_delay: Option<bool>,
    pub reschedule: Option<bool>,
}

impl DesiredTransition {
    pub fn should_reschedule(&self) -> bool {
        self.reschedule == Some(true)
    }

    /// Every non-null field of `incoming` overwrites the stored one (§1.5).
    pub fn merge(&mut self, incoming: &DesiredTransition) {
        let fields = [
            (&mut self.force_reschedule, incoming.force_reschedule),
            (&mut self.migrate, incoming.migrate),
            (
                &mut self.migrate_disable_placement,
                incoming.migrate_disable_placement,
            ),
            (&mut self.no_shutdown_delay, incoming.no_shutdown_delay),
            (&mut self.reschedule, incoming.reschedule),
        ];
        for (slot, value) in fields {
            if value.is_some() {
                *slot = value;
            }
        }
    }
}

/// `RescheduleTracker` (§1.6).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RescheduleTracker {
    pub events: Option<Vec<RescheduleEvent>>,
    pub last_reschedule: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RescheduleEvent {
    pub delay: DurationNs,
    #[serde(rename = "PrevAllocID")]
    pub prev_alloc_id: String,
    #[serde(rename = "PrevNodeID")]
    pub prev_node_id: String,
    pub reschedule_time: UnixNanos,
}

/// A task's state as the client reports it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskState {
    pub events: Option<Vec<TaskEvent>>,
    pub failed: bool,
    pub finished_at: Timestamp,
    pub last_restart: Timestamp,
    pub paused: String,
    pub restarts: u64,
    pub started_at: Timestamp,
    pub state: String,
}

/// A task event. Every key is always present on the wire.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskEvent {
    pub details: Option<SmallMap<String>>,
    pub disk_limit: i64,
    pub display_message: String,
    pub download_error: String,
    pub driver_error: String,
    pub driver_message: String,
    pub exit_code: i64,
    pub failed_sibling: String,
    pub fails_task: bool,
    pub generic_source: String,
    pub kill_error: String,
    pub kill_reason: String,
    pub kill_timeout: DurationNs,
    pub message: String,
    pub restart_reason: String,
    pub setup_error: String,
    pub signal: i64,
    pub start_delay: i64,
    pub task_signal: String,
    pub task_signal_reason: String,
    pub time: UnixNanos,
    #[serde(rename = "Type")]
    pub event_type: String,
    pub validation_error: String,
    pub vault_error: String,
}

/// `AllocListStub` (`http-api.md` §7.4): every key always present (no zero omission).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocListStub {
    pub client_description: String,
    pub client_status: String,
    pub create_index: u64,
    pub create_time: UnixNanos,
    pub deployment_status: Option<AllocDeploymentStatus>,
    pub desired_description: String,
    pub desired_status: String,
    pub desired_transition: DesiredTransition,
    #[serde(rename = "EvalID", with = "empty_as_none")]
    pub eval_id: Option<Uuid>,
    #[serde(rename = "FollowupEvalID", with = "empty_as_none")]
    pub followup_eval_id: Option<Uuid>,
    #[serde(rename = "ID")]
    pub id: Uuid,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub job_type: String,
    pub job_version: u64,
    pub modify_index: u64,
    pub modify_time: UnixNanos,
    pub name: String,
    pub namespace: String,
    #[serde(with = "empty_as_none")]
    pub next_allocation: Option<Uuid>,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub node_name: String,
    pub preempted_allocations: Option<Vec<String>>,
    pub preempted_by_allocation: String,
    pub reschedule_tracker: Option<RescheduleTracker>,
    pub task_group: String,
    pub task_states: Option<SmallMap<TaskState>>,
}

impl AllocListStub {
    pub fn new(alloc: &Allocation, job_type: &str) -> AllocListStub {
        AllocListStub {
            client_description: alloc.client_description.clone(),
            client_status: alloc.client_status.clone(),
            create_index: alloc.create_index,
            create_time: alloc.create_time,
            deployment_status: alloc.deployment_status.clone(),
            desired_description: alloc.desired_description.clone(),
            desired_status: alloc.desired_status.clone(),
            desired_transition: alloc.desired_transition.clone(),
            eval_id: alloc.eval_id,
            followup_eval_id: alloc.followup_eval_id,
            id: alloc.id,
            job_id: alloc.job_id.clone(),
            job_type: job_type.to_string(),
            job_version: alloc.job_version,
            modify_index: alloc.modify_index,
            modify_time: alloc.modify_time,
            name: alloc.name.clone(),
            namespace: alloc.namespace.clone(),
            next_allocation: alloc.next_allocation,
            node_id: alloc.node_id.clone(),
            node_name: alloc.node_name.clone(),
            preempted_allocations: alloc.preempted_allocations.clone(),
            preempted_by_allocation: alloc.preempted_by_allocation.clone(),
            reschedule_tracker: alloc.reschedule_tracker.as_deref().cloned(),
            task_group: alloc.task_group.clone(),
            task_states: alloc.task_states.clone(),
        }
    }
}
