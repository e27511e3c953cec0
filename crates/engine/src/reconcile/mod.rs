//! The reconciler: what a job's allocations must become, group by group (§3.1, §3.13).
//!
//! It is a pure function of the state. The engine calls it when a job version becomes
//! current (to create the deployment, C11), when counters say a rollout may be complete
//! (X1), and the planner calls it for a pending evaluation (what to place, update and
//! stop). Nothing here writes.

pub(crate) mod reschedule;

use crate::job::needs_destructive_update;
use crate::model::{
    alloc_name, client_status, description, status, Allocation, Deployment, DeploymentState, Job,
    SmallMap, Strategy, TaskGroup, UnixNanos,
};
use crate::state::{JobKey, State};
use reschedule::{next_reschedule_time, reschedule_eligible, RESCHEDULE_WINDOW_NS};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use uuid::Uuid;

/// Why an allocation is placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PlacementKind {
    /// A slot of the group's count has no allocation (fresh job, scale-up, …).
    Missing,
    /// A canary of a destructive change (C7).
    Canary,
    /// Replaces an allocation of an older version (a destructive update, C9).
    Destructive,
    /// Replaces an allocation whose node was lost.
    Lost,
    /// Replaces a failed allocation that may be rescheduled (§3.13).
    Reschedule,
    /// Replaces an allocation marked to migrate (an operator stopped it, AS2).
    Migrate,
}

/// An allocation the scheduler must place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Placement {
    /// `job.group[index]`: the name slot the allocation takes.
    pub name: String,
    /// Its task group.
    pub task_group: String,
    /// The job version it runs (older than the job's for C14 downgrades).
    pub job_version: u64,
    /// Whether it is a canary.
    pub canary: bool,
    /// The allocation it replaces, if any.
    #[serde(with = "crate::model::id::empty_as_none")]
    pub previous_allocation: Option<Uuid>,
    /// The deployment the new allocation joins (only an active deployment is joined).
    #[serde(rename = "DeploymentID", with = "crate::model::id::empty_as_none")]
    pub deployment_id: Option<Uuid>,
    /// Why it is placed.
    pub kind: PlacementKind,
}

/// An allocation the scheduler must stop, and why (its `DesiredDescription`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Stop {
    /// The allocation to stop.
    #[serde(rename = "AllocID")]
    pub alloc_id: Uuid,
    /// Why (`DesiredDescription`, one of [`stop_reason`]).
    pub description: String,
}

/// `DesiredDescription`s of stops.
pub mod stop_reason {
    /// Scaled down, or its slot was taken.
    pub const NOT_NEEDED: &str = "alloc not needed due to job update";
    /// Replaced by a destructive update.
    pub const UPDATING: &str = "alloc is being updated due to job update";
    /// Its node was lost.
    pub const LOST: &str = "alloc is lost since its node is down";
    /// Stopped by an operator, or moved off its node (AS2).
    pub const MIGRATING: &str = "alloc is being migrated";
    /// Replaced after failing (§3.13).
    pub const RESCHEDULED: &str = "alloc was rescheduled because it failed";
    /// The job was stopped.
    pub const JOB_STOPPED: &str = "alloc not needed as job is stopped";
    /// A canary of a deployment that was superseded or failed unpromoted (C5).
    pub const STALE_CANARY: &str = "alloc not needed as its canary deployment is no longer current";
}

/// What one task group needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPlan {
    /// Canary placements requested now (C7, C12).
    pub canaries: Vec<Placement>,
    /// Missing, lost and reschedule replacements allowed now.
    pub placements: Vec<Placement>,
    /// Missing placements allowed now that were only counted, not built (count-only
    /// reconciliations, which the engine runs for its own deployment lifecycle).
    #[serde(skip)]
    pub counted_placements: u64,
    /// Destructive updates allowed now by the `max_parallel` budget (C9).
    pub destructive: Vec<Placement>,
    /// Allocations updated in place to the job's version.
    pub in_place: Vec<Uuid>,
    /// Allocations to stop.
    pub stops: Vec<Stop>,
    /// Failed allocations that will be rescheduled later, and when.
    pub reschedule_later: Vec<(Uuid, UnixNanos)>,
    /// Allocations left as they are.
    pub ignore: u64,
    /// Work held back because the deployment is paused, failed or canarying (C10).
    pub withheld: u64,
    /// Every destructive update still needed, budget aside.
    pub destructive_total: u64,
    /// Placements still needed, pause aside (missing + lost + reschedule-now).
    pub placements_total: u64,
    /// The group needs canaries (C7).
    pub needs_canaries: bool,
    /// `DesiredCanaries` the group's deployment state should carry.
    pub desired_canaries: u64,
    /// The group's deployment state, existing or freshly built (C4).
    pub state: Option<DeploymentState>,
    /// Whether [`Self::state`] is new (C4 "fresh").
    pub fresh_state: bool,
    /// C11's exception: an allocation already runs this exact version and nothing
    /// needs updating, so this is a scale-up or reschedule, not a rollout.
    pub version_already_running: bool,
}

impl GroupPlan {
    /// X1's "nothing left to do" for one group.
    pub fn nothing_to_do(&self) -> bool {
        self.canaries.is_empty()
            && !self.needs_canaries
            && self.placements_total == 0
            && self.destructive_total == 0
            && self.in_place.is_empty()
            && self.reschedule_later.is_empty()
    }

    /// How many allocations the scheduler may place for this group now.
    pub fn placements_now(&self) -> u64 {
        (self.canaries.len() + self.placements.len() + self.destructive.len()) as u64
            + self.counted_placements
    }

    /// C11: does this group call for a new deployment?
    fn wants_deployment(&self) -> bool {
        let Some(state) = &self.state else {
            return false;
        };
        self.fresh_state
            && state.desired_total > 0
            && !(self.version_already_running
                && self.destructive_total == 0
                && self.in_place.is_empty())
    }
}

/// The reconciler's answer for one job.
#[derive(Clone, Debug, Default)]
pub struct Reconciliation {
    /// The job, if it exists.
    pub job: Option<Arc<Job>>,
    /// The deployment the job is being rolled out with (C1).
    pub current: Option<Arc<Deployment>>,
    /// K1/K2: the latest deployment must be cancelled with this description.
    pub cancel: Option<(Uuid, &'static str)>,
    /// Each group's needs, by name (groups the job no longer has included).
    pub groups: BTreeMap<String, GroupPlan>,
}

impl Reconciliation {
    /// C11: the group states of a deployment to create, or `None` if none is needed.
    pub fn new_deployment_groups(&self) -> Option<SmallMap<DeploymentState>> {
        if self.current.is_some() {
            return None;
        }
        let groups: SmallMap<DeploymentState> = self
            .groups
            .iter()
            .filter(|(_, g)| g.wants_deployment())
            .filter_map(|(name, g)| g.state.clone().map(|s| (name.clone(), s)))
            .collect();
        (!groups.is_empty()).then_some(groups)
    }

    /// X1: the current deployment has nothing left to do and every group with a state is
    /// healthy enough (and promoted if it had canaries).
    pub fn complete(&self) -> bool {
        let Some(d) = &self.current else {
            return false;
        };
        self.groups.values().all(GroupPlan::nothing_to_do) && counters_complete(d)
    }
}

/// X1's counter test, readable from the deployment alone (so it can gate the full
/// reconciliation cheaply): every group has `HealthyAllocs ≥ max(DesiredTotal,
/// DesiredCanaries)` and is promoted if it had canaries.
pub fn counters_complete(d: &Deployment) -> bool {
    d.task_groups.values().all(|g| {
        g.healthy() >= g.desired_total.max(g.desired_canaries)
            && (g.desired_canaries == 0 || g.promoted)
    })
}

/// Reconciles one job against the state at `now`, with every placement named and every
/// stop described (what the planner hands a scheduler).
pub fn reconcile(state: &State, key: &JobKey, now: UnixNanos) -> Reconciliation {
    reconcile_with(state, key, now, true)
}

/// The same decisions without naming placements or describing stops: enough for the
/// deployment lifecycle (C11 creation, X1 completion), which only counts.
pub(crate) fn reconcile_counts(state: &State, key: &JobKey, now: UnixNanos) -> Reconciliation {
    reconcile_with(state, key, now, false)
}

fn reconcile_with(state: &State, key: &JobKey, now: UnixNanos, detail: bool) -> Reconciliation {
    let job = state.job(&key.namespace, &key.id).cloned();
    let latest = state
        .latest_deployment_any(&key.namespace, &key.id)
        .cloned();
    let (current, cancel) = current_deployment(job.as_deref(), latest);
    let ctx = Ctx {
        state,
        job: job.as_deref(),
        current: current.as_deref(),
        now,
        detail,
    };
    let mut by_group: BTreeMap<&str, Vec<&Arc<Allocation>>> = BTreeMap::new();
    for a in state.job_allocs(&key.namespace, &key.id) {
        by_group.entry(a.task_group.as_str()).or_default().push(a);
    }
    let mut names: BTreeSet<&str> = by_group.keys().copied().collect();
    if let Some(j) = job.as_deref() {
        names.extend(j.task_groups.iter().map(|g| g.name.as_str()));
    }
    let mut groups = BTreeMap::new();
    for name in names {
        let allocs = by_group.remove(name).unwrap_or_default();
        groups.insert(name.to_string(), ctx.group(name, allocs));
    }
    Reconciliation {
        job,
        current,
        cancel,
        groups,
    }
}

/// C1 with K1/K2: which deployment is current, and whether the latest must be cancelled.
fn current_deployment(
    job: Option<&Job>,
    latest: Option<Arc<Deployment>>,
) -> (Option<Arc<Deployment>>, Option<(Uuid, &'static str)>) {
    let Some(d) = latest else {
        return (None, None);
    };
    let job = match job {
        Some(j) if !j.stop => j,
        _ => {
            let cancel = d.active().then_some((d.id, description::STOPPED_JOB));
            return (None, cancel);
        }
    };
    if d.job_create_index != job.create_index || d.job_version != job.version {
        let cancel = d.active().then_some((d.id, description::NEWER_JOB));
        return (None, cancel);
    }
    if d.status == status::SUCCESSFUL || d.status == status::CANCELLED {
        return (None, None);
    }
    (Some(d), None)
}

struct Ctx<'a> {
    state: &'a State,
    job: Option<&'a Job>,
    current: Option<&'a Deployment>,
    now: UnixNanos,
    /// Name placements and describe stops (off when only counts matter).
    detail: bool,
}

/// How a live allocation relates to the job's current version.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fit {
    Current,
    InPlace,
    Destructive,
}

impl<'a> Ctx<'a> {
    fn group(&self, name: &str, allocs: Vec<&'a Arc<Allocation>>) -> GroupPlan {
        let job = match self.job {
            Some(j) if !j.stop => j,
            _ => return stop_all(allocs, stop_reason::JOB_STOPPED),
        };
        match job.group(name) {
            Some(tg) if tg.count() > 0 => self.active_group(job, tg, allocs),
            _ => stop_all(allocs, stop_reason::NOT_NEEDED),
        }
    }

    fn name(&self, job: &str, group: &str, index: u64) -> String {
        if self.detail {
            alloc_name(job, group, index)
        } else {
            String::new()
        }
    }

    fn stop(&self, a: &Allocation, why: &str) -> Stop {
        Stop {
            alloc_id: a.id,
            description: if self.detail {
                why.to_string()
            } else {
                String::new()
            },
        }
    }

    /// How an allocation of the group relates to the job's version. `cache` holds the
    /// answer per job version (the comparison is a deep one).
    fn fit(&self, job: &Job, a: &Allocation, cache: &mut BTreeMap<u64, Fit>) -> Fit {
        if let Some(fit) = cache.get(&a.job_version) {
            return *fit;
        }
        let fit = match self
            .state
            .job_version(&job.namespace, &job.id, a.job_version)
        {
            Some(v) if v.version == job.version && v.create_index == job.create_index => {
                Fit::Current
            }
            Some(v) if needs_destructive_update(v, job, &a.task_group) => Fit::Destructive,
            Some(_) => Fit::InPlace,
            // The version it ran is no longer kept: replace it to be safe.
            None => Fit::Destructive,
        };
        cache.insert(a.job_version, fit);
        fit
    }

    /// C5: a live canary of a deployment that is no longer current, or of the current
    /// deployment once it failed, whose group was never promoted.
    fn stale_canary(&self, a: &Allocation) -> bool {
        if !a.is_canary() {
            return false;
        }
        let Some(dep_id) = a.deployment_id else {
            return true;
        };
        let Some(d) = self.state.deployment(&dep_id) else {
            return true;
        };
        let promoted = d.task_groups.get(&a.task_group).is_some_and(|g| g.promoted);
        match self.current {
            Some(cur) if cur.id == dep_id => cur.status == status::FAILED && !promoted,
            _ => !promoted,
        }
    }

    /// One group of a running job: the phases below, in order, each filling [`Work`].
    /// The order matters: earlier phases claim name slots and budget before later ones.
    fn active_group(
        &self,
        job: &Job,
        tg: &TaskGroup,
        allocs: Vec<&'a Arc<Allocation>>,
    ) -> GroupPlan {
        let g = self.group_spec(job, tg);
        let mut w = Work::default();
        for a in allocs {
            self.classify(&g, a, &mut w);
        }
        self.keep_slots(&mut w, g.count);
        self.claim_slots(&mut w, g.count);
        tally(&mut w, g.count);
        let r = self.rollout(&g, &mut w);
        self.place_canaries(&g, &r, &mut w);
        w.budget = self.budget(&g, &w.destructive, r.canarying);
        self.place_replacements(&g, &r, &mut w);
        self.place_missing(&g, &r, &mut w);
        self.destructive_updates(&g, &r, &mut w);
        cap_placements(&mut w.plan, g.count);
        self.finish(&g, r, w)
    }

    /// What every phase of a group reads: its strategy (none for job types without
    /// deployments) and whether the current deployment holds work back (C10).
    fn group_spec<'g>(&self, job: &'g Job, tg: &'g TaskGroup) -> Group<'g> {
        let (paused, failed) = match self.current {
            Some(d) => (
                matches!(
                    d.status.as_str(),
                    status::PAUSED | status::PENDING | status::INITIALIZING
                ),
                d.status == status::FAILED,
            ),
            None => (false, false),
        };
        Group {
            job,
            tg,
            count: tg.count(),
            strategy: if job.gets_deployments() {
                tg.strategy()
            } else {
                None
            },
            paused,
            failed,
        }
    }

    /// Whether an allocation belongs to the current deployment.
    fn in_current(&self, a: &Allocation) -> bool {
        self.current.is_some_and(|d| a.deployment_id == Some(d.id))
    }

    /// Sorts one allocation of the group. Server-terminal and completed allocations are
    /// done; a stale canary is stopped (C5); a lost one is replaced unless it already was;
    /// a failed one goes by [`Self::classify_failed`] (§3.13, T1–T3); a live canary of
    /// the current deployment is kept apart from the other live allocations, which carry
    /// their [`Fit`]. Unreplaced canaries of the current deployment are counted (C7).
    fn classify(&self, g: &Group, a: &'a Arc<Allocation>, w: &mut Work<'a>) {
        if a.server_terminal() {
            return;
        }
        if self.stale_canary(a) {
            w.plan.stops.push(self.stop(a, stop_reason::STALE_CANARY));
            return;
        }
        let counts_as_canary = a.is_canary() && self.in_current(a) && a.next_allocation.is_none();
        match a.client_status.as_str() {
            client_status::COMPLETE => return,
            client_status::LOST => {
                if a.next_allocation.is_some() {
                    return;
                }
                w.replace.push((a, PlacementKind::Lost));
            }
            client_status::FAILED => {
                if a.next_allocation.is_some() {
                    return;
                }
                self.classify_failed(g, a, w);
            }
            // AS2: marked to migrate (an operator stopped it): stopped and replaced.
            _ if a.desired_transition.migrate == Some(true) => {
                w.replace.push((a, PlacementKind::Migrate));
            }
            _ => {
                if a.is_canary() && self.in_current(a) {
                    w.live_canaries.push(a);
                } else {
                    let fit = self.fit(g.job, a, &mut w.fits);
                    w.live.push((a, fit));
                }
            }
        }
        if counts_as_canary {
            w.existing_canaries += 1;
            w.used_canary_names.insert(a.name.as_str());
        }
    }

    /// §3.13 for a failed allocation not yet replaced: rescheduled now (a replacement),
    /// later (held, with its time in `reschedule_later`) or not at all (held). A failed
    /// canary of the current deployment is extra to the count and holds no slot; a failed
    /// allocation of an older version that is not rescheduled now is updated like a live
    /// one.
    fn classify_failed(&self, g: &Group, a: &'a Arc<Allocation>, w: &mut Work<'a>) {
        let canary = a.is_canary() && self.in_current(a);
        let fate = self.failed_alloc_fate(g.job, g.tg, a, g.failed);
        let fit = self.fit(g.job, a, &mut w.fits);
        match fate {
            // A canary is extra to the count: it never holds a name slot.
            FailedFate::Held | FailedFate::Later(_) if canary => w.plan.ignore += 1,
            // A failed allocation of an older version that is not (yet) rescheduled
            // still needs the new version: it is replaced like a live one, always
            // destructively (updating a dead allocation in place would leave its slot
            // dead).
            FailedFate::Held | FailedFate::Later(_) if fit != Fit::Current => {
                w.live.push((a, Fit::Destructive))
            }
            FailedFate::Held => w.held.push(a),
            FailedFate::Now => w.replace.push((a, PlacementKind::Reschedule)),
            FailedFate::Later(_) => w.held.push(a),
        }
        if let FailedFate::Later(at) = fate {
            if fit == Fit::Current || canary {
                w.plan.reschedule_later.push((a.id, at));
            }
        }
    }

    /// Name slots `job.group[0..count)`, first claims: live allocations of the job's
    /// version keep their slot, lowest index (then oldest) first, and one outside the
    /// count or on a taken slot is stopped (C3); held failed allocations keep theirs.
    fn keep_slots(&self, w: &mut Work<'a>, count: u64) {
        w.live
            .sort_by_cached_key(|(a, _)| (slot_of(a), a.create_index, a.id));
        for (a, _) in w.live.iter().filter(|(_, f)| *f == Fit::Current) {
            let idx = slot_of(a);
            if idx >= count || !w.slots.insert(idx) {
                w.plan.stops.push(self.stop(a, stop_reason::NOT_NEEDED));
            } else {
                w.plan.ignore += 1;
            }
        }
        for a in &w.held {
            let idx = slot_of(a);
            if idx < count {
                w.slots.insert(idx);
            }
            w.plan.ignore += 1;
        }
    }

    /// Name slots, second claims: lost and reschedule replacements take their
    /// allocation's slot (a canary's replacement is a canary too, extra to the count:
    /// T2); lost allocations are stopped, and so are failed ones being replaced (T5); then live allocations of older versions
    /// take theirs, to be updated, or are stopped if it is out of the count or taken.
    fn claim_slots(&self, w: &mut Work<'a>, count: u64) {
        for (a, kind) in std::mem::take(&mut w.replace) {
            let canary = a.is_canary() && self.in_current(a);
            let idx = slot_of(a);
            let replaced = canary || (idx < count && w.slots.insert(idx));
            if replaced {
                w.replacements.push((a, kind));
            }
            match kind {
                PlacementKind::Lost => w.plan.stops.push(self.stop(a, stop_reason::LOST)),
                PlacementKind::Migrate => w.plan.stops.push(self.stop(a, stop_reason::MIGRATING)),
                // T5: a failed allocation that is replaced now is stopped with it, as
                // Nomad does; one that keeps no slot stays as its client left it.
                PlacementKind::Reschedule if replaced => {
                    w.plan.stops.push(self.stop(a, stop_reason::RESCHEDULED))
                }
                _ => {}
            }
        }
        for (a, fit) in w.live.iter().filter(|(_, f)| *f != Fit::Current) {
            let idx = slot_of(a);
            if idx >= count || !w.slots.insert(idx) {
                w.plan.stops.push(self.stop(a, stop_reason::NOT_NEEDED));
            } else {
                w.old.push((a, *fit));
            }
        }
    }

    /// C4 and C7: the group's deployment state (the current deployment's, or a fresh
    /// one), whether the group needs canaries (a destructive change under a strategy
    /// with canaries, fewer canaries than wanted, not yet promoted) and so whether it is
    /// canarying; the deployment new placements join (only an active one).
    fn rollout(&self, g: &Group, w: &mut Work<'a>) -> Rollout {
        let existing = self
            .current
            .and_then(|d| d.task_groups.get(g.tg.name.as_str()))
            .cloned();
        let fresh = existing.is_none();
        let mut state = existing.unwrap_or_else(|| fresh_state(g.strategy.as_ref()));
        let desired_canary = g.strategy.as_ref().map_or(0, |s| s.canary);
        w.plan.needs_canaries = g.strategy.is_some()
            && !w.destructive.is_empty()
            && w.existing_canaries < desired_canary
            && !state.promoted;
        if w.plan.needs_canaries {
            state.desired_canaries = desired_canary;
        }
        w.plan.desired_canaries = state.desired_canaries;
        let canarying = state.canarying();
        Rollout {
            state,
            fresh,
            canarying,
            desired_canary,
            deployment_id: self.current.filter(|d| d.active()).map(|d| d.id),
            hold_ordinary: g.paused || g.failed || canarying,
        }
    }

    /// C7 and C10: the canaries still wanted, named from slot 0 up (skipping names the
    /// current canaries use), at most `count` of them; withheld while the deployment is
    /// paused or failed.
    fn place_canaries(&self, g: &Group, r: &Rollout, w: &mut Work<'a>) {
        if !w.plan.needs_canaries {
            return;
        }
        let wanted = r.desired_canary.saturating_sub(w.existing_canaries);
        if g.paused || g.failed {
            w.plan.withheld += wanted;
            return;
        }
        let wanted = wanted.min(g.count);
        let mut idx = 0u64;
        while (w.plan.canaries.len() as u64) < wanted {
            let n = self.name(&g.job.id, &g.tg.name, idx);
            if !self.detail || !w.used_canary_names.contains(n.as_str()) {
                w.plan.canaries.push(Placement {
                    name: n,
                    task_group: g.tg.name.clone(),
                    job_version: g.job.version,
                    canary: true,
                    previous_allocation: None,
                    deployment_id: r.deployment_id,
                    kind: PlacementKind::Canary,
                });
            }
            idx += 1;
        }
    }

    /// C10 and C14: lost and reschedule replacements are made even when paused or failed
    /// (replacements of failed allocations of the failed current deployment never reach
    /// here, T3). While the group is canarying, a replacement that is not a canary runs
    /// the last promoted version ([`Self::downgrade`]). Each uses budget.
    fn place_replacements(&self, g: &Group, r: &Rollout, w: &mut Work<'a>) {
        for (a, kind) in std::mem::take(&mut w.replacements) {
            let keep_canary = a.is_canary() && self.in_current(a);
            let (version, dep) = if keep_canary || !r.canarying {
                (g.job.version, r.deployment_id)
            } else {
                self.downgrade(g.job, &g.tg.name, a)
            };
            w.budget = w.budget.saturating_sub(1);
            w.plan.placements.push(Placement {
                name: a.name.to_string(),
                task_group: g.tg.name.clone(),
                job_version: version,
                canary: keep_canary,
                previous_allocation: Some(a.id),
                deployment_id: dep,
                kind,
            });
        }
    }

    /// Scale-up and fresh placements for the empty slots, withheld while the deployment
    /// is paused, failed or canarying (C10). Each uses budget. Count-only
    /// reconciliations count them instead of naming them.
    fn place_missing(&self, g: &Group, r: &Rollout, w: &mut Work<'a>) {
        for idx in std::mem::take(&mut w.missing) {
            if r.hold_ordinary {
                w.plan.withheld += 1;
                continue;
            }
            w.budget = w.budget.saturating_sub(1);
            if !self.detail {
                w.plan.counted_placements += 1;
                continue;
            }
            w.plan.placements.push(Placement {
                name: self.name(&g.job.id, &g.tg.name, idx),
                task_group: g.tg.name.clone(),
                job_version: g.job.version,
                canary: false,
                previous_allocation: None,
                deployment_id: r.deployment_id,
                kind: PlacementKind::Missing,
            });
        }
    }

    /// C9 and C10: destructive updates, as many as the remaining `max_parallel` budget
    /// allows, each a stop of the old allocation plus a placement replacing it; the rest
    /// are left for later (and withheld while paused, failed or canarying).
    fn destructive_updates(&self, g: &Group, r: &Rollout, w: &mut Work<'a>) {
        for a in std::mem::take(&mut w.destructive) {
            if r.hold_ordinary || w.budget == 0 {
                w.plan.ignore += 1;
                if r.hold_ordinary {
                    w.plan.withheld += 1;
                }
                continue;
            }
            w.budget -= 1;
            w.plan.stops.push(self.stop(a, stop_reason::UPDATING));
            w.plan.destructive.push(Placement {
                name: a.name.to_string(),
                task_group: g.tg.name.clone(),
                job_version: g.job.version,
                canary: false,
                previous_allocation: Some(a.id),
                deployment_id: r.deployment_id,
                kind: PlacementKind::Destructive,
            });
        }
    }

    /// C6 and C11: a fresh state's `DesiredTotal` (every update and placement still
    /// needed), and whether this version already runs (a scale-up or reschedule, not a
    /// rollout); the group's plan with its state, if the group has a strategy.
    fn finish(&self, g: &Group, mut r: Rollout, mut w: Work<'a>) -> GroupPlan {
        if r.fresh {
            r.state.desired_total =
                w.plan.destructive_total + w.plan.in_place.len() as u64 + w.plan.placements_total;
        }
        w.plan.version_already_running = w.live.iter().any(|(_, fit)| *fit == Fit::Current)
            || w.held
                .iter()
                .any(|a| self.fit(g.job, a, &mut w.fits) == Fit::Current);
        w.plan.fresh_state = r.fresh;
        w.plan.state = g.strategy.is_some().then_some(r.state);
        w.plan
    }

    /// C9: how many destructive updates may start now: the group's count without a
    /// strategy or without destructive updates; `max_parallel` for a first deployment;
    /// none while paused, failed or canarying, or while one of the deployment's
    /// allocations of the group is unhealthy; else `max_parallel` less those not yet
    /// healthy.
    fn budget(&self, g: &Group, destructive: &[&Arc<Allocation>], canarying: bool) -> u64 {
        let Some(s) = g.strategy.as_ref() else {
            return g.count;
        };
        if destructive.is_empty() {
            return g.count;
        }
        let Some(current) = self.current else {
            return s.max_parallel;
        };
        if g.paused || g.failed || canarying {
            return 0;
        }
        let mut not_healthy = 0u64;
        for a in self.state.deployment_allocs(&current.id) {
            if a.task_group != g.tg.name
                || a.server_terminal()
                || a.client_status == client_status::LOST
            {
                continue;
            }
            if a.client_status == client_status::FAILED && a.next_allocation.is_some() {
                continue;
            }
            if a.is_unhealthy() {
                return 0;
            }
            if !a.is_healthy() {
                not_healthy += 1;
            }
        }
        s.max_parallel.saturating_sub(not_healthy)
    }

    /// §3.13: what happens to a failed allocation that has not been replaced yet.
    fn failed_alloc_fate(
        &self,
        job: &Job,
        tg: &TaskGroup,
        a: &Allocation,
        current_failed: bool,
    ) -> FailedFate {
        if let Some(cur) = self.current {
            if a.deployment_id == Some(cur.id) {
                // T3: never replaced for a failed deployment; T1: held while it is active
                // until the watcher allows the replacement.
                if current_failed || (cur.active() && !a.desired_transition.should_reschedule()) {
                    return FailedFate::Held;
                }
            }
        }
        let policy = tg.reschedule_policy.as_ref();
        if !job.is_service() && policy.is_none() {
            return FailedFate::Held;
        }
        if !reschedule_eligible(policy, a.reschedule_tracker.as_deref(), self.now) {
            return FailedFate::Held;
        }
        let Some(policy) = policy else {
            return FailedFate::Held;
        };
        let at = next_reschedule_time(policy, a);
        if at <= self.now.saturating_add(RESCHEDULE_WINDOW_NS) {
            FailedFate::Now
        } else {
            FailedFate::Later(at)
        }
    }

    /// C14: a non-canary replacement made while the group is canarying runs the newest
    /// version whose deployment for that group was promoted or had no canaries, and
    /// joins that deployment if it is still active.
    fn downgrade(&self, job: &Job, group: &str, replaced: &Allocation) -> (u64, Option<Uuid>) {
        let current_id = self.current.map(|d| d.id);
        let found = self
            .state
            .deployments_of_job_any(&job.namespace, &job.id)
            .rev()
            .filter(|d| Some(d.id) != current_id && d.job_create_index == job.create_index)
            .find(|d| {
                d.task_groups
                    .get(group)
                    .is_some_and(|g| g.promoted || g.desired_canaries == 0)
                    && self
                        .state
                        .job_version(&job.namespace, &job.id, d.job_version)
                        .is_some()
            });
        match found {
            Some(d) => (d.job_version, d.active().then_some(d.id)),
            None => (replaced.job_version, None),
        }
    }
}

#[derive(Clone, Copy)]
enum FailedFate {
    Held,
    Now,
    Later(UnixNanos),
}

/// One task group of a running job, as every reconciliation phase reads it.
struct Group<'g> {
    job: &'g Job,
    tg: &'g TaskGroup,
    count: u64,
    /// `None` for job types without deployments, or a group without an update block.
    strategy: Option<Strategy>,
    /// The current deployment is paused, pending or initializing: ordinary work waits (C10).
    paused: bool,
    /// The current deployment failed: ordinary work stops (C10, T3).
    failed: bool,
}

/// The working sets one group's reconciliation phases fill in, in the order
/// [`Ctx::active_group`] runs them, and the plan they build.
#[derive(Default)]
struct Work<'a> {
    plan: GroupPlan,
    /// [`Fit`] per job version (see [`Ctx::fit`]).
    fits: BTreeMap<u64, Fit>,
    /// Live allocations other than the current deployment's canaries, with their fit
    /// (and failed allocations of older versions, to be updated like live ones).
    live: Vec<(&'a Arc<Allocation>, Fit)>,
    /// Live canaries of the current deployment: left as they are.
    live_canaries: Vec<&'a Arc<Allocation>>,
    /// Failed allocations not rescheduled now: they keep their slot.
    held: Vec<&'a Arc<Allocation>>,
    /// Lost and failed allocations to replace now, before slots are checked.
    replace: Vec<(&'a Arc<Allocation>, PlacementKind)>,
    /// Unreplaced canaries of the current deployment (C7).
    existing_canaries: u64,
    /// Their names: new canaries take other names.
    used_canary_names: BTreeSet<&'a str>,
    /// Name slots claimed so far.
    slots: BTreeSet<u64>,
    /// Live allocations of older versions that hold a slot: updated in place or
    /// destructively.
    old: Vec<(&'a Arc<Allocation>, Fit)>,
    /// Replacements that got a slot (or are canaries).
    replacements: Vec<(&'a Arc<Allocation>, PlacementKind)>,
    /// Slots nobody holds.
    missing: Vec<u64>,
    /// Allocations that need a destructive update.
    destructive: Vec<&'a Arc<Allocation>>,
    /// Placements that may still start now (C9).
    budget: u64,
}

/// The group's rollout as [`Ctx::rollout`] decided it (C4, C7, C10).
struct Rollout {
    /// The group's deployment state, existing or fresh.
    state: DeploymentState,
    fresh: bool,
    /// Canaries are wanted and not yet promoted: ordinary work waits.
    canarying: bool,
    /// The strategy's canary count.
    desired_canary: u64,
    /// The deployment new placements join (only an active one).
    deployment_id: Option<Uuid>,
    /// Paused, failed or canarying: no missing placements, no destructive updates (C10).
    hold_ordinary: bool,
}

/// An allocation's name slot; one without a parsable index claims none.
fn slot_of(a: &Allocation) -> u64 {
    a.name_index().unwrap_or(u64::MAX)
}

/// After the slot claims: the slots left empty, the updates needed (destructive, or in
/// place), and the totals C6, C11 and X1 read (budget and pause aside).
fn tally(w: &mut Work<'_>, count: u64) {
    w.missing = (0..count).filter(|i| !w.slots.contains(i)).collect();
    w.destructive = w
        .old
        .iter()
        .filter(|(_, f)| *f == Fit::Destructive)
        .map(|(a, _)| *a)
        .collect();
    w.plan.in_place = w
        .old
        .iter()
        .filter(|(_, f)| *f == Fit::InPlace)
        .map(|(a, _)| a.id)
        .collect();
    w.plan.destructive_total = w.destructive.len() as u64;
    w.plan.placements_total = (w.missing.len() + w.replacements.len()) as u64;
    w.plan.ignore += w.live_canaries.len() as u64;
}

/// C12: never more placements for a group in one evaluation than its count. The excess
/// goes, destructive updates first (with their stops), then counted placements, then
/// named ones, then canaries.
fn cap_placements(plan: &mut GroupPlan, count: u64) {
    let total = plan.placements_now();
    if total <= count {
        return;
    }
    let mut excess = total - count;
    while excess > 0 {
        if let Some(p) = plan.destructive.pop() {
            plan.stops
                .retain(|s| Some(s.alloc_id) != p.previous_allocation);
            plan.ignore += 1;
        } else if plan.counted_placements > 0 {
            plan.counted_placements -= 1;
        } else if plan.placements.pop().is_none() {
            plan.canaries.pop();
        }
        excess -= 1;
    }
}

/// C3: a group that is gone (or scaled to zero, or whose job stopped) stops everything.
fn stop_all(allocs: Vec<&Arc<Allocation>>, why: &str) -> GroupPlan {
    let mut plan = GroupPlan::default();
    for a in allocs {
        if !a.server_terminal() && !a.client_terminal() {
            plan.stops.push(Stop {
                alloc_id: a.id,
                description: why.to_string(),
            });
        }
    }
    plan
}

/// C4: a fresh group state: zeros, plus the strategy's auto-revert, auto-promote and
/// progress deadline.
fn fresh_state(strategy: Option<&Strategy>) -> DeploymentState {
    let mut ds = DeploymentState::default();
    if let Some(s) = strategy {
        ds.auto_revert = s.auto_revert;
        ds.auto_promote = s.auto_promote;
        ds.progress_deadline = s.progress_deadline;
    }
    ds
}
