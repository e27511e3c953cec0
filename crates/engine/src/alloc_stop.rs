//! `POST /v1/allocation/:id/stop` (AS1): an operator asks for one allocation to be
//! stopped and replaced. As Nomad does it, the allocation is only marked — its desired
//! transition says "migrate" — and an evaluation is created; the reconciler then stops
//! it and places its replacement (AS2), under the same rules as any other placement.

use crate::command::StopAllocation;
use crate::model::{eval_status, triggered_by, Evaluation};
use crate::tx::Tx;
use crate::{Error, Result};

/// AS1: marks the allocation to migrate (and to skip its shutdown delay when asked)
/// and creates the evaluation that replaces it.
pub(crate) fn stop(tx: &mut Tx, c: &StopAllocation) -> Result<()> {
    let Some(stored) = tx.alloc(&c.alloc_id) else {
        return Err(Error::AllocNotFound);
    };
    let job = tx.state.job(&stored.namespace, &stored.job_id).cloned();
    let mut a = (*stored).clone();
    a.desired_transition.migrate = Some(true);
    if c.no_shutdown_delay {
        a.desired_transition.no_shutdown_delay = Some(true);
    }
    a.modify_time = tx.now;
    let why = ("AS1", "an operator asked for the allocation to be stopped");
    tx.put_alloc_over(Some(&stored), a, true, why);
    let eval = Evaluation {
        namespace: stored.namespace.to_string(),
        priority: job.as_ref().map_or(50, |j| j.priority),
        eval_type: job
            .as_ref()
            .map_or_else(|| "service".to_string(), |j| j.job_type.clone()),
        triggered_by: triggered_by::ALLOC_STOP.to_string(),
        job_id: stored.job_id.to_string(),
        job_modify_index: job.as_ref().map_or(0, |j| j.job_modify_index),
        status: eval_status::PENDING.to_string(),
        ..Evaluation::default()
    };
    let eval_id = tx.create_eval(eval, why);
    tx.out.eval_id = Some(eval_id);
    tx.out.eval_create_index = tx.index;
    Ok(())
}
