//! Response bodies that are not a single engine object: objects joined with what they
//! reference (an allocation with its job), list stubs, and Nomad's response wrappers.
//! Shapes and key names follow `http-api.md` §7; wrappers always carry every key.

use rollout_engine::model::id::empty_as_none;
use rollout_engine::model::{client_status, AllocListStub, Allocation, Job, UnixNanos};
use rollout_engine::{Outcome, State};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

/// The type of the job an allocation runs (`AllocListStub.JobType`): from the version it
/// runs, else the current job, else unknown (`""`).
fn job_type_of(state: &State, alloc: &Allocation) -> String {
    state
        .job_version(&alloc.namespace, &alloc.job_id, alloc.job_version)
        .or_else(|| state.job(&alloc.namespace, &alloc.job_id))
        .map(|j| j.job_type.clone())
        .unwrap_or_default()
}

pub fn alloc_stub(state: &State, alloc: &Allocation) -> AllocListStub {
    AllocListStub::new(alloc, &job_type_of(state, alloc))
}

/// An `AllocListStub` of `/v1/allocations`, which can also carry the resources
/// (`?resources=true`) and drop task states (`?task_states=false`).
#[derive(Debug, Serialize)]
pub struct AllocListItem {
    #[serde(flatten)]
    pub stub: AllocListStub,
    #[serde(rename = "AllocatedResources", skip_serializing_if = "Option::is_none")]
    pub allocated_resources: Option<Value>,
}

/// `GET /v1/allocation/:id`: the allocation with the job version it runs embedded as
/// `Job`, as Nomad denormalises it (omitted, like any zero field, if that version is gone).
#[derive(Debug, Serialize)]
pub struct AllocationView {
    #[serde(flatten)]
    pub alloc: Arc<Allocation>,
    #[serde(rename = "Job", skip_serializing_if = "Option::is_none")]
    pub job: Option<Arc<Job>>,
}

impl AllocationView {
    pub fn new(state: &State, alloc: &Arc<Allocation>) -> AllocationView {
        AllocationView {
            alloc: alloc.clone(),
            job: state
                .job_version(&alloc.namespace, &alloc.job_id, alloc.job_version)
                .cloned(),
        }
    }
}

/// Allocation counts per client status of one group (`TaskGroupSummary`).
#[derive(Debug, Default, Serialize)]
pub struct TaskGroupSummary {
    #[serde(rename = "Complete")]
    pub complete: u64,
    #[serde(rename = "Failed")]
    pub failed: u64,
    #[serde(rename = "Lost")]
    pub lost: u64,
    #[serde(rename = "Queued")]
    pub queued: u64,
    #[serde(rename = "Running")]
    pub running: u64,
    #[serde(rename = "Starting")]
    pub starting: u64,
    #[serde(rename = "Unknown")]
    pub unknown: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct JobChildrenSummary {
    #[serde(rename = "Dead")]
    pub dead: u64,
    #[serde(rename = "Pending")]
    pub pending: u64,
    #[serde(rename = "Running")]
    pub running: u64,
}

#[derive(Debug, Serialize)]
pub struct JobSummary {
    #[serde(rename = "Children")]
    pub children: JobChildrenSummary,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "JobID")]
    pub job_id: String,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
    #[serde(rename = "Namespace")]
    pub namespace: String,
    #[serde(rename = "Summary")]
    pub summary: BTreeMap<String, TaskGroupSummary>,
}

/// An item of `GET /v1/jobs`.
#[derive(Debug, Serialize)]
pub struct JobListStub {
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "Datacenters")]
    pub datacenters: Option<Vec<String>>,
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "JobModifyIndex")]
    pub job_modify_index: u64,
    #[serde(rename = "JobSummary")]
    pub job_summary: JobSummary,
    #[serde(rename = "Meta")]
    pub meta: Option<BTreeMap<String, String>>,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
    #[serde(rename = "Multiregion")]
    pub multiregion: Option<Value>,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Namespace")]
    pub namespace: String,
    #[serde(rename = "NodePool")]
    pub node_pool: String,
    #[serde(rename = "ParameterizedJob")]
    pub parameterized_job: bool,
    #[serde(rename = "ParentID")]
    pub parent_id: String,
    #[serde(rename = "Periodic")]
    pub periodic: bool,
    #[serde(rename = "Priority")]
    pub priority: i64,
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "StatusDescription")]
    pub status_description: String,
    #[serde(rename = "Stop")]
    pub stop: bool,
    #[serde(rename = "SubmitTime")]
    pub submit_time: UnixNanos,
    #[serde(rename = "Type")]
    pub job_type: String,
    #[serde(rename = "Version")]
    pub version: u64,
}

fn present(v: &Option<Value>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_null())
}

impl JobListStub {
    pub fn new(state: &State, job: &Job) -> JobListStub {
        let mut summary: BTreeMap<String, TaskGroupSummary> = job
            .task_groups
            .iter()
            .map(|g| (g.name.clone(), TaskGroupSummary::default()))
            .collect();
        for alloc in state.job_allocs(&job.namespace, &job.id) {
            let group = summary.entry(alloc.task_group.clone()).or_default();
            match alloc.client_status.as_str() {
                client_status::PENDING => group.starting += 1,
                client_status::RUNNING => group.running += 1,
                client_status::COMPLETE => group.complete += 1,
                client_status::FAILED => group.failed += 1,
                client_status::LOST => group.lost += 1,
                _ => group.unknown += 1,
            }
        }
        JobListStub {
            create_index: job.create_index,
            datacenters: job.datacenters.clone(),
            id: job.id.clone(),
            job_modify_index: job.job_modify_index,
            job_summary: JobSummary {
                children: JobChildrenSummary::default(),
                create_index: job.create_index,
                job_id: job.id.clone(),
                modify_index: job.modify_index,
                namespace: job.namespace.clone(),
                summary,
            },
            meta: job.meta.clone(),
            modify_index: job.modify_index,
            multiregion: job.multiregion.clone(),
            name: job.name.clone(),
            namespace: job.namespace.clone(),
            node_pool: job.node_pool.clone(),
            parameterized_job: present(&job.parameterized_job),
            parent_id: job.parent_id.clone(),
            periodic: present(&job.periodic),
            priority: job.priority,
            status: job.status.clone(),
            status_description: job.status_description.clone(),
            stop: job.stop,
            submit_time: job.submit_time,
            job_type: job.job_type.clone(),
            version: job.version,
        }
    }
}

/// `JobRegisterResponse` (register and revert): it embeds a full query meta, so
/// `KnownLeader`, `LastContact` and `NextToken` appear in the body (§7.8).
#[derive(Debug, Serialize)]
pub struct JobRegisterResponse {
    #[serde(rename = "EvalCreateIndex")]
    pub eval_create_index: u64,
    #[serde(rename = "EvalID", with = "empty_as_none")]
    pub eval_id: Option<Uuid>,
    #[serde(rename = "Index")]
    pub index: u64,
    #[serde(rename = "JobModifyIndex")]
    pub job_modify_index: u64,
    #[serde(rename = "KnownLeader")]
    pub known_leader: bool,
    #[serde(rename = "LastContact")]
    pub last_contact: u64,
    #[serde(rename = "NextToken")]
    pub next_token: String,
    /// One string, one warning per line; `""` when none.
    #[serde(rename = "Warnings")]
    pub warnings: String,
}

impl JobRegisterResponse {
    pub fn new(o: &Outcome) -> JobRegisterResponse {
        JobRegisterResponse {
            eval_create_index: o.eval_create_index,
            eval_id: o.eval_id,
            index: o.index,
            job_modify_index: o.job_modify_index,
            known_leader: false,
            last_contact: 0,
            next_token: String::new(),
            warnings: o.warnings.join("\n"),
        }
    }
}

/// `JobDeregisterResponse` (`DELETE /v1/job/:id`).
#[derive(Debug, Serialize)]
pub struct JobDeregisterResponse {
    #[serde(rename = "EvalCreateIndex")]
    pub eval_create_index: u64,
    #[serde(rename = "EvalID", with = "empty_as_none")]
    pub eval_id: Option<Uuid>,
    #[serde(rename = "Index")]
    pub index: u64,
    #[serde(rename = "JobModifyIndex")]
    pub job_modify_index: u64,
    #[serde(rename = "KnownLeader")]
    pub known_leader: bool,
    #[serde(rename = "LastContact")]
    pub last_contact: u64,
    #[serde(rename = "NextToken")]
    pub next_token: String,
    #[serde(rename = "VolumeEvalID")]
    pub volume_eval_id: String,
    #[serde(rename = "VolumeEvalIndex")]
    pub volume_eval_index: u64,
}

impl JobDeregisterResponse {
    pub fn new(o: &Outcome) -> JobDeregisterResponse {
        JobDeregisterResponse {
            eval_create_index: o.eval_create_index,
            eval_id: o.eval_id,
            index: o.index,
            job_modify_index: o.job_modify_index,
            known_leader: false,
            last_contact: 0,
            next_token: String::new(),
            volume_eval_id: String::new(),
            volume_eval_index: 0,
        }
    }
}

/// `GET /v1/job/:id/versions`: the whole response object, not a bare list. Job diffs
/// are out of scope (R8), so `Diffs` is always `null`.
#[derive(Debug, Serialize)]
pub struct JobVersionsResponse {
    #[serde(rename = "Diffs")]
    pub diffs: Option<Vec<Value>>,
    #[serde(rename = "Index")]
    pub index: u64,
    #[serde(rename = "KnownLeader")]
    pub known_leader: bool,
    #[serde(rename = "LastContact")]
    pub last_contact: u64,
    #[serde(rename = "NextToken")]
    pub next_token: String,
    #[serde(rename = "Versions")]
    pub versions: Vec<Arc<Job>>,
}

/// Responses that only say at which index a write was applied (`/stable`, eval ack).
#[derive(Debug, Serialize)]
pub struct IndexResponse {
    #[serde(rename = "Index")]
    pub index: u64,
}
