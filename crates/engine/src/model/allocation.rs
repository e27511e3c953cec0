//! Allocations and the per-allocation deployment bookkeeping (§1.3–§1.6, `http-api.md` §7.4).
//!
//! The engine stores an allocation with the job *version* it runs instead of a copy of the
//! job (Nomad denormalises the whole job into every allocation); readers join the two.

use super::compact::{Opaque, SmallMap};
use super::id::empty_as_none;
use super::shared_str::SharedStr;
use super::skip::{is_zero_i64, is_zero_u64};
use super::time::{DurationNs, Timestamp, UnixNanos};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `DesiredStatus` values: what the server wants of an allocation.
pub mod desired_status {
    /// Keep it running.
    pub const RUN: &str = "run";
    /// Stop it (replaced, no longer needed, or its job stopped).
    pub const STOP: &str = "stop";
    /// Evict it (preempted or drained).
    pub const EVICT: &str = "evict";
}

/// `ClientStatus` values: what the client reports about an allocation.
pub mod client_status {
    /// Not started yet.
    pub const PENDING: &str = "pending";
    /// Running.
    pub const RUNNING: &str = "running";
    /// Finished successfully (batch work); never replaced.
    pub const COMPLETE: &str = "complete";
    /// Failed; may be rescheduled (§3.13).
    pub const FAILED: &str = "failed";
    /// Its node is gone; replaced.
    pub const LOST: &str = "lost";
    /// The client lost contact (disconnected clients); treated as live.
    pub const UNKNOWN: &str = "unknown";
}

/// An allocation: one instance of a task group placed on a node (`structs.Allocation`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Allocation {
    /// The allocation's ID (`ID`).
    #[serde(rename = "ID")]
    pub id: Uuid,
    /// Its job's namespace (`Namespace`).
    #[serde(skip_serializing_if = "SharedStr::is_empty")]
    pub namespace: SharedStr,
    /// The evaluation that placed it (`EvalID`).
    #[serde(
        rename = "EvalID",
        with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub eval_id: Option<Uuid>,
    /// `job.group[index]` (`Name`): the name slot it holds.
    #[serde(skip_serializing_if = "SharedStr::is_empty")]
    pub name: SharedStr,
    /// The node it runs on (`NodeID`).
    #[serde(rename = "NodeID", skip_serializing_if = "SharedStr::is_empty")]
    pub node_id: SharedStr,
    /// That node's name (`NodeName`).
    #[serde(skip_serializing_if = "SharedStr::is_empty")]
    pub node_name: SharedStr,
    /// Its job (`JobID`).
    #[serde(rename = "JobID", skip_serializing_if = "SharedStr::is_empty")]
    pub job_id: SharedStr,
    /// The job version this allocation runs (Nomad embeds the whole job instead).
    pub job_version: u64,
    /// Its task group (`TaskGroup`).
    #[serde(skip_serializing_if = "SharedStr::is_empty")]
    pub task_group: SharedStr,
    /// Resources the scheduler allocated (`AllocatedResources`), stored verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocated_resources: Option<Opaque>,
    /// Placement metrics (`Metrics`), stored verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Opaque>,
    /// What the server wants (`DesiredStatus`, see [`desired_status`]).
    #[serde(skip_serializing_if = "SharedStr::is_empty")]
    pub desired_status: SharedStr,
    /// Why (`DesiredDescription`).
    #[serde(skip_serializing_if = "SharedStr::is_empty")]
    pub desired_description: SharedStr,
    /// Transitions requested by the server, e.g. a reschedule the watcher allows
    /// (`DesiredTransition`).
    pub desired_transition: DesiredTransition,
    /// What the client reports (`ClientStatus`, see [`client_status`]).
    #[serde(skip_serializing_if = "SharedStr::is_empty")]
    pub client_status: SharedStr,
    /// The client's words (`ClientDescription`).
    #[serde(skip_serializing_if = "SharedStr::is_empty")]
    pub client_description: SharedStr,
    /// Per-task state as the client reports it (`TaskStates`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_states: Option<SmallMap<TaskState>>,
    /// The deployment it was placed for (`DeploymentID`), if any.
    #[serde(
        rename = "DeploymentID",
        with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub deployment_id: Option<Uuid>,
    /// Its deployment health and canary flag (`DeploymentStatus`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_status: Option<AllocDeploymentStatus>,
    /// Boxed: most allocations were never rescheduled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reschedule_tracker: Option<Box<RescheduleTracker>>,
    /// The evaluation that will reschedule it later (`FollowupEvalID`).
    #[serde(
        rename = "FollowupEvalID",
        with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub followup_eval_id: Option<Uuid>,
    /// The allocation it replaced (`PreviousAllocation`).
    #[serde(with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub previous_allocation: Option<Uuid>,
    /// The allocation that replaced it (`NextAllocation`).
    #[serde(with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub next_allocation: Option<Uuid>,
    /// Allocations it preempted (`PreemptedAllocations`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preempted_allocations: Option<Vec<String>>,
    /// The allocation that preempted it (`PreemptedByAllocation`).
    #[serde(skip_serializing_if = "SharedStr::is_empty")]
    pub preempted_by_allocation: SharedStr,
    /// `CreateIndex`: the index that created it.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub create_index: u64,
    /// `ModifyIndex`: the index that last wrote it.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub modify_index: u64,
    /// `AllocModifyIndex`: the index of the last server-side change (desired status,
    /// transition).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub alloc_modify_index: u64,
    /// `CreateTime`, Unix nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub create_time: UnixNanos,
    /// `ModifyTime`, Unix nanoseconds: the last client update's time.
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

    /// Stopped by the server or finished on the client: it will never run again.
    pub fn terminal(&self) -> bool {
        self.server_terminal() || self.client_terminal()
    }

    /// Its deployment health: healthy, unhealthy, or not decided (`None`).
    pub fn health(&self) -> Option<bool> {
        self.deployment_status.as_ref().and_then(|s| s.healthy)
    }
    /// Whether its deployment health is decided.
    pub fn has_health(&self) -> bool {
        self.health().is_some()
    }
    /// Whether it is marked healthy.
    pub fn is_healthy(&self) -> bool {
        self.health() == Some(true)
    }
    /// Whether it is marked unhealthy.
    pub fn is_unhealthy(&self) -> bool {
        self.health() == Some(false)
    }
    /// Whether it was placed as a canary.
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
    /// Placed as a canary (`Canary`).
    pub canary: bool,
    /// Healthy, unhealthy, or not decided yet (`Healthy`).
    pub healthy: Option<bool>,
    /// `ModifyIndex`: the index that last changed this status.
    pub modify_index: u64,
    /// When health was decided (`Timestamp`).
    pub timestamp: Timestamp,
}

/// `DesiredTransition` (§1.5): a value object, never null.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DesiredTransition {
    /// Reschedule now despite the policy (`ForceReschedule`).
    pub force_reschedule: Option<bool>,
    /// Migrate off a draining node (`Migrate`).
    pub migrate: Option<bool>,
    /// Migrate without placing a replacement (`MigrateDisablePlacement`).
    pub migrate_disable_placement: Option<bool>,
    /// Stop without the shutdown delay (`NoShutdownDelay`).
    pub no_shutdown_delay: Option<bool>,
    /// The watcher allows this failed allocation to be rescheduled (`Reschedule`, T1).
    pub reschedule: Option<bool>,
}

impl DesiredTransition {
    /// Whether a reschedule is allowed (T1).
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
    /// Past reschedules, oldest first (`Events`).
    pub events: Option<Vec<RescheduleEvent>>,
    /// When the last reschedule happened (`LastReschedule`), as Nomad formats it.
    pub last_reschedule: String,
}

/// One reschedule of an allocation (`RescheduleEvent`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RescheduleEvent {
    /// The delay the reschedule policy applied (`Delay`).
    pub delay: DurationNs,
    /// The allocation that failed (`PrevAllocID`).
    #[serde(rename = "PrevAllocID")]
    pub prev_alloc_id: String,
    /// Its node (`PrevNodeID`).
    #[serde(rename = "PrevNodeID")]
    pub prev_node_id: String,
    /// When the replacement was placed (`RescheduleTime`).
    pub reschedule_time: UnixNanos,
}

/// A task's state as the client reports it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskState {
    /// The task's recent events (`Events`).
    pub events: Option<Vec<TaskEvent>>,
    /// Whether the task failed (`Failed`).
    pub failed: bool,
    /// When it finished (`FinishedAt`).
    pub finished_at: Timestamp,
    /// When it last restarted (`LastRestart`).
    pub last_restart: Timestamp,
    /// Pause state for scheduled tasks (`Paused`).
    pub paused: String,
    /// How many times it restarted (`Restarts`).
    pub restarts: u64,
    /// When it started (`StartedAt`).
    pub started_at: Timestamp,
    /// `pending`, `running` or `dead` (`State`).
    pub state: String,
}

/// A task event. Every key is always present on the wire.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskEvent {
    /// Event details, by key (`Details`).
    pub details: Option<SmallMap<String>>,
    /// `DiskLimit` of a disk-exceeded event.
    pub disk_limit: i64,
    /// A human-readable summary (`DisplayMessage`).
    pub display_message: String,
    /// `DownloadError` of an artifact download.
    pub download_error: String,
    /// `DriverError`.
    pub driver_error: String,
    /// `DriverMessage`.
    pub driver_message: String,
    /// `ExitCode` of the task.
    pub exit_code: i64,
    /// `FailedSibling`: the task whose failure killed this one.
    pub failed_sibling: String,
    /// `FailsTask`: the event failed the task.
    pub fails_task: bool,
    /// `GenericSource`.
    pub generic_source: String,
    /// `KillError`.
    pub kill_error: String,
    /// `KillReason`.
    pub kill_reason: String,
    /// `KillTimeout`.
    pub kill_timeout: DurationNs,
    /// `Message`.
    pub message: String,
    /// `RestartReason`.
    pub restart_reason: String,
    /// `SetupError`.
    pub setup_error: String,
    /// `Signal` the task exited on.
    pub signal: i64,
    /// `StartDelay` before a restart, nanoseconds.
    pub start_delay: i64,
    /// `TaskSignal` sent to the task.
    pub task_signal: String,
    /// `TaskSignalReason`.
    pub task_signal_reason: String,
    /// When it happened (`Time`), Unix nanoseconds.
    pub time: UnixNanos,
    /// The event type (`Type`), e.g. `Started`, `Terminated`.
    #[serde(rename = "Type")]
    pub event_type: String,
    /// `ValidationError`.
    pub validation_error: String,
    /// `VaultError`.
    pub vault_error: String,
}

/// `AllocListStub` (`http-api.md` §7.4): every key always present (no zero omission).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocListStub {
    /// As [`Allocation::client_description`].
    pub client_description: SharedStr,
    /// As [`Allocation::client_status`].
    pub client_status: SharedStr,
    /// As [`Allocation::create_index`].
    pub create_index: u64,
    /// As [`Allocation::create_time`].
    pub create_time: UnixNanos,
    /// As [`Allocation::deployment_status`].
    pub deployment_status: Option<AllocDeploymentStatus>,
    /// As [`Allocation::desired_description`].
    pub desired_description: SharedStr,
    /// As [`Allocation::desired_status`].
    pub desired_status: SharedStr,
    /// As [`Allocation::desired_transition`].
    pub desired_transition: DesiredTransition,
    /// As [`Allocation::eval_id`].
    #[serde(rename = "EvalID", with = "empty_as_none")]
    pub eval_id: Option<Uuid>,
    /// As [`Allocation::followup_eval_id`].
    #[serde(rename = "FollowupEvalID", with = "empty_as_none")]
    pub followup_eval_id: Option<Uuid>,
    /// As [`Allocation::id`].
    #[serde(rename = "ID")]
    pub id: Uuid,
    /// As [`Allocation::job_id`].
    #[serde(rename = "JobID")]
    pub job_id: SharedStr,
    /// The job's type (`JobType`), joined from the job.
    pub job_type: SharedStr,
    /// As [`Allocation::job_version`].
    pub job_version: u64,
    /// As [`Allocation::modify_index`].
    pub modify_index: u64,
    /// As [`Allocation::modify_time`].
    pub modify_time: UnixNanos,
    /// As [`Allocation::name`].
    pub name: SharedStr,
    /// As [`Allocation::namespace`].
    pub namespace: SharedStr,
    /// As [`Allocation::next_allocation`].
    #[serde(with = "empty_as_none")]
    pub next_allocation: Option<Uuid>,
    /// As [`Allocation::node_id`].
    #[serde(rename = "NodeID")]
    pub node_id: SharedStr,
    /// As [`Allocation::node_name`].
    pub node_name: SharedStr,
    /// As [`Allocation::preempted_allocations`].
    pub preempted_allocations: Option<Vec<String>>,
    /// As [`Allocation::preempted_by_allocation`].
    pub preempted_by_allocation: SharedStr,
    /// As [`Allocation::reschedule_tracker`].
    pub reschedule_tracker: Option<RescheduleTracker>,
    /// As [`Allocation::task_group`].
    pub task_group: SharedStr,
    /// As [`Allocation::task_states`].
    pub task_states: Option<SmallMap<TaskState>>,
}

impl AllocListStub {
    /// The stub of `alloc`, whose job has type `job_type`.
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
            job_type: job_type.into(),
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
