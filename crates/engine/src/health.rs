//! Manual allocation health: `Deployment.SetAllocHealth` (§3.3 M1–M5).

use crate::alloc_write::write_alloc;
use crate::command::SetAllocHealth;
use crate::fail::fail_deployment;
use crate::model::{description, AllocDeploymentStatus, Timestamp};
use crate::status::watcher_eval;
use crate::tx::Tx;
use crate::{Error, Result};
use uuid::Uuid;

/// M1–M5.
pub(crate) fn set_alloc_health(tx: &mut Tx, req: &SetAllocHealth) -> Result<()> {
    // M1, in Nomad's order.
    let id = req.deployment_id;
    if req.healthy_allocation_ids.is_empty() && req.unhealthy_allocation_ids.is_empty() {
        return Err(Error::MissingAllocationIds);
    }
    let d = tx.deployment(&id).ok_or(Error::DeploymentNotFound)?;
    if !d.active() {
        return Err(Error::CantSetHealthTerminal);
    }
    // M4: healthy IDs first, then unhealthy ones (an ID in both ends up unhealthy).
    let marks = req
        .healthy_allocation_ids
        .iter()
        .map(|a| (a, true))
        .chain(req.unhealthy_allocation_ids.iter().map(|a| (a, false)));
    for (alloc_id, healthy) in marks {
        mark(tx, &id, alloc_id, healthy)?;
    }
    tx.state.t_mut().tables.allocs = tx.index;

    let eval_id = if req.unhealthy_allocation_ids.is_empty() {
        // M3: an evaluation even when only healthy IDs were given.
        let d = tx
            .deployment(&id)
            .ok_or(Error::DeploymentDoesNotExist(id))?;
        let eval = watcher_eval(&tx.state, &d);
        tx.create_eval(
            eval,
            (
                "M3",
                format!(
                    "the operator marked {} allocation(s) healthy",
                    req.healthy_allocation_ids.len()
                ),
            ),
        )
    } else {
        // M2 with decisions 7 and 8: rollback is wanted if an unhealthy allocation's group
        // auto-reverts; no stable target gets the usual suffix.
        let d = tx
            .deployment(&id)
            .ok_or(Error::DeploymentDoesNotExist(id))?;
        let wanted = req.unhealthy_allocation_ids.iter().any(|a| {
            tx.state
                .alloc(a)
                .and_then(|a| d.task_groups.get(&a.task_group))
                .is_some_and(|g| g.auto_revert)
        });
        let unhealthy: Vec<String> = req
            .unhealthy_allocation_ids
            .iter()
            .map(Uuid::to_string)
            .collect();
        let cause = (
            "M2",
            format!(
                "the operator marked allocation(s) {} unhealthy; rollback {}wanted (an unhealthy allocation's group auto-reverts: decision 7)",
                unhealthy.join(", "),
                if wanted { "" } else { "not " }
            ),
        );
        fail_deployment(tx, &d, description::FAILED_ALLOCATIONS, wanted, cause)?
    };
    // M5.
    tx.out.eval_id = Some(eval_id);
    tx.out.eval_create_index = tx.index;
    tx.out.deployment_modify_index = tx.index;
    Ok(())
}

/// M4 for one allocation: it must exist and belong to the deployment; health and
/// timestamp are set and stamped with this index, then §3.2 counts the change.
fn mark(tx: &mut Tx, deployment: &Uuid, alloc_id: &Uuid, healthy: bool) -> Result<()> {
    let a = tx
        .alloc(alloc_id)
        .ok_or_else(|| Error::UnknownAlloc(alloc_id.to_string()))?;
    if a.deployment_id != Some(*deployment) {
        return Err(Error::AllocNotInDeployment {
            alloc: *alloc_id,
            deployment: *deployment,
        });
    }
    let mut a = (*a).clone();
    let ds = a
        .deployment_status
        .get_or_insert_with(AllocDeploymentStatus::default);
    ds.healthy = Some(healthy);
    ds.timestamp = Timestamp(tx.now);
    ds.modify_index = tx.index;
    a.modify_time = tx.now;
    let reason = if healthy {
        "the operator marked it healthy"
    } else {
        "the operator marked it unhealthy"
    };
    write_alloc(tx, a, false, ("M4", reason))
}
