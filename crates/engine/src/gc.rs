//! Deployment deletion and garbage collection (§3.15 G1, G2).

use crate::command::{GcDeployments, ReapDeployments};
use crate::tx::Tx;
use crate::Result;
use uuid::Uuid;

/// Nomad reaps at most this many deployments per write.
pub const MAX_REAP_BATCH: usize = 7281;

/// G1: deletes the listed deployments; unknown IDs are skipped; a non-empty list moves
/// the deployment table index even if nothing existed.
pub(crate) fn reap(tx: &mut Tx, req: &ReapDeployments) -> Result<()> {
    for id in &req.deployments {
        tx.delete_deployment(id, "reaped");
    }
    if !req.deployments.is_empty() {
        tx.state.tables.deployment = tx.index;
    }
    Ok(())
}

/// G2: deployments that are not active, were last modified at least `threshold` ago and
/// whose allocations are all terminal.
pub fn gc_eligible(state: &crate::State, now: i64, threshold_ns: i64) -> Vec<Uuid> {
    let cutoff = now.saturating_sub(threshold_ns);
    state
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
