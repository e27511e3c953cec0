//! Evaluations (§1.9). On the wire every zero-valued field is omitted (`http-api.md` §7.5).

use super::id::empty_as_none;
use super::skip::{is_false, is_zero_i64, is_zero_u64};
use super::time::{DurationNs, Timestamp, UnixNanos};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Evaluation statuses. Note `canceled` with one "l", unlike the deployment status.
pub mod eval_status {
    pub const BLOCKED: &str = "blocked";
    pub const PENDING: &str = "pending";
    pub const COMPLETE: &str = "complete";
    pub const FAILED: &str = "failed";
    pub const CANCELED: &str = "canceled";

    /// Statuses an evaluation may be acknowledged with.
    pub fn is_final(s: &str) -> bool {
        matches!(s, COMPLETE | FAILED | CANCELED)
    }
}

/// `TriggeredBy` values the engine writes.
pub mod triggered_by {
    pub const JOB_REGISTER: &str = "job-register";
    pub const JOB_DEREGISTER: &str = "job-deregister";
    pub const DEPLOYMENT_WATCHER: &str = "deployment-watcher";
    pub const ALLOC_FAILURE: &str = "alloc-failure";
    pub const RETRY_FAILED_ALLOC: &str = "alloc-failure";
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Evaluation {
    #[serde(skip_serializing_if = "is_false")]
    pub annotate_plan: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub blocked_eval: String,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub create_index: u64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub create_time: UnixNanos,
    #[serde(
        rename = "DeploymentID",
        with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub deployment_id: Option<Uuid>,
    #[serde(rename = "ID")]
    pub id: Uuid,
    #[serde(rename = "JobID", skip_serializing_if = "String::is_empty")]
    pub job_id: String,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub job_modify_index: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub modify_index: u64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub modify_time: UnixNanos,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub next_eval: String,
    #[serde(rename = "NodeID", skip_serializing_if = "String::is_empty")]
    pub node_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub previous_eval: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub priority: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued_allocations: Option<BTreeMap<String, i64>>,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub snapshot_index: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status_description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub triggered_by: String,
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub eval_type: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub wait: DurationNs,
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
    pub fn is_pending(&self) -> bool {
        self.status == eval_status::PENDING
    }
}
