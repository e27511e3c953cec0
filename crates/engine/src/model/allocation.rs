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
#[serde(default)]
pub struct Allocation {
    #[serde(rename = "ID")]
    pub id: Uuid,
    #[serde(rename = "Namespace", skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(
        rename = "EvalID",
        with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub eval_id: Option<Uuid>,
    #[serde(rename = "Name", skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "NodeID", skip_serializing_if = "String::is_empty")]
    pub node_id: String,
    #[serde(rename = "NodeName", skip_serializing_if = "String::is_empty")]
    pub node_name: String,
    #[serde(rename = "JobID", skip_serializing_if = "String::is_empty")]
    pub job_id: String,
    /// The job version this allocation runs (Nomad embeds the whole job instead).
    #[serde(rename = "JobVersion")]
    pub job_version: u64,
    #[serde(rename = "TaskGroup", skip_serializing_if = "String::is_empty")]
    pub task_group: String,
    #[serde(rename = "AllocatedResources", skip_serializing_if = "Option::is_none")]
    pub allocated_resources: Option<Opaque>,
    #[serde(rename = "Metrics", skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Opaque>,
    #[serde(rename = "DesiredStatus", skip_serializing_if = "String::is_empty")]
    pub desired_status: String,
    #[serde(
        rename = "DesiredDescription",
        skip_serializing_if = "String::is_empty"
    )]
    pub desired_description: String,
    #[serde(rename = "DesiredTransition")]
    pub desired_transition: DesiredTransition,
    #[serde(rename = "ClientStatus", skip_serializing_if = "String::is_empty")]
    pub client_status: String,
    #[serde(rename = "ClientDescription", skip_serializing_if = "String::is_empty")]
    pub client_description: String,
    #[serde(rename = "TaskStates", skip_serializing_if = "Option::is_none")]
    pub task_states: Option<SmallMap<TaskState>>,
    #[serde(
        rename = "DeploymentID",
        with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub deployment_id: Option<Uuid>,
    #[serde(rename = "DeploymentStatus", skip_serializing_if = "Option::is_none")]
    pub deployment_status: Option<AllocDeploymentStatus>,
    /// Boxed: most allocations were never rescheduled.
    #[serde(rename = "RescheduleTracker", skip_serializing_if = "Option::is_none")]
    pub reschedule_tracker: Option<Box<RescheduleTracker>>,
    #[serde(
        rename = "FollowupEvalID",
        with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub followup_eval_id: Option<Uuid>,
    #[serde(
        rename = "PreviousAllocation",
        with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub previous_allocation: Option<Uuid>,
    #[serde(
        rename = "NextAllocation",
        with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_allocation: Option<Uuid>,
    #[serde(
        rename = "PreemptedAllocations",
        skip_serializing_if = "Option::is_none"
    )]
    pub preempted_allocations: Option<Vec<String>>,
    #[serde(
        rename = "PreemptedByAllocation",
        skip_serializing_if = "String::is_empty"
    )]
    pub preempted_by_allocation: String,
    #[serde(rename = "CreateIndex", skip_serializing_if = "is_zero_u64")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex", skip_serializing_if = "is_zero_u64")]
    pub modify_index: u64,
    #[serde(rename = "AllocModifyIndex", skip_serializing_if = "is_zero_u64")]
    pub alloc_modify_index: u64,
    #[serde(rename = "CreateTime", skip_serializing_if = "is_zero_i64")]
    pub create_time: UnixNanos,
    #[serde(rename = "ModifyTime", skip_serializing_if = "is_zero_i64")]
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
#[serde(default)]
pub struct AllocDeploymentStatus {
    #[serde(rename = "Canary")]
    pub canary: bool,
    #[serde(rename = "Healthy")]
    pub healthy: Option<bool>,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
    #[serde(rename = "Timestamp")]
    pub timestamp: Timestamp,
}

/// `DesiredTransition` (§1.5): a value object, never null.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DesiredTransition {
    #[serde(rename = "ForceReschedule")]
    pub force_reschedule: Option<bool>,
    #[serde(rename = "Migrate")]
    pub migrate: Option<bool>,
    #[serde(rename = "MigrateDisablePlacement")]
    pub migrate_disable_placement: Option<bool>,
    #[serde(rename = "NoShutdownDelay")]
    pub no_shutdown_delay: Option<bool>,
    #[serde(rename = "Reschedule")]
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
#[serde(default)]
pub struct RescheduleTracker {
    #[serde(rename = "Events")]
    pub events: Option<Vec<RescheduleEvent>>,
    #[serde(rename = "LastReschedule")]
    pub last_reschedule: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RescheduleEvent {
    #[serde(rename = "Delay")]
    pub delay: DurationNs,
    #[serde(rename = "PrevAllocID")]
    pub prev_alloc_id: String,
    #[serde(rename = "PrevNodeID")]
    pub prev_node_id: String,
    #[serde(rename = "RescheduleTime")]
    pub reschedule_time: UnixNanos,
}

/// A task's state as the client reports it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskState {
    #[serde(rename = "Events")]
    pub events: Option<Vec<TaskEvent>>,
    #[serde(rename = "Failed")]
    pub failed: bool,
    #[serde(rename = "FinishedAt")]
    pub finished_at: Timestamp,
    #[serde(rename = "LastRestart")]
    pub last_restart: Timestamp,
    #[serde(rename = "Paused")]
    pub paused: String,
    #[serde(rename = "Restarts")]
    pub restarts: u64,
    #[serde(rename = "StartedAt")]
    pub started_at: Timestamp,
    #[serde(rename = "State")]
    pub state: String,
}

/// A task event. Every key is always present on the wire.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskEvent {
    #[serde(rename = "Details")]
    pub details: Option<SmallMap<String>>,
    #[serde(rename = "DiskLimit")]
    pub disk_limit: i64,
    #[serde(rename = "DisplayMessage")]
    pub display_message: String,
    #[serde(rename = "DownloadError")]
    pub download_error: String,
    #[serde(rename = "DriverError")]
    pub driver_error: String,
    #[serde(rename = "DriverMessage")]
    pub driver_message: String,
    #[serde(rename = "ExitCode")]
    pub exit_code: i64,
    #[serde(rename = "FailedSibling")]
    pub failed_sibling: String,
    #[serde(rename = "FailsTask")]
    pub fails_task: bool,
    #[serde(rename = "GenericSource")]
    pub generic_source: String,
    #[serde(rename = "KillError")]
    pub kill_error: String,
    #[serde(rename = "KillReason")]
    pub kill_reason: String,
    #[serde(rename = "KillTimeout")]
    pub kill_timeout: DurationNs,
    #[serde(rename = "Message")]
    pub message: String,
    #[serde(rename = "RestartReason")]
    pub restart_reason: String,
    #[serde(rename = "SetupError")]
    pub setup_error: String,
    #[serde(rename = "Signal")]
    pub signal: i64,
    #[serde(rename = "StartDelay")]
    pub start_delay: i64,
    #[serde(rename = "TaskSignal")]
    pub task_signal: String,
    #[serde(rename = "TaskSignalReason")]
    pub task_signal_reason: String,
    #[serde(rename = "Time")]
    pub time: UnixNanos,
    #[serde(rename = "Type")]
    pub event_type: String,
    #[serde(rename = "ValidationError")]
    pub validation_error: String,
    #[serde(rename = "VaultError")]
    pub vault_error: String,
}

/// `AllocListStub` (`http-api.md` §7.4): every key always present (no zero omission).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AllocListStub {
    #[serde(rename = "ClientDescription")]
    pub client_description: String,
    #[serde(rename = "ClientStatus")]
    pub client_status: String,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "CreateTime")]
    pub create_time: UnixNanos,
    #[serde(rename = "DeploymentStatus")]
    pub deployment_status: Option<AllocDeploymentStatus>,
    #[serde(rename = "DesiredDescription")]
    pub desired_description: String,
    #[serde(rename = "DesiredStatus")]
    pub desired_status: String,
    #[serde(rename = "DesiredTransition")]
    pub desired_transition: DesiredTransition,
    #[serde(rename = "EvalID", with = "empty_as_none")]
    pub eval_id: Option<Uuid>,
    #[serde(rename = "FollowupEvalID", with = "empty_as_none")]
    pub followup_eval_id: Option<Uuid>,
    #[serde(rename = "ID")]
    pub id: Uuid,
    #[serde(rename = "JobID")]
    pub job_id: String,
    #[serde(rename = "JobType")]
    pub job_type: String,
    #[serde(rename = "JobVersion")]
    pub job_version: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
    #[serde(rename = "ModifyTime")]
    pub modify_time: UnixNanos,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Namespace")]
    pub namespace: String,
    #[serde(rename = "NextAllocation", with = "empty_as_none")]
    pub next_allocation: Option<Uuid>,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    #[serde(rename = "NodeName")]
    pub node_name: String,
    #[serde(rename = "PreemptedAllocations")]
    pub preempted_allocations: Option<Vec<String>>,
    #[serde(rename = "PreemptedByAllocation")]
    pub preempted_by_allocation: String,
    #[serde(rename = "RescheduleTracker")]
    pub reschedule_tracker: Option<RescheduleTracker>,
    #[serde(rename = "TaskGroup")]
    pub task_group: String,
    #[serde(rename = "TaskStates")]
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
