//! Auto-revert (§3.8): deciding whether a failing deployment rolls back, and re-registering
//! the stable version when it does.

use crate::job::spec_changed;
use crate::model::{description, Deployment, Job};
use crate::outcome::{Change, RollbackDecision, RollbackOutcome};
use crate::state::{JobKey, State};
use crate::status::watcher_job;
use crate::tx::Tx;
use std::sync::Arc;

/// The failure description and, when the spec differs, the stable job to re-register.
pub(crate) struct FailurePlan {
    pub description: String,
    pub rollback_to: Option<Arc<Job>>,
    pub decision: Option<RollbackOutcome>,
}

/// R1–R3 for a failure with base description `base`.
pub(crate) fn plan_failure(
    state: &State,
    d: &Deployment,
    base: &str,
    rollback_wanted: bool,
) -> FailurePlan {
    if !rollback_wanted {
        return FailurePlan {
            description: base.to_string(),
            rollback_to: None,
            decision: None,
        };
    }
    // R1: the newest stable version, the current one included.
    let Some(stable) = state
        .latest_stable_version(&d.namespace, &d.job_id)
        .cloned()
    else {
        return FailurePlan {
            description: description::no_rollback_target(base),
            rollback_to: None,
            decision: Some(RollbackOutcome::NoStableVersion),
        };
    };
    // R2: compare with the job the deployment rolls out.
    let differs = watcher_job(state, d).is_none_or(|w| spec_changed(&w, &stable));
    if differs {
        FailurePlan {
            description: description::rollback(base, stable.version),
            decision: None,
            rollback_to: Some(stable),
        }
    } else {
        FailurePlan {
            description: description::rollback_no_op(base, stable.version),
            rollback_to: None,
            decision: Some(RollbackOutcome::SameSpecification {
                stable_version: stable.version,
            }),
        }
    }
}

/// R4: the stable job is written as a new version (`current + 1`), keeping everything of
/// the picked version — `Stable = true`, its `SubmitTime` and `VersionTag` included — but
/// the job's `CreateIndex`. Returns the new version number, or `None` if the job is gone.
pub(crate) fn register_rollback(tx: &mut Tx, stable: &Job, failed: &Deployment) -> Option<u64> {
    let key = JobKey::of_job(stable);
    let current = tx.job(&key)?;
    let mut j = stable.clone();
    j.version = current.version + 1;
    j.create_index = current.create_index;
    j.modify_index = tx.index;
    j.job_modify_index = tx.index;
    j.status = current.status.clone();
    j.status_description = current.status_description.clone();
    let version = j.version;
    let j = Arc::new(j);
    tx.put_job_version(j.clone());
    let why = format!(
        "deployment {} of version {} failed: version {} re-registers stable version {} (R1: the newest stable; R2: its spec differs)",
        failed.id, failed.job_version, version, stable.version
    );
    tx.put_current_job(j, Change::Updated, ("R4", why));
    Some(version)
}

/// Records a rollback decision in the outcome.
pub(crate) fn record(tx: &mut Tx, d: &Deployment, outcome: RollbackOutcome) {
    if let RollbackOutcome::RolledBack { stable_version, .. } = outcome {
        tx.out.reverted_job_version = Some(stable_version);
    }
    tx.out.rollbacks.push(RollbackDecision {
        deployment_id: d.id,
        outcome,
    });
}
