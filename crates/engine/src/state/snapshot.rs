//! Serialising a whole `State`.
//!
//! Only the tables are written; secondary indexes are derived data and are rebuilt on
//! load, which keeps snapshots small and their format independent of index layout. Tables
//! are written in key order, so equal states serialise to equal bytes.

use super::{EngineConfig, State, TableIndexes};
use crate::model::{Allocation, Deployment, Evaluation, Job, Timestamp, UnixNanos};
use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::RefCell;
use std::sync::Arc;
use uuid::Uuid;

/// Serialises an iterator as a sequence without collecting it first.
struct Seq<I> {
    len: usize,
    iter: RefCell<Option<I>>,
}

impl<I> Seq<I> {
    fn new(len: usize, iter: I) -> Seq<I> {
        Seq {
            len,
            iter: RefCell::new(Some(iter)),
        }
    }
}

impl<I, T> Serialize for Seq<I>
where
    I: Iterator<Item = T>,
    T: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let iter = self
            .iter
            .borrow_mut()
            .take()
            .ok_or_else(|| serde::ser::Error::custom("sequence serialised twice"))?;
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        for item in iter {
            seq.serialize_element(&item)?;
        }
        seq.end()
    }
}

impl Serialize for State {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("State", 14)?;
        s.serialize_field("Index", &self.t().index)?;
        s.serialize_field("Now", &self.t().now)?;
        s.serialize_field("Config", &self.t().config)?;
        s.serialize_field("Tables", &self.t().tables)?;
        s.serialize_field(
            "Jobs",
            &Seq::new(self.t().jobs.len(), self.jobs_in_key_order()),
        )?;
        s.serialize_field(
            "JobVersions",
            &Seq::new(
                self.t().job_versions.len(),
                self.job_versions_in_key_order(),
            ),
        )?;
        s.serialize_field(
            "Deployments",
            &Seq::new(self.t().deployments.len(), self.t().deployments.values()),
        )?;
        s.serialize_field(
            "Allocations",
            &Seq::new(self.t().allocs.len(), self.t().allocs.values()),
        )?;
        s.serialize_field(
            "Evaluations",
            &Seq::new(self.t().evals.len(), self.t().evals.values()),
        )?;
        s.serialize_field(
            "DeadlinesPassed",
            &Seq::new(
                self.t().deadlines_passed.len(),
                self.t().deadlines_passed.iter(),
            ),
        )?;
        s.serialize_field("Acl", &self.t().acl.to_data())?;
        s.serialize_field("Namespaces", &self.t().namespaces.to_data())?;
        s.serialize_field("Nodes", &self.t().nodes.to_data())?;
        s.serialize_field(
            "RetiredVersions",
            &Seq::new(
                self.t().retired_versions.len(),
                self.retired_versions_in_key_order(),
            ),
        )?;
        s.end()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StateData {
    index: u64,
    /// Absent in snapshots written before the engine kept its clock.
    #[serde(default)]
    now: UnixNanos,
    #[serde(default)]
    config: EngineConfig,
    tables: TableIndexes,
    jobs: Vec<Arc<Job>>,
    job_versions: Vec<Arc<Job>>,
    deployments: Vec<Arc<Deployment>>,
    #[serde(rename = "Allocations")]
    allocs: Vec<Arc<Allocation>>,
    #[serde(rename = "Evaluations")]
    evals: Vec<Arc<Evaluation>>,
    #[serde(default)]
    deadlines_passed: Vec<(Uuid, Timestamp)>,
    /// Absent in snapshots written before ACLs existed.
    #[serde(default)]
    acl: crate::acl::tables::AclTablesData,
    /// Absent in snapshots written before namespaces were a table.
    #[serde(default)]
    namespaces: crate::namespace::NamespacesData,
    /// Absent in snapshots written before nodes were a table.
    #[serde(default)]
    nodes: crate::node::NodesData,
    /// Absent in snapshots written before trimmed versions were kept for allocations.
    #[serde(default)]
    retired_versions: Vec<Arc<Job>>,
}

impl<'de> Deserialize<'de> for State {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let data = StateData::deserialize(deserializer)?;
        let mut state = State::from_tables(
            data.index,
            data.config,
            data.tables,
            Tables {
                jobs: data.jobs,
                job_versions: data.job_versions,
                deployments: data.deployments,
                allocations: data.allocs,
                evaluations: data.evals,
            },
        );
        state.t_mut().now = data.now;
        state.t_mut().deadlines_passed = data.deadlines_passed.into_iter().collect();
        state.t_mut().acl = crate::acl::AclTables::from_data(data.acl);
        state.t_mut().namespaces = crate::namespace::Namespaces::from_data(data.namespaces);
        state.t_mut().nodes = crate::node::Nodes::from_data(data.nodes);
        for job in data.retired_versions {
            state.retire_job_version(job);
        }
        state.rebuild_deadlines();
        Ok(state)
    }
}

/// The rows of every table, for building a state in bulk (imports, fixtures).
#[derive(Clone, Debug, Default)]
pub struct Tables {
    /// Current job rows.
    pub jobs: Vec<Arc<Job>>,
    /// Version history rows (the current version included).
    pub job_versions: Vec<Arc<Job>>,
    /// Deployment rows.
    pub deployments: Vec<Arc<Deployment>>,
    /// Allocation rows.
    pub allocations: Vec<Arc<Allocation>>,
    /// Evaluation rows.
    pub evaluations: Vec<Arc<Evaluation>>,
}

impl State {
    /// Builds a state from table rows, deriving every secondary index. The rows are taken
    /// as they are (indexes, statuses, counters): this is a loader, not a command, and the
    /// caller is responsible for their consistency — as a snapshot is.
    pub fn from_tables(
        index: u64,
        config: EngineConfig,
        tables: TableIndexes,
        rows: Tables,
    ) -> State {
        let mut state = State::with_config(config);
        state.t_mut().index = index;
        state.t_mut().tables = tables;
        for j in rows.jobs {
            state.put_job(j);
        }
        for j in rows.job_versions {
            state.put_job_version(j);
        }
        for d in rows.deployments {
            state.insert_deployment(d);
        }
        for a in rows.allocations {
            state.insert_alloc(a);
        }
        for e in rows.evaluations {
            state.insert_eval(e);
        }
        state.rebuild_deadlines();
        state
    }
}
