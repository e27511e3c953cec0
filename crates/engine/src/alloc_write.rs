//! §3.2: what writing an allocation does to its deployment.
//!
//! Every allocation write (plan placement, client update, manual health) goes through
//! [`write_alloc`], so the counters `PlacedAllocs`, `HealthyAllocs`, `UnhealthyAllocs`,
//! `PlacedCanaries` and the progress deadline can only move by these rules.

use crate::model::{Allocation, Timestamp};
use crate::tx::{Tx, Why};
use crate::Result;

/// A2: the counter changes one allocation write causes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Deltas {
    pub placed: u64,
    pub healthy: i64,
    pub unhealthy: u64,
}

impl Deltas {
    fn is_zero(&self) -> bool {
        *self == Deltas::default()
    }
}

/// A2: "placed" when the allocation is new to the deployment; otherwise unset→healthy,
/// unset→unhealthy and healthy→unhealthy count, every other transition does not.
pub(crate) fn deltas(old: Option<&Allocation>, new: &Allocation) -> Deltas {
    let old = match old {
        Some(o) if o.deployment_id == new.deployment_id => o,
        _ => {
            return Deltas {
                placed: 1,
                ..Deltas::default()
            }
        }
    };
    match (old.health(), new.health()) {
        (None, Some(true)) => Deltas {
            healthy: 1,
            ..Deltas::default()
        },
        (None, Some(false)) => Deltas {
            unhealthy: 1,
            ..Deltas::default()
        },
        (Some(true), Some(false)) => Deltas {
            healthy: -1,
            unhealthy: 1,
            ..Deltas::default()
        },
        _ => Deltas::default(),
    }
}

/// Writes an allocation and applies A1–A8 to its deployment in the same index.
pub(crate) fn write_alloc(
    tx: &mut Tx,
    mut new: Allocation,
    server_driven: bool,
    why: impl Into<Why>,
) -> Result<()> {
    let old = tx.alloc(&new.id);
    update_deployment_for(tx, old.as_deref(), &mut new)?;
    tx.put_alloc_over(old.as_deref(), new, server_driven, why);
    Ok(())
}

/// A1–A8.
fn update_deployment_for(
    tx: &mut Tx,
    old: Option<&Allocation>,
    new: &mut Allocation,
) -> Result<()> {
    // A1: not in a deployment, unknown deployment or group: nothing to count. The
    // deployment's status is deliberately not checked (§7.1 item 12).
    let Some(dep_id) = new.deployment_id else {
        return Ok(());
    };
    let counted = tx
        .state
        .deployment(&dep_id)
        .is_some_and(|d| d.task_groups.contains_key(&new.task_group));
    if !counted {
        return Ok(());
    }
    let deltas = deltas(old, new);
    // A3: no change, no write (the deployment's ModifyIndex does not move).
    if deltas.is_zero() {
        return Ok(());
    }
    // A4: a health change stamps the allocation's deployment status.
    if deltas.healthy + deltas.unhealthy as i64 != 0 {
        if let Some(ds) = new.deployment_status.as_mut() {
            ds.modify_index = tx.index;
        }
    }
    let alloc: &Allocation = new;
    let why = (
        "A5",
        format!(
            "allocation {} of group {}: placed {:+}, healthy {:+}, unhealthy {:+}",
            alloc.id, alloc.task_group, deltas.placed, deltas.healthy, deltas.unhealthy
        ),
    );
    // C7 for a deployment that exists already: a canary placed into it means its group
    // needs canaries now (a destructive change appeared after the deployment was
    // created — a rollback's deployment, say), so `DesiredCanaries` becomes
    // `update.canary`, and promotion waits for the canary's health as for any other.
    let canaries_wanted = if alloc.is_canary() {
        tx.state
            .deployment(&dep_id)
            .and_then(|d| tx.state.job_version(&d.namespace, &d.job_id, d.job_version))
            .and_then(|j| j.task_groups.iter().find(|g| g.name == alloc.task_group))
            .and_then(|g| g.strategy())
            .map_or(0, |s| s.canary)
    } else {
        0
    };
    // A5–A8 on the stored deployment (`CreateIndex` kept).
    tx.modify_deployment(&dep_id, why, |d| {
        d.modify_time = alloc.modify_time;
        let Some(g) = d.task_groups.get_mut(&alloc.task_group) else {
            return;
        };
        g.placed_allocs += deltas.placed;
        g.healthy_allocs += deltas.healthy;
        g.unhealthy_allocs += deltas.unhealthy;
        // A6.
        if alloc.is_canary() && !g.placed_canaries_slice().contains(&alloc.id) {
            g.placed_canaries
                .get_or_insert_with(Vec::new)
                .push(alloc.id);
            if !g.promoted {
                g.desired_canaries = g.desired_canaries.max(canaries_wanted);
            }
        }
        // A7: the progress deadline starts at the first placement and moves with health.
        if g.progress_deadline != 0 {
            if deltas.placed == 1 && g.require_progress_by.is_zero() {
                g.require_progress_by = Timestamp(alloc.modify_time).plus(g.progress_deadline);
            } else if deltas.healthy != 0 {
                let stamp = alloc
                    .deployment_status
                    .as_ref()
                    .map(|s| s.timestamp)
                    .unwrap_or_default();
                let candidate = stamp.plus(g.progress_deadline);
                if candidate > g.require_progress_by {
                    g.require_progress_by = candidate;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AllocDeploymentStatus;
    use uuid::Uuid;

    fn alloc(dep: u128, health: Option<bool>) -> Allocation {
        Allocation {
            deployment_id: Some(Uuid::from_u128(dep)),
            deployment_status: Some(AllocDeploymentStatus {
                healthy: health,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn scenario_77_a2_placed_wins_over_health() {
        let new = alloc(1, Some(true));
        assert_eq!(
            deltas(None, &new),
            Deltas {
                placed: 1,
                ..Default::default()
            }
        );
        assert_eq!(deltas(Some(&alloc(2, None)), &new).placed, 1);
    }

    #[test]
    fn a2_health_transitions() {
        let d = |o, n| deltas(Some(&alloc(1, o)), &alloc(1, n));
        assert_eq!(
            d(None, Some(true)),
            Deltas {
                healthy: 1,
                ..Default::default()
            }
        );
        assert_eq!(
            d(None, Some(false)),
            Deltas {
                unhealthy: 1,
                ..Default::default()
            }
        );
        assert_eq!(
            d(Some(true), Some(false)),
            Deltas {
                healthy: -1,
                unhealthy: 1,
                ..Default::default()
            }
        );
        // unhealthy→healthy, same→same and cleared health change nothing (§7.1 item 13)
        assert_eq!(d(Some(false), Some(true)), Deltas::default());
        assert_eq!(d(Some(true), Some(true)), Deltas::default());
        assert_eq!(d(Some(true), None), Deltas::default());
    }
}
