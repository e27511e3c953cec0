//! The planner: for a pending evaluation, what the scheduler must do (§3.1 C5, C8–C10,
//! C12, C14, C15, §3.13). Choosing nodes is the embedder's business; it binds the
//! placements and submits them back as a [`crate::command::PlanResult`].

use crate::command::{AllocStop, PlacedAllocation, PlanResult};
use crate::model::Evaluation;
use crate::reconcile::{reconcile, stop_reason, Placement, PlacementKind, Stop};
use crate::state::{JobKey, State};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Per-group counts of what a plan does (Nomad's `DesiredTGUpdates`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DesiredUpdates {
    /// Allocations to place (missing, lost, rescheduled).
    pub place: u64,
    /// Allocations to migrate: stopped and replaced (AS2).
    #[serde(default)]
    pub migrate: u64,
    /// Canaries to place.
    pub canary: u64,
    /// Destructive updates (stop and replace).
    pub destructive_update: u64,
    /// Updates in place.
    pub in_place_update: u64,
    /// Allocations to stop.
    pub stop: u64,
    /// Allocations left as they are.
    pub ignore: u64,
}

/// An allocation updated in place to a newer job version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InPlaceUpdate {
    /// The allocation to update.
    #[serde(rename = "AllocID")]
    pub alloc_id: Uuid,
    /// The job version it moves to.
    pub job_version: u64,
}

/// A failed allocation that will be replaced later, and when (§3.13 T2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RescheduleLater {
    /// The failed allocation.
    #[serde(rename = "AllocID")]
    pub alloc_id: Uuid,
    /// Unix nanoseconds.
    pub reschedule_time: i64,
}

/// What the scheduler must do for one evaluation, computed from one state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Plan {
    /// The evaluation this plan is for (`EvalID`).
    #[serde(rename = "EvalID")]
    pub eval_id: Uuid,
    /// The state index the plan was computed from; send it back in the plan result.
    pub snapshot_index: u64,
    /// The job's namespace.
    pub namespace: String,
    /// The job (`JobID`).
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The job version being rolled out (`None` if the job is gone).
    pub job_version: Option<u64>,
    /// The deployment new allocations join.
    #[serde(rename = "DeploymentID", with = "crate::model::id::empty_as_none")]
    pub deployment_id: Option<Uuid>,
    /// Canaries first, then missing/lost/reschedule replacements, then destructive
    /// updates, each group in name order.
    pub placements: Vec<Placement>,
    /// Allocations updated in place, with their new version.
    pub in_place_updates: Vec<InPlaceUpdate>,
    /// Allocations to stop, each with its `DesiredDescription`.
    pub stops: Vec<Stop>,
    /// Failed allocations to reschedule later; submitting the result creates their
    /// follow-up evaluations.
    pub reschedule_later: Vec<RescheduleLater>,
    /// Per-group counts (`DesiredTGUpdates`), as Nomad's plan annotations.
    #[serde(rename = "DesiredTGUpdates")]
    pub desired_tg_updates: BTreeMap<String, DesiredUpdates>,
}

impl Plan {
    /// True when the plan asks for nothing: no placement, update or stop, and no
    /// reschedule to schedule for later (submitting the result creates its follow-up
    /// evaluation).
    pub fn is_empty(&self) -> bool {
        self.placements.is_empty()
            && self.in_place_updates.is_empty()
            && self.stops.is_empty()
            && self.reschedule_later.is_empty()
    }

    /// The result of a scheduler that accepts the whole plan and binds every placement
    /// to one node: every placement, in-place update and stop, with the plan's own stop
    /// descriptions. What a single-node embedder, a test or a simulator sends back; a
    /// real scheduler builds its `PlanResult` from the placements it could bind.
    pub fn accept_on_node(&self, node_id: &str, node_name: &str) -> PlanResult {
        PlanResult {
            eval_id: self.eval_id,
            snapshot_index: self.snapshot_index,
            deployment_id: self.deployment_id,
            allocations: self
                .placements
                .iter()
                .map(|p| PlacedAllocation {
                    name: p.name.clone(),
                    task_group: p.task_group.clone(),
                    job_version: p.job_version,
                    canary: p.canary,
                    previous_allocation: p.previous_allocation,
                    node_id: node_id.to_owned(),
                    node_name: node_name.to_owned(),
                    ..PlacedAllocation::default()
                })
                .collect(),
            in_place_updates: self.in_place_updates.iter().map(|u| u.alloc_id).collect(),
            stops: self
                .stops
                .iter()
                .map(|s| AllocStop {
                    alloc_id: s.alloc_id,
                    description: String::new(),
                })
                .collect(),
        }
    }
}

/// The plan for a pending evaluation at `now`.
pub fn plan(state: &State, eval_id: &Uuid, now: i64) -> Result<Plan> {
    let eval = state.eval(eval_id).ok_or(Error::EvalNotFound)?;
    if !eval.is_pending() {
        return Err(Error::EvalNotPending {
            id: *eval_id,
            status: eval.status.clone(),
        });
    }
    Ok(plan_for(state, eval, now))
}

/// The plan for an evaluation, whatever its status.
pub fn plan_for(state: &State, eval: &Evaluation, now: i64) -> Plan {
    let key = JobKey::new(&eval.namespace, &eval.job_id);
    let rec = reconcile(state, &key, now);
    let mut plan = Plan {
        eval_id: eval.id,
        snapshot_index: state.index(),
        namespace: eval.namespace.clone(),
        job_id: eval.job_id.clone(),
        job_version: rec.job.as_ref().filter(|j| !j.stop).map(|j| j.version),
        deployment_id: rec.current.as_ref().filter(|d| d.active()).map(|d| d.id),
        ..Plan::default()
    };
    for (name, g) in rec.groups {
        let migrations = g
            .stops
            .iter()
            .filter(|s| s.description == stop_reason::MIGRATING)
            .count() as u64;
        let counts = DesiredUpdates {
            place: g
                .placements
                .iter()
                .filter(|p| p.kind != PlacementKind::Migrate)
                .count() as u64,
            migrate: migrations,
            canary: g.canaries.len() as u64,
            destructive_update: g.destructive.len() as u64,
            in_place_update: g.in_place.len() as u64,
            stop: g
                .stops
                .iter()
                .filter(|s| {
                    !is_destructive_stop(&g.destructive, s)
                        && s.description != stop_reason::MIGRATING
                })
                .count() as u64,
            ignore: g.ignore,
        };
        plan.placements.extend(g.canaries);
        plan.placements.extend(g.placements);
        plan.placements.extend(g.destructive);
        if let Some(version) = plan.job_version {
            plan.in_place_updates
                .extend(g.in_place.iter().map(|id| InPlaceUpdate {
                    alloc_id: *id,
                    job_version: version,
                }));
        }
        plan.stops.extend(g.stops);
        plan.reschedule_later
            .extend(
                g.reschedule_later
                    .into_iter()
                    .map(|(alloc_id, reschedule_time)| RescheduleLater {
                        alloc_id,
                        reschedule_time,
                    }),
            );
        plan.desired_tg_updates.insert(name, counts);
    }
    plan
}

fn is_destructive_stop(destructive: &[Placement], s: &Stop) -> bool {
    destructive
        .iter()
        .any(|p| p.kind == PlacementKind::Destructive && p.previous_allocation == Some(s.alloc_id))
}
