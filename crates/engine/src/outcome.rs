//! What `apply` reports besides the new state: API response fields, evaluations created,
//! the rollback decision, and events describing every change.

use crate::model::id::empty_as_none;
use crate::model::{DeploymentUpdateResponse, SharedStr};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::Arc;
use uuid::Uuid;

/// What applying one command did, besides the new state.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Outcome {
    /// The index the command was applied at.
    pub index: u64,
    /// The evaluation the API response names (`EvalID`), if the command created one.
    #[serde(with = "empty_as_none")]
    pub eval_id: Option<Uuid>,
    /// The `CreateIndex` of that evaluation (`EvalCreateIndex`), 0 if none.
    pub eval_create_index: u64,
    /// `DeploymentModifyIndex` of deployment writes.
    pub deployment_modify_index: u64,
    /// The stable *source* version that was re-registered by an automatic rollback (R5).
    pub reverted_job_version: Option<u64>,
    /// `JobModifyIndex` of job writes.
    pub job_modify_index: u64,
    /// Non-fatal registration warnings, one per line.
    pub warnings: Vec<String>,
    /// Every evaluation created by the command, in creation order.
    pub evals_created: Vec<Uuid>,
    /// Deployments created by the command (registration, revert, rollback).
    pub deployments_created: Vec<Uuid>,
    /// Allocations created by a plan result, in submission order.
    pub allocs_created: Vec<Uuid>,
    /// Rollback decisions taken while failing deployments.
    pub rollbacks: Vec<RollbackDecision>,
    /// Which objects changed at this index and why: one event per object.
    pub events: Vec<Event>,
    /// The decision trace: every change, in the order it was made, with the rule that
    /// made it and the inputs that decided it. An object changed twice in one write (a
    /// deployment failed and then its rollback's evaluation created) has one [`Event`]
    /// but a decision per change.
    pub trace: Vec<Decision>,
}

impl Outcome {
    /// The five-field response of every deployment write (§1.10).
    pub fn deployment_update_response(&self) -> DeploymentUpdateResponse {
        DeploymentUpdateResponse {
            deployment_modify_index: self.deployment_modify_index,
            eval_create_index: self.eval_create_index,
            eval_id: self.eval_id,
            index: self.index,
            reverted_job_version: self.reverted_job_version,
        }
    }

    /// The rollback decision, if any failure in this command considered one.
    pub fn rollback(&self) -> Option<&RollbackDecision> {
        self.rollbacks.first()
    }
}

/// What a failure decided about auto-revert (§3.8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackDecision {
    /// The deployment that failed.
    pub deployment_id: Uuid,
    /// What was decided.
    pub outcome: RollbackOutcome,
}

/// What auto-revert did for a failed deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RollbackOutcome {
    /// R3: the stable version differs; it was re-registered as `new_version`.
    RolledBack {
        /// The stable version that was re-registered.
        stable_version: u64,
        /// The job's new version (a copy of the stable one).
        new_version: u64,
    },
    /// R3: the stable version has the same spec as the failing one; nothing registered.
    SameSpecification {
        /// The stable version, identical to the failing one.
        stable_version: u64,
    },
    /// Auto-revert was wanted but no version is stable.
    NoStableVersion,
}

/// The topics of Nomad's event stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Topic {
    /// Deployments.
    Deployment,
    /// Allocations.
    Allocation,
    /// Evaluations.
    Evaluation,
    /// Jobs.
    Job,
    /// ACL tokens (management only; secrets are never part of an event).
    #[serde(rename = "ACLToken")]
    AclToken,
    /// ACL policies (management only).
    #[serde(rename = "ACLPolicy")]
    AclPolicy,
    /// Namespaces (management only; a topic of rollout's own).
    Namespace,
    /// Client nodes (`node:read`).
    Node,
}

impl Topic {
    /// The topic's name on the event stream (`Deployment`, `ACLToken`, …).
    pub fn name(self) -> &'static str {
        match self {
            Topic::Deployment => "Deployment",
            Topic::Allocation => "Allocation",
            Topic::Evaluation => "Evaluation",
            Topic::Job => "Job",
            Topic::AclToken => "ACLToken",
            Topic::AclPolicy => "ACLPolicy",
            Topic::Namespace => "Namespace",
            Topic::Node => "Node",
        }
    }

    /// Every topic, in the order of the enum.
    pub const ALL: [Topic; 8] = [
        Topic::Deployment,
        Topic::Allocation,
        Topic::Evaluation,
        Topic::Job,
        Topic::AclToken,
        Topic::AclPolicy,
        Topic::Namespace,
        Topic::Node,
    ];
}

/// Whether the object appeared, changed or disappeared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// It did not exist before.
    Created,
    /// It changed.
    Updated,
    /// It was removed.
    Deleted,
}

/// One object changed at an index. The payload is not copied: it can be read from the
/// state at `index` (or from the previous state for deletions).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    /// The kind of object.
    pub topic: Topic,
    /// The Nomad raft message type of the command (`DeploymentStatusUpdate`, …).
    pub event_type: &'static str,
    /// The object's key: an ID, the job ID for jobs, the accessor ID of a token, the
    /// name of a policy.
    pub key: SharedStr,
    /// The object's namespace (empty for ACL objects, which have none).
    pub namespace: Arc<str>,
    /// The job the object belongs to (event stream `FilterKeys`); empty for ACL objects.
    pub job_id: Arc<str>,
    /// Whether it appeared, changed or disappeared.
    pub change: Change,
    /// The rule behind the object's last change in this write (a rule ID of
    /// `docs/semantics.md`: `W2`, `P6`, `decision 14`, …).
    pub rule: &'static str,
    /// Why, in words, with the inputs that decided it.
    pub reason: Cow<'static, str>,
}

/// One entry of the decision trace: which object changed, how, by which rule and why.
///
/// Pure data, deterministic (the same command on the same state gives the same trace),
/// serialisable: what answers "why did this deployment fail" after the fact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// What changed.
    pub topic: Topic,
    /// The object's key: an ID, or the job ID for jobs.
    pub key: SharedStr,
    /// Created, updated or deleted.
    pub change: Change,
    /// The rule that made the change (a rule ID of `docs/semantics.md`).
    pub rule: &'static str,
    /// The inputs that decided it, in words (`allocation 5a1c… reported unhealthy by its
    /// client; group web has no progress deadline (D8)`).
    pub reason: Cow<'static, str>,
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} {} {:?} by {}: {}",
            self.topic, self.key, self.change, self.rule, self.reason
        )
    }
}
