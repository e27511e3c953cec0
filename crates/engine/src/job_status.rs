//! A job's derived `Status` (§1.7): `running` while it has live allocations or an active
//! deployment, `pending` while it waits for scheduling, `dead` once everything stopped.

use crate::model::{job_status, Job};
use crate::outcome::Change;
use crate::state::{JobKey, State};
use crate::tx::Tx;
use std::sync::Arc;

pub(crate) fn derive(state: &State, job: &Job) -> &'static str {
    if state
        .job_allocs(&job.namespace, &job.id)
        .any(|a| !a.terminal())
    {
        return job_status::RUNNING;
    }
    if job.is_service()
        && state
            .deployments_of_job_any(&job.namespace, &job.id)
            .any(|d| d.active() && d.job_create_index == job.create_index)
    {
        return job_status::RUNNING;
    }
    if state
        .job_evals(&job.namespace, &job.id)
        .any(|e| e.is_pending() || e.status == crate::model::eval_status::BLOCKED)
    {
        return job_status::PENDING;
    }
    if job.stop || state.job_allocs(&job.namespace, &job.id).next().is_some() {
        return job_status::DEAD;
    }
    job_status::PENDING
}

/// Rewrites the current row of every job whose status this write may have changed.
pub(crate) fn refresh(tx: &mut Tx) {
    let dirty = std::mem::take(&mut tx.job_status_dirty);
    for key in dirty {
        refresh_one(tx, &key);
    }
}

fn refresh_one(tx: &mut Tx, key: &JobKey) {
    let Some(job) = tx.job(key) else { return };
    let status = derive(&tx.state, &job);
    if job.status == status {
        return;
    }
    let mut j = (*job).clone();
    j.status = status.to_string();
    j.modify_index = tx.index;
    tx.put_current_job(
        Arc::new(j),
        Change::Updated,
        ("§1.7", format!("job status derived: {status}")),
    );
    // The status write is not a spec change.
    tx.jobs_changed.remove(key);
}
