//! Jobs as Nomad stores and returns them (`structs.Job`), with the parts the deployment
//! rules read typed and the rest kept as opaque JSON so that it round-trips unchanged.
//!
//! Fields whose absence means something different from their zero value (a group's
//! `Count`, every field of an `update` block, the reschedule policy) are `Option`s: the
//! registration path fills them in [`crate::job::canonicalize`], after which they are always
//! `Some`. Rules read them through the accessors here, never through `unwrap`.

use super::time::{DurationNs, UnixNanos, HOUR_NS, MINUTE_NS, SECOND_NS};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// `Meta`: free-form string metadata of a job, group or task.
pub type Meta = BTreeMap<String, String>;

/// Job types Nomad knows. Stored as the raw string so that JSON round-trips exactly.
pub mod job_type {
    /// Long-running services: the only type that gets deployments here.
    pub const SERVICE: &str = "service";
    /// Run-to-completion work.
    pub const BATCH: &str = "batch";
    /// One allocation per node (no deployments in rollout: §8 decision 15).
    pub const SYSTEM: &str = "system";
    /// Run-to-completion work on every node.
    pub const SYSBATCH: &str = "sysbatch";
}

/// Job statuses (derived, §1.7).
pub mod job_status {
    /// No allocation is running yet.
    pub const PENDING: &str = "pending";
    /// Some allocation is running (or pending).
    pub const RUNNING: &str = "running";
    /// Stopped, or every allocation finished.
    pub const DEAD: &str = "dead";
}

/// A job: the spec as submitted plus the server's bookkeeping (`structs.Job`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Job {
    /// `Affinities`, stored verbatim.
    pub affinities: Option<Value>,
    /// `AllAtOnce`: place every allocation at once or not at all.
    pub all_at_once: bool,
    /// `Constraints`, stored verbatim.
    pub constraints: Option<Value>,
    /// `ConsulNamespace`.
    pub consul_namespace: String,
    /// `CreateIndex`: the index that created the job (a re-created job gets a new one).
    pub create_index: u64,
    /// `Datacenters` it may run in.
    pub datacenters: Option<Vec<String>>,
    /// `DispatchIdempotencyToken` of a dispatched job.
    pub dispatch_idempotency_token: String,
    /// `Dispatched`: an instance of a parameterized job.
    pub dispatched: bool,
    /// The job's ID (`ID`).
    #[serde(rename = "ID")]
    pub id: String,
    /// `JobModifyIndex`: the index of the last change to the spec.
    pub job_modify_index: u64,
    /// `Meta`.
    pub meta: Option<Meta>,
    /// `ModifyIndex`: the index of the last write of any kind (status included).
    pub modify_index: u64,
    /// `Multiregion`, stored verbatim (multiregion deployments are not supported).
    pub multiregion: Option<Value>,
    /// `Name`, usually the ID.
    pub name: String,
    /// `Namespace`.
    pub namespace: String,
    /// `NodePool`.
    pub node_pool: String,
    /// `NomadTokenID`: the accessor of the token that submitted it.
    #[serde(rename = "NomadTokenID")]
    pub nomad_token_id: String,
    /// `ParameterizedJob`, stored verbatim.
    pub parameterized_job: Option<Value>,
    /// `ParentID` of a dispatched or periodic child.
    #[serde(rename = "ParentID")]
    pub parent_id: String,
    /// `Payload` of a dispatched job.
    pub payload: Option<Value>,
    /// `Periodic`, stored verbatim.
    pub periodic: Option<Value>,
    /// `Priority`: the default priority of its evaluations.
    pub priority: i64,
    /// `Region`.
    pub region: String,
    /// `Spreads`, stored verbatim.
    pub spreads: Option<Value>,
    /// `Stable`: this version rolled out successfully; auto-revert goes back to stable
    /// versions.
    pub stable: bool,
    /// `Status`, derived (see [`job_status`]).
    pub status: String,
    /// `StatusDescription`.
    pub status_description: String,
    /// `Stop`: the job was stopped (its allocations are stopped, it is kept).
    pub stop: bool,
    /// `SubmitTime`, Unix nanoseconds.
    pub submit_time: UnixNanos,
    /// `TaskGroups`.
    pub task_groups: Vec<TaskGroup>,
    /// `Type`, one of [`job_type`].
    #[serde(rename = "Type")]
    pub job_type: String,
    /// `UI` block, stored verbatim.
    #[serde(rename = "UI")]
    pub ui: Option<Value>,
    /// The job-level `Update` block (groups inherit it during canonicalization).
    pub update: UpdateStrategy,
    /// `VaultNamespace`.
    pub vault_namespace: String,
    /// `Version`: 0 for the first registration, one more for each spec change.
    pub version: u64,
    /// `VersionTag`: a tagged version is kept however many versions follow.
    pub version_tag: Option<Value>,
}

impl Job {
    /// The group named `name`.
    pub fn group(&self, name: &str) -> Option<&TaskGroup> {
        self.task_groups.iter().find(|g| g.name == name)
    }

    /// Whether this is a service job.
    pub fn is_service(&self) -> bool {
        self.job_type == job_type::SERVICE
    }

    /// Only service jobs get deployments in rollout (system jobs: §8 decision 15).
    pub fn gets_deployments(&self) -> bool {
        self.is_service()
    }

    /// Whether the version is tagged (tagged versions are never pruned).
    pub fn is_tagged(&self) -> bool {
        self.version_tag.as_ref().is_some_and(|v| !v.is_null())
    }
}

/// A task group: `Count` instances of its tasks, rolled out together (`structs.TaskGroup`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskGroup {
    /// `Affinities`, stored verbatim.
    pub affinities: Option<Value>,
    /// `Consul` block.
    pub consul: Option<Consul>,
    /// `Constraints`, stored verbatim.
    pub constraints: Option<Value>,
    /// `Count`: how many allocations the group wants (1 when absent).
    pub count: Option<i64>,
    /// `Disconnect` block, stored verbatim.
    pub disconnect: Option<Value>,
    /// `EphemeralDisk`, stored verbatim.
    pub ephemeral_disk: Option<Value>,
    /// `MaxClientDisconnect`.
    pub max_client_disconnect: Option<DurationNs>,
    /// `MaxRunDuration`.
    pub max_run_duration: Option<DurationNs>,
    /// `Meta`.
    pub meta: Option<Meta>,
    /// `Migrate` block, stored verbatim.
    pub migrate: Option<Value>,
    /// `Name`: unique within the job.
    pub name: String,
    /// `Networks`, stored verbatim.
    pub networks: Option<Value>,
    /// `PreventRescheduleOnLost`.
    pub prevent_reschedule_on_lost: bool,
    /// `ReschedulePolicy` (§3.13); canonicalization fills the job type's default.
    pub reschedule_policy: Option<ReschedulePolicy>,
    /// `RestartPolicy`.
    pub restart_policy: Option<RestartPolicy>,
    /// `Scaling` policy, stored verbatim.
    pub scaling: Option<Value>,
    /// `Services`, stored verbatim.
    pub services: Option<Vec<Value>>,
    /// `ShutdownDelay`.
    pub shutdown_delay: Option<DurationNs>,
    /// `Spreads`, stored verbatim.
    pub spreads: Option<Value>,
    /// `StopAfterClientDisconnect`.
    pub stop_after_client_disconnect: Option<DurationNs>,
    /// `Tasks`.
    pub tasks: Vec<Task>,
    /// The group's `Update` block: its rollout strategy (none: no deployment).
    pub update: Option<UpdateStrategy>,
    /// `Volumes`, stored verbatim.
    pub volumes: Option<Value>,
}

impl TaskGroup {
    /// The group's `Count` (1 when a caller skipped canonicalisation).
    pub fn count(&self) -> u64 {
        self.count.unwrap_or(1).max(0) as u64
    }

    /// The effective update strategy, or `None` when the group has none or it is "empty"
    /// (`max_parallel = 0`), which means no deployments for this group (§1.8).
    pub fn strategy(&self) -> Option<Strategy> {
        let s = Strategy::from_update(self.update.as_ref()?);
        (s.max_parallel > 0).then_some(s)
    }
}

/// A task: one process of a group, run by a driver (`structs.Task`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Task {
    /// `Actions`, stored verbatim.
    pub actions: Option<Value>,
    /// `Affinities`, stored verbatim.
    pub affinities: Option<Value>,
    /// `Artifacts`, stored verbatim.
    pub artifacts: Option<Value>,
    /// `CSIPluginConfig`, stored verbatim.
    #[serde(rename = "CSIPluginConfig")]
    pub csi_plugin_config: Option<Value>,
    /// `Config`: the driver's configuration, stored verbatim.
    pub config: Option<Value>,
    /// `Constraints`, stored verbatim.
    pub constraints: Option<Value>,
    /// `Consul` block.
    pub consul: Option<Consul>,
    /// `DispatchPayload`, stored verbatim.
    pub dispatch_payload: Option<Value>,
    /// `Driver` (`docker`, `exec`, …).
    pub driver: String,
    /// `Env`: environment variables.
    pub env: Option<BTreeMap<String, String>>,
    /// `Identities`, stored verbatim.
    pub identities: Option<Value>,
    /// `Identity`, stored verbatim.
    pub identity: Option<Value>,
    /// `KillSignal`.
    pub kill_signal: String,
    /// `KillTimeout`.
    pub kill_timeout: Option<DurationNs>,
    /// `Kind`.
    pub kind: String,
    /// `Leader`: the group stops when this task stops.
    pub leader: bool,
    /// `Lifecycle` hooks, stored verbatim.
    pub lifecycle: Option<Value>,
    /// `LogConfig`.
    pub log_config: Option<LogConfig>,
    /// `Meta`.
    pub meta: Option<Meta>,
    /// `Name`: unique within the group.
    pub name: String,
    /// `Resources`.
    pub resources: Option<Resources>,
    /// `RestartPolicy` (group's when absent).
    pub restart_policy: Option<RestartPolicy>,
    /// `ScalingPolicies`, stored verbatim.
    pub scaling_policies: Option<Value>,
    /// `Schedule`, stored verbatim.
    pub schedule: Option<Value>,
    /// `Secrets`, stored verbatim.
    pub secrets: Option<Value>,
    /// `Services`, stored verbatim.
    pub services: Option<Vec<Value>>,
    /// `ShutdownDelay`.
    pub shutdown_delay: Option<DurationNs>,
    /// `Templates`, stored verbatim.
    pub templates: Option<Value>,
    /// `User` to run as.
    pub user: String,
    /// `Vault` block, stored verbatim.
    pub vault: Option<Value>,
    /// `VolumeMounts`, stored verbatim.
    pub volume_mounts: Option<Value>,
}

/// A `consul` block.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Consul {
    /// `Cluster`.
    pub cluster: String,
    /// `Namespace`.
    pub namespace: String,
    /// `Partition`.
    pub partition: String,
}

/// A task's `logs` block.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct LogConfig {
    /// `Disabled`.
    pub disabled: Option<bool>,
    /// `Enabled`.
    pub enabled: Option<bool>,
    /// `MaxFileSizeMB`.
    #[serde(rename = "MaxFileSizeMB")]
    pub max_file_size_mb: Option<i64>,
    /// `MaxFiles`.
    pub max_files: Option<i64>,
}

/// A `restart` block: in-place restarts on the client.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RestartPolicy {
    /// `Attempts` per interval.
    pub attempts: Option<i64>,
    /// `Delay` between restarts.
    pub delay: Option<DurationNs>,
    /// `Interval`.
    pub interval: Option<DurationNs>,
    /// `Mode`: `fail` or `delay` once the attempts are used.
    pub mode: Option<String>,
    /// `RenderTemplates` on restart.
    pub render_templates: Option<bool>,
}

/// A task's `resources` block.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Resources {
    /// `CPU` in MHz.
    #[serde(rename = "CPU")]
    pub cpu: Option<i64>,
    /// `Cores`.
    pub cores: Option<i64>,
    /// `Devices`, stored verbatim.
    pub devices: Option<Value>,
    /// `DiskMB`.
    #[serde(rename = "DiskMB")]
    pub disk_mb: Option<i64>,
    /// `IOPS`.
    #[serde(rename = "IOPS")]
    pub iops: Option<i64>,
    /// `MemoryMB`.
    #[serde(rename = "MemoryMB")]
    pub memory_mb: Option<i64>,
    /// `MemoryMaxMB`.
    #[serde(rename = "MemoryMaxMB")]
    pub memory_max_mb: Option<i64>,
    /// `NUMA`, stored verbatim.
    #[serde(rename = "NUMA")]
    pub numa: Option<Value>,
    /// `Networks`, stored verbatim.
    pub networks: Option<Value>,
    /// `SecretsMB`.
    #[serde(rename = "SecretsMB")]
    pub secrets_mb: Option<i64>,
}

/// A group's (or, before canonicalisation, the job's) `update` block. Every field is
/// optional in a submitted job; canonicalisation fills the defaults of §1.8.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UpdateStrategy {
    /// `AutoPromote`: promote canaries once all are healthy.
    pub auto_promote: Option<bool>,
    /// `AutoRevert`: re-register the last stable version when the deployment fails.
    pub auto_revert: Option<bool>,
    /// `Canary`: how many canaries a destructive change gets first.
    pub canary: Option<i64>,
    /// `HealthCheck`: how health is decided (see [`health_check`]).
    pub health_check: Option<String>,
    /// `HealthyDeadline`: how long an allocation has to become healthy.
    pub healthy_deadline: Option<DurationNs>,
    /// `MaxParallel`: how many allocations are updated at once (0: no deployment).
    pub max_parallel: Option<i64>,
    /// `MinHealthyTime`: how long an allocation must stay healthy to count.
    pub min_healthy_time: Option<DurationNs>,
    /// `ProgressDeadline`: how long the deployment may go without a new healthy allocation.
    pub progress_deadline: Option<DurationNs>,
    /// `Stagger` (deprecated in Nomad; stored).
    pub stagger: Option<DurationNs>,
}

/// Health-check modes of an update block.
pub mod health_check {
    /// Healthy when the tasks run and their service checks pass.
    pub const CHECKS: &str = "checks";
    /// Healthy when the tasks run.
    pub const TASK_STATES: &str = "task_states";
    /// Healthy or unhealthy only when an operator says so (M1–M5).
    pub const MANUAL: &str = "manual";
}

impl UpdateStrategy {
    /// `DefaultUpdateStrategy` (§1.8).
    pub fn nomad_default() -> UpdateStrategy {
        UpdateStrategy {
            stagger: Some(30 * SECOND_NS),
            max_parallel: Some(1),
            health_check: Some(health_check::CHECKS.to_string()),
            min_healthy_time: Some(10 * SECOND_NS),
            healthy_deadline: Some(5 * MINUTE_NS),
            progress_deadline: Some(10 * MINUTE_NS),
            auto_revert: Some(false),
            auto_promote: Some(false),
            canary: Some(0),
        }
    }

    /// Field-by-field merge: every field set in `over` wins.
    pub fn merged_with(&self, over: &UpdateStrategy) -> UpdateStrategy {
        UpdateStrategy {
            auto_promote: over.auto_promote.or(self.auto_promote),
            auto_revert: over.auto_revert.or(self.auto_revert),
            canary: over.canary.or(self.canary),
            health_check: over
                .health_check
                .clone()
                .or_else(|| self.health_check.clone()),
            healthy_deadline: over.healthy_deadline.or(self.healthy_deadline),
            max_parallel: over.max_parallel.or(self.max_parallel),
            min_healthy_time: over.min_healthy_time.or(self.min_healthy_time),
            progress_deadline: over.progress_deadline.or(self.progress_deadline),
            stagger: over.stagger.or(self.stagger),
        }
    }

    /// No field set at all.
    pub fn is_unset(&self) -> bool {
        *self == UpdateStrategy::default()
    }
}

/// An update block with every default applied: what the rules read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Strategy {
    /// How many allocations are updated at once.
    pub max_parallel: u64,
    /// How many canaries a destructive change gets first.
    pub canary: u64,
    /// Whether a failure reverts to the last stable version.
    pub auto_revert: bool,
    /// Whether healthy canaries are promoted automatically.
    pub auto_promote: bool,
    /// How long the deployment may go without a new healthy allocation (0: no deadline).
    pub progress_deadline: DurationNs,
    /// How long an allocation has to become healthy.
    pub healthy_deadline: DurationNs,
    /// How long an allocation must stay healthy to count.
    pub min_healthy_time: DurationNs,
    /// How health is decided (see [`health_check`]).
    pub health_check: String,
}

impl Strategy {
    /// The strategy of an `update` block, Nomad's defaults filling the gaps.
    pub fn from_update(u: &UpdateStrategy) -> Strategy {
        let d = UpdateStrategy::nomad_default().merged_with(u);
        Strategy {
            max_parallel: d.max_parallel.unwrap_or(1).max(0) as u64,
            canary: d.canary.unwrap_or(0).max(0) as u64,
            auto_revert: d.auto_revert.unwrap_or(false),
            auto_promote: d.auto_promote.unwrap_or(false),
            progress_deadline: d.progress_deadline.unwrap_or(0),
            healthy_deadline: d.healthy_deadline.unwrap_or(0),
            min_healthy_time: d.min_healthy_time.unwrap_or(0),
            health_check: d.health_check.unwrap_or_default(),
        }
    }

    /// Whether health is set by operators only (`health_check = "manual"`).
    pub fn is_manual_health(&self) -> bool {
        self.health_check == health_check::MANUAL
    }
}

/// A group's `reschedule` policy (§1.6).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ReschedulePolicy {
    /// `Attempts` within `Interval` (ignored when unlimited).
    pub attempts: Option<i64>,
    /// `Delay` before the first reschedule.
    pub delay: Option<DurationNs>,
    /// `DelayFunction`: `constant`, `exponential` or `fibonacci`.
    pub delay_function: Option<String>,
    /// `Interval` over which attempts are counted.
    pub interval: Option<DurationNs>,
    /// `MaxDelay` the delay function may reach.
    pub max_delay: Option<DurationNs>,
    /// `Unlimited`: reschedule however many times.
    pub unlimited: Option<bool>,
}

impl ReschedulePolicy {
    /// Service-job default: `{Delay 30s, exponential, MaxDelay 1h, Unlimited}`.
    pub fn service_default() -> ReschedulePolicy {
        ReschedulePolicy {
            attempts: Some(0),
            interval: Some(0),
            delay: Some(30 * SECOND_NS),
            delay_function: Some("exponential".to_string()),
            max_delay: Some(HOUR_NS),
            unlimited: Some(true),
        }
    }

    /// Batch-job default: `{Attempts 1, Interval 24h, Delay 5s, constant}`.
    pub fn batch_default() -> ReschedulePolicy {
        ReschedulePolicy {
            attempts: Some(1),
            interval: Some(24 * HOUR_NS),
            delay: Some(5 * SECOND_NS),
            delay_function: Some("constant".to_string()),
            max_delay: Some(0),
            unlimited: Some(false),
        }
    }

    /// This policy with every field `over` sets taking precedence.
    pub fn merged_with(&self, over: &ReschedulePolicy) -> ReschedulePolicy {
        ReschedulePolicy {
            attempts: over.attempts.or(self.attempts),
            delay: over.delay.or(self.delay),
            delay_function: over
                .delay_function
                .clone()
                .or_else(|| self.delay_function.clone()),
            interval: over.interval.or(self.interval),
            max_delay: over.max_delay.or(self.max_delay),
            unlimited: over.unlimited.or(self.unlimited),
        }
    }

    /// `Attempts`, 0 when unset.
    pub fn attempts(&self) -> i64 {
        self.attempts.unwrap_or(0)
    }
    /// `Interval`, 0 when unset.
    pub fn interval(&self) -> DurationNs {
        self.interval.unwrap_or(0)
    }
    /// `Delay`, 0 when unset.
    pub fn delay(&self) -> DurationNs {
        self.delay.unwrap_or(0)
    }
    /// `MaxDelay`, 0 when unset.
    pub fn max_delay(&self) -> DurationNs {
        self.max_delay.unwrap_or(0)
    }
    /// `Unlimited`, false when unset.
    pub fn unlimited(&self) -> bool {
        self.unlimited.unwrap_or(false)
    }
    /// `DelayFunction`, `constant` when unset.
    pub fn delay_function(&self) -> &str {
        self.delay_function.as_deref().unwrap_or("constant")
    }
}
