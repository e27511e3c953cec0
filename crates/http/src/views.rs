//! Response bodies that are not a single engine object: objects joined with what they
//! reference (an allocation with its job), list stubs, and Nomad's response wrappers.
//! Shapes and key names follow `http-api.md` §7; wrappers always carry every key.

use rollout_engine::model::id::empty_as_none;
use rollout_engine::model::task_event::with_display_messages;
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
        .alloc_job(alloc)
        .or_else(|| state.job(&alloc.namespace, &alloc.job_id))
        .map(|j| j.job_type.clone())
        .unwrap_or_default()
}

/// The list stub of `alloc` as Nomad's HTTP agent sends it from the allocation, job,
/// deployment and node endpoints: with every task event's display message filled in
/// (`AllocListStub.SetEventDisplayMessages`).
pub fn alloc_stub(state: &State, alloc: &Allocation) -> AllocListStub {
    let mut stub = stored_alloc_stub(state, alloc);
    if let Some(filled) = stub.task_states.as_ref().and_then(with_display_messages) {
        stub.task_states = Some(filled);
    }
    stub
}

/// The list stub of `alloc` with its task events as stored: Nomad's evaluation
/// allocations endpoint does not fill in display messages.
pub fn stored_alloc_stub(state: &State, alloc: &Allocation) -> AllocListStub {
    AllocListStub::new(alloc, &job_type_of(state, alloc))
}

/// An `AllocListStub` of `/v1/allocations`, which can also carry the resources
/// (`?resources=true`) and drop task states (`?task_states=false`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocListItem {
    #[serde(flatten)]
    pub stub: AllocListStub,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocated_resources: Option<Value>,
}

/// `GET /v1/allocation/:id`: the allocation with the job version it runs embedded as
/// `Job`, as Nomad denormalises it: the version the allocation runs, kept for it even once
/// trimmed from the job's history (omitted only if the job was purged).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocationView {
    #[serde(flatten)]
    pub alloc: Arc<Allocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<Arc<Job>>,
}

impl AllocationView {
    /// The allocation with its job, task events' display messages filled in
    /// (`Allocation.SetEventDisplayMessages`); copied only when one is missing.
    pub fn new(state: &State, alloc: &Arc<Allocation>) -> AllocationView {
        let filled = alloc.task_states.as_ref().and_then(with_display_messages);
        let alloc = match filled {
            Some(states) => Arc::new(Allocation {
                task_states: Some(states),
                ..(**alloc).clone()
            }),
            None => alloc.clone(),
        };
        AllocationView {
            job: state.alloc_job(&alloc).cloned(),
            alloc,
        }
    }
}

/// Allocation counts per client status of one group (`TaskGroupSummary`).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskGroupSummary {
    pub complete: u64,
    pub failed: u64,
    pub lost: u64,
    pub queued: u64,
    pub running: u64,
    pub starting: u64,
    pub unknown: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobChildrenSummary {
    pub dead: u64,
    pub pending: u64,
    pub running: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobSummary {
    pub children: JobChildrenSummary,
    pub create_index: u64,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub modify_index: u64,
    pub namespace: String,
    pub summary: BTreeMap<String, TaskGroupSummary>,
}

/// An item of `GET /v1/jobs`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobListStub {
    pub create_index: u64,
    pub datacenters: Option<Vec<String>>,
    #[serde(rename = "ID")]
    pub id: String,
    pub job_modify_index: u64,
    pub job_summary: JobSummary,
    pub meta: Option<BTreeMap<String, String>>,
    pub modify_index: u64,
    pub multiregion: Option<Value>,
    pub name: String,
    pub namespace: String,
    pub node_pool: String,
    pub parameterized_job: bool,
    #[serde(rename = "ParentID")]
    pub parent_id: String,
    pub periodic: bool,
    pub priority: i64,
    pub status: String,
    pub status_description: String,
    pub stop: bool,
    pub submit_time: UnixNanos,
    #[serde(rename = "Type")]
    pub job_type: String,
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
            let group = summary.entry(alloc.task_group.to_string()).or_default();
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
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobRegisterResponse {
    pub eval_create_index: u64,
    #[serde(rename = "EvalID", with = "empty_as_none")]
    pub eval_id: Option<Uuid>,
    pub index: u64,
    pub job_modify_index: u64,
    pub known_leader: bool,
    pub last_contact: u64,
    pub next_token: String,
    /// One string, one warning per line; `""` when none.
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
#[serde(rename_all = "PascalCase")]
pub struct JobDeregisterResponse {
    pub eval_create_index: u64,
    #[serde(rename = "EvalID", with = "empty_as_none")]
    pub eval_id: Option<Uuid>,
    pub index: u64,
    pub job_modify_index: u64,
    pub known_leader: bool,
    pub last_contact: u64,
    pub next_token: String,
    #[serde(rename = "VolumeEvalID")]
    pub volume_eval_id: String,
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
#[serde(rename_all = "PascalCase")]
pub struct JobVersionsResponse {
    pub diffs: Option<Vec<Value>>,
    pub index: u64,
    pub known_leader: bool,
    pub last_contact: u64,
    pub next_token: String,
    pub versions: Vec<Arc<Job>>,
}

/// Responses that only say at which index a write was applied (`/stable`, eval ack).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexResponse {
    pub index: u64,
}
