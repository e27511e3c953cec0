//! Applying a scheduler's plan result (§3.1 C14, §3.2) at one index.
//!
//! The result is checked against the plan the engine computes for the evaluation *now*:
//! every placement, in-place update and stop must be one the current plan asks for. A
//! result computed from an older state that no longer fits is rejected as stale, so a
//! racing scheduler can never exceed `max_parallel`, place a canary twice or revive a
//! superseded version. Submitting a subset is fine (the rest is planned again later).

use crate::alloc_write::write_alloc;
use crate::command::PlanResult;
use crate::model::{
    client_status, desired_status, eval_status, triggered_by, AllocDeploymentStatus, Allocation,
    Evaluation, Opaque, RescheduleEvent, RescheduleTracker, Timestamp,
};
use crate::planner::{plan, Plan};
use crate::reconcile::{reschedule::reschedule_delay, stop_reason, Placement, PlacementKind};
use crate::state::JobKey;
use crate::tx::Tx;
use crate::{Error, Result};
use std::collections::BTreeSet;
use uuid::Uuid;

pub(crate) fn apply_plan_result(tx: &mut Tx, req: &PlanResult) -> Result<()> {
    let plan = plan(&tx.state, &req.eval_id, tx.now)?;
    let stale = |reason: String| Error::StalePlan {
        eval: req.eval_id,
        reason,
    };
    if req.deployment_id.is_some() && req.deployment_id != plan.deployment_id {
        return Err(stale("the evaluation's deployment changed".to_string()));
    }
    // Match every submitted item against the fresh plan.
    let mut open: Vec<Option<&Placement>> = plan.placements.iter().map(Some).collect();
    let mut matched: Vec<(usize, &Placement)> = Vec::new();
    for (i, p) in req.allocations.iter().enumerate() {
        let slot = open.iter_mut().find(|slot| {
            slot.is_some_and(|q| {
                q.task_group == p.task_group
                    && q.name == p.name
                    && q.canary == p.canary
                    && q.previous_allocation == p.previous_allocation
                    && q.job_version == p.job_version
            })
        });
        match slot.and_then(Option::take) {
            Some(q) => matched.push((i, q)),
            None => {
                return Err(stale(format!(
                    "placement of {} (version {}{}) is not in the current plan",
                    p.name,
                    p.job_version,
                    if p.canary { ", canary" } else { "" }
                )))
            }
        }
    }
    let planned_stops: BTreeSet<Uuid> = plan.stops.iter().map(|s| s.alloc_id).collect();
    if let Some(s) = req
        .stops
        .iter()
        .find(|s| !planned_stops.contains(&s.alloc_id))
    {
        return Err(stale(format!(
            "stopping allocation {} is not in the current plan",
            s.alloc_id
        )));
    }
    let planned_in_place: BTreeSet<Uuid> =
        plan.in_place_updates.iter().map(|u| u.alloc_id).collect();
    if let Some(id) = req
        .in_place_updates
        .iter()
        .find(|id| !planned_in_place.contains(id))
    {
        return Err(stale(format!(
            "updating allocation {id} in place is not in the current plan"
        )));
    }

    let eval = tx
        .state
        .eval(&req.eval_id)
        .cloned()
        .ok_or(Error::EvalNotFound)?;
    // Stops requested explicitly, and the stops implied by destructive replacements.
    let mut stops: Vec<(Uuid, String)> = req
        .stops
        .iter()
        .map(|s| {
            let planned = plan.stops.iter().find(|p| p.alloc_id == s.alloc_id);
            let why = if s.description.is_empty() {
                planned.map(|p| p.description.clone()).unwrap_or_default()
            } else {
                s.description.clone()
            };
            (s.alloc_id, why)
        })
        .collect();
    for (_, q) in &matched {
        let Some(prev) = q.previous_allocation else {
            continue;
        };
        if let Some(why) = implied_stop(q.kind) {
            if !stops.iter().any(|(id, _)| *id == prev) {
                stops.push((prev, why.to_string()));
            }
        }
    }
    for (id, why) in stops {
        stop_alloc(tx, &id, &why)?;
    }
    for id in &req.in_place_updates {
        update_in_place(tx, id, &plan)?;
    }
    for (i, q) in matched {
        let submitted = &req.allocations[i];
        let id = place(tx, q, submitted, &eval)?;
        tx.out.allocs_created.push(id);
    }
    follow_up_reschedules(tx, &plan, &eval);
    // The scheduling evaluation records the state it planned from (W1 reads it).
    let mut e = (*eval).clone();
    e.snapshot_index = if req.snapshot_index != 0 {
        req.snapshot_index
    } else {
        plan.snapshot_index
    };
    e.modify_time = tx.now;
    tx.write_eval(e, ("C14", "the scheduler's plan result was applied"));
    tx.state.t_mut().tables.allocs = tx.index;
    Ok(())
}

fn stop_alloc(tx: &mut Tx, id: &Uuid, why: &str) -> Result<()> {
    let Some(a) = tx.alloc(id) else { return Ok(()) };
    let mut a = (*a).clone();
    a.desired_status = desired_status::STOP.into();
    a.desired_description = why.into();
    a.modify_time = tx.now;
    let rule = stop_rule(why);
    write_alloc(tx, a, true, (rule, format!("stopped: {why}")))
}

/// C14: an allocation updated in place moves to the plan's version; if that takes it
/// into a different deployment its deployment status starts over.
fn update_in_place(tx: &mut Tx, id: &Uuid, plan: &Plan) -> Result<()> {
    let Some(a) = tx.alloc(id) else { return Ok(()) };
    let Some(version) = plan.job_version else {
        return Ok(());
    };
    let mut a = (*a).clone();
    a.job_version = version;
    if a.deployment_id != plan.deployment_id {
        a.deployment_id = plan.deployment_id;
        a.deployment_status = None;
    }
    a.modify_time = tx.now;
    write_alloc(
        tx,
        a,
        true,
        ("C16", format!("updated in place to job version {version}")),
    )
}

/// Creates a placed allocation (C14 step 3).
fn place(
    tx: &mut Tx,
    q: &Placement,
    submitted: &crate::command::PlacedAllocation,
    eval: &Evaluation,
) -> Result<Uuid> {
    let id = tx.new_id();
    // New allocations join the planned deployment only while it is active.
    let deployment_id = q
        .deployment_id
        .filter(|d| tx.deployment(d).is_some_and(|d| d.active()));
    let deployment_status =
        (q.canary && deployment_id.is_some()).then_some(AllocDeploymentStatus {
            canary: true,
            healthy: None,
            modify_index: tx.index,
            timestamp: Timestamp::ZERO,
        });
    let previous = q.previous_allocation.and_then(|p| tx.alloc(&p));
    let reschedule_tracker = match (q.kind, previous.as_deref()) {
        (PlacementKind::Reschedule, Some(prev)) => Some(Box::new(next_tracker(tx, prev, eval))),
        (_, Some(prev)) => prev.reschedule_tracker.clone(),
        _ => None,
    };
    let a = Allocation {
        id,
        namespace: eval.namespace.as_str().into(),
        eval_id: Some(eval.id),
        name: q.name.as_str().into(),
        node_id: submitted.node_id.as_str().into(),
        node_name: submitted.node_name.as_str().into(),
        job_id: eval.job_id.as_str().into(),
        job_version: q.job_version,
        task_group: q.task_group.as_str().into(),
        allocated_resources: submitted.allocated_resources.as_ref().map(Opaque::new),
        metrics: submitted.metrics.as_ref().map(Opaque::new),
        desired_status: desired_status::RUN.into(),
        client_status: client_status::PENDING.into(),
        deployment_id,
        deployment_status,
        reschedule_tracker,
        previous_allocation: q.previous_allocation,
        create_time: tx.now,
        modify_time: tx.now,
        ..Allocation::default()
    };
    write_alloc(tx, a, true, placement_why(q))?;
    if let Some(prev) = previous {
        let mut prev = (*prev).clone();
        prev.next_allocation = Some(id);
        tx.put_alloc(prev, true, ("C14", format!("replaced by allocation {id}")));
    }
    Ok(id)
}

/// The rule behind a placement, and what it replaces.
fn placement_why(q: &Placement) -> (&'static str, String) {
    let replaces = q
        .previous_allocation
        .map(|p| format!(", replacing allocation {p}"))
        .unwrap_or_default();
    let (rule, what) = match q.kind {
        PlacementKind::Canary => ("C7", "a canary"),
        PlacementKind::Destructive => ("C9", "a destructive update"),
        PlacementKind::Missing => ("C6", "a missing slot of the group's count"),
        PlacementKind::Lost => ("C10", "a replacement of an allocation on a lost node"),
        PlacementKind::Reschedule => ("T2", "a replacement of a failed allocation"),
        PlacementKind::Migrate => ("AS2", "a replacement of an allocation being migrated"),
    };
    (rule, format!("placed {} as {what}{replaces}", q.name))
}

/// The rule behind a stop, from the reconciler's stop reason.
/// The stop a placed replacement implies for the allocation it replaces, when the
/// scheduler's plan result does not list it: a destructive update, a lost, rescheduled
/// (T5) or migrated (AS2) allocation never runs on next to its replacement.
fn implied_stop(kind: PlacementKind) -> Option<&'static str> {
    match kind {
        PlacementKind::Destructive => Some(stop_reason::UPDATING),
        PlacementKind::Lost => Some(stop_reason::LOST),
        PlacementKind::Reschedule => Some(stop_reason::RESCHEDULED),
        PlacementKind::Migrate => Some(stop_reason::MIGRATING),
        PlacementKind::Missing | PlacementKind::Canary => None,
    }
}

fn stop_rule(why: &str) -> &'static str {
    match why {
        stop_reason::STALE_CANARY => "C5",
        stop_reason::JOB_STOPPED => "K1",
        stop_reason::UPDATING => "C9",
        stop_reason::LOST => "C10",
        stop_reason::RESCHEDULED => "T5",
        stop_reason::MIGRATING => "AS2",
        _ => "C14",
    }
}

/// The reschedule tracker of a replacement: the previous events plus this reschedule.
fn next_tracker(tx: &Tx, prev: &Allocation, eval: &Evaluation) -> RescheduleTracker {
    let job = tx.state.job(&eval.namespace, &eval.job_id);
    let policy = job
        .and_then(|j| j.group(&prev.task_group))
        .and_then(|g| g.reschedule_policy.clone())
        .unwrap_or_default();
    let mut events = prev
        .reschedule_tracker
        .as_ref()
        .and_then(|t| t.events.clone())
        .unwrap_or_default();
    events.push(RescheduleEvent {
        delay: reschedule_delay(&policy, prev.reschedule_tracker.as_deref()),
        prev_alloc_id: prev.id.to_string(),
        prev_node_id: prev.node_id.to_string(),
        reschedule_time: tx.now,
    });
    RescheduleTracker {
        events: Some(events),
        last_reschedule: "ok".to_string(),
    }
}

/// T2: failed allocations due later get a follow-up evaluation that waits until then.
fn follow_up_reschedules(tx: &mut Tx, plan: &Plan, eval: &Evaluation) {
    for later in &plan.reschedule_later {
        let (alloc_id, at) = (&later.alloc_id, &later.reschedule_time);
        let Some(a) = tx.alloc(alloc_id) else {
            continue;
        };
        if a.followup_eval_id.is_some() {
            continue;
        }
        let followup = Evaluation {
            namespace: eval.namespace.clone(),
            priority: eval.priority,
            eval_type: eval.eval_type.clone(),
            triggered_by: triggered_by::ALLOC_FAILURE.to_string(),
            job_id: eval.job_id.clone(),
            status: eval_status::PENDING.to_string(),
            wait_until: Timestamp(*at),
            previous_eval: eval.id.to_string(),
            ..Evaluation::default()
        };
        let why = format!("allocation {alloc_id} is rescheduled at {}", Timestamp(*at));
        let id = tx.create_eval(followup, ("T2", why.clone()));
        let mut a = (*a).clone();
        a.followup_eval_id = Some(id);
        tx.put_alloc(a, true, ("T2", why));
        tx.touched_jobs
            .insert(JobKey::new(&eval.namespace, &eval.job_id));
    }
}
