//! A transaction: one command's private working copy of the state.
//!
//! Handlers mutate the copy through the methods here, which stamp every touched object and
//! table with the command's index and record an event per change. `apply` keeps the copy
//! only if every step succeeded, so a command is all-or-nothing by construction.

use crate::command::Envelope;
use crate::model::{Allocation, Deployment, Evaluation, Job, SharedStr, UnixNanos};
use crate::outcome::{Change, Decision, Event, Outcome, Topic};
use crate::state::{JobKey, State};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use uuid::Uuid;

/// What an event is about: an object ID, or a job.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum EventKey {
    Id(Uuid),
    Job(Arc<str>),
    /// An ACL policy's name.
    Name(Arc<str>),
}

impl EventKey {
    /// The key as events and the trace spell it. A job's or policy's name shares the
    /// interned string; an ID is formatted once, on the stack, into one shared copy.
    fn text(&self) -> SharedStr {
        match self {
            EventKey::Id(id) => {
                let mut buf = Uuid::encode_buffer();
                SharedStr::from(&*id.hyphenated().encode_lower(&mut buf))
            }
            EventKey::Job(name) | EventKey::Name(name) => SharedStr::from(name.clone()),
        }
    }
}

/// Why a change is made: the rule (a rule ID of `docs/semantics.md`) and the inputs that
/// decided it. Every write through a [`Tx`] carries one, so every change lands in the
/// outcome's decision trace.
#[derive(Clone, Debug)]
pub(crate) struct Why {
    pub rule: &'static str,
    pub reason: Cow<'static, str>,
}

impl<R: Into<Cow<'static, str>>> From<(&'static str, R)> for Why {
    fn from((rule, reason): (&'static str, R)) -> Why {
        Why {
            rule,
            reason: reason.into(),
        }
    }
}

pub(crate) struct Tx {
    pub state: State,
    pub index: u64,
    pub now: UnixNanos,
    rng: ChaCha8Rng,
    pub out: Outcome,
    event_type: &'static str,
    event_slots: BTreeMap<(Topic, EventKey), usize>,
    /// Allocations written in this command, by deployment: what the watcher observes.
    pub changed_allocs: BTreeMap<Uuid, BTreeSet<Uuid>>,
    /// Deployments whose object or allocations changed: their deadlines are re-armed.
    pub touched_deployments: BTreeSet<Uuid>,
    /// Jobs whose deployment lifecycle must be re-evaluated.
    pub touched_jobs: BTreeSet<JobKey>,
    /// Jobs whose derived status may have changed.
    pub job_status_dirty: BTreeSet<JobKey>,
    /// Priority of the evaluation that made a job version current in this command; a
    /// deployment created for it inherits it (`EvalPriority`, §1.1).
    pub cause_priority: BTreeMap<JobKey, i64>,
    /// Jobs whose current row was written: a new version may need a deployment.
    pub jobs_changed: BTreeSet<JobKey>,
}

impl Tx {
    pub fn new(state: &State, env: &Envelope) -> Tx {
        Tx {
            state: state.clone(),
            index: env.index,
            // The engine's one clock rule: time never goes backwards.
            now: env.now.max(state.now()),
            rng: ChaCha8Rng::from_seed(env.entropy.0),
            out: Outcome {
                index: env.index,
                ..Outcome::default()
            },
            event_type: env.command.message_type(),
            event_slots: BTreeMap::new(),
            changed_allocs: BTreeMap::new(),
            touched_deployments: BTreeSet::new(),
            touched_jobs: BTreeSet::new(),
            job_status_dirty: BTreeSet::new(),
            cause_priority: BTreeMap::new(),
            jobs_changed: BTreeSet::new(),
        }
    }

    /// The Nomad message type of the command being applied (`AllocationUpdated`, …).
    pub fn message_type(&self) -> &'static str {
        self.event_type
    }

    /// A new random (version 4) UUID drawn from the command's entropy.
    pub fn new_id(&mut self) -> Uuid {
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    pub fn finish(mut self) -> (State, Outcome) {
        self.state.t_mut().index = self.index;
        self.state.t_mut().now = self.now;
        (self.state, self.out)
    }

    /// Records that an object changed: a decision in the trace, always; an event, once
    /// per object (first change kind, latest rule and reason).
    pub fn event(
        &mut self,
        topic: Topic,
        change: Change,
        key: EventKey,
        job: &JobKey,
        why: impl Into<Why>,
    ) {
        let Why { rule, reason } = why.into();
        let text = key.text();
        self.out.trace.push(Decision {
            topic,
            key: text.clone(),
            change,
            rule,
            reason: reason.clone(),
        });
        if let Some(&slot) = self.event_slots.get(&(topic, key.clone())) {
            let e = &mut self.out.events[slot];
            if change == Change::Deleted {
                e.change = Change::Deleted;
            }
            if !reason.is_empty() {
                e.rule = rule;
                e.reason = reason;
            }
            return;
        }
        self.event_slots.insert((topic, key), self.out.events.len());
        self.out.events.push(Event {
            topic,
            event_type: self.event_type,
            key: text,
            namespace: job.namespace.clone(),
            job_id: job.id.clone(),
            change,
            rule,
            reason,
        });
    }

    /// Records a change to an ACL object (token or policy), which belongs to no
    /// namespace and no job.
    pub fn acl_event(&mut self, topic: Topic, change: Change, key: EventKey, why: impl Into<Why>) {
        let none = JobKey {
            namespace: Arc::from(""),
            id: Arc::from(""),
        };
        self.event(topic, change, key, &none, why);
    }

    /// The key of a job, sharing interned strings.
    pub fn job_key(&self, namespace: &str, job: &str) -> JobKey {
        self.state.job_key(namespace, job)
    }

    // --- deployments ---------------------------------------------------------------------

    pub fn deployment(&self, id: &Uuid) -> Option<Arc<Deployment>> {
        self.state.t().deployments.get(id).cloned()
    }

    /// Inserts a new deployment at this index (`CreateIndex = ModifyIndex = i`).
    pub fn insert_deployment(&mut self, mut d: Deployment, why: impl Into<Why>) {
        d.create_index = self.index;
        d.modify_index = self.index;
        let id = d.id;
        let (ns, job) = (d.namespace.clone(), d.job_id.clone());
        self.state.insert_deployment(Arc::new(d));
        let key = self.job_key(&ns, &job);
        self.state.t_mut().tables.deployment = self.index;
        self.touched_deployments.insert(id);
        self.touched_jobs.insert(key.clone());
        self.job_status_dirty.insert(key.clone());
        self.event(
            Topic::Deployment,
            Change::Created,
            EventKey::Id(id),
            &key,
            why,
        );
    }

    /// Rewrites a deployment at this index: `CreateIndex` kept, `ModifyIndex = i`, and a
    /// group may never go from promoted back to unpromoted (P12).
    pub fn write_deployment(
        &mut self,
        mut d: Deployment,
        why: impl Into<Why>,
    ) -> crate::Result<()> {
        let Some(stored) = self.state.t().deployments.get(&d.id).cloned() else {
            return Err(crate::Error::DeploymentDoesNotExist(d.id));
        };
        let undone = stored
            .task_groups
            .iter()
            .any(|(name, g)| g.promoted && d.task_groups.get(name).is_some_and(|n| !n.promoted));
        if undone {
            return Err(crate::Error::PromotionCannotBeUndone);
        }
        d.create_index = stored.create_index;
        d.modify_index = self.index;
        let became_inactive = stored.active() && !d.active();
        let id = d.id;
        let key = self.job_key(&d.namespace, &d.job_id);
        self.state.replace_deployment(Arc::new(d));
        self.state.t_mut().tables.deployment = self.index;
        self.touched_deployments.insert(id);
        self.touched_jobs.insert(key.clone());
        if became_inactive {
            self.job_status_dirty.insert(key.clone());
        }
        self.event(
            Topic::Deployment,
            Change::Updated,
            EventKey::Id(id),
            &key,
            why,
        );
        Ok(())
    }

    /// Changes a stored deployment in place at this index (the first change of a
    /// command copies it; later ones mutate the copy): `ModifyIndex = i`, and no group
    /// may go from promoted back to unpromoted (P12). On error the whole command fails,
    /// so the partial change is discarded with the transaction.
    pub fn modify_deployment(
        &mut self,
        id: &Uuid,
        why: impl Into<Why>,
        f: impl FnOnce(&mut Deployment),
    ) -> crate::Result<()> {
        let Some(stored) = self.state.t().deployments.get(id) else {
            return Err(crate::Error::DeploymentDoesNotExist(*id));
        };
        let promoted_before: Vec<bool> = if stored.task_groups.values().any(|g| g.promoted) {
            stored.task_groups.values().map(|g| g.promoted).collect()
        } else {
            Vec::new()
        };
        let (active_before, key) = (
            stored.active(),
            self.job_key(&stored.namespace, &stored.job_id),
        );
        let index = self.index;
        let Some(slot) = self.state.t_mut().deployments.get_mut(id) else {
            return Err(crate::Error::DeploymentDoesNotExist(*id));
        };
        let d = Arc::make_mut(slot);
        f(d);
        d.modify_index = index;
        let undone = !promoted_before.is_empty()
            && (d.task_groups.len() != promoted_before.len()
                || d.task_groups
                    .values()
                    .zip(&promoted_before)
                    .any(|(g, was)| *was && !g.promoted));
        if undone {
            return Err(crate::Error::PromotionCannotBeUndone);
        }
        let became_inactive = active_before && !d.active();
        self.state.t_mut().tables.deployment = self.index;
        self.touched_deployments.insert(*id);
        self.touched_jobs.insert(key.clone());
        if became_inactive {
            self.job_status_dirty.insert(key.clone());
        }
        self.event(
            Topic::Deployment,
            Change::Updated,
            EventKey::Id(*id),
            &key,
            why,
        );
        Ok(())
    }

    pub fn delete_deployment(&mut self, id: &Uuid, why: impl Into<Why>) {
        if let Some(old) = self.state.remove_deployment(id) {
            if let Some(t) = self.state.t_mut().deadline_of.remove(id) {
                self.state.t_mut().deadline_queue.remove(&(t, *id));
            }
            let key = self.job_key(&old.namespace, &old.job_id);
            self.event(
                Topic::Deployment,
                Change::Deleted,
                EventKey::Id(*id),
                &key,
                why,
            );
        }
    }

    // --- allocations ---------------------------------------------------------------------

    pub fn alloc(&self, id: &Uuid) -> Option<Arc<Allocation>> {
        self.state.t().allocs.get(id).cloned()
    }

    /// Stores an allocation stamped with this index. `server_driven` writes (plans,
    /// promotion, desired transitions) also set `AllocModifyIndex` (§4.1).
    pub fn put_alloc(&mut self, a: Allocation, server_driven: bool, why: impl Into<Why>) {
        let stored = self.state.t().allocs.get(&a.id).cloned();
        self.put_alloc_over(stored.as_deref(), a, server_driven, why);
    }

    /// [`Self::put_alloc`] when the caller already holds the stored version.
    pub fn put_alloc_over(
        &mut self,
        stored: Option<&Allocation>,
        mut a: Allocation,
        server_driven: bool,
        why: impl Into<Why>,
    ) {
        let change = if stored.is_some() {
            Change::Updated
        } else {
            a.create_index = self.index;
            Change::Created
        };
        a.modify_index = self.index;
        if server_driven {
            a.alloc_modify_index = self.index;
        }
        if let Some(d) = a.deployment_id {
            self.changed_allocs.entry(d).or_default().insert(a.id);
            self.touched_deployments.insert(d);
        }
        let terminality_changed = stored.map(|o| o.terminal()) != Some(a.terminal());
        let id = a.id;
        let (ns, job) = (a.namespace.clone(), a.job_id.clone());
        self.state.replace_alloc_from(stored, Arc::new(a));
        let key = self.job_key(&ns, &job);
        if terminality_changed {
            self.job_status_dirty.insert(key.clone());
        }
        self.touched_jobs.insert(key.clone());
        self.state.t_mut().tables.allocs = self.index;
        self.event(Topic::Allocation, change, EventKey::Id(id), &key, why);
    }

    pub fn delete_alloc(&mut self, id: &Uuid, why: impl Into<Why>) {
        if let Some(old) = self.state.remove_alloc(id) {
            self.state
                .release_retired_version(&old.namespace, &old.job_id, old.job_version);
            self.state.t_mut().tables.allocs = self.index;
            let key = self.job_key(&old.namespace, &old.job_id);
            self.event(
                Topic::Allocation,
                Change::Deleted,
                EventKey::Id(*id),
                &key,
                why,
            );
        }
    }

    // --- evaluations ---------------------------------------------------------------------

    /// Inserts a new evaluation at this index with a fresh ID; returns the ID.
    pub fn create_eval(&mut self, mut e: Evaluation, why: impl Into<Why>) -> Uuid {
        e.id = self.new_id();
        e.create_index = self.index;
        e.modify_index = self.index;
        e.create_time = self.now;
        e.modify_time = self.now;
        let id = e.id;
        let (ns, job) = (e.namespace.clone(), e.job_id.clone());
        self.state.insert_eval(Arc::new(e));
        let key = self.job_key(&ns, &job);
        self.state.t_mut().tables.evals = self.index;
        self.out.evals_created.push(id);
        self.eval_changed(&key);
        self.event(
            Topic::Evaluation,
            Change::Created,
            EventKey::Id(id),
            &key,
            why,
        );
        id
    }

    pub fn write_eval(&mut self, mut e: Evaluation, why: impl Into<Why>) {
        e.modify_index = self.index;
        let id = e.id;
        let key = self.job_key(&e.namespace, &e.job_id);
        self.state.replace_eval(Arc::new(e));
        self.state.t_mut().tables.evals = self.index;
        self.eval_changed(&key);
        self.event(
            Topic::Evaluation,
            Change::Updated,
            EventKey::Id(id),
            &key,
            why,
        );
    }

    /// Evaluations only decide between `pending` and `dead` (§1.7): a running job's status
    /// cannot change because of one, so it is not re-derived.
    fn eval_changed(&mut self, key: &JobKey) {
        let running = self
            .state
            .job(&key.namespace, &key.id)
            .is_some_and(|j| j.status == crate::model::job_status::RUNNING);
        if !running {
            self.job_status_dirty.insert(key.clone());
        }
    }

    pub fn delete_eval(&mut self, id: &Uuid, why: impl Into<Why>) {
        if let Some(old) = self.state.remove_eval(id) {
            self.state.t_mut().tables.evals = self.index;
            let key = self.job_key(&old.namespace, &old.job_id);
            self.event(
                Topic::Evaluation,
                Change::Deleted,
                EventKey::Id(*id),
                &key,
                why,
            );
        }
    }

    // --- jobs ----------------------------------------------------------------------------

    pub fn job(&self, key: &JobKey) -> Option<Arc<Job>> {
        self.state.job(&key.namespace, &key.id).cloned()
    }

    /// Writes the current job row at this index.
    pub fn put_current_job(&mut self, job: Arc<Job>, change: Change, why: impl Into<Why>) {
        let (ns, id) = (job.namespace.clone(), job.id.clone());
        self.state.put_job(job);
        let key = self.job_key(&ns, &id);
        self.state.t_mut().tables.jobs = self.index;
        self.jobs_changed.insert(key.clone());
        self.touched_jobs.insert(key.clone());
        self.job_status_dirty.insert(key.clone());
        self.event(Topic::Job, change, EventKey::Job(key.id.clone()), &key, why);
    }

    /// Writes a row of the version history at this index and trims the history to the
    /// configured number of untagged versions.
    pub fn put_job_version(&mut self, job: Arc<Job>) {
        let key = JobKey::of_job(&job);
        self.state.put_job_version(job);
        self.state.t_mut().tables.job_version = self.index;
        self.trim_versions(&key);
    }

    /// Keeps at most `job_tracked_versions` untagged versions. When the newest stable
    /// version would fall out of the kept window it takes the place of the oldest kept
    /// one, so that auto-revert always has its target.
    fn trim_versions(&mut self, key: &JobKey) {
        let limit = self.state.t().config.job_tracked_versions.max(1);
        let untagged: Vec<(u64, bool)> = self
            .state
            .job_versions(&key.namespace, &key.id)
            .filter(|j| !j.is_tagged())
            .map(|j| (j.version, j.stable))
            .collect();
        if untagged.len() <= limit {
            return;
        }
        let mut doomed: Vec<u64> = untagged[limit..].iter().map(|(v, _)| *v).collect();
        let newest_stable = untagged.iter().position(|(_, stable)| *stable);
        if let Some(pos) = newest_stable.filter(|p| *p >= limit) {
            // Keep the stable version; drop the oldest version of the kept window instead.
            doomed.retain(|v| *v != untagged[pos].0);
            doomed.push(untagged[limit - 1].0);
        }
        for v in doomed {
            let Some(job) = self.state.remove_job_version(key, v) else {
                continue;
            };
            let running = self
                .state
                .job_allocs(&key.namespace, &key.id)
                .any(|a| a.job_version == v);
            if running {
                self.state.retire_job_version(job);
            }
        }
    }
}
