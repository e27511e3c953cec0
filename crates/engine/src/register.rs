//! Job writes: register (§3.16 register rules, §1.8 validation), deregister/purge (G3),
//! revert and stable (§3.16).

use crate::command::{DeregisterJob, EvaluateJob, RegisterJob, RevertJob, SetJobStability};
use crate::job::{canonicalize, spec_changed, validate};
use crate::model::{eval_status, job_status, job_type, triggered_by, Evaluation, Job};
use crate::outcome::Change;
use crate::state::JobKey;
use crate::status::set_version_stability;
use crate::tx::Tx;
use crate::{Error, Result};
use std::sync::Arc;

/// Nomad's message for an `EvalPriority` outside 1..=100.
pub const EVAL_PRIORITY_RANGE: &str = "Eval priority must be between 1 and 100 inclusively";

/// §8 decision 15: the warning for system and sysbatch jobs that carry an update block.
pub const SYSTEM_DEPLOYMENTS_UNSUPPORTED: &str =
    "Deployments of system and sysbatch jobs are not supported; the update block is ignored";

/// `PUT /v1/jobs`: validates, then writes a new version if the spec changed (otherwise only
/// an evaluation), at one index.
pub(crate) fn register(tx: &mut Tx, req: &RegisterJob) -> Result<()> {
    let mut job = req.job.clone();
    canonicalize(&mut job);
    let validation = validate(&job);
    if !validation.errors.is_empty() {
        return Err(Error::InvalidJob(validation.errors));
    }
    if req.eval_priority != 0 && !(1..=100).contains(&req.eval_priority) {
        return Err(Error::InvalidJob(vec![EVAL_PRIORITY_RANGE.to_string()]));
    }
    crate::namespace::require_namespace(&tx.state, &job.id, &job.namespace)?;
    let key = JobKey::of_job(&job);
    let existing = tx.job(&key);
    if req.enforce_index {
        enforce_index(existing.as_deref(), req.job_modify_index)?;
    }
    let mut warnings = validation.warnings;
    let is_system = job.job_type == job_type::SYSTEM || job.job_type == job_type::SYSBATCH;
    if is_system && job.task_groups.iter().any(|g| g.strategy().is_some()) {
        warnings.push(SYSTEM_DEPLOYMENTS_UNSUPPORTED.to_string());
    }
    tx.out.warnings = warnings;
    let priority = if req.eval_priority != 0 {
        req.eval_priority
    } else {
        job.priority
    };
    write_registration(
        tx,
        job,
        existing,
        priority,
        triggered_by::JOB_REGISTER,
        "job registered",
    )
}

/// `EnforceIndex` (§5.5): the caller's view of the job must still be current.
fn enforce_index(existing: Option<&Job>, expected: u64) -> Result<()> {
    match existing {
        None if expected != 0 => Err(Error::EnforceIndexJobMissing(expected)),
        Some(_) if expected == 0 => Err(Error::EnforceIndexJobExists),
        Some(j) if j.job_modify_index != expected => Err(Error::EnforceIndexConflict {
            expected,
            actual: j.job_modify_index,
        }),
        _ => Ok(()),
    }
}

/// Writes a submitted job: a new version if its spec differs from the current one,
/// then an evaluation. Fills the response fields of `JobRegisterResponse`.
fn write_registration(
    tx: &mut Tx,
    mut job: Job,
    existing: Option<Arc<Job>>,
    eval_priority: i64,
    trigger: &str,
    reason: &'static str,
) -> Result<()> {
    let key = JobKey::of_job(&job);
    let changed = existing.as_deref().is_none_or(|e| spec_changed(e, &job));
    let job_modify_index = if changed {
        match existing.as_deref() {
            Some(e) => {
                if job.version <= e.version {
                    job.version = e.version + 1;
                }
                job.create_index = e.create_index;
                job.status = e.status.clone();
            }
            None => {
                job.create_index = tx.index;
                job.status = job_status::PENDING.to_string();
            }
        }
        job.modify_index = tx.index;
        job.job_modify_index = tx.index;
        job.submit_time = tx.now;
        job.stable = false;
        let job = Arc::new(job);
        tx.put_job_version(job.clone());
        let change = if existing.is_some() {
            Change::Updated
        } else {
            Change::Created
        };
        let version = job.version;
        tx.put_current_job(
            job.clone(),
            change,
            ("decision 14", format!("{reason}: version {version}")),
        );
        tx.cause_priority.insert(key.clone(), eval_priority);
        tx.index
    } else {
        existing.as_deref().map_or(0, |e| e.modify_index)
    };
    let current = tx
        .job(&key)
        .ok_or_else(|| Error::JobNotFound(key.id.to_string()))?;
    tx.out.job_modify_index = job_modify_index;
    if current.periodic.as_ref().is_some_and(|p| !p.is_null())
        || current
            .parameterized_job
            .as_ref()
            .is_some_and(|p| !p.is_null())
    {
        // Periodic and parameterized jobs are not evaluated on registration.
        return Ok(());
    }
    let eval = Evaluation {
        namespace: current.namespace.clone(),
        priority: eval_priority,
        eval_type: current.job_type.clone(),
        triggered_by: trigger.to_string(),
        job_id: current.id.clone(),
        job_modify_index: current.job_modify_index,
        status: eval_status::PENDING.to_string(),
        ..Evaluation::default()
    };
    let eval_id = tx.create_eval(eval, ("decision 14", reason));
    tx.out.eval_id = Some(eval_id);
    tx.out.eval_create_index = tx.index;
    Ok(())
}

/// `DELETE /v1/job/:id`: stop (a new version with `Stop = true`) or purge (G3: the job,
/// its versions, deployments and allocations are removed; pending evaluations complete).
pub(crate) fn deregister(tx: &mut Tx, req: &DeregisterJob) -> Result<()> {
    let namespace = if req.namespace.is_empty() {
        "default"
    } else {
        req.namespace.as_str()
    };
    let key = JobKey::new(namespace, &req.job_id);
    let existing = tx
        .job(&key)
        .ok_or_else(|| Error::JobNotFound(req.job_id.clone()))?;
    let priority = if req.eval_priority != 0 {
        req.eval_priority
    } else {
        existing.priority
    };
    if !(req.eval_priority == 0 || (1..=100).contains(&req.eval_priority)) {
        return Err(Error::InvalidJob(vec![EVAL_PRIORITY_RANGE.to_string()]));
    }
    if req.purge {
        purge(tx, &key, &existing);
        tx.out.job_modify_index = tx.index;
    } else {
        let mut stopped = (*existing).clone();
        stopped.stop = true;
        if spec_changed(&existing, &stopped) {
            stopped.version = existing.version + 1;
            stopped.modify_index = tx.index;
            stopped.job_modify_index = tx.index;
            stopped.submit_time = tx.now;
            stopped.stable = false;
            let stopped = Arc::new(stopped);
            tx.put_job_version(stopped.clone());
            tx.put_current_job(
                stopped,
                Change::Updated,
                (
                    "K1",
                    format!("job stopped: version {}", existing.version + 1),
                ),
            );
            tx.out.job_modify_index = tx.index;
        } else {
            tx.out.job_modify_index = existing.modify_index;
        }
    }
    let eval = Evaluation {
        namespace: existing.namespace.clone(),
        priority,
        eval_type: existing.job_type.clone(),
        triggered_by: triggered_by::JOB_DEREGISTER.to_string(),
        job_id: existing.id.clone(),
        job_modify_index: tx.out.job_modify_index,
        status: eval_status::PENDING.to_string(),
        ..Evaluation::default()
    };
    let eval_id = tx.create_eval(eval, ("K1", "job deregistered"));
    tx.out.eval_id = Some(eval_id);
    tx.out.eval_create_index = tx.index;
    Ok(())
}

fn purge(tx: &mut Tx, key: &JobKey, existing: &Job) {
    let deployments: Vec<_> = tx
        .state
        .deployments_of_job_any(&key.namespace, &key.id)
        .map(|d| d.id)
        .collect();
    for id in &deployments {
        tx.delete_deployment(id, ("G3", "job purged"));
    }
    tx.state.t_mut().tables.deployment = tx.index;
    let allocs: Vec<_> = tx
        .state
        .job_allocs(&key.namespace, &key.id)
        .map(|a| a.id)
        .collect();
    for id in &allocs {
        tx.delete_alloc(id, ("G3", "job purged"));
    }
    tx.state.t_mut().tables.allocs = tx.index;
    let versions: Vec<u64> = tx
        .state
        .job_versions(&key.namespace, &key.id)
        .map(|j| j.version)
        .collect();
    for v in versions {
        tx.state.remove_job_version(key, v);
    }
    tx.state.t_mut().tables.job_version = tx.index;
    let pending: Vec<_> = tx
        .state
        .job_evals(&key.namespace, &key.id)
        .filter(|e| e.is_pending())
        .map(|e| (**e).clone())
        .collect();
    for mut e in pending {
        e.status = eval_status::COMPLETE.to_string();
        e.status_description = "job purged".to_string();
        e.modify_time = tx.now;
        tx.write_eval(e, ("G3", "job purged"));
    }
    tx.state.remove_job(key);
    tx.state.t_mut().tables.jobs = tx.index;
    tx.touched_jobs.insert(key.clone());
    let job_key = tx.job_key(&existing.namespace, &existing.id);
    tx.event(
        crate::outcome::Topic::Job,
        Change::Deleted,
        crate::tx::EventKey::Job(job_key.id.clone()),
        &job_key,
        ("G3", "job purged"),
    );
}

/// `PUT /v1/job/:id/revert` (§3.16 revert, checks in Nomad's order).
pub(crate) fn revert(tx: &mut Tx, req: &RevertJob) -> Result<()> {
    if req.job_id.is_empty() {
        return Err(Error::MissingJobIdForRevert);
    }
    let namespace = if req.namespace.is_empty() {
        "default"
    } else {
        req.namespace.as_str()
    };
    let key = JobKey::new(namespace, &req.job_id);
    let current = tx
        .job(&key)
        .ok_or_else(|| Error::JobNotFound(req.job_id.clone()))?;
    if req.job_version == current.version {
        return Err(Error::RevertToCurrentVersion);
    }
    let target = tx
        .state
        .job_version(namespace, &req.job_id, req.job_version)
        .cloned()
        .ok_or_else(|| Error::JobVersionNotFound {
            job: req.job_id.clone(),
            namespace: namespace.to_string(),
            version: req.job_version,
        })?;
    if let Some(enforced) = req.enforce_prior_version {
        if enforced != current.version {
            return Err(Error::EnforcePriorVersion {
                current: current.version,
                enforced,
            });
        }
        // The registration is enforced against the current JobModifyIndex; inside one
        // write nothing can change it, so the check always holds here.
        enforce_index(Some(&current), current.job_modify_index)?;
    }
    let mut job = (*target).clone();
    job.version_tag = None;
    job.stable = false;
    let priority = current.priority;
    write_registration(
        tx,
        job,
        Some(current),
        priority,
        triggered_by::JOB_REGISTER,
        "job reverted",
    )
}

/// `PUT /v1/job/:id/stable` (§3.16 stable, decision 3).
pub(crate) fn set_stability(tx: &mut Tx, req: &SetJobStability) -> Result<()> {
    if req.job_id.is_empty() {
        return Err(Error::MissingJobIdForStable);
    }
    let namespace = if req.namespace.is_empty() {
        "default"
    } else {
        req.namespace.as_str()
    };
    let key = JobKey::new(namespace, &req.job_id);
    if tx
        .state
        .job_version(namespace, &req.job_id, req.job_version)
        .is_none()
    {
        return Err(Error::JobVersionNotFound {
            job: req.job_id.clone(),
            namespace: namespace.to_string(),
            version: req.job_version,
        });
    }
    let why = (
        "§3.16",
        format!(
            "version {} marked {} by the operator",
            req.job_version,
            if req.stable { "stable" } else { "unstable" }
        ),
    );
    set_version_stability(tx, &key, req.job_version, req.stable, why);
    Ok(())
}

/// EV1: `Job.Evaluate` — a new pending evaluation of the job's current version, as its
/// registration would create; refused for periodic and parameterized jobs, whose
/// launches are what gets evaluated.
pub(crate) fn evaluate(tx: &mut Tx, c: &EvaluateJob) -> Result<()> {
    let key = tx.job_key(&c.namespace, &c.job_id);
    let job = tx
        .job(&key)
        .ok_or_else(|| Error::JobNotFound(c.job_id.clone()))?;
    if job.periodic.as_ref().is_some_and(|p| !p.is_null()) {
        return Err(Error::CantEvaluatePeriodic);
    }
    if job.parameterized_job.as_ref().is_some_and(|p| !p.is_null()) {
        return Err(Error::CantEvaluateParameterized);
    }
    let eval = Evaluation {
        namespace: job.namespace.clone(),
        priority: job.priority,
        eval_type: job.job_type.clone(),
        triggered_by: triggered_by::JOB_EVAL.to_string(),
        job_id: job.id.clone(),
        job_modify_index: job.job_modify_index,
        status: eval_status::PENDING.to_string(),
        ..Evaluation::default()
    };
    let eval_id = tx.create_eval(
        eval,
        ("EV1", "an operator asked for the job to be evaluated"),
    );
    tx.out.eval_id = Some(eval_id);
    tx.out.eval_create_index = tx.index;
    tx.out.job_modify_index = job.job_modify_index;
    Ok(())
}
