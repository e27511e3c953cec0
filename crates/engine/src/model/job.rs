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

pub type Meta = BTreeMap<String, String>;

/// Job types Nomad knows. Stored as the raw string so that JSON round-trips exactly.
pub mod job_type {
    pub const SERVICE: &str = "service";
    pub const BATCH: &str = "batch";
    pub const SYSTEM: &str = "system";
    pub const SYSBATCH: &str = "sysbatch";
}

/// Job statuses (derived, §1.7).
pub mod job_status {
    pub const PENDING: &str = "pending";
    pub const RUNNING: &str = "running";
    pub const DEAD: &str = "dead";
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Job {
    #[serde(rename = "Affinities")]
    pub affinities: Option<Value>,
    #[serde(rename = "AllAtOnce")]
    pub all_at_once: bool,
    #[serde(rename = "Constraints")]
    pub constraints: Option<Value>,
    #[serde(rename = "ConsulNamespace")]
    pub consul_namespace: String,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "Datacenters")]
    pub datacenters: Option<Vec<String>>,
    #[serde(rename = "DispatchIdempotencyToken")]
    pub dispatch_idempotency_token: String,
    #[serde(rename = "Dispatched")]
    pub dispatched: bool,
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "JobModifyIndex")]
    pub job_modify_index: u64,
    #[serde(rename = "Meta")]
    pub meta: Option<Meta>,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
    #[serde(rename = "Multiregion")]
    pub multiregion: Option<Value>,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Namespace")]
    pub namespace: String,
    #[serde(rename = "NodePool")]
    pub node_pool: String,
    #[serde(rename = "NomadTokenID")]
    pub nomad_token_id: String,
    #[serde(rename = "ParameterizedJob")]
    pub parameterized_job: Option<Value>,
    #[serde(rename = "ParentID")]
    pub parent_id: String,
    #[serde(rename = "Payload")]
    pub payload: Option<Value>,
    #[serde(rename = "Periodic")]
    pub periodic: Option<Value>,
    #[serde(rename = "Priority")]
    pub priority: i64,
    #[serde(rename = "Region")]
    pub region: String,
    #[serde(rename = "Spreads")]
    pub spreads: Option<Value>,
    #[serde(rename = "Stable")]
    pub stable: bool,
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "StatusDescription")]
    pub status_description: String,
    #[serde(rename = "Stop")]
    pub stop: bool,
    #[serde(rename = "SubmitTime")]
    pub submit_time: UnixNanos,
    #[serde(rename = "TaskGroups")]
    pub task_groups: Vec<TaskGroup>,
    #[serde(rename = "Type")]
    pub job_type: String,
    #[serde(rename = "UI")]
    pub ui: Option<Value>,
    #[serde(rename = "Update")]
    pub update: UpdateStrategy,
    #[serde(rename = "VaultNamespace")]
    pub vault_namespace: String,
    #[serde(rename = "Version")]
    pub version: u64,
    #[serde(rename = "VersionTag")]
    pub version_tag: Option<Value>,
}

impl Job {
    pub fn group(&self, name: &str) -> Option<&TaskGroup> {
        self.task_groups.iter().find(|g| g.name == name)
    }

    pub fn is_service(&self) -> bool {
        self.job_type == job_type::SERVICE
    }

    /// Only service jobs get deployments in rollout (system jobs: §8 decision 15).
    pub fn gets_deployments(&self) -> bool {
        self.is_service()
    }

    pub fn is_tagged(&self) -> bool {
        self.version_tag.as_ref().is_some_and(|v| !v.is_null())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskGroup {
    #[serde(rename = "Affinities")]
    pub affinities: Option<Value>,
    #[serde(rename = "Consul")]
    pub consul: Option<Consul>,
    #[serde(rename = "Constraints")]
    pub constraints: Option<Value>,
    #[serde(rename = "Count")]
    pub count: Option<i64>,
    #[serde(rename = "Disconnect")]
    pub disconnect: Option<Value>,
    #[serde(rename = "EphemeralDisk")]
    pub ephemeral_disk: Option<Value>,
    #[serde(rename = "MaxClientDisconnect")]
    pub max_client_disconnect: Option<DurationNs>,
    #[serde(rename = "MaxRunDuration")]
    pub max_run_duration: Option<DurationNs>,
    #[serde(rename = "Meta")]
    pub meta: Option<Meta>,
    #[serde(rename = "Migrate")]
    pub migrate: Option<Value>,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Networks")]
    pub networks: Option<Value>,
    #[serde(rename = "PreventRescheduleOnLost")]
    pub prevent_reschedule_on_lost: bool,
    #[serde(rename = "ReschedulePolicy")]
    pub reschedule_policy: Option<ReschedulePolicy>,
    #[serde(rename = "RestartPolicy")]
    pub restart_policy: Option<RestartPolicy>,
    #[serde(rename = "Scaling")]
    pub scaling: Option<Value>,
    #[serde(rename = "Services")]
    pub services: Option<Vec<Value>>,
    #[serde(rename = "ShutdownDelay")]
    pub shutdown_delay: Option<DurationNs>,
    #[serde(rename = "Spreads")]
    pub spreads: Option<Value>,
    #[serde(rename = "StopAfterClientDisconnect")]
    pub stop_after_client_disconnect: Option<DurationNs>,
    #[serde(rename = "Tasks")]
    pub tasks: Vec<Task>,
    #[serde(rename = "Update")]
    pub update: Option<UpdateStrategy>,
    #[serde(rename = "Volumes")]
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

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Task {
    #[serde(rename = "Actions")]
    pub actions: Option<Value>,
    #[serde(rename = "Affinities")]
    pub affinities: Option<Value>,
    #[serde(rename = "Artifacts")]
    pub artifacts: Option<Value>,
    #[serde(rename = "CSIPluginConfig")]
    pub csi_plugin_config: Option<Value>,
    #[serde(rename = "Config")]
    pub config: Option<Value>,
    #[serde(rename = "Constraints")]
    pub constraints: Option<Value>,
    #[serde(rename = "Consul")]
    pub consul: Option<Consul>,
    #[serde(rename = "DispatchPayload")]
    pub dispatch_payload: Option<Value>,
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "Env")]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(rename = "Identities")]
    pub identities: Option<Value>,
    #[serde(rename = "Identity")]
    pub identity: Option<Value>,
    #[serde(rename = "KillSignal")]
    pub kill_signal: String,
    #[serde(rename = "KillTimeout")]
    pub kill_timeout: Option<DurationNs>,
    #[serde(rename = "Kind")]
    pub kind: String,
    #[serde(rename = "Leader")]
    pub leader: bool,
    #[serde(rename = "Lifecycle")]
    pub lifecycle: Option<Value>,
    #[serde(rename = "LogConfig")]
    pub log_config: Option<LogConfig>,
    #[serde(rename = "Meta")]
    pub meta: Option<Meta>,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Resources")]
    pub resources: Option<Resources>,
    #[serde(rename = "RestartPolicy")]
    pub restart_policy: Option<RestartPolicy>,
    #[serde(rename = "ScalingPolicies")]
    pub scaling_policies: Option<Value>,
    #[serde(rename = "Schedule")]
    pub schedule: Option<Value>,
    #[serde(rename = "Secrets")]
    pub secrets: Option<Value>,
    #[serde(rename = "Services")]
    pub services: Option<Vec<Value>>,
    #[serde(rename = "ShutdownDelay")]
    pub shutdown_delay: Option<DurationNs>,
    #[serde(rename = "Templates")]
    pub templates: Option<Value>,
    #[serde(rename = "User")]
    pub user: String,
    #[serde(rename = "Vault")]
    pub vault: Option<Value>,
    #[serde(rename = "VolumeMounts")]
    pub volume_mounts: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Consul {
    #[serde(rename = "Cluster")]
    pub cluster: String,
    #[serde(rename = "Namespace")]
    pub namespace: String,
    #[serde(rename = "Partition")]
    pub partition: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    #[serde(rename = "Disabled")]
    pub disabled: Option<bool>,
    #[serde(rename = "Enabled")]
    pub enabled: Option<bool>,
    #[serde(rename = "MaxFileSizeMB")]
    pub max_file_size_mb: Option<i64>,
    #[serde(rename = "MaxFiles")]
    pub max_files: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartPolicy {
    #[serde(rename = "Attempts")]
    pub attempts: Option<i64>,
    #[serde(rename = "Delay")]
    pub delay: Option<DurationNs>,
    #[serde(rename = "Interval")]
    pub interval: Option<DurationNs>,
    #[serde(rename = "Mode")]
    pub mode: Option<String>,
    #[serde(rename = "RenderTemplates")]
    pub render_templates: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    #[serde(rename = "CPU")]
    pub cpu: Option<i64>,
    #[serde(rename = "Cores")]
    pub cores: Option<i64>,
    #[serde(rename = "Devices")]
    pub devices: Option<Value>,
    #[serde(rename = "DiskMB")]
    pub disk_mb: Option<i64>,
    #[serde(rename = "IOPS")]
    pub iops: Option<i64>,
    #[serde(rename = "MemoryMB")]
    pub memory_mb: Option<i64>,
    #[serde(rename = "MemoryMaxMB")]
    pub memory_max_mb: Option<i64>,
    #[serde(rename = "NUMA")]
    pub numa: Option<Value>,
    #[serde(rename = "Networks")]
    pub networks: Option<Value>,
    #[serde(rename = "SecretsMB")]
    pub secrets_mb: Option<i64>,
}

/// A group's (or, before canonicalisation, the job's) `update` block. Every field is
/// optional in a submitted job; canonicalisation fills the defaults of §1.8.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateStrategy {
    #[serde(rename = "AutoPromote")]
    pub auto_promote: Option<bool>,
    #[serde(rename = "AutoRevert")]
    pub auto_revert: Option<bool>,
    #[serde(rename = "Canary")]
    pub canary: Option<i64>,
    #[serde(rename = "HealthCheck")]
    pub health_check: Option<String>,
    #[serde(rename = "HealthyDeadline")]
    pub healthy_deadline: Option<DurationNs>,
    #[serde(rename = "MaxParallel")]
    pub max_parallel: Option<i64>,
    #[serde(rename = "MinHealthyTime")]
    pub min_healthy_time: Option<DurationNs>,
    #[serde(rename = "ProgressDeadline")]
    pub progress_deadline: Option<DurationNs>,
    #[serde(rename = "Stagger")]
    pub stagger: Option<DurationNs>,
}

/// Health-check modes of an update block.
pub mod health_check {
    pub const CHECKS: &str = "checks";
    pub const TASK_STATES: &str = "task_states";
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
    pub max_parallel: u64,
    pub canary: u64,
    pub auto_revert: bool,
    pub auto_promote: bool,
    pub progress_deadline: DurationNs,
    pub healthy_deadline: DurationNs,
    pub min_healthy_time: DurationNs,
    pub health_check: String,
}

impl Strategy {
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

    pub fn is_manual_health(&self) -> bool {
        self.health_check == health_check::MANUAL
    }
}

/// A group's `reschedule` policy (§1.6).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReschedulePolicy {
    #[serde(rename = "Attempts")]
    pub attempts: Option<i64>,
    #[serde(rename = "Delay")]
    pub delay: Option<DurationNs>,
    #[serde(rename = "DelayFunction")]
    pub delay_function: Option<String>,
    #[serde(rename = "Interval")]
    pub interval: Option<DurationNs>,
    #[serde(rename = "MaxDelay")]
    pub max_delay: Option<DurationNs>,
    #[serde(rename = "Unlimited")]
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

    pub fn attempts(&self) -> i64 {
        self.attempts.unwrap_or(0)
    }
    pub fn interval(&self) -> DurationNs {
        self.interval.unwrap_or(0)
    }
    pub fn delay(&self) -> DurationNs {
        self.delay.unwrap_or(0)
    }
    pub fn max_delay(&self) -> DurationNs {
        self.max_delay.unwrap_or(0)
    }
    pub fn unlimited(&self) -> bool {
        self.unlimited.unwrap_or(false)
    }
    pub fn delay_function(&self) -> &str {
        self.delay_function.as_deref().unwrap_or("constant")
    }
}
