//! Deployments and their per-group state (§1.1, §1.2) and the exact status strings of §2.

use super::compact::SmallMap;
use super::id::empty_as_none;
use super::time::{DurationNs, Timestamp, UnixNanos};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Deployment status values (§2.1). The store does not validate them (§7.1 item 26).
pub mod status {
    pub const RUNNING: &str = "running";
    pub const PAUSED: &str = "paused";
    pub const FAILED: &str = "failed";
    pub const SUCCESSFUL: &str = "successful";
    pub const CANCELLED: &str = "cancelled";
    pub const INITIALIZING: &str = "initializing";
    pub const PENDING: &str = "pending";
    pub const BLOCKED: &str = "blocked";
    pub const UNBLOCKING: &str = "unblocking";
}

/// Fixed status descriptions (§2.2).
pub mod description {
    pub const RUNNING: &str = "Deployment is running";
    pub const RUNNING_NEEDS_PROMOTION: &str = "Deployment is running but requires manual promotion";
    pub const RUNNING_AUTO_PROMOTION: &str = "Deployment is running pending automatic promotion";
    pub const PAUSED: &str = "Deployment is paused";
    pub const SUCCESSFUL: &str = "Deployment completed successfully";
    pub const STOPPED_JOB: &str = "Cancelled because job is stopped";
    pub const NEWER_JOB: &str = "Cancelled due to newer version of job";
    pub const FAILED_ALLOCATIONS: &str = "Failed due to unhealthy allocations";
    pub const PROGRESS_DEADLINE: &str = "Failed due to progress deadline";
    pub const FAILED_BY_USER: &str = "Deployment marked as failed";
    pub const FAILED_BY_PEER: &str = "Failed because of an error in peer region";
    pub const BLOCKED: &str = "Deployment is complete but waiting for peer region";
    pub const UNBLOCKING: &str = "Deployment is unblocking remaining regions";
    pub const PENDING_FOR_PEER: &str = "Deployment is pending, waiting for peer region";

    /// §2.3: `B - rolling back to job version N`.
    pub fn rollback(base: &str, version: u64) -> String {
        format!("{base} - rolling back to job version {version}")
    }

    /// §2.3: the anti-loop guard's wording.
    pub fn rollback_no_op(base: &str, version: u64) -> String {
        format!(
            "{base} - not rolling back to stable job version {version} as current job has same specification"
        )
    }

    /// §2.3: auto-revert wanted, nothing stable to go back to.
    pub fn no_rollback_target(base: &str) -> String {
        format!("{base} - no stable job version to auto revert to")
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Deployment {
    pub create_index: u64,
    pub create_time: UnixNanos,
    pub eval_priority: i64,
    #[serde(rename = "ID")]
    pub id: Uuid,
    pub is_multiregion: bool,
    pub job_create_index: u64,
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The job's `ModifyIndex` (the crossed naming of §7.1 item 1 is kept on purpose).
    pub job_modify_index: u64,
    /// The job's `JobModifyIndex`.
    pub job_spec_modify_index: u64,
    pub job_version: u64,
    pub modify_index: u64,
    pub modify_time: UnixNanos,
    pub namespace: String,
    pub status: String,
    pub status_description: String,
    pub task_groups: SmallMap<DeploymentState>,
}

impl Deployment {
    /// `Active` (§1.1).
    pub fn active(&self) -> bool {
        is_active_status(&self.status)
    }

    /// `IsTerminal` (§1.1). Not the complement of [`Self::active`] for unknown strings.
    pub fn terminal(&self) -> bool {
        matches!(
            self.status.as_str(),
            status::CANCELLED | status::FAILED | status::SUCCESSFUL
        )
    }

    pub fn has_placed_canaries(&self) -> bool {
        self.task_groups
            .values()
            .any(|g| !g.placed_canaries_slice().is_empty())
    }

    /// `RequiresPromotion` (§1.1): running, and some group still canarying.
    pub fn requires_promotion(&self) -> bool {
        self.status == status::RUNNING && self.task_groups.values().any(DeploymentState::canarying)
    }

    /// `HasAutoPromote` (§1.1).
    pub fn has_auto_promote(&self) -> bool {
        self.status == status::RUNNING
            && self
                .task_groups
                .values()
                .filter(|g| g.desired_canaries > 0)
                .all(|g| g.auto_promote)
    }
}

pub fn is_active_status(s: &str) -> bool {
    matches!(
        s,
        status::RUNNING
            | status::PAUSED
            | status::BLOCKED
            | status::UNBLOCKING
            | status::INITIALIZING
            | status::PENDING
    )
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentState {
    pub auto_promote: bool,
    pub auto_revert: bool,
    pub desired_canaries: u64,
    pub desired_total: u64,
    /// Signed like Nomad's `int`: a flip back to healthy counts nothing, so a later
    /// healthy→unhealthy flip can take it below zero (§7.1 item 13). Healthy plus
    /// unhealthy never exceeds placed.
    pub healthy_allocs: i64,
    pub placed_allocs: u64,
    pub placed_canaries: Option<Vec<Uuid>>,
    pub progress_deadline: DurationNs,
    pub promoted: bool,
    pub require_progress_by: Timestamp,
    pub unhealthy_allocs: u64,
}

impl DeploymentState {
    /// "Canarying" (C8): canaries wanted and not yet promoted.
    pub fn canarying(&self) -> bool {
        self.desired_canaries != 0 && !self.promoted
    }

    /// `HealthyAllocs` as a count (a negative counter means none).
    pub fn healthy(&self) -> u64 {
        self.healthy_allocs.max(0) as u64
    }

    pub fn placed_canaries_slice(&self) -> &[Uuid] {
        self.placed_canaries.as_deref().unwrap_or(&[])
    }
}

/// Response of every deployment write (`DeploymentUpdateResponse`, §1.10).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeploymentUpdateResponse {
    pub deployment_modify_index: u64,
    pub eval_create_index: u64,
    #[serde(rename = "EvalID", with = "empty_as_none")]
    pub eval_id: Option<Uuid>,
    pub index: u64,
    pub reverted_job_version: Option<u64>,
}
