//! `State`: the whole engine state as one immutable value.
//!
//! Every table is an `imbl` persistent map, so cloning a `State` is O(1) and an applied
//! command yields a new value that shares almost all of its structure with the old one.
//! Secondary indexes are ordered sets of small `Copy`-ish keys (UUIDs, interned strings):
//! path copies clone keys, so keys must be cheap to clone.
//!
//! Mutation is crate-private and only happens on the private copy a command's
//! transaction works on; everything public here is a read.

mod reads;
mod snapshot;

pub use reads::Prefix;
pub use snapshot::Tables;

use crate::model::{Allocation, Deployment, Evaluation, Job, Timestamp, UnixNanos};
use imbl::{OrdMap, OrdSet};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::sync::Arc;
use uuid::Uuid;

/// A job's identity: jobs are keyed by namespace and ID.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobKey {
    /// The job's namespace.
    pub namespace: Arc<str>,
    /// The job's ID.
    pub id: Arc<str>,
}

impl JobKey {
    /// The key of job `id` in `namespace`.
    pub fn new(namespace: &str, id: &str) -> JobKey {
        JobKey {
            namespace: Arc::from(namespace),
            id: Arc::from(id),
        }
    }

    /// The key of `job`.
    pub fn of_job(job: &Job) -> JobKey {
        JobKey::new(&job.namespace, &job.id)
    }
}

/// The per-table indexes Nomad reports (`X-Nomad-Index` of list queries): the index of the
/// last write that touched the table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableIndexes {
    /// `jobs`: the last job write.
    #[serde(rename = "jobs")]
    pub jobs: u64,
    /// `job_version`: the last write of the version history.
    #[serde(rename = "job_version")]
    pub job_version: u64,
    /// `deployment`: the last deployment write.
    #[serde(rename = "deployment")]
    pub deployment: u64,
    /// `allocs`: the last allocation write.
    #[serde(rename = "allocs")]
    pub allocs: u64,
    /// `evals`: the last evaluation write.
    #[serde(rename = "evals")]
    pub evals: u64,
}

/// Settings that shape state transitions. They live in the state (and its snapshots) so
/// that replaying a log always gives the same result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineConfig {
    /// How many untagged versions of a job are kept (Nomad's `job_tracked_versions`).
    pub job_tracked_versions: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            job_tracked_versions: 6,
        }
    }
}

/// The engine's state: one immutable value.
///
/// All tables sit behind one `Arc`, so a clone (a snapshot) is a single reference-count
/// increment; the first write of a transaction copies the table handles (each an O(1)
/// persistent-map clone) and then shares every untouched node with the original.
#[derive(Clone, Debug, Default)]
pub struct State {
    inner: Arc<inner::Inner>,
}

impl State {
    /// The tables, to read.
    pub(crate) fn t(&self) -> &inner::Inner {
        &self.inner
    }

    /// The tables, to write: the first write to a state that shares its tables with
    /// another (a snapshot) copies the table handles, each an O(1) persistent-map clone.
    pub(crate) fn t_mut(&mut self) -> &mut inner::Inner {
        Arc::make_mut(&mut self.inner)
    }
}

mod inner {
    use super::*;

    /// The tables of a [`State`], private to the engine: read them through
    /// [`State::t`], write them through [`State::t_mut`].
    #[derive(Clone, Debug, Default)]
    pub(crate) struct Inner {
        pub(crate) index: u64,
        /// The time of the last applied command (Unix ns): the floor of the next one's.
        pub(crate) now: UnixNanos,
        pub(crate) config: EngineConfig,
        pub(crate) tables: TableIndexes,
        /// Current job rows, by interned job number (see `job_ids`).
        pub(crate) jobs: OrdMap<u32, Arc<Job>>,
        /// The version history, newest first within a job.
        pub(crate) job_versions: OrdMap<(u32, Reverse<u64>), Arc<Job>>,
        pub(crate) deployments: OrdMap<Uuid, Arc<Deployment>>,
        /// Interned names: index keys carry these small numbers instead of strings, so
        /// they are `Copy` (copying an index node touches no reference counts) and
        /// compare in one instruction. Numbers are never reused.
        pub(crate) name_ids: OrdMap<Arc<str>, u32>,
        /// namespace → job ID → number; looked up with borrowed strings, no allocation.
        pub(crate) job_ids: OrdMap<Arc<str>, OrdMap<Arc<str>, u32>>,
        pub(crate) next_name_id: u32,
        /// (job, `CreateIndex`, `JobVersion`, ID): a job's deployments in the order they
        /// were created. The version breaks ties: the commands of one log entry share its
        /// index, and a later deployment of the same job is always for a later version.
        pub(crate) deployments_by_job: OrdSet<(u32, u64, u64, Uuid)>,
        pub(crate) deployments_by_namespace: OrdSet<(u32, u64, Uuid)>,
        pub(crate) allocs: OrdMap<Uuid, Arc<Allocation>>,
        /// Allocations of each deployment, holding the allocation itself: listing a
        /// deployment's allocations is one range scan, not a lookup per allocation.
        pub(crate) allocs_by_deployment: OrdMap<(Uuid, Uuid), Arc<Allocation>>,
        /// Allocations by the evaluation that placed them.
        pub(crate) allocs_by_eval: OrdSet<(Uuid, Uuid)>,
        pub(crate) allocs_by_job: OrdSet<(u32, Uuid)>,
        pub(crate) allocs_by_namespace: OrdSet<(u32, u64, Uuid)>,
        pub(crate) evals: OrdMap<Uuid, Arc<Evaluation>>,
        pub(crate) evals_by_job: OrdSet<(u32, Uuid)>,
        pub(crate) evals_by_namespace: OrdSet<(u32, u64, Uuid)>,
        /// Live (non-terminal) healthy allocations per deployment and (interned) group.
        pub(crate) live_healthy: OrdMap<(Uuid, u32), u64>,
        /// Armed progress-deadline cutoffs of active deployments, soonest first (derived).
        pub(crate) deadline_queue: OrdSet<(Timestamp, Uuid)>,
        pub(crate) deadline_of: OrdMap<Uuid, Timestamp>,
        /// Progress-deadline cutoffs that already expired without failing the deployment
        /// (§3.10 D6): the timer is not re-armed until the cutoff changes.
        pub(crate) deadlines_passed: OrdMap<Uuid, Timestamp>,
        /// ACL policies and tokens (`crate::acl`).
        pub(crate) acl: crate::acl::AclTables,
        /// Namespaces written by operators (`crate::namespace`; `default` is implicit).
        pub(crate) namespaces: crate::namespace::Namespaces,
        /// Versions trimmed from a job's history while an allocation still runs them,
        /// by (interned job, version): an allocation always has its job (§7.6), as in
        /// Nomad, where each allocation carries a copy. Dropped with the last such
        /// allocation.
        pub(crate) retired_versions: OrdMap<(u32, u64), Arc<Job>>,
        /// Client nodes as their clients report them (`crate::node`).
        pub(crate) nodes: crate::node::Nodes,
    }
}

impl PartialEq for State {
    fn eq(&self, other: &Self) -> bool {
        // Secondary indexes are derived from the tables, so comparing tables is enough.
        // Job tables are compared in key order: interned numbers are private to a state.
        self.t().index == other.t().index
            && self.t().now == other.t().now
            && self.t().config == other.t().config
            && self.t().tables == other.t().tables
            && self.jobs_in_key_order().eq(other.jobs_in_key_order())
            && self
                .job_versions_in_key_order()
                .eq(other.job_versions_in_key_order())
            && self.t().deployments == other.t().deployments
            && self.t().allocs == other.t().allocs
            && self.t().evals == other.t().evals
            && self.t().deadlines_passed == other.t().deadlines_passed
            && self.t().acl == other.t().acl
            && self.t().namespaces == other.t().namespaces
            && self.t().nodes == other.t().nodes
            && self
                .retired_versions_in_key_order()
                .eq(other.retired_versions_in_key_order())
    }
}

impl State {
    /// An empty state with the default [`EngineConfig`].
    pub fn new() -> State {
        State::default()
    }

    /// An empty state with `config`.
    pub fn with_config(config: EngineConfig) -> State {
        State {
            inner: Arc::new(inner::Inner {
                config,
                ..Default::default()
            }),
        }
    }

    /// The index of the last applied command (0 for an empty state).
    pub fn index(&self) -> u64 {
        self.t().index
    }

    /// The time of the last applied command (Unix nanoseconds; 0 for a new state).
    ///
    /// The engine's clock never goes backwards: a command stamped earlier than this is
    /// applied at this time instead (see [`apply`](crate::apply)).
    pub fn now(&self) -> UnixNanos {
        self.t().now
    }

    /// The settings the state was created with.
    pub fn config(&self) -> &EngineConfig {
        &self.t().config
    }

    /// The index of the last write to each table.
    pub fn table_indexes(&self) -> TableIndexes {
        self.t().tables
    }

    // --- crate-private mutation primitives; they keep secondary indexes in step ----------

    pub(crate) fn put_job(&mut self, job: Arc<Job>) {
        let num = self.intern_job(&job.namespace, &job.id);
        self.t_mut().jobs.insert(num, job);
    }

    pub(crate) fn remove_job(&mut self, key: &JobKey) -> Option<Arc<Job>> {
        let num = self.job_id(&key.namespace, &key.id)?;
        self.t_mut().jobs.remove(&num)
    }

    pub(crate) fn put_job_version(&mut self, job: Arc<Job>) {
        let num = self.intern_job(&job.namespace, &job.id);
        self.t_mut()
            .job_versions
            .insert((num, Reverse(job.version)), job);
    }

    pub(crate) fn remove_job_version(&mut self, key: &JobKey, version: u64) -> Option<Arc<Job>> {
        let num = self.job_id(&key.namespace, &key.id)?;
        self.t_mut().job_versions.remove(&(num, Reverse(version)))
    }

    /// Keeps a version trimmed from the history for the allocations that run it.
    pub(crate) fn retire_job_version(&mut self, job: Arc<Job>) {
        let num = self.intern_job(&job.namespace, &job.id);
        self.t_mut()
            .retired_versions
            .insert((num, job.version), job);
    }

    /// Forgets a retired version once no allocation of its job runs it any more.
    pub(crate) fn release_retired_version(&mut self, namespace: &str, id: &str, version: u64) {
        let Some(num) = self.job_id(namespace, id) else {
            return;
        };
        if !self.t().retired_versions.contains_key(&(num, version)) {
            return;
        }
        if !self
            .job_allocs(namespace, id)
            .any(|a| a.job_version == version)
        {
            self.t_mut().retired_versions.remove(&(num, version));
        }
    }

    /// Interned job numbers ordered by namespace, then job ID: the canonical order every
    /// job-keyed table is compared and serialised in (numbers are private to a state).
    fn job_nums_in_key_order(&self) -> impl Iterator<Item = &u32> + '_ {
        self.t().job_ids.values().flat_map(|jobs| jobs.values())
    }

    /// Retired versions ordered by namespace, job ID, then version.
    pub(crate) fn retired_versions_in_key_order(&self) -> impl Iterator<Item = &Arc<Job>> + '_ {
        self.job_nums_in_key_order().flat_map(|num| {
            self.t()
                .retired_versions
                .range((*num, 0)..=(*num, u64::MAX))
                .map(|(_, j)| j)
        })
    }

    /// Current job rows ordered by namespace, then job ID.
    pub(crate) fn jobs_in_key_order(&self) -> impl Iterator<Item = &Arc<Job>> + '_ {
        self.job_nums_in_key_order()
            .filter_map(|num| self.t().jobs.get(num))
    }

    /// Version rows ordered by namespace, job ID, then version (newest first).
    pub(crate) fn job_versions_in_key_order(&self) -> impl Iterator<Item = &Arc<Job>> + '_ {
        self.job_nums_in_key_order().flat_map(|num| {
            self.t()
                .job_versions
                .range((*num, Reverse(u64::MAX))..=(*num, Reverse(0)))
                .map(|(_, j)| j)
        })
    }

    // --- interned names ---------------------------------------------------------------

    /// The number of a namespace or group name, assigning one if it is new.
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.t().name_ids.get(name) {
            return *id;
        }
        let id = self.t().next_name_id;
        self.t_mut().next_name_id += 1;
        self.t_mut().name_ids.insert(Arc::from(name), id);
        id
    }

    /// The number of a job, assigning one if it is new.
    fn intern_job(&mut self, namespace: &str, job: &str) -> u32 {
        if let Some(id) = self.job_id(namespace, job) {
            return id;
        }
        let id = self.t().next_name_id;
        self.t_mut().next_name_id += 1;
        let mut jobs = self.t().job_ids.get(namespace).cloned().unwrap_or_default();
        jobs.insert(Arc::from(job), id);
        self.t_mut().job_ids.insert(Arc::from(namespace), jobs);
        id
    }

    pub(crate) fn name_id(&self, name: &str) -> Option<u32> {
        self.t().name_ids.get(name).copied()
    }

    /// The key of a job, sharing the interned strings when the job is known (no
    /// allocation); a fresh key otherwise.
    pub fn job_key(&self, namespace: &str, job: &str) -> JobKey {
        let found = self
            .t()
            .job_ids
            .get_key_value(namespace)
            .and_then(|(ns, jobs)| {
                jobs.get_key_value(job).map(|(id, _)| JobKey {
                    namespace: ns.clone(),
                    id: id.clone(),
                })
            });
        found.unwrap_or_else(|| JobKey::new(namespace, job))
    }

    pub(crate) fn job_id(&self, namespace: &str, job: &str) -> Option<u32> {
        self.t().job_ids.get(namespace)?.get(job).copied()
    }

    // --- deployments ----------------------------------------------------------------------

    pub(crate) fn insert_deployment(&mut self, d: Arc<Deployment>) {
        if let Some(old) = self.t().deployments.get(&d.id).cloned() {
            self.unindex_deployment(&old);
        }
        let job = self.intern_job(&d.namespace, &d.job_id);
        let ns = self.intern(&d.namespace);
        self.t_mut()
            .deployments_by_job
            .insert((job, d.create_index, d.job_version, d.id));
        self.t_mut()
            .deployments_by_namespace
            .insert((ns, d.create_index, d.id));
        self.t_mut().deployments.insert(d.id, d);
    }

    pub(crate) fn remove_deployment(&mut self, id: &Uuid) -> Option<Arc<Deployment>> {
        let old = self.t_mut().deployments.remove(id)?;
        self.unindex_deployment(&old);
        self.t_mut().deadlines_passed.remove(id);
        Some(old)
    }

    fn unindex_deployment(&mut self, d: &Deployment) {
        if let Some(job) = self.job_id(&d.namespace, &d.job_id) {
            self.t_mut()
                .deployments_by_job
                .remove(&(job, d.create_index, d.job_version, d.id));
        }
        if let Some(ns) = self.name_id(&d.namespace) {
            self.t_mut()
                .deployments_by_namespace
                .remove(&(ns, d.create_index, d.id));
        }
    }

    /// Replaces a stored deployment whose identity fields are unchanged.
    pub(crate) fn replace_deployment(&mut self, new: Arc<Deployment>) {
        match self.t().deployments.get(&new.id) {
            Some(old)
                if old.create_index == new.create_index && old.job_version == new.job_version =>
            {
                self.t_mut().deployments.insert(new.id, new);
            }
            _ => self.insert_deployment(new),
        }
    }

    // --- allocations ----------------------------------------------------------------------

    pub(crate) fn insert_alloc(&mut self, a: Arc<Allocation>) {
        if let Some(old) = self.t().allocs.get(&a.id).cloned() {
            self.unindex_alloc(&old);
        }
        self.index_alloc(&a);
        self.t_mut().allocs.insert(a.id, a);
    }

    /// Replaces a stored allocation (`old`, as the caller read it), updating only the index
    /// entries whose keys changed. Namespace, job and `CreateIndex` never change.
    pub(crate) fn replace_alloc_from(&mut self, old: Option<&Allocation>, new: Arc<Allocation>) {
        let Some(old) = old else {
            self.insert_alloc(new);
            return;
        };
        debug_assert_eq!(
            (&old.namespace, &old.job_id, old.create_index, old.eval_id),
            (&new.namespace, &new.job_id, new.create_index, new.eval_id)
        );
        if old.deployment_id != new.deployment_id {
            if let Some(d) = old.deployment_id {
                self.t_mut().allocs_by_deployment.remove(&(d, old.id));
            }
        }
        if let Some(d) = new.deployment_id {
            self.t_mut()
                .allocs_by_deployment
                .insert((d, new.id), new.clone());
        }
        let (old_live, new_live) = (self.live_healthy_key(old), self.live_healthy_key(&new));
        if old_live != new_live {
            if let Some(k) = old_live {
                self.adjust_live_healthy(k, false);
            }
            if let Some(k) = new_live {
                self.adjust_live_healthy(k, true);
            }
        }
        self.t_mut().allocs.insert(new.id, new);
    }

    pub(crate) fn remove_alloc(&mut self, id: &Uuid) -> Option<Arc<Allocation>> {
        let old = self.t_mut().allocs.remove(id)?;
        self.unindex_alloc(&old);
        Some(old)
    }

    fn index_alloc(&mut self, a: &Arc<Allocation>) {
        if let Some(d) = a.deployment_id {
            self.t_mut()
                .allocs_by_deployment
                .insert((d, a.id), a.clone());
        }
        if let Some(e) = a.eval_id {
            self.t_mut().allocs_by_eval.insert((e, a.id));
        }
        let job = self.intern_job(&a.namespace, &a.job_id);
        let ns = self.intern(&a.namespace);
        self.intern(&a.task_group);
        self.t_mut().allocs_by_job.insert((job, a.id));
        self.t_mut()
            .allocs_by_namespace
            .insert((ns, a.create_index, a.id));
        if let Some(k) = self.live_healthy_key(a) {
            self.adjust_live_healthy(k, true);
        }
    }

    fn unindex_alloc(&mut self, a: &Allocation) {
        if let Some(d) = a.deployment_id {
            self.t_mut().allocs_by_deployment.remove(&(d, a.id));
        }
        if let Some(e) = a.eval_id {
            self.t_mut().allocs_by_eval.remove(&(e, a.id));
        }
        if let Some(job) = self.job_id(&a.namespace, &a.job_id) {
            self.t_mut().allocs_by_job.remove(&(job, a.id));
        }
        if let Some(ns) = self.name_id(&a.namespace) {
            self.t_mut()
                .allocs_by_namespace
                .remove(&(ns, a.create_index, a.id));
        }
        if let Some(k) = self.live_healthy_key(a) {
            self.adjust_live_healthy(k, false);
        }
    }

    /// The live-healthy bucket an allocation counts in, if any. Its group name was
    /// interned when the allocation was first indexed.
    fn live_healthy_key(&self, a: &Allocation) -> Option<(Uuid, u32)> {
        let d = a.deployment_id?;
        if !a.is_healthy() || a.terminal() {
            return None;
        }
        Some((d, self.name_id(&a.task_group)?))
    }

    fn adjust_live_healthy(&mut self, key: (Uuid, u32), up: bool) {
        let count = self.t().live_healthy.get(&key).copied().unwrap_or(0);
        let next = if up {
            count + 1
        } else {
            count.saturating_sub(1)
        };
        if next == 0 {
            self.t_mut().live_healthy.remove(&key);
        } else {
            self.t_mut().live_healthy.insert(key, next);
        }
    }

    /// How many of a deployment's allocations in `group` are non-terminal and healthy
    /// (what §3.10 D3 counts), kept incrementally so deadline checks are O(1).
    pub fn live_healthy_allocs(&self, deployment: &Uuid, group: &str) -> u64 {
        self.name_id(group)
            .and_then(|g| self.t().live_healthy.get(&(*deployment, g)).copied())
            .unwrap_or(0)
    }

    // --- evaluations ----------------------------------------------------------------------

    pub(crate) fn insert_eval(&mut self, e: Arc<Evaluation>) {
        if let Some(old) = self.t().evals.get(&e.id).cloned() {
            self.unindex_eval(&old);
        }
        let job = self.intern_job(&e.namespace, &e.job_id);
        let ns = self.intern(&e.namespace);
        self.t_mut().evals_by_job.insert((job, e.id));
        self.t_mut()
            .evals_by_namespace
            .insert((ns, e.create_index, e.id));
        self.t_mut().evals.insert(e.id, e);
    }

    /// Replaces a stored evaluation whose namespace, job and `CreateIndex` are unchanged.
    pub(crate) fn replace_eval(&mut self, e: Arc<Evaluation>) {
        match self.t().evals.get(&e.id) {
            Some(old) if old.create_index == e.create_index => {
                self.t_mut().evals.insert(e.id, e);
            }
            _ => self.insert_eval(e),
        }
    }

    pub(crate) fn remove_eval(&mut self, id: &Uuid) -> Option<Arc<Evaluation>> {
        let old = self.t_mut().evals.remove(id)?;
        self.unindex_eval(&old);
        Some(old)
    }

    fn unindex_eval(&mut self, e: &Evaluation) {
        if let Some(job) = self.job_id(&e.namespace, &e.job_id) {
            self.t_mut().evals_by_job.remove(&(job, e.id));
        }
        if let Some(ns) = self.name_id(&e.namespace) {
            self.t_mut()
                .evals_by_namespace
                .remove(&(ns, e.create_index, e.id));
        }
    }

    /// Checks that every secondary index agrees with its table. For tests and debug builds.
    pub fn check_indexes(&self) -> Result<(), String> {
        let mut rebuilt = State::with_config(self.t().config.clone());
        rebuilt.t_mut().index = self.t().index;
        rebuilt.t_mut().tables = self.t().tables;
        rebuilt.t_mut().deadlines_passed = self.t().deadlines_passed.clone();
        rebuilt.t_mut().name_ids = self.t().name_ids.clone();
        rebuilt.t_mut().job_ids = self.t().job_ids.clone();
        rebuilt.t_mut().next_name_id = self.t().next_name_id;
        for j in self.jobs_in_key_order() {
            rebuilt.put_job(j.clone());
        }
        for j in self.job_versions_in_key_order() {
            rebuilt.put_job_version(j.clone());
        }
        for d in self.t().deployments.values() {
            rebuilt.insert_deployment(d.clone());
        }
        for a in self.t().allocs.values() {
            rebuilt.insert_alloc(a.clone());
        }
        for e in self.t().evals.values() {
            rebuilt.insert_eval(e.clone());
        }
        rebuilt.rebuild_deadlines();
        let checks = [
            (
                "deployments_by_job",
                self.t().deployments_by_job == rebuilt.t().deployments_by_job,
            ),
            (
                "deployments_by_namespace",
                self.t().deployments_by_namespace == rebuilt.t().deployments_by_namespace,
            ),
            (
                "allocs_by_deployment",
                self.t().allocs_by_deployment == rebuilt.t().allocs_by_deployment,
            ),
            (
                "allocs_by_eval",
                self.t().allocs_by_eval == rebuilt.t().allocs_by_eval,
            ),
            (
                "allocs_by_job",
                self.t().allocs_by_job == rebuilt.t().allocs_by_job,
            ),
            (
                "allocs_by_namespace",
                self.t().allocs_by_namespace == rebuilt.t().allocs_by_namespace,
            ),
            (
                "evals_by_job",
                self.t().evals_by_job == rebuilt.t().evals_by_job,
            ),
            (
                "evals_by_namespace",
                self.t().evals_by_namespace == rebuilt.t().evals_by_namespace,
            ),
            (
                "live_healthy",
                self.t().live_healthy == rebuilt.t().live_healthy,
            ),
            (
                "deadline_queue",
                self.t().deadline_queue == rebuilt.t().deadline_queue,
            ),
            (
                "deadline_of",
                self.t().deadline_of == rebuilt.t().deadline_of,
            ),
        ];
        match checks.iter().find(|(_, ok)| !ok) {
            Some((name, _)) => Err(format!("secondary index {name} disagrees with its table")),
            None => self.t().acl.check_indexes(),
        }
    }
}
