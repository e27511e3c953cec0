//! The engine's invariants, defined once.
//!
//! Three kinds, by what they need to see:
//! - of one state ([`State::check_invariants`]): secondary indexes agree with their
//!   tables, health counters stay within placements, at most one active deployment per
//!   job, no object newer than the state;
//! - of one state and the next ([`check_transition`]): indexes and time only move
//!   forward, a terminal deployment keeps its status and description, a deployment keeps
//!   its job version and creation index, a promoted group stays promoted;
//! - of one applied command ([`check_applied`]): the above for the objects the command
//!   changed, plus what only the outcome shows — a deployment that succeeded in this
//!   write is healthy and its version stable, a rollback goes to a stable version that
//!   differs from the failing one, a write creates at most one version per job.
//!
//! [`apply`](crate::apply) asserts [`check_applied`] after every command in debug builds,
//! so every test, fuzz run and simulation checks them at every step; the property tests
//! and the simulator also call the whole-state checks, which cost O(state).
//!
//! Rule IDs refer to `docs/semantics.md`.

use crate::apply::IndexRule;
use crate::command::Envelope;
use crate::model::{status, Deployment};
use crate::outcome::{Outcome, RollbackOutcome, Topic};
use crate::state::State;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use uuid::Uuid;

/// A broken invariant: which one, and the objects and values that broke it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// A short stable name (`health-within-placed`, `terminal-is-final`, …).
    pub rule: &'static str,
    /// What was seen.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.rule, self.detail)
    }
}

impl std::error::Error for Violation {}

fn violation(rule: &'static str, detail: String) -> Violation {
    Violation { rule, detail }
}

type Checked = Result<(), Violation>;

impl State {
    /// Checks every invariant of this state. O(state): for tests, property tests, fuzzing
    /// and simulations, not for a hot path.
    pub fn check_invariants(&self) -> Checked {
        self.check_indexes()
            .map_err(|e| violation("indexes-consistent", e))?;
        for d in self.t().deployments.values() {
            check_deployment(self, d)?;
        }
        let mut active: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for d in self.t().deployments.values().filter(|d| d.active()) {
            *active.entry((&d.namespace, &d.job_id)).or_default() += 1;
        }
        if let Some(((ns, job), n)) = active.into_iter().find(|(_, n)| *n > 1) {
            return Err(violation(
                "one-active-deployment",
                format!("job {ns}/{job} has {n} active deployments"),
            ));
        }
        check_object_indexes(self)
    }
}

/// Checks the invariants that relate a state to the one after it, over every deployment.
pub fn check_transition(before: &State, after: &State) -> Checked {
    check_clock(before, after, IndexRule::Increases)?;
    for old in before.t().deployments.values() {
        if let Some(new) = after.deployment(&old.id) {
            check_deployment_transition(old, new)?;
        }
    }
    Ok(())
}

/// Checks one accepted command: `before` and `envelope` gave `after` and `outcome`. Only
/// the objects the outcome names are inspected, so the cost follows the size of the
/// change, not of the state (secondary indexes are left to
/// [`State::check_invariants`]).
pub fn check_applied(
    before: &State,
    envelope: &Envelope,
    after: &State,
    outcome: &Outcome,
) -> Checked {
    check_applied_as(before, envelope, after, outcome, IndexRule::Increases)
}

/// [`check_applied`] for a command that continues a log entry
/// ([`apply_in_entry`](crate::apply_in_entry)): the index stays the entry's
/// instead of going up; every other check is the same.
pub fn check_applied_in_entry(
    before: &State,
    envelope: &Envelope,
    after: &State,
    outcome: &Outcome,
) -> Checked {
    check_applied_as(before, envelope, after, outcome, IndexRule::Shared)
}

pub(crate) fn check_applied_as(
    before: &State,
    envelope: &Envelope,
    after: &State,
    outcome: &Outcome,
    rule: IndexRule,
) -> Checked {
    if after.index() != envelope.index || outcome.index != envelope.index {
        return Err(violation(
            "index-is-the-envelope's",
            format!(
                "envelope {} gave state index {} and outcome index {}",
                envelope.index,
                after.index(),
                outcome.index
            ),
        ));
    }
    check_clock(before, after, rule)?;
    let (deployments, jobs) = touched(before, after, outcome);
    for id in &deployments {
        let Some(new) = after.deployment(id) else {
            continue;
        };
        check_deployment(after, new)?;
        let old = before.deployment(id);
        if let Some(old) = old {
            check_deployment_transition(old, new)?;
        }
        if old.is_none_or(|o| o.status != status::SUCCESSFUL) && new.status == status::SUCCESSFUL {
            check_success(after, new)?;
        }
    }
    for (ns, job) in &jobs {
        check_job(before, after, ns, job)?;
    }
    check_rollbacks(before, after, outcome)
}

/// The deployments (by ID) and jobs (namespace, ID) an outcome's events name, including
/// the deployments of the allocations it changed, before and after.
fn touched(
    before: &State,
    after: &State,
    outcome: &Outcome,
) -> (BTreeSet<Uuid>, BTreeSet<(String, String)>) {
    let mut deployments = BTreeSet::new();
    let mut jobs = BTreeSet::new();
    for e in &outcome.events {
        jobs.insert((e.namespace.to_string(), e.job_id.to_string()));
        let Ok(id) = e.key.parse::<Uuid>() else {
            continue;
        };
        match e.topic {
            Topic::Deployment => {
                deployments.insert(id);
            }
            Topic::Allocation => {
                for s in [before, after] {
                    if let Some(d) = s.alloc(&id).and_then(|a| a.deployment_id) {
                        deployments.insert(d);
                    }
                }
            }
            Topic::Evaluation
            | Topic::Job
            | Topic::AclToken
            | Topic::AclPolicy
            | Topic::Namespace
            | Topic::Node => {}
        }
    }
    (deployments, jobs)
}

/// Time and the index only move forward (§4.1; the engine's clock rule); within one log
/// entry the index stays.
fn check_clock(before: &State, after: &State, rule: IndexRule) -> Checked {
    let index_moved_right = match rule {
        IndexRule::Increases => after.index() > before.index(),
        IndexRule::Shared => after.index() == before.index(),
    };
    if !index_moved_right {
        let rule = match rule {
            IndexRule::Increases => "index-increases",
            IndexRule::Shared => "index-shared-in-entry",
        };
        return Err(violation(
            rule,
            format!("index went from {} to {}", before.index(), after.index()),
        ));
    }
    if after.now() < before.now() {
        return Err(violation(
            "time-never-goes-back",
            format!("time went from {} to {}", before.now(), after.now()),
        ));
    }
    Ok(())
}

/// One deployment in one state: counters within placements (A2–A5; `HealthyAllocs` is
/// signed, so the sum is taken in i128), at most one active deployment for its job,
/// indexes ordered.
///
/// Not an invariant: live canaries within `DesiredCanaries`. A client may report an
/// allocation as a canary when the server stored no deployment status for it (A9), so
/// only a well-behaved driver keeps that bound; the simulator checks it of its own.
fn check_deployment(state: &State, d: &Deployment) -> Checked {
    for (name, g) in &d.task_groups {
        let health = i128::from(g.healthy_allocs) + i128::from(g.unhealthy_allocs);
        if health > i128::from(g.placed_allocs) {
            return Err(violation(
                "health-within-placed",
                format!(
                    "deployment {} group {name}: healthy {} + unhealthy {} > placed {}",
                    d.id, g.healthy_allocs, g.unhealthy_allocs, g.placed_allocs
                ),
            ));
        }
    }
    if d.active() {
        let active = state
            .deployments_of_job_any(&d.namespace, &d.job_id)
            .filter(|o| o.active())
            .count();
        if active > 1 {
            return Err(violation(
                "one-active-deployment",
                format!(
                    "job {}/{} has {active} active deployments",
                    d.namespace, d.job_id
                ),
            ));
        }
    }
    if d.create_index > d.modify_index || d.modify_index > state.index() {
        return Err(violation(
            "object-indexes-ordered",
            format!(
                "deployment {}: CreateIndex {} ModifyIndex {} at state index {}",
                d.id,
                d.create_index,
                d.modify_index,
                state.index()
            ),
        ));
    }
    Ok(())
}

/// Every object was written at or before the state's index, and created before it was
/// last modified (§4.1).
fn check_object_indexes(state: &State) -> Checked {
    let index = state.index();
    let bad = |kind: &str, id: &dyn fmt::Display, create: u64, modify: u64| {
        violation(
            "object-indexes-ordered",
            format!(
                "{kind} {id}: CreateIndex {create} ModifyIndex {modify} at state index {index}"
            ),
        )
    };
    for a in state.t().allocs.values() {
        if a.create_index > a.modify_index || a.modify_index > index {
            return Err(bad("allocation", &a.id, a.create_index, a.modify_index));
        }
    }
    for e in state.t().evals.values() {
        if e.create_index > e.modify_index || e.modify_index > index {
            return Err(bad("evaluation", &e.id, e.create_index, e.modify_index));
        }
    }
    for j in state.t().jobs.values() {
        if j.create_index > j.modify_index || j.modify_index > index {
            return Err(bad("job", &j.id, j.create_index, j.modify_index));
        }
    }
    Ok(())
}

/// One deployment from one state to the next: a terminal status and its description
/// are final (§2.5), `JobVersion` and `CreateIndex` never change (§1.1), `Promoted`
/// never reverts (P12).
fn check_deployment_transition(old: &Deployment, new: &Deployment) -> Checked {
    if old.terminal()
        && (old.status != new.status || old.status_description != new.status_description)
    {
        return Err(violation(
            "terminal-is-final",
            format!(
                "deployment {} went from {} ({:?}) to {} ({:?})",
                old.id, old.status, old.status_description, new.status, new.status_description
            ),
        ));
    }
    if old.job_version != new.job_version || old.create_index != new.create_index {
        return Err(violation(
            "deployment-identity-fixed",
            format!(
                "deployment {} changed JobVersion {} → {} or CreateIndex {} → {}",
                old.id, old.job_version, new.job_version, old.create_index, new.create_index
            ),
        ));
    }
    for (name, g) in &old.task_groups {
        if g.promoted && !new.task_groups.get(name).is_some_and(|n| n.promoted) {
            return Err(violation(
                "promotion-final",
                format!("deployment {} group {name} lost Promoted", old.id),
            ));
        }
    }
    Ok(())
}

/// X1, X3: the write that makes a deployment successful finds every group healthy (and
/// promoted, where it had canaries) and marks the deployment's job version stable.
fn check_success(after: &State, d: &Deployment) -> Checked {
    if let Some(v) = after.job_version(&d.namespace, &d.job_id, d.job_version) {
        if !v.stable {
            return Err(violation(
                "success-is-stable",
                format!(
                    "deployment {} succeeded but version {} is not stable",
                    d.id, d.job_version
                ),
            ));
        }
    }
    for (name, g) in &d.task_groups {
        if g.healthy() < g.desired_total || g.canarying() {
            return Err(violation(
                "success-is-healthy",
                format!(
                    "deployment {} succeeded with group {name}: healthy {} of {}, canaries {} promoted {}",
                    d.id, g.healthy_allocs, g.desired_total, g.desired_canaries, g.promoted
                ),
            ));
        }
    }
    Ok(())
}

/// A job after one write: at most one active deployment (C11, K2) and at most one new
/// version (a registration, a revert or a rollback — never two).
fn check_job(before: &State, after: &State, ns: &str, job: &str) -> Checked {
    let active = after
        .deployments_of_job_any(ns, job)
        .filter(|d| d.active())
        .count();
    if active > 1 {
        return Err(violation(
            "one-active-deployment",
            format!("job {ns}/{job} has {active} active deployments"),
        ));
    }
    let old: BTreeSet<u64> = before.job_versions(ns, job).map(|j| j.version).collect();
    let created: Vec<u64> = after
        .job_versions(ns, job)
        .map(|j| j.version)
        .filter(|v| !old.contains(v))
        .collect();
    if created.len() > 1 {
        return Err(violation(
            "one-version-per-write",
            format!("job {ns}/{job} got versions {created:?} in one write"),
        ));
    }
    Ok(())
}

/// R1–R4, F3, W5: a rollback happens only for a deployment with an auto-reverting
/// group, re-registers a stable version whose spec differs from the failing deployment's
/// as a copy of it, and says so in the failed deployment's description.
fn check_rollbacks(before: &State, after: &State, outcome: &Outcome) -> Checked {
    for r in &outcome.rollbacks {
        let RollbackOutcome::RolledBack {
            stable_version,
            new_version,
        } = r.outcome
        else {
            continue;
        };
        let Some(failing) = before.deployment(&r.deployment_id) else {
            return Err(violation(
                "rollback-to-stable",
                format!("rollback of unknown deployment {}", r.deployment_id),
            ));
        };
        let Some(src) = before.job_version(&failing.namespace, &failing.job_id, stable_version)
        else {
            return Err(violation(
                "rollback-to-stable",
                format!("rollback to missing version {stable_version}"),
            ));
        };
        if !src.stable {
            return Err(violation(
                "rollback-to-stable",
                format!("rollback to unstable version {stable_version}"),
            ));
        }
        if !failing.task_groups.values().any(|g| g.auto_revert) {
            return Err(violation(
                "rollback-needs-auto-revert",
                format!("deployment {} rolled back without auto_revert", failing.id),
            ));
        }
        let copy = after.job_version(&failing.namespace, &failing.job_id, new_version);
        if copy.is_none_or(|c| c.task_groups != src.task_groups) {
            return Err(violation(
                "rollback-is-a-copy",
                format!("rollback version {new_version} is not a copy of stable version {stable_version}"),
            ));
        }
        let suffix = format!(" - rolling back to job version {stable_version}");
        let failed = after.deployment(&failing.id);
        if failed.is_some_and(|d| !d.status_description.ends_with(&suffix)) {
            return Err(violation(
                "rollback-is-described",
                format!(
                    "deployment {} rolled back to {stable_version} but says {:?}",
                    failing.id,
                    failed
                        .map(|d| d.status_description.as_str())
                        .unwrap_or_default()
                ),
            ));
        }
        if let Some(w) =
            before.job_version(&failing.namespace, &failing.job_id, failing.job_version)
        {
            if !crate::job::spec_changed(w, src) {
                return Err(violation(
                    "rollback-to-stable",
                    format!("rollback to version {stable_version} that equals the failing one"),
                ));
            }
        }
    }
    Ok(())
}
