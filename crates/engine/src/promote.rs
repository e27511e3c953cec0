//! Promotion (§3.4) and auto-promotion (§3.5).

use crate::command::PromoteDeployment;
use crate::model::{description, Deployment, Timestamp};
use crate::status::watcher_eval;
use crate::tx::Tx;
use crate::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// Which groups a promotion selects (P3).
pub(crate) enum Selection<'a> {
    All,
    Groups(&'a [String]),
}

impl Selection<'_> {
    fn selects(&self, group: &str) -> bool {
        match self {
            Selection::All => true,
            Selection::Groups(names) => names.iter().any(|n| n == group),
        }
    }
}

/// P1–P11: the operator promotes canaries.
pub(crate) fn promote(tx: &mut Tx, req: &PromoteDeployment) -> Result<()> {
    let id = req.deployment_id;
    let d = tx.deployment(&id).ok_or(Error::DeploymentNotFound)?;
    if !d.active() {
        return Err(Error::CantPromoteTerminal);
    }
    let selection = if req.all {
        Selection::All
    } else {
        Selection::Groups(req.groups.as_deref().unwrap_or(&[]))
    };
    let eval = apply_promotion(tx, &d, &selection, "P3")?;
    tx.out.eval_id = Some(eval);
    tx.out.eval_create_index = tx.index;
    tx.out.deployment_modify_index = tx.index;
    Ok(())
}

/// P3–P10, shared by manual and automatic promotion: count healthy live canaries per
/// selected group, refuse if any group is short, then promote the groups, flip the
/// canaries' flag and create an evaluation. Returns the evaluation's ID.
pub(crate) fn apply_promotion(
    tx: &mut Tx,
    d: &Deployment,
    selection: &Selection,
    rule: &'static str,
) -> Result<Uuid> {
    // P3: the store's own checks.
    if !d.active() {
        return Err(Error::DeploymentTerminal {
            id: d.id,
            status: d.status.clone(),
        });
    }
    // P4: healthy, non-terminal canaries of selected groups.
    let canaries: BTreeSet<Uuid> = d
        .task_groups
        .values()
        .flat_map(|g| g.placed_canaries_slice().iter().copied())
        .collect();
    let mut healthy: BTreeMap<&str, u64> = BTreeMap::new();
    let mut promotable = Vec::new();
    for id in &canaries {
        let Some(a) = tx.state.alloc(id) else {
            continue;
        };
        if a.deployment_id != Some(d.id) || !selection.selects(&a.task_group) {
            continue;
        }
        if a.terminal() || !a.is_healthy() {
            continue;
        }
        if let Some((name, _)) = d.task_groups.get_key_value(&a.task_group) {
            *healthy.entry(name.as_str()).or_default() += 1;
        }
        promotable.push(a.clone());
    }
    // P5: every selected group with canaries needs enough healthy ones (sorted by name,
    // decision 6).
    let short: Vec<String> = d
        .task_groups
        .iter()
        .filter(|(name, g)| selection.selects(name) && g.desired_canaries > 0)
        .filter_map(|(name, g)| {
            let have = healthy.get(name.as_str()).copied().unwrap_or(0);
            (have < g.desired_canaries).then(|| {
                format!(
                    "Task group {} has {}/{} healthy allocations",
                    crate::format::go_quote(name),
                    have,
                    g.desired_canaries
                )
            })
        })
        .collect();
    if !short.is_empty() {
        return Err(Error::UnhealthyCanaries(short));
    }
    // P6–P8 (decision 2: ModifyTime = now).
    let mut next = d.clone();
    for (name, g) in next.task_groups.iter_mut() {
        if !selection.selects(name) {
            continue;
        }
        if g.progress_deadline > 0 && !g.require_progress_by.is_zero() {
            g.require_progress_by = Timestamp(tx.now).plus(g.progress_deadline);
        }
        g.promoted = true;
    }
    if !next.requires_promotion() && next.status == crate::model::status::RUNNING {
        next.status_description = description::RUNNING.to_string();
    }
    next.modify_time = tx.now;
    let promoted: Vec<String> = d
        .task_groups
        .iter()
        .filter(|(name, _)| selection.selects(name))
        .map(|(name, g)| {
            let have = healthy.get(name.as_str()).copied().unwrap_or(0);
            format!("{name} ({have}/{} canaries healthy)", g.desired_canaries)
        })
        .collect();
    let who = if rule == "AP4" {
        "auto-promoted"
    } else {
        "promoted by the operator"
    };
    let reason = format!("{who}: {}", promoted.join(", "));
    tx.write_deployment(next, (rule, reason.clone()))?;
    let eval = watcher_eval(&tx.state, d);
    let eval_id = tx.create_eval(eval, (rule, reason));
    // P9: promoted canaries are no longer canaries.
    for a in promotable {
        let mut a = (*a).clone();
        if let Some(ds) = a.deployment_status.as_mut() {
            ds.canary = false;
            ds.modify_index = tx.index;
        }
        tx.put_alloc(a, true, ("P9", "its canary was promoted"));
    }
    // P10: the allocs table moves even when nothing was promotable.
    tx.state.t_mut().tables.allocs = tx.index;
    Ok(eval_id)
}

/// AP2–AP3 with decision 9: auto-promote when the deployment runs, still needs
/// promotion, and every canary group auto-promotes and has at least `DesiredCanaries`
/// placed canaries that are healthy and live.
pub(crate) fn should_auto_promote(tx: &Tx, d: &Deployment) -> bool {
    if !d.has_placed_canaries() || !d.requires_promotion() {
        return false;
    }
    d.task_groups
        .values()
        .filter(|g| g.desired_canaries >= 1)
        .all(|g| {
            let placed = g.placed_canaries_slice();
            let healthy = placed
                .iter()
                .filter_map(|id| tx.state.alloc(id))
                .filter(|a| a.is_healthy() && !a.terminal())
                .count() as u64;
            g.auto_promote
                && placed.len() as u64 >= g.desired_canaries
                && healthy >= g.desired_canaries
        })
}
