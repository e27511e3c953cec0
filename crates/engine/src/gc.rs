//! Deployment deletion and garbage collection (§3.15 G1, G2).

use crate::command::{GcAllocations, GcDeployments, GcEvaluations, ReapDeployments};
use crate::model::eval_status;
use crate::tx::Tx;
use crate::Result;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Nomad reaps at most this many deployments per write.
pub const MAX_REAP_BATCH: usize = 7281;

/// G1: deletes the listed deployments; unknown IDs are skipped; a non-empty list moves
/// the deployment table index even if nothing existed.
pub(crate) fn reap(tx: &mut Tx, req: &ReapDeployments) -> Result<()> {
    for id in &req.deployments {
        tx.delete_deployment(id, ("G1", "reaped"));
    }
    if !req.deployments.is_empty() {
        tx.state.t_mut().tables.deployment = tx.index;
    }
    Ok(())
}

/// G2: deployments that are not active, were last modified at least `threshold` ago and
/// whose allocations are all terminal.
pub fn gc_eligible(state: &crate::State, now: i64, threshold_ns: i64) -> Vec<Uuid> {
    let cutoff = now.saturating_sub(threshold_ns);
    state
        .t()
        .deployments
        .values()
        .filter(|d| !d.active() && d.modify_time <= cutoff)
        .filter(|d| state.deployment_allocs(&d.id).all(|a| a.terminal()))
        .map(|d| d.id)
        .take(MAX_REAP_BATCH)
        .collect()
}

pub(crate) fn gc(tx: &mut Tx, req: &GcDeployments) -> Result<()> {
    let ids = gc_eligible(&tx.state, tx.now, req.threshold_ns);
    reap(tx, &ReapDeployments { deployments: ids })
}

/// Finished evaluations last modified at least `threshold` ago, except the newest one of
/// each job (W1 reads it: removing it would make old health look new).
pub fn eval_gc_eligible(state: &crate::State, now: i64, threshold_ns: i64) -> Vec<Uuid> {
    let cutoff = now.saturating_sub(threshold_ns);
    let mut newest: BTreeMap<(&str, &str), (u64, Uuid)> = BTreeMap::new();
    for e in state.t().evals.values() {
        let slot = newest
            .entry((e.namespace.as_str(), e.job_id.as_str()))
            .or_insert((0, e.id));
        if (e.create_index, e.id) > *slot {
            *slot = (e.create_index, e.id);
        }
    }
    state
        .t()
        .evals
        .values()
        .filter(|e| eval_status::is_final(&e.status) && e.modify_time <= cutoff)
        .filter(|e| {
            newest
                .get(&(e.namespace.as_str(), e.job_id.as_str()))
                .map(|n| n.1)
                != Some(e.id)
        })
        .map(|e| e.id)
        .take(MAX_REAP_BATCH)
        .collect()
}

pub(crate) fn gc_evals(tx: &mut Tx, req: &GcEvaluations) -> Result<()> {
    for id in eval_gc_eligible(&tx.state, tx.now, req.threshold_ns) {
        tx.delete_eval(&id, ("G2", "garbage collected"));
    }
    Ok(())
}

/// Finished allocations last modified at least `threshold` ago: stopped (or finished) on
/// the client, or stopped by the server and no longer running, and not counted by an
/// active deployment (whose progress and health rules still read them).
pub fn alloc_gc_eligible(state: &crate::State, now: i64, threshold_ns: i64) -> Vec<Uuid> {
    let cutoff = now.saturating_sub(threshold_ns);
    state
        .t()
        .allocs
        .values()
        .filter(|a| a.modify_time <= cutoff)
        .filter(|a| {
            a.client_terminal()
                || (a.server_terminal()
                    && !matches!(
                        a.client_status.as_str(),
                        crate::model::client_status::PENDING | crate::model::client_status::RUNNING
                    ))
        })
        .filter(|a| {
            a.deployment_id
                .and_then(|d| state.deployment(&d))
                .is_none_or(|d| !d.active())
        })
        .map(|a| a.id)
        .take(MAX_REAP_BATCH)
        .collect()
}

pub(crate) fn gc_allocs(tx: &mut Tx, req: &GcAllocations) -> Result<()> {
    for id in alloc_gc_eligible(&tx.state, tx.now, req.threshold_ns) {
        tx.delete_alloc(&id, ("G2", "garbage collected"));
    }
    Ok(())
}
