//! Failing a deployment: the operator's `Deployment.Fail` (§3.7) and the failure path
//! every other cause shares (M2, W5, D7).

use crate::command::FailDeployment;
use crate::model::{description, status, Deployment};
use crate::outcome::RollbackOutcome;
use crate::rollback::{plan_failure, record, register_rollback};
use crate::state::JobKey;
use crate::status::{update_status, watcher_eval};
use crate::tx::{Tx, Why};
use crate::{Error, Result};
use uuid::Uuid;

/// One write: status `failed` with the (suffixed) description, then the rollback job if
/// the stable version differs, then a new evaluation (M4, F4, W5). Returns the eval.
/// `cause` says which rule failed the deployment and on what inputs (the trace).
pub(crate) fn fail_deployment(
    tx: &mut Tx,
    d: &Deployment,
    base: &str,
    rollback_wanted: bool,
    cause: impl Into<Why>,
) -> Result<Uuid> {
    let cause = cause.into();
    let plan = plan_failure(&tx.state, d, base, rollback_wanted);
    update_status(
        tx,
        &d.id,
        status::FAILED,
        &plan.description,
        tx.now,
        cause.clone(),
    )?;
    if let Some(outcome) = plan.decision {
        record(tx, d, outcome);
    }
    let eval = watcher_eval(&tx.state, d);
    let priority = eval.priority;
    if let Some(stable) = plan.rollback_to {
        if let Some(new_version) = register_rollback(tx, &stable, d) {
            tx.cause_priority
                .insert(JobKey::new(&d.namespace, &d.job_id), priority);
            record(
                tx,
                d,
                RollbackOutcome::RolledBack {
                    stable_version: stable.version,
                    new_version,
                },
            );
        }
    }
    Ok(tx.create_eval(eval, (cause.rule, plan.description)))
}

/// F1–F5: the operator fails a deployment.
pub(crate) fn fail(tx: &mut Tx, req: &FailDeployment) -> Result<()> {
    let id = req.deployment_id;
    let d = tx.deployment(&id).ok_or(Error::DeploymentNotFound)?;
    if !d.active() {
        return Err(Error::CantFailTerminal);
    }
    // F3: rollback is wanted if any group auto-reverts, whatever its health.
    let reverting: Vec<&str> = d
        .task_groups
        .iter()
        .filter(|(_, g)| g.auto_revert)
        .map(|(name, _)| name.as_str())
        .collect();
    let wanted = !reverting.is_empty();
    let cause = (
        "F2",
        if wanted {
            format!(
                "failed by the operator; group(s) {} auto-revert (F3)",
                reverting.join(", ")
            )
        } else {
            "failed by the operator; no group auto-reverts (F3)".to_string()
        },
    );
    let eval = fail_deployment(tx, &d, description::FAILED_BY_USER, wanted, cause)?;
    // F5.
    tx.out.eval_id = Some(eval);
    tx.out.eval_create_index = tx.index;
    tx.out.deployment_modify_index = tx.index;
    Ok(())
}
