//! Deployments and their per-group state (§1.1, §1.2) and the exact status strings of §2.

use super::compact::SmallMap;
use super::id::empty_as_none;
use super::time::{DurationNs, Timestamp, UnixNanos};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Deployment status values (§2.1). The store does not validate them (§7.1 item 26).
pub mod status {
    /// Rolling out.
    pub const RUNNING: &str = "running";
    /// Paused by an operator: nothing new is placed (S1–S6).
    pub const PAUSED: &str = "paused";
    /// Failed (unhealthy allocations, progress deadline, or by hand); terminal.
    pub const FAILED: &str = "failed";
    /// Every group is healthy and promoted (X1); terminal.
    pub const SUCCESSFUL: &str = "successful";
    /// Superseded by a newer job version, or the job stopped; terminal.
    pub const CANCELLED: &str = "cancelled";
    /// Multiregion: waiting to start (not used by rollout, read for compatibility).
    pub const INITIALIZING: &str = "initializing";
    /// Multiregion: waiting for a peer region (not used by rollout).
    pub const PENDING: &str = "pending";
    /// Multiregion: complete here, waiting for peers (not used by rollout).
    pub const BLOCKED: &str = "blocked";
    /// Multiregion: unblocking the other regions (not used by rollout).
    pub const UNBLOCKING: &str = "unblocking";
}

/// Fixed status descriptions (§2.2).
pub mod description {
    /// A running deployment.
    pub const RUNNING: &str = "Deployment is running";
    /// Running, with canaries waiting for a manual promotion.
    pub const RUNNING_NEEDS_PROMOTION: &str = "Deployment is running but requires manual promotion";
    /// Running, with canaries that will be promoted automatically once healthy.
    pub const RUNNING_AUTO_PROMOTION: &str = "Deployment is running pending automatic promotion";
    /// Paused by an operator.
    pub const PAUSED: &str = "Deployment is paused";
    /// Every group completed.
    pub const SUCCESSFUL: &str = "Deployment completed successfully";
    /// Cancelled because its job was stopped (K1).
    pub const STOPPED_JOB: &str = "Cancelled because job is stopped";
    /// Cancelled because a newer job version is current (K2).
    pub const NEWER_JOB: &str = "Cancelled due to newer version of job";
    /// Failed: allocations were unhealthy.
    pub const FAILED_ALLOCATIONS: &str = "Failed due to unhealthy allocations";
    /// Failed: the progress deadline passed (§3.10).
    pub const PROGRESS_DEADLINE: &str = "Failed due to progress deadline";
    /// Failed by an operator.
    pub const FAILED_BY_USER: &str = "Deployment marked as failed";
    /// Multiregion: a peer region failed (not used by rollout).
    pub const FAILED_BY_PEER: &str = "Failed because of an error in peer region";
    /// Multiregion: waiting for a peer region (not used by rollout).
    pub const BLOCKED: &str = "Deployment is complete but waiting for peer region";
    /// Multiregion: unblocking the other regions (not used by rollout).
    pub const UNBLOCKING: &str = "Deployment is unblocking remaining regions";
    /// Multiregion: pending for a peer region (not used by rollout).
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

/// A deployment: the rollout of one job version, group by group (`structs.Deployment`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Deployment {
    /// `CreateIndex`: the index that created it.
    pub create_index: u64,
    /// `CreateTime`, Unix nanoseconds.
    pub create_time: UnixNanos,
    /// Priority of the evaluations it creates (`EvalPriority`).
    pub eval_priority: i64,
    /// The deployment's ID (`ID`).
    #[serde(rename = "ID")]
    pub id: Uuid,
    /// `IsMultiregion`: always false here.
    pub is_multiregion: bool,
    /// The `CreateIndex` of the job it rolls out (`JobCreateIndex`): tells a re-created job
    /// apart.
    pub job_create_index: u64,
    /// The job it rolls out (`JobID`).
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The job's `ModifyIndex` (the crossed naming of §7.1 item 1 is kept on purpose).
    pub job_modify_index: u64,
    /// The job's `JobModifyIndex`.
    pub job_spec_modify_index: u64,
    /// The job version it rolls out (`JobVersion`).
    pub job_version: u64,
    /// `ModifyIndex`: the index that last wrote it.
    pub modify_index: u64,
    /// `ModifyTime`, Unix nanoseconds.
    pub modify_time: UnixNanos,
    /// Its job's namespace (`Namespace`).
    pub namespace: String,
    /// `Status`, one of [`status`].
    pub status: String,
    /// `StatusDescription`, usually one of [`description`].
    pub status_description: String,
    /// Per-group progress (`TaskGroups`), by group name.
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

    /// Whether any group has placed a canary.
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

/// One task group's progress in a deployment (`DeploymentState`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentState {
    /// Canaries are promoted automatically once healthy (`AutoPromote`).
    pub auto_promote: bool,
    /// A failure re-registers the latest stable version (`AutoRevert`, §3.8).
    pub auto_revert: bool,
    /// How many canaries the group wants (`DesiredCanaries`).
    pub desired_canaries: u64,
    /// How many allocations the group rolls out (`DesiredTotal`, C6).
    pub desired_total: u64,
    /// Signed like Nomad's `int`: a flip back to healthy counts nothing, so a later
    /// healthy→unhealthy flip can take it below zero (§7.1 item 13). Healthy plus
    /// unhealthy never exceeds placed.
    pub healthy_allocs: i64,
    /// How many allocations were placed for the deployment (`PlacedAllocs`).
    pub placed_allocs: u64,
    /// The canaries placed, by ID (`PlacedCanaries`; `null` when none).
    pub placed_canaries: Option<Vec<Uuid>>,
    /// `ProgressDeadline`: how long the group may go without a new healthy allocation.
    pub progress_deadline: DurationNs,
    /// The group's canaries were promoted (`Promoted`).
    pub promoted: bool,
    /// When the progress deadline expires (`RequireProgressBy`; zero when not armed).
    pub require_progress_by: Timestamp,
    /// How many of its allocations are unhealthy (`UnhealthyAllocs`).
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

    /// The placed canaries (empty when none).
    pub fn placed_canaries_slice(&self) -> &[Uuid] {
        self.placed_canaries.as_deref().unwrap_or(&[])
    }
}

/// Response of every deployment write (`DeploymentUpdateResponse`, §1.10).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeploymentUpdateResponse {
    /// The deployment's `ModifyIndex` after the write.
    pub deployment_modify_index: u64,
    /// The `CreateIndex` of the evaluation the write created, 0 if none.
    pub eval_create_index: u64,
    /// The evaluation the write created (`EvalID`), if any.
    #[serde(rename = "EvalID", with = "empty_as_none")]
    pub eval_id: Option<Uuid>,
    /// The index the write was applied at.
    pub index: u64,
    /// The stable version an automatic rollback re-registered (`RevertedJobVersion`), if
    /// any.
    pub reverted_job_version: Option<u64>,
}
