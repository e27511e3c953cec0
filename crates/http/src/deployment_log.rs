//! One INFO line per deployment status change, for operators and log shippers: which
//! deployment of which job went from what to what, the description, the rollback's
//! version if it rolled back, and the rule that decided it (from the engine's decision
//! trace).
//!
//! It follows the backend's commit feed (`commit_feed`), so every writer is covered — API requests,
//! the dev cluster, the deadline timer, garbage collection — and a change is logged once
//! it is durable. The line's fields are plain values: strings and integers, never Rust's
//! debug formatting.

use rollout_engine::model::Deployment;
use rollout_engine::{Change, Outcome, RollbackOutcome, State, Topic};
use rollout_store::Committed;
use uuid::Uuid;

/// A deployment whose status this write changed (or that it created).
#[derive(Debug, PartialEq, Eq)]
pub struct StatusChange<'a> {
    pub deployment: &'a Deployment,
    /// The status before, `None` for a deployment the write created.
    pub from: Option<&'a str>,
    /// The job version a rollback registered, if the deployment's failure rolled back.
    pub rollback_version: Option<u64>,
    /// The rule of the write's last decision about the deployment, and its reason.
    pub rule: &'static str,
    pub reason: &'a str,
}

/// The status changes of one write, in the order of its events.
pub fn status_changes<'a>(
    outcome: &'a Outcome,
    before: &'a State,
    after: &'a State,
) -> Vec<StatusChange<'a>> {
    outcome
        .events
        .iter()
        .filter(|e| e.topic == Topic::Deployment && e.change != Change::Deleted)
        .filter_map(|e| {
            let id: Uuid = e.key.parse().ok()?;
            let deployment = after.deployment(&id)?;
            let from = before.deployment(&id).map(|d| d.status.as_str());
            if from == Some(deployment.status.as_str()) {
                return None;
            }
            let decision = outcome
                .trace
                .iter()
                .rev()
                .find(|d| d.topic == Topic::Deployment && d.key == e.key);
            let (rule, reason) = decision.map_or((e.rule, &*e.reason), |d| (d.rule, &*d.reason));
            let rollback_version = outcome.rollbacks.iter().find_map(|r| match r.outcome {
                RollbackOutcome::RolledBack { new_version, .. } if r.deployment_id == id => {
                    Some(new_version)
                }
                _ => None,
            });
            Some(StatusChange {
                deployment,
                from,
                rollback_version,
                rule,
                reason,
            })
        })
        .collect()
}

/// Logs the status changes of one committed write.
pub fn log_status_changes(c: &Committed) {
    for change in status_changes(&c.outcome, &c.before, &c.state) {
        let d = change.deployment;
        let from = change.from.unwrap_or("none");
        let id = d.id.to_string();
        match change.rollback_version {
            Some(rollback) => tracing::info!(
                namespace = &*d.namespace,
                job = &*d.job_id,
                version = d.job_version,
                deployment = id,
                from,
                to = &*d.status,
                description = &*d.status_description,
                rollback_version = rollback,
                rule = change.rule,
                reason = change.reason,
                index = c.outcome.index,
                "deployment status changed"
            ),
            None => tracing::info!(
                namespace = &*d.namespace,
                job = &*d.job_id,
                version = d.job_version,
                deployment = id,
                from,
                to = &*d.status,
                description = &*d.status_description,
                rule = change.rule,
                reason = change.reason,
                index = c.outcome.index,
                "deployment status changed"
            ),
        }
    }
}
