//! Client allocation updates (§3.2 A9): status, task states and automatic health.

use crate::alloc_write::write_alloc;
use crate::command::ClientAllocUpdates;
use crate::model::{client_status, eval_status, AllocDeploymentStatus, Evaluation};
use crate::state::JobKey;
use crate::tx::Tx;
use crate::{Error, Result};
use std::collections::BTreeSet;

/// `TriggeredBy` of the evaluation a failed or lost allocation outside an active
/// deployment gets, so that the scheduler can replace it.
pub const TRIGGER_ALLOC_FAILURE: &str = "alloc-failure";

pub(crate) fn update_allocs(tx: &mut Tx, req: &ClientAllocUpdates) -> Result<()> {
    let mut needs_eval: BTreeSet<JobKey> = BTreeSet::new();
    for u in &req.allocations {
        if !is_client_status(&u.client_status) {
            return Err(Error::InvalidClientUpdate {
                alloc: u.id,
                reason: format!("unknown client status {:?}", u.client_status),
            });
        }
        let Some(stored) = tx.alloc(&u.id) else {
            return Err(Error::UnknownAlloc(u.id.to_string()));
        };
        let mut a = (*stored).clone();
        let was_down = matches!(
            stored.client_status.as_str(),
            client_status::FAILED | client_status::LOST
        );
        let newly_failed = !was_down && u.client_status == client_status::FAILED;
        let newly_lost = !was_down && u.client_status == client_status::LOST;
        a.client_status = u.client_status.as_str().into();
        a.client_description = u.client_description.as_str().into();
        if u.task_states.is_some() {
            a.task_states = u.task_states.clone();
        }
        a.modify_time = u.modify_time;
        // A9: a client only sets health and its timestamp. With no stored status at all it
        // adopts the client's object (canary flag included); it can never clear `Canary`.
        if let Some(reported) = u.deployment_status.as_ref().filter(|s| s.healthy.is_some()) {
            match a.deployment_status.as_mut() {
                None => {
                    a.deployment_status = Some(AllocDeploymentStatus {
                        canary: reported.canary,
                        healthy: reported.healthy,
                        timestamp: reported.timestamp,
                        modify_index: tx.index,
                    })
                }
                Some(ds) if ds.healthy != reported.healthy => {
                    ds.healthy = reported.healthy;
                    ds.timestamp = reported.timestamp;
                    ds.modify_index = tx.index;
                }
                Some(_) => {}
            }
        }
        let in_active_deployment = a
            .deployment_id
            .and_then(|d| tx.deployment(&d))
            .is_some_and(|d| d.active());
        // A lost allocation is always replaced (C10), so it always needs an evaluation. A
        // failed one inside an active deployment is the watcher's to judge (W3.1 allows
        // its replacement, or the deployment fails).
        if newly_lost || (newly_failed && !in_active_deployment) {
            needs_eval.insert(JobKey::new(&a.namespace, &a.job_id));
        }
        let why = (
            "A9",
            format!(
                "client reported {}{}",
                a.client_status,
                match u.deployment_status.as_ref().and_then(|s| s.healthy) {
                    Some(true) => ", healthy",
                    Some(false) => ", unhealthy",
                    None => "",
                }
            ),
        );
        write_alloc(tx, a, false, why)?;
    }
    // One evaluation per job with newly failed or lost allocations.
    for key in needs_eval {
        let Some(job) = tx.job(&key) else { continue };
        if job.stop {
            continue;
        }
        let eval = Evaluation {
            namespace: job.namespace.clone(),
            priority: job.priority,
            eval_type: job.job_type.clone(),
            triggered_by: TRIGGER_ALLOC_FAILURE.to_string(),
            job_id: job.id.clone(),
            job_modify_index: job.job_modify_index,
            status: eval_status::PENDING.to_string(),
            ..Evaluation::default()
        };
        tx.create_eval(
            eval,
            (
                "C10",
                "an allocation failed or was lost outside an active deployment: replace it",
            ),
        );
    }
    Ok(())
}

fn is_client_status(s: &str) -> bool {
    matches!(
        s,
        client_status::PENDING
            | client_status::RUNNING
            | client_status::COMPLETE
            | client_status::FAILED
            | client_status::LOST
            | client_status::UNKNOWN
    )
}
