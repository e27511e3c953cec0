//! Deployment status changes (§3.6 S4) and what success does to the job (§3.11 X3).

use crate::model::{
    eval_status, status, triggered_by, Deployment, Evaluation, Job, Timestamp, UnixNanos,
};
use crate::outcome::Change;
use crate::state::{JobKey, State};
use crate::tx::{Tx, Why};
use crate::{Error, Result};
use std::sync::Arc;
use uuid::Uuid;

/// S4: the store's status update, shared by every status change. The deployment must
/// exist and be active. Running and paused reset every group's progress deadline to
/// `updated_at + ProgressDeadline`; successful marks the job version stable (X3). `why`
/// is the cause, for the decision trace.
pub(crate) fn update_status(
    tx: &mut Tx,
    id: &Uuid,
    new_status: &str,
    description: &str,
    updated_at: UnixNanos,
    why: impl Into<Why>,
) -> Result<()> {
    let why = why.into();
    let stored = tx
        .deployment(id)
        .ok_or(Error::DeploymentDoesNotExist(*id))?;
    if !stored.active() {
        return Err(Error::DeploymentTerminal {
            id: *id,
            status: stored.status.clone(),
        });
    }
    let mut d = (*stored).clone();
    d.status = new_status.to_string();
    d.status_description = description.to_string();
    d.modify_time = updated_at;
    if new_status == status::PAUSED || new_status == status::RUNNING {
        for g in d
            .task_groups
            .values_mut()
            .filter(|g| g.progress_deadline != 0)
        {
            g.require_progress_by = Timestamp(updated_at).plus(g.progress_deadline);
        }
    }
    let (ns, job_id, version) = (d.namespace.clone(), d.job_id.clone(), d.job_version);
    let reason = format!("{} → {new_status}: {description}", why.reason);
    tx.write_deployment(d, (why.rule, reason))?;
    if new_status == status::SUCCESSFUL {
        mark_version_stable(tx, &JobKey::new(&ns, &job_id), version);
    }
    Ok(())
}

/// X3 with decision 3: the version is rewritten with `Stable = true` at this index
/// (version and `JobModifyIndex` unchanged); the current job row follows only if it is
/// that version. Nothing happens for a missing or already stable version.
pub(crate) fn mark_version_stable(tx: &mut Tx, key: &JobKey, version: u64) {
    let why = (
        "X3",
        format!("its deployment succeeded: version {version} is stable"),
    );
    set_version_stability(tx, key, version, true, why);
}

/// Writes a version's `Stable` flag if it differs. Returns whether anything changed.
pub(crate) fn set_version_stability(
    tx: &mut Tx,
    key: &JobKey,
    version: u64,
    stable: bool,
    why: impl Into<Why>,
) -> bool {
    let Some(stored) = tx
        .state
        .job_version(&key.namespace, &key.id, version)
        .cloned()
    else {
        return false;
    };
    if stored.stable == stable {
        return false;
    }
    let mut j = (*stored).clone();
    j.stable = stable;
    j.modify_index = tx.index;
    let j = Arc::new(j);
    tx.put_job_version(j.clone());
    let is_current = tx.job(key).is_some_and(|cur| cur.version == version);
    if is_current {
        let mut cur = (*j).clone();
        if let Some(row) = tx.job(key) {
            // The current row keeps its derived status.
            cur.status = row.status.clone();
            cur.status_description = row.status_description.clone();
        }
        tx.put_current_job(Arc::new(cur), Change::Updated, why);
    }
    true
}

/// The job a deployment's watcher works with (§3.18): the job version the deployment
/// rolls out, or the current job row if that version is no longer kept.
pub(crate) fn watcher_job(state: &State, d: &Deployment) -> Option<Arc<Job>> {
    state
        .job_version(&d.namespace, &d.job_id, d.job_version)
        .or_else(|| state.job(&d.namespace, &d.job_id))
        .cloned()
}

/// §1.9: an evaluation created by the deployment watcher.
pub(crate) fn watcher_eval(state: &State, d: &Deployment) -> Evaluation {
    let job = watcher_job(state, d);
    let (job_priority, job_type) = job
        .as_deref()
        .map(|j| (j.priority, j.job_type.clone()))
        .unwrap_or((50, crate::model::job_type::SERVICE.to_string()));
    Evaluation {
        namespace: d.namespace.clone(),
        priority: if d.eval_priority != 0 {
            d.eval_priority
        } else {
            job_priority
        },
        eval_type: job_type,
        triggered_by: triggered_by::DEPLOYMENT_WATCHER.to_string(),
        job_id: d.job_id.clone(),
        deployment_id: Some(d.id),
        status: eval_status::PENDING.to_string(),
        ..Evaluation::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, Entropy, Envelope};
    use crate::model::{Deployment, DeploymentState};
    use crate::tx::Tx;

    fn tx_with(d: Option<Deployment>) -> Tx {
        let mut state = State::new();
        if let Some(d) = d {
            state.insert_deployment(Arc::new(d));
        }
        Tx::new(
            &state,
            &Envelope::new(5, 1_000, Entropy::default(), Command::Tick),
        )
    }

    fn deployment(status: &str) -> Deployment {
        let mut groups = std::collections::BTreeMap::new();
        groups.insert(
            "web".to_string(),
            DeploymentState {
                promoted: true,
                ..Default::default()
            },
        );
        Deployment {
            id: Uuid::from_u128(1),
            namespace: "default".into(),
            job_id: "web".into(),
            status: status.into(),
            task_groups: groups.into(),
            ..Default::default()
        }
    }

    /// Scenario 22: store-level status update of an unknown deployment.
    #[test]
    fn scenario_22_status_update_of_unknown_deployment() {
        let mut tx = tx_with(None);
        let e = update_status(
            &mut tx,
            &Uuid::from_u128(1),
            status::FAILED,
            "foo",
            1,
            ("S4", "test"),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "Deployment ID \"00000000-0000-0000-0000-000000000001\" couldn't be updated as it does not exist");
    }

    /// Scenario 23: store-level status update of a terminal deployment (trailing colon).
    #[test]
    fn scenario_23_status_update_of_terminal_deployment() {
        let mut tx = tx_with(Some(deployment(status::FAILED)));
        let e = update_status(
            &mut tx,
            &Uuid::from_u128(1),
            status::RUNNING,
            "x",
            1,
            ("S4", "test"),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Deployment \"00000000-0000-0000-0000-000000000001\" has terminal status \"failed\":"
        );
    }

    /// P12 / scenario 89: no write may set `Promoted` back to false.
    #[test]
    fn p12_scenario_89_promotion_cannot_be_undone() {
        let mut tx = tx_with(Some(deployment(status::RUNNING)));
        let mut d = deployment(status::RUNNING);
        d.task_groups.get_mut("web").unwrap().promoted = false;
        let e = tx.write_deployment(d, ("P12", "test")).unwrap_err();
        assert_eq!(e.to_string(), "deployment promotion cannot be undone");
    }

    /// Scenario 37 in rollout's terms: status strings are not validated by the store.
    #[test]
    fn scenario_37_status_strings_are_not_validated() {
        let mut tx = tx_with(Some(deployment(status::RUNNING)));
        update_status(
            &mut tx,
            &Uuid::from_u128(1),
            "foo",
            "bar",
            7,
            ("S4", "test"),
        )
        .unwrap();
        let d = tx.deployment(&Uuid::from_u128(1)).unwrap();
        assert_eq!(
            (
                d.status.as_str(),
                d.status_description.as_str(),
                d.modify_index,
                d.modify_time
            ),
            ("foo", "bar", 5, 7)
        );
        assert!(!d.active() && !d.terminal(), "§7.1 item 26");
    }
}
