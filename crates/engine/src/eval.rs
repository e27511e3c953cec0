//! Evaluation acknowledgements: a scheduler finished with an evaluation.

use crate::command::UpdateEvalStatus;
use crate::model::{eval_status, Evaluation};
use crate::reconcile::reconcile_counts;
use crate::state::{JobKey, State};
use crate::tx::Tx;
use crate::{Error, Result};

/// `TriggeredBy` of the evaluation that continues a rollout whose state changed while the
/// previous evaluation was being planned.
pub const TRIGGER_ROLLING_UPDATE: &str = "rolling-update";

pub(crate) fn update_eval_status(tx: &mut Tx, req: &UpdateEvalStatus) -> Result<()> {
    if !eval_status::is_final(&req.status) {
        return Err(Error::InvalidEvalStatus(req.status.clone()));
    }
    let stored = tx
        .state
        .eval(&req.eval_id)
        .cloned()
        .ok_or(Error::EvalNotFound)?;
    if !(stored.is_pending() || stored.status == eval_status::BLOCKED) {
        return Err(Error::EvalNotPending {
            id: stored.id,
            status: stored.status.clone(),
        });
    }
    let mut e = (*stored).clone();
    e.status = req.status.clone();
    e.status_description = req.status_description.clone();
    e.modify_time = tx.now;
    tx.write_eval(
        e.clone(),
        (
            "§1.9",
            format!("the scheduler marked the evaluation {}", req.status),
        ),
    );
    // What the scheduler did (or found it need not do) may complete the rollout (X1).
    tx.touched_jobs.insert(JobKey::new(&e.namespace, &e.job_id));
    if req.status == eval_status::COMPLETE {
        continue_rollout(tx, &e);
    }
    Ok(())
}

/// Convergence guard for decision 11. Triggers that arrive while an evaluation is being
/// planned are absorbed by it, but its plan was computed from an older state. When it
/// completes, if the job changed after the state the plan saw and there is work to do
/// now, a new evaluation continues the rollout. A plan that saw everything and left work
/// undone (say, no capacity) does not loop.
fn continue_rollout(tx: &mut Tx, done: &Evaluation) {
    let key = JobKey::new(&done.namespace, &done.job_id);
    let seen = if done.snapshot_index != 0 {
        done.snapshot_index
    } else {
        done.create_index
    };
    if !changed_since(&tx.state, &key, seen) {
        return;
    }
    if tx
        .state
        .job_evals(&key.namespace, &key.id)
        .any(|e| e.is_pending())
    {
        return;
    }
    let rec = reconcile_counts(&tx.state, &key, tx.now);
    let work = rec
        .groups
        .values()
        .any(|g| g.placements_now() > 0 || !g.in_place.is_empty() || !g.stops.is_empty());
    let Some(job) = rec.job.as_ref().filter(|_| work) else {
        return;
    };
    let eval = Evaluation {
        namespace: job.namespace.clone(),
        priority: done.priority,
        eval_type: job.job_type.clone(),
        triggered_by: TRIGGER_ROLLING_UPDATE.to_string(),
        job_id: job.id.clone(),
        job_modify_index: job.job_modify_index,
        deployment_id: rec.current.as_ref().filter(|d| d.active()).map(|d| d.id),
        status: eval_status::PENDING.to_string(),
        previous_eval: done.id.to_string(),
        ..Evaluation::default()
    };
    tx.create_eval(
        eval,
        (
            "decision 11",
            "the job changed after the state the plan saw and work remains: continue the rollout",
        ),
    );
}

fn changed_since(state: &State, key: &JobKey, index: u64) -> bool {
    state
        .job_allocs(&key.namespace, &key.id)
        .any(|a| a.modify_index > index)
        || state
            .deployments_of_job_any(&key.namespace, &key.id)
            .any(|d| d.modify_index > index)
}
