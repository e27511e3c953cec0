//! Evaluations (§1.9). On the wire every zero-valued field is omitted (`http-api.md` §7.5).

use super::id::empty_as_none;
use super::skip::{is_false, is_zero_i64, is_zero_u64};
use super::time::{DurationNs, Timestamp, UnixNanos};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Evaluation statuses. Note `canceled` with one "l", unlike the deployment status.
pub mod eval_status {
    /// Waiting for capacity; it may be acknowledged like a pending one.
    pub const BLOCKED: &str = "blocked";
    /// Waiting for a scheduler.
    pub const PENDING: &str = "pending";
    /// Processed.
    pub const COMPLETE: &str = "complete";
    /// Processing failed.
    pub const FAILED: &str = "failed";
    /// Superseded before it was processed.
    pub const CANCELED: &str = "canceled";

    /// Statuses an evaluation may be acknowledged with.
    pub fn is_final(s: &str) -> bool {
        matches!(s, COMPLETE | FAILED | CANCELED)
    }
}

/// `TriggeredBy` values the engine writes.
pub mod triggered_by {
    /// A job was registered.
    pub const JOB_REGISTER: &str = "job-register";
    /// A job was stopped or purged.
    pub const JOB_DEREGISTER: &str = "job-deregister";
    /// An operator asked for the job to be evaluated again (`POST /v1/job/:id/evaluate`).
    pub const JOB_EVAL: &str = "job-eval";
    /// The deployment watcher asked for a new plan (progress, promotion, failure).
    pub const DEPLOYMENT_WATCHER: &str = "deployment-watcher";
    /// An allocation failed and is to be rescheduled.
    pub const ALLOC_FAILURE: &str = "alloc-failure";
    /// An operator stopped an allocation (`POST /v1/allocation/:id/stop`, AS1).
    pub const ALLOC_STOP: &str = "alloc-stop";
    /// A delayed reschedule's follow-up evaluation (the same wire value as
    /// [`ALLOC_FAILURE`]).
    pub const RETRY_FAILED_ALLOC: &str = "alloc-failure";
}

/// An evaluation: a request for a scheduler to plan a job (`structs.Evaluation`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Evaluation {
    /// `AnnotatePlan`: the plan should be annotated (dry runs).
    #[serde(skip_serializing_if = "is_false")]
    pub annotate_plan: bool,
    /// `BlockedEval` created by this one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub blocked_eval: String,
    /// `CreateIndex`: the index that created it.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub create_index: u64,
    /// `CreateTime`, Unix nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub create_time: UnixNanos,
    /// The deployment it plans for (`DeploymentID`), if any.
    #[serde(
        rename = "DeploymentID",
        with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub deployment_id: Option<Uuid>,
    /// The evaluation's ID (`ID`).
    #[serde(rename = "ID")]
    pub id: Uuid,
    /// The job to plan (`JobID`).
    #[serde(rename = "JobID", skip_serializing_if = "String::is_empty")]
    pub job_id: String,
    /// The job's `JobModifyIndex` when the evaluation was created.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub job_modify_index: u64,
    /// `ModifyIndex`: the index that last wrote it.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub modify_index: u64,
    /// `ModifyTime`, Unix nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub modify_time: UnixNanos,
    /// Its job's namespace (`Namespace`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// `NextEval`: the evaluation that follows this one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub next_eval: String,
    /// The node that triggered it (`NodeID`), for node updates.
    #[serde(rename = "NodeID", skip_serializing_if = "String::is_empty")]
    pub node_id: String,
    /// `PreviousEval`: the evaluation this one follows.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub previous_eval: String,
    /// Scheduling priority (`Priority`).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub priority: i64,
    /// Allocations left unplaced, by group (`QueuedAllocations`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued_allocations: Option<BTreeMap<String, i64>>,
    /// The state index the scheduler planned from (`SnapshotIndex`).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub snapshot_index: u64,
    /// `Status`, one of [`eval_status`].
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// `StatusDescription`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status_description: String,
    /// Why it was created (`TriggeredBy`, one of [`triggered_by`]).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub triggered_by: String,
    /// The scheduler type (`Type`): the job's type.
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub eval_type: String,
    /// How long to wait before processing (`Wait`).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub wait: DurationNs,
    /// Do not process before this time (`WaitUntil`): delayed reschedules.
    #[serde(skip_serializing_if = "Timestamp::is_zero_ref")]
    pub wait_until: Timestamp,
}

impl Timestamp {
    /// For `skip_serializing_if`.
    pub fn is_zero_ref(&self) -> bool {
        self.is_zero()
    }
}

impl Evaluation {
    /// Whether a scheduler still has to process it.
    pub fn is_pending(&self) -> bool {
        self.status == eval_status::PENDING
    }
}
