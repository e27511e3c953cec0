//! Reads: every query the HTTP API needs, answered from one `State` value.

use super::State;
use crate::error::{Error, Result};
use crate::model::{Allocation, Deployment, Evaluation, Job};
use std::cmp::Reverse;
use std::sync::Arc;
use uuid::Uuid;

/// A validated ID prefix: an even number of hex digits (hyphens ignored), as Nomad's UUID
/// index requires. It selects a contiguous range of UUID keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    bytes: [u8; 16],
    len: usize,
}

impl Prefix {
    /// Parses a query prefix. Errors carry Nomad's texts (`index error: …`).
    pub fn parse(input: &str) -> Result<Prefix> {
        let digits = input.bytes().filter(|c| *c != b'-');
        if digits.clone().count() % 2 != 0 {
            return Err(Error::OddLengthPrefix);
        }
        if let Some(bad) = input.chars().find(|c| *c != '-' && !c.is_ascii_hexdigit()) {
            return Err(Error::InvalidPrefix(format!(
                "encoding/hex: invalid byte: U+{:04X} {:?}",
                bad as u32, bad
            )));
        }
        let count = digits.clone().count();
        if count > 32 {
            return Err(Error::InvalidPrefix(format!(
                "{input} is longer than a UUID"
            )));
        }
        let mut ascii = [0u8; 32];
        for (slot, c) in ascii.iter_mut().zip(digits) {
            *slot = c;
        }
        let mut p = Prefix {
            bytes: [0; 16],
            len: count / 2,
        };
        // Only an even number of ASCII hex digits remains (checked above), so this cannot
        // fail; an error is still an error, not a panic.
        hex::decode_to_slice(&ascii[..count], &mut p.bytes[..p.len])
            .map_err(|e| Error::InvalidPrefix(format!("encoding/hex: {e}")))?;
        Ok(p)
    }

    /// The smallest and largest UUID that start with this prefix.
    pub fn bounds(&self) -> (Uuid, Uuid) {
        let mut lo = [0u8; 16];
        let mut hi = [0xffu8; 16];
        lo[..self.len].copy_from_slice(&self.bytes[..self.len]);
        hi[..self.len].copy_from_slice(&self.bytes[..self.len]);
        (Uuid::from_bytes(lo), Uuid::from_bytes(hi))
    }

    /// Whether the prefix is empty (it selects every ID).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Namespace selector of list queries: one namespace, or `*` for all.
fn namespace_matches(selector: Option<&str>, namespace: &str) -> bool {
    selector.is_none_or(|s| s == "*" || s == namespace)
}

impl State {
    // --- deployments ---------------------------------------------------------------------

    /// The deployment with this ID.
    pub fn deployment(&self, id: &Uuid) -> Option<&Arc<Deployment>> {
        self.t().deployments.get(id)
    }

    /// Deployments whose ID starts with `prefix`, in ID order, optionally limited to one
    /// namespace (`None` or `Some("*")` = all).
    pub fn deployments_by_prefix<'a>(
        &'a self,
        namespace: Option<&'a str>,
        prefix: &Prefix,
    ) -> impl DoubleEndedIterator<Item = &'a Arc<Deployment>> + 'a {
        let (lo, hi) = prefix.bounds();
        self.t()
            .deployments
            .range(lo..=hi)
            .map(|(_, d)| d)
            .filter(move |d| namespace_matches(namespace, &d.namespace))
    }

    /// Deployments of one namespace (or all for `None`/`*`), in `(CreateIndex, ID)` order.
    pub fn deployments_in_namespace(&self, namespace: Option<&str>) -> Vec<&Arc<Deployment>> {
        match namespace {
            Some(ns) if ns != "*" => {
                let Some(key) = self.name_id(ns) else {
                    return Vec::new();
                };
                self.t()
                    .deployments_by_namespace
                    .range((key, 0u64, Uuid::nil())..=(key, u64::MAX, Uuid::max()))
                    .filter_map(|(_, _, id)| self.t().deployments.get(id))
                    .collect()
            }
            _ => {
                let mut all: Vec<&Arc<Deployment>> = self.t().deployments.values().collect();
                all.sort_by_key(|d| (d.create_index, d.id));
                all
            }
        }
    }

    /// All deployments of a job ID in the order they were created (`CreateIndex`, then
    /// `JobVersion` within one log entry), any `JobCreateIndex`.
    pub fn deployments_of_job_any(
        &self,
        namespace: &str,
        job_id: &str,
    ) -> impl DoubleEndedIterator<Item = &Arc<Deployment>> + '_ {
        // An unknown job gets an empty range (no interned number is u32::MAX).
        let key = self.job_id(namespace, job_id).unwrap_or(u32::MAX);
        self.t()
            .deployments_by_job
            .range((key, 0u64, 0u64, Uuid::nil())..=(key, u64::MAX, u64::MAX, Uuid::max()))
            .filter_map(|(_, _, _, id)| self.t().deployments.get(id))
    }

    /// `GET /v1/job/:id/deployments`: without `all`, only deployments of the current job
    /// instance (`JobCreateIndex` = the job's `CreateIndex`; none if the job is unknown).
    /// Ordered by ID, as Nomad's index returns them.
    pub fn job_deployments(
        &self,
        namespace: &str,
        job_id: &str,
        all: bool,
    ) -> Vec<&Arc<Deployment>> {
        let create_index = self.job(namespace, job_id).map(|j| j.create_index);
        let mut out: Vec<&Arc<Deployment>> = self
            .deployments_of_job_any(namespace, job_id)
            .filter(|d| all || Some(d.job_create_index) == create_index)
            .collect();
        out.sort_by_key(|d| d.id);
        out
    }

    /// `GET /v1/job/:id/deployment`: the newest deployment of the current job instance.
    pub fn latest_job_deployment(&self, namespace: &str, job_id: &str) -> Option<&Arc<Deployment>> {
        let create_index = self.job(namespace, job_id)?.create_index;
        self.deployments_of_job_any(namespace, job_id)
            .rev()
            .find(|d| d.job_create_index == create_index)
    }

    /// The newest deployment of a job ID regardless of job instance (the reconciler's `D`).
    pub fn latest_deployment_any(&self, namespace: &str, job_id: &str) -> Option<&Arc<Deployment>> {
        self.deployments_of_job_any(namespace, job_id).next_back()
    }

    /// Allocations that belong to a deployment, in ID order.
    pub fn deployment_allocs(
        &self,
        id: &Uuid,
    ) -> impl DoubleEndedIterator<Item = &Arc<Allocation>> + '_ {
        self.t()
            .allocs_by_deployment
            .range((*id, Uuid::nil())..=(*id, Uuid::max()))
            .map(|(_, a)| a)
    }

    /// Allocations placed by an evaluation, in ID order.
    pub fn eval_allocs(
        &self,
        eval: &Uuid,
    ) -> impl DoubleEndedIterator<Item = &Arc<Allocation>> + '_ {
        self.t()
            .allocs_by_eval
            .range((*eval, Uuid::nil())..=(*eval, Uuid::max()))
            .filter_map(|(_, a)| self.t().allocs.get(a))
    }

    // --- jobs ----------------------------------------------------------------------------

    /// The current version of job `id` in `namespace`.
    pub fn job(&self, namespace: &str, id: &str) -> Option<&Arc<Job>> {
        self.t().jobs.get(&self.job_id(namespace, id)?)
    }

    /// Jobs of a namespace (or all), ordered by namespace then ID.
    pub fn jobs(&self, namespace: Option<&str>) -> impl Iterator<Item = &Arc<Job>> + '_ {
        let ns = namespace.map(str::to_owned);
        self.jobs_in_key_order()
            .filter(move |j| namespace_matches(ns.as_deref(), &j.namespace))
    }

    /// A job's stored versions, newest first.
    pub fn job_versions(&self, namespace: &str, id: &str) -> impl Iterator<Item = &Arc<Job>> + '_ {
        let num = self.job_id(namespace, id).unwrap_or(u32::MAX);
        self.t()
            .job_versions
            .range((num, Reverse(u64::MAX))..=(num, Reverse(0)))
            .map(|(_, j)| j)
    }

    /// Version `version` of a job, if it is still kept.
    pub fn job_version(&self, namespace: &str, id: &str, version: u64) -> Option<&Arc<Job>> {
        self.t()
            .job_versions
            .get(&(self.job_id(namespace, id)?, Reverse(version)))
    }

    /// The job version an allocation runs: from the history, or — once trimmed from it
    /// while the allocation still exists — kept for it (§7.6: an allocation always has
    /// its job).
    pub fn alloc_job(&self, a: &Allocation) -> Option<&Arc<Job>> {
        self.job_version(&a.namespace, &a.job_id, a.job_version)
            .or_else(|| {
                let num = self.job_id(&a.namespace, &a.job_id)?;
                self.t().retired_versions.get(&(num, a.job_version))
            })
    }

    /// §3.8 R1: the highest stored version flagged stable (the current one included).
    pub fn latest_stable_version(&self, namespace: &str, id: &str) -> Option<&Arc<Job>> {
        self.job_versions(namespace, id).find(|j| j.stable)
    }

    /// Every allocation of a job, by ID.
    pub fn job_allocs(
        &self,
        namespace: &str,
        id: &str,
    ) -> impl Iterator<Item = &Arc<Allocation>> + '_ {
        let key = self.job_id(namespace, id).unwrap_or(u32::MAX);
        self.t()
            .allocs_by_job
            .range((key, Uuid::nil())..=(key, Uuid::max()))
            .filter_map(|(_, a)| self.t().allocs.get(a))
    }

    /// Every evaluation of a job, by ID.
    pub fn job_evals(
        &self,
        namespace: &str,
        id: &str,
    ) -> impl Iterator<Item = &Arc<Evaluation>> + '_ {
        let key = self.job_id(namespace, id).unwrap_or(u32::MAX);
        self.t()
            .evals_by_job
            .range((key, Uuid::nil())..=(key, Uuid::max()))
            .filter_map(|(_, e)| self.t().evals.get(e))
    }

    // --- allocations and evaluations -----------------------------------------------------

    /// The allocation with this ID.
    pub fn alloc(&self, id: &Uuid) -> Option<&Arc<Allocation>> {
        self.t().allocs.get(id)
    }

    /// The evaluation with this ID.
    pub fn eval(&self, id: &Uuid) -> Option<&Arc<Evaluation>> {
        self.t().evals.get(id)
    }

    /// Allocations whose ID starts with `prefix`.
    pub fn allocs_by_prefix(&self, prefix: &Prefix) -> impl Iterator<Item = &Arc<Allocation>> + '_ {
        let (lo, hi) = prefix.bounds();
        self.t().allocs.range(lo..=hi).map(|(_, a)| a)
    }

    /// Evaluations whose ID starts with `prefix`.
    pub fn evals_by_prefix(&self, prefix: &Prefix) -> impl Iterator<Item = &Arc<Evaluation>> + '_ {
        let (lo, hi) = prefix.bounds();
        self.t().evals.range(lo..=hi).map(|(_, e)| e)
    }

    /// Allocations of a namespace (or all), in `(CreateIndex, ID)` order.
    pub fn allocs_in_namespace(&self, namespace: Option<&str>) -> Vec<&Arc<Allocation>> {
        ordered_by_create(
            self.namespace_selector(namespace),
            &self.t().allocs_by_namespace,
            |id| self.t().allocs.get(id),
            |a| (a.create_index, a.id),
            self.t().allocs.values(),
        )
    }

    /// Evaluations of a namespace (or all), in `(CreateIndex, ID)` order.
    pub fn evals_in_namespace(&self, namespace: Option<&str>) -> Vec<&Arc<Evaluation>> {
        ordered_by_create(
            self.namespace_selector(namespace),
            &self.t().evals_by_namespace,
            |id| self.t().evals.get(id),
            |e| (e.create_index, e.id),
            self.t().evals.values(),
        )
    }

    /// `None` for all namespaces; an unknown namespace selects nothing.
    fn namespace_selector(&self, namespace: Option<&str>) -> Option<u32> {
        match namespace {
            Some(ns) if ns != "*" => Some(self.name_id(ns).unwrap_or(u32::MAX)),
            _ => None,
        }
    }

    /// Evaluations that are `pending`, oldest first: the scheduler's queue.
    pub fn pending_evals(&self) -> Vec<&Arc<Evaluation>> {
        let mut out: Vec<&Arc<Evaluation>> =
            self.t().evals.values().filter(|e| e.is_pending()).collect();
        out.sort_by_key(|e| (e.create_index, e.id));
        out
    }

    /// Active deployments (every deployment a Nomad leader would run a watcher for).
    pub fn active_deployments(&self) -> impl Iterator<Item = &Arc<Deployment>> + '_ {
        self.t().deployments.values().filter(|d| d.active())
    }

    /// How many deployments the state holds.
    pub fn deployment_count(&self) -> usize {
        self.t().deployments.len()
    }

    /// How many allocations the state holds.
    pub fn alloc_count(&self) -> usize {
        self.t().allocs.len()
    }

    /// How many evaluations the state holds.
    pub fn eval_count(&self) -> usize {
        self.t().evals.len()
    }
}

fn ordered_by_create<'a, T: 'a>(
    namespace: Option<u32>,
    index: &'a imbl::OrdSet<(u32, u64, Uuid)>,
    get: impl Fn(&Uuid) -> Option<&'a Arc<T>>,
    key: impl Fn(&T) -> (u64, Uuid),
    all: impl Iterator<Item = &'a Arc<T>>,
) -> Vec<&'a Arc<T>> {
    match namespace {
        Some(ns) => index
            .range((ns, 0u64, Uuid::nil())..=(ns, u64::MAX, Uuid::max()))
            .filter_map(|(_, _, id)| get(id))
            .collect(),
        None => {
            let mut v: Vec<&Arc<T>> = all.collect();
            v.sort_by_key(|t| key(t));
            v
        }
    }
}
