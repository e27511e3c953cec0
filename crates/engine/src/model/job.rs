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
#[serde(default, rename_all = "PascalCase")]
pub struct Job {
    pub affinities: Option<Value>,
    pub all_at_once: bool,
    pub constraints: Option<Value>,
    pub consul_namespace: String,
    pub create_index: u64,
    pub datacenters: Option<Vec<String>>,
    pub dispatch_idempotency_token: String,
    pub dispatched: bool,
    #[serde(rename = "ID")]
    pub id: String,
    pub job_modify_index: u64,
    pub meta: Option<Meta>,
    pub modify_index: u64,
    pub multiregion: Option<Value>,
    pub name: String,
    pub namespace: String,
    pub node_pool: String,
    #[serde(rename = "NomadTokenID")]
    pub nomad_token_id: String,
    pub parameterized_job: Option<Value>,
    #[serde(rename = "ParentID")]
    pub parent_id: String,
    pub payload: Option<Value>,
    pub periodic: Option<Value>,
    pub priority: i64,
    pub region: String,
    pub spreads: Option<Value>,
    pub stable: bool,
    pub status: String,
    pub status_description: String,
    pub stop: bool,
    pub submit_time: UnixNanos,
    pub task_groups: Vec<TaskGroup>,
    #[serde(rename = "Type")]
    pub job_type: String,
    #[serde(rename = "UI")]
    pub ui: Option<Value>,
    pub update: UpdateStrategy,
    pub vault_namespace: String,
    pub version: u64,
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
#[serde(default, rename_all = "PascalCase")]
pub struct TaskGroup {
    pub affinities: Option<Value>,
    pub consul: Option<Consul>,
    pub constraints: Option<Value>,
    pub count: Option<i64>,
    pub disconnect: Option<Value>,
    pub ephemeral_disk: Option<Value>,
    pub max_client_disconnect: Option<DurationNs>,
    pub max_run_duration: Option<DurationNs>,
    pub meta: Option<Meta>,
    pub migrate: Option<Value>,
    pub name: String,
    pub networks: Option<Value>,
    pub prevent_reschedule_on_lost: bool,
    pub reschedule_policy: Option<ReschedulePolicy>,
    pub restart_policy: Option<RestartPolicy>,
    pub scaling: Option<Value>,
    pub services: Option<Vec<Value>>,
    pub shutdown_delay: Option<DurationNs>,
    pub spreads: Option<Value>,
    pub stop_after_client_disconnect: Option<DurationNs>,
    pub tasks: Vec<Task>,
    pub update: Option<UpdateStrategy>,
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
#[serde(default, rename_all = "PascalCase")]
pub struct Task {
    pub actions: Option<Value>,
    pub affinities: Option<Value>,
    pub artifacts: Option<Value>,
    #[serde(rename = "CSIPluginConfig")]
    pub csi_plugin_config: Option<Value>,
    pub config: Option<Value>,
    pub constraints: Option<Value>,
    pub consul: Option<Consul>,
    pub dispatch_payload: Option<Value>,
    pub driver: String,
    pub env: Option<BTreeMap<String, String>>,
    pub identities: Option<Value>,
    pub identity: Option<Value>,
    pub kill_signal: String,
    pub kill_timeout: Option<DurationNs>,
    pub kind: String,
    pub leader: bool,
    pub lifecycle: Option<Value>,
    pub log_config: Option<LogConfig>,
    pub meta: Option<Meta>,
    pub name: String,
    pub resources: Option<Resources>,
    pub restart_policy: Option<RestartPolicy>,
    pub scaling_policies: Option<Value>,
    pub schedule: Option<Value>,
    pub secrets: Option<Value>,
    pub services: Option<Vec<Value>>,
    pub shutdown_delay: Option<DurationNs>,
    pub templates: Option<Value>,
    pub user: String,
    pub vault: Option<Value>,
    pub volume_mounts: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Consul {
    pub cluster: String,
    pub namespace: String,
    pub partition: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct LogConfig {
    pub disabled: Option<bool>,
    pub enabled: Option<bool>,
    #[serde(rename = "MaxFileSizeMB")]
    pub max_file_size_mb: Option<i64>,
    pub max_files: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RestartPolicy {
    pub attempts: Option<i64>,
    pub delay: Option<DurationNs>,
    pub interval: Option<DurationNs>,
    pub mode: Option<String>,
    pub render_templates: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Resources {
    #[serde(rename = "CPU")]
    pub cpu: Option<i64>,
    pub cores: Option<i64>,
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
    pub networks: Option<Value>,
    #[serde(rename = "SecretsMB")]
    pub secrets_mb: Option<i64>,
}

/// A group's (or, before canonicalisation, the job's) `update` block. Every field is
/// optional in a submitted job; canonicalisation fills the defaults of §1.8.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UpdateStrategy {
    pub auto_promote: Option<bool>,
    pub auto_revert: Option<bool>,
    pub canary: Option<i64>,
    pub health_check: Option<String>,
    pub healthy_deadline: Option<DurationNs>,
    pub max_parallel: Option<i64>,
    pub min_healthy_time: Option<DurationNs>,
    pub progress_deadline: Option<DurationNs>,
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
#[serde(default, rename_all = "PascalCase")]
pub struct ReschedulePolicy {
    pub attempts: Option<i64>,
    pub delay: Option<DurationNs>,
    pub delay_function: Option<String>,
    pub interval: Option<DurationNs>,
    pub max_delay: Option<DurationNs>,
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
