//! The deployment watcher's reaction to allocation changes (§3.9, §3.5, §3.14), run
//! inside the write that changed the allocations (decisions 11 and 14).
//!
//! Nomad's watcher rescans every allocation of the deployment on each change. W2/W3 are
//! per-allocation rules whose verdict for an unchanged allocation cannot change (an
//! early-failing allocation fails the deployment at once; an allowed replacement is not
//! flagged twice), so observing only the allocations changed by this write gives the same
//! result at a cost that follows the change, not the deployment's size.

use crate::fail::fail_deployment;
use crate::model::{
    description, eval_status, triggered_by, Allocation, Deployment, DeploymentState, Job,
};
use crate::promote::{apply_promotion, should_auto_promote, Selection};
use crate::reconcile::reschedule::reschedule_eligible;
use crate::state::State;
use crate::status::{watcher_eval, watcher_job};
use crate::tx::Tx;
use crate::Result;
use std::collections::BTreeSet;
use uuid::Uuid;

/// Observes every active deployment whose allocations this write changed.
pub(crate) fn observe_changes(tx: &mut Tx) -> Result<()> {
    let changed = std::mem::take(&mut tx.changed_allocs);
    for (dep_id, allocs) in changed {
        let Some(d) = tx.deployment(&dep_id) else {
            continue;
        };
        if d.active() {
            observe(tx, &d, &allocs)?;
        }
    }
    Ok(())
}

/// W1: the newest index any non-cancelled evaluation of the job has seen.
pub fn latest_eval_index(state: &State, namespace: &str, job_id: &str) -> u64 {
    scan_evals(state, namespace, job_id, None).0
}

/// One pass over the job's evaluations: W1's latest index, and whether `deployment`
/// already has a pending watcher evaluation (decision 11).
fn scan_evals(
    state: &State,
    namespace: &str,
    job_id: &str,
    deployment: Option<Uuid>,
) -> (u64, bool) {
    let mut max = 0;
    let mut pending_watcher = false;
    for e in state.job_evals(namespace, job_id) {
        if deployment.is_some()
            && e.deployment_id == deployment
            && e.is_pending()
            && e.triggered_by == triggered_by::DEPLOYMENT_WATCHER
        {
            pending_watcher = true;
        }
        if e.status == eval_status::CANCELED {
            continue;
        }
        if e.snapshot_index != 0 && e.snapshot_index > max {
            max = e.snapshot_index;
        } else if e.create_index > max {
            max = e.create_index;
        }
    }
    (max, pending_watcher)
}

/// W2 (`shouldFailEarly`) for an unhealthy allocation: always without a progress
/// deadline; otherwise when it has run out of reschedule attempts. A group missing from
/// the watcher's job is never reschedule-eligible (decision 5).
pub(crate) fn should_fail_early(
    d: &Deployment,
    g: &DeploymentState,
    job: Option<&Job>,
    a: &Allocation,
    now: i64,
) -> bool {
    if g.progress_deadline == 0 {
        return true;
    }
    let policy = job
        .and_then(|j| j.group(&a.task_group))
        .and_then(|tg| tg.reschedule_policy.as_ref());
    d.active() && !reschedule_eligible(policy, a.reschedule_tracker.as_deref(), now)
}

/// W2's verdict in words: which allocation, how it became unhealthy, why that fails the
/// deployment at once, and whether its group auto-reverts.
fn early_failure(tx: &Tx, a: &Allocation, g: &DeploymentState) -> String {
    let by = if tx.message_type() == "DeploymentAllocHealth" {
        "marked unhealthy by the operator".to_string()
    } else {
        format!("reported {} and unhealthy by its client", a.client_status)
    };
    let at = a
        .deployment_status
        .as_ref()
        .map_or(crate::model::Timestamp::ZERO, |s| s.timestamp);
    let why = if g.progress_deadline == 0 {
        "its group has no progress deadline (D8)"
    } else {
        "it has no reschedule attempts left"
    };
    format!(
        "allocation {} of group {} {by} at {at}; {why}; auto_revert {}",
        a.id, a.task_group, g.auto_revert
    )
}

/// W2–W4 and E2 for one deployment.
fn observe(tx: &mut Tx, d: &Deployment, changed: &BTreeSet<Uuid>) -> Result<()> {
    let (latest_eval, mut pending_watcher) =
        scan_evals(&tx.state, &d.namespace, &d.job_id, Some(d.id));
    let job = watcher_job(&tx.state, d);
    let mut allow: Vec<Uuid> = Vec::new();
    let mut eval_needed: Option<Uuid> = None;
    let mut fail: Option<bool> = None;
    let mut failing: Vec<String> = Vec::new();
    for id in changed {
        let Some(a) = tx.state.alloc(id).cloned() else {
            continue;
        };
        if a.deployment_id != Some(d.id) {
            continue;
        }
        let Some(g) = d.task_groups.get(&a.task_group) else {
            continue;
        };
        if a.is_unhealthy() {
            if should_fail_early(d, g, job.as_deref(), &a, tx.now) {
                // W3.3 with decision 7: the unhealthy allocation's group decides.
                fail = Some(fail.unwrap_or(false) || g.auto_revert);
                failing.push(early_failure(tx, &a, g));
            } else if !a.desired_transition.should_reschedule() {
                // W3.1.
                allow.push(a.id);
            }
            continue;
        }
        // W3.2.
        let stamp = a.deployment_status.as_ref().map_or(0, |s| s.modify_index);
        if a.is_healthy() && stamp > latest_eval && eval_needed.is_none() {
            eval_needed = Some(a.id);
        }
    }
    // W4/W5: a failure pre-empts promotion and batching. Decision 10: the description names
    // the cause, unhealthy allocations.
    if let Some(revert) = fail {
        let cause = ("W2", failing.join("; "));
        fail_deployment(tx, d, description::FAILED_ALLOCATIONS, revert, cause)?;
        return Ok(());
    }
    // §3.5: auto-promotion. A refused promotion (AP4) writes nothing — every check of
    // `apply_promotion` precedes its first write — and waits for the next change.
    if should_auto_promote(tx, d) {
        // A promotion creates a (pending) watcher evaluation.
        pending_watcher |= apply_promotion(tx, d, &Selection::All, "AP4").is_ok();
    }
    if eval_needed.is_some() || !allow.is_empty() {
        allow_replacements(tx, &allow);
        if !pending_watcher {
            let current = tx
                .deployment(&d.id)
                .unwrap_or_else(|| std::sync::Arc::new(d.clone()));
            let eval = watcher_eval(&tx.state, &current);
            let why = match eval_needed {
                Some(a) => (
                    "E2",
                    format!("allocation {a} became healthy after the newest evaluation (index {latest_eval})"),
                ),
                None => ("W3.1", format!("{} replacement(s) allowed", allow.len())),
            };
            tx.create_eval(eval, why);
        }
    }
    Ok(())
}

/// E2.4: flags allocations `{Reschedule: true}` (W6). The allocs table moves even if the
/// list is empty.
fn allow_replacements(tx: &mut Tx, allocs: &[Uuid]) {
    for id in allocs {
        let Some(a) = tx.alloc(id) else { continue };
        let mut a = (*a).clone();
        a.desired_transition.reschedule = Some(true);
        let why = "unhealthy with reschedule attempts left: its replacement is allowed";
        tx.put_alloc(a, true, ("W6", why));
    }
    tx.state.t_mut().tables.allocs = tx.index;
}
