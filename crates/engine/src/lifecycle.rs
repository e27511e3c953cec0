//! Deployment lifecycle inside the write that causes it (§8 decision 14): creation when a
//! job version becomes current (C1–C4, C6, C7, C11, C13), cancellation of the deployment
//! it supersedes (K1–K2), and success plus job stability (X1–X3) in the write that
//! completes the rollout.

use crate::model::{description, status, Deployment, DeploymentState, Job, SmallMap};
use crate::reconcile::{counters_complete, reconcile_counts};
use crate::state::JobKey;
use crate::status::update_status;
use crate::tx::Tx;
use crate::Result;

/// Runs the lifecycle for every job this write touched.
pub(crate) fn settle_jobs(tx: &mut Tx) -> Result<()> {
    let jobs = std::mem::take(&mut tx.touched_jobs);
    for key in jobs {
        settle_job(tx, &key)?;
    }
    Ok(())
}

fn settle_job(tx: &mut Tx, key: &JobKey) -> Result<()> {
    let job_changed = tx.jobs_changed.contains(key);
    if !job_changed && !may_complete(tx, key) {
        // Nothing but a job change can create or cancel a deployment, and success needs
        // the counters first: skip the full reconciliation (it scans every allocation).
        return Ok(());
    }
    let rec = reconcile_counts(&tx.state, key, tx.now);
    if let Some((id, why)) = rec.cancel {
        let cause = match (why, rec.job.as_deref()) {
            (description::STOPPED_JOB, _) => ("K1", "the job is stopped".to_string()),
            (_, Some(job)) => ("K2", format!("job version {} superseded it", job.version)),
            (_, None) => ("K1", "the job is gone".to_string()),
        };
        update_status(tx, &id, status::CANCELLED, why, tx.now, cause)?;
    }
    if job_changed {
        if let (Some(job), Some(groups)) = (rec.job.clone(), rec.new_deployment_groups()) {
            create_deployment(tx, &job, groups);
            return Ok(());
        }
    }
    // X1/X2 with decision 12: only an active deployment can succeed.
    if let Some(d) = rec.current.as_ref().filter(|d| d.active()) {
        if rec.complete() {
            let groups: Vec<String> = d
                .task_groups
                .iter()
                .map(|(name, g)| format!("{name} {}/{} healthy", g.healthy(), g.desired_total))
                .collect();
            let cause = (
                "X1",
                format!("nothing left to do for any group: {}", groups.join(", ")),
            );
            update_status(
                tx,
                &d.id,
                status::SUCCESSFUL,
                description::SUCCESSFUL,
                tx.now,
                cause,
            )?;
        }
    }
    Ok(())
}

/// X1's counters, read from the latest deployment alone.
fn may_complete(tx: &Tx, key: &JobKey) -> bool {
    tx.state
        .latest_deployment_any(&key.namespace, &key.id)
        .is_some_and(|d| d.active() && counters_complete(d))
}

/// C11 and C13: a new running deployment for the job's current version.
fn create_deployment(tx: &mut Tx, job: &Job, groups: SmallMap<DeploymentState>) {
    let key = JobKey::of_job(job);
    let priority = tx.cause_priority.get(&key).copied().unwrap_or(job.priority);
    let mut d = Deployment {
        id: tx.new_id(),
        namespace: job.namespace.clone(),
        job_id: job.id.clone(),
        job_version: job.version,
        job_modify_index: job.modify_index,
        job_spec_modify_index: job.job_modify_index,
        job_create_index: job.create_index,
        is_multiregion: false,
        task_groups: groups,
        status: status::RUNNING.to_string(),
        status_description: description::RUNNING.to_string(),
        eval_priority: priority,
        create_time: tx.now,
        modify_time: 0,
        ..Deployment::default()
    };
    if d.requires_promotion() {
        d.status_description = if d.has_auto_promote() {
            description::RUNNING_AUTO_PROMOTION
        } else {
            description::RUNNING_NEEDS_PROMOTION
        }
        .to_string();
    }
    let id = d.id;
    let groups: Vec<String> = d
        .task_groups
        .iter()
        .map(|(name, g)| {
            format!(
                "{name} (desired {}, canaries {})",
                g.desired_total, g.desired_canaries
            )
        })
        .collect();
    let why = format!(
        "job version {} became current: {}; {}",
        job.version,
        groups.join(", "),
        d.status_description
    );
    tx.insert_deployment(d, ("C11", why));
    tx.out.deployments_created.push(id);
}
