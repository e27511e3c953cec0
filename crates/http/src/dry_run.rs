//! `?dry_run=true` on writes (rollout's own, `http-api.md` R10): the engine's pure dry
//! run of the command against the current state — the response the real write would
//! give, plus every change it would make — with nothing applied, logged or stamped.

use crate::error::ApiError;
use crate::query::WriteOptions;
use crate::server::Api;
use rollout_engine::model::{Allocation, Deployment, Evaluation, Job, SharedStr};
use rollout_engine::VirtualClock;
use rollout_engine::{
    Actor, Applied, Change, Command, DeploymentEngine, Outcome, RollbackDecision, RollbackOutcome,
    SeededStamp, State,
};
use serde::Serialize;
use std::sync::Arc;

/// What a write would change, as `DryRun` in its answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Changes {
    /// The index the write would be applied at (the IDs it would create are
    /// placeholders: the real write draws fresh ones).
    pub index: u64,
    pub deployments: Vec<Arc<Deployment>>,
    pub allocations: Vec<Arc<Allocation>>,
    pub evaluations: Vec<Arc<Evaluation>>,
    pub jobs: Vec<Arc<Job>>,
    pub rollbacks: Vec<RollbackView>,
    /// One per object changed, with the rule behind its last change.
    pub changes: Vec<ChangeView>,
}

/// What a failure would decide about auto-revert.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RollbackView {
    #[serde(rename = "DeploymentID")]
    pub deployment_id: uuid::Uuid,
    /// `RolledBack`, `SameSpecification` or `NoStableVersion`.
    pub decision: &'static str,
    /// The stable version considered, if any.
    pub stable_version: Option<u64>,
    /// The job version a rollback would register.
    pub new_version: Option<u64>,
}

impl RollbackView {
    fn new(r: &RollbackDecision) -> RollbackView {
        let (decision, stable_version, new_version) = match r.outcome {
            RollbackOutcome::RolledBack {
                stable_version,
                new_version,
            } => ("RolledBack", Some(stable_version), Some(new_version)),
            RollbackOutcome::SameSpecification { stable_version } => {
                ("SameSpecification", Some(stable_version), None)
            }
            RollbackOutcome::NoStableVersion => ("NoStableVersion", None, None),
        };
        RollbackView {
            deployment_id: r.deployment_id,
            decision,
            stable_version,
            new_version,
        }
    }
}

/// One object the write would change.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeView {
    pub topic: &'static str,
    pub key: SharedStr,
    pub change: &'static str,
    pub rule: &'static str,
    pub reason: String,
}

/// A write's answer: what the write answered, or — for a dry run — what it would have
/// answered plus `DryRun`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer<T> {
    Applied(T),
    DryRun(DryRunResponse<T>),
}

/// Applies `command`, or with `?dry_run=true` runs it dry; `respond` builds the write's
/// answer from the outcome either way. Returns the index for `X-Nomad-Index`: the
/// command's, or the current one for a dry run (nothing was applied).
pub(crate) async fn submit<T>(
    api: &Api,
    w: &WriteOptions,
    command: Command,
    actor: Actor,
    respond: impl Fn(&Outcome) -> T,
) -> Result<(u64, Answer<T>), ApiError> {
    if w.params.bool("dry_run")? {
        let state = api.state();
        let index = state.index();
        let applied = api.dry_run(state, command)?;
        let answer = DryRunResponse {
            response: respond(&applied.outcome),
            dry_run: changes(&applied),
        };
        return Ok((index, Answer::DryRun(answer)));
    }
    let outcome = api.submit(command, actor).await?;
    Ok((outcome.index, Answer::Applied(respond(&outcome))))
}

/// The answer of a dry-run write: the real write's fields plus `DryRun`.
#[derive(Debug, Serialize)]
pub struct DryRunResponse<T> {
    #[serde(flatten)]
    pub response: T,
    #[serde(rename = "DryRun")]
    pub dry_run: Changes,
}

impl Api {
    /// What `command` would do to `state` (the current state, read once by the caller
    /// so that what it compares the result with is the same), at the backend's clock. A
    /// rejection is the real write's error.
    pub(crate) fn dry_run(&self, state: State, command: Command) -> Result<Applied, ApiError> {
        // A stamp for the clock only: a dry run draws no entropy.
        let engine = DeploymentEngine::from_state(
            state,
            SeededStamp::new(0, VirtualClock::new(self.backend().now_ns())),
        );
        Ok(engine.dry_run(command)?)
    }
}

/// The changes of a dry run, for its answer.
pub fn changes(applied: &Applied) -> Changes {
    Changes {
        index: applied.envelope.index,
        deployments: applied.deployments().cloned().collect(),
        allocations: applied.allocations().cloned().collect(),
        evaluations: applied.evaluations().cloned().collect(),
        jobs: applied.jobs().cloned().collect(),
        rollbacks: applied
            .outcome
            .rollbacks
            .iter()
            .map(RollbackView::new)
            .collect(),
        changes: applied
            .outcome
            .events
            .iter()
            .map(|e| ChangeView {
                topic: e.topic.name(),
                key: e.key.clone(),
                change: match e.change {
                    Change::Created => "Created",
                    Change::Updated => "Updated",
                    Change::Deleted => "Deleted",
                },
                rule: e.rule,
                reason: e.reason.to_string(),
            })
            .collect(),
    }
}
