//! A job's summary and scaling (`docs/http-api.md` R11): `GET /v1/job/:id/summary`,
//! `GET /v1/job/:id/scale` and `POST /v1/job/:id/scale`.
//!
//! A scale is a registration: the current job with one group's count changed, registered
//! as a new version (and so, with an update strategy, a deployment), as Nomad does. It
//! is submitted enforcing the `JobModifyIndex` it was computed from, so a job changed in
//! between is never overwritten with a stale copy; the request's own `EnforceIndex` is
//! checked first, refused as a registration enforcing a stale index is (409).

use crate::acl::{Access, Identity};
use crate::blocking;
use crate::decode::Body;
use crate::dry_run::{self, Answer};
use crate::error::ApiError;
use crate::query::{QueryOptions, WriteOptions};
use crate::response::{Read, Write};
use crate::server::Api;
use crate::views::JobRegisterResponse;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use rollout_engine::acl::Capability;
use rollout_engine::command::RegisterJob;
use rollout_engine::model::{client_status, Allocation, Job};
use rollout_engine::{Command, Error, State as EngineState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/job/{id}/summary", get(summary))
        .route(
            "/v1/job/{id}/scale",
            get(scale_status).put(scale).post(scale),
        )
}

/// One group's allocations by what they are doing (`TaskGroupSummary`).
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupSummary {
    pub queued: u64,
    pub complete: u64,
    pub failed: u64,
    pub running: u64,
    pub starting: u64,
    pub lost: u64,
    pub unknown: u64,
}

/// Children of a periodic or parameterized job (`JobChildrenSummary`): rollout launches
/// none, so all zero.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChildrenSummary {
    pub pending: u64,
    pub running: u64,
    pub dead: u64,
}

/// `JobSummary`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobSummary {
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub namespace: String,
    pub summary: BTreeMap<String, GroupSummary>,
    pub children: ChildrenSummary,
    pub create_index: u64,
    pub modify_index: u64,
}

/// The summary of `job`: every group of its current version, its allocations counted
/// by client status (`pending` is `Starting`), and what its newest evaluation could not
/// place yet as `Queued`.
fn summarize(state: &EngineState, job: &Job) -> JobSummary {
    let mut groups: BTreeMap<String, GroupSummary> = job
        .task_groups
        .iter()
        .map(|g| (g.name.clone(), GroupSummary::default()))
        .collect();
    let mut modify_index = job.create_index;
    for a in state.job_allocs(&job.namespace, &job.id) {
        modify_index = modify_index.max(a.modify_index);
        let g = groups.entry(a.task_group.to_string()).or_default();
        match a.client_status.as_str() {
            client_status::PENDING => g.starting += 1,
            client_status::RUNNING => g.running += 1,
            client_status::COMPLETE => g.complete += 1,
            client_status::FAILED => g.failed += 1,
            client_status::LOST => g.lost += 1,
            _ => g.unknown += 1,
        }
    }
    let newest_eval = state
        .job_evals(&job.namespace, &job.id)
        .max_by_key(|e| (e.create_index, e.id));
    if let Some(queued) = newest_eval.and_then(|e| e.queued_allocations.as_ref()) {
        for (group, n) in queued {
            if let Some(g) = groups.get_mut(group) {
                g.queued = u64::try_from(*n).unwrap_or(0);
            }
        }
    }
    JobSummary {
        job_id: job.id.clone(),
        namespace: job.namespace.clone(),
        summary: groups,
        children: ChildrenSummary::default(),
        create_index: job.create_index,
        modify_index,
    }
}

/// `GET /v1/job/:id/summary`.
async fn summary(
    State(api): State<Api>,
    Path(id): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<JobSummary>, ApiError> {
    let who = access.reader_of(&q.namespace)?;
    let reply = blocking::query_one(
        &api,
        &q,
        &who,
        |who| who.require_read(&q.namespace),
        "job not found",
        |t| t.jobs.max(t.allocs),
        |state, _| {
            let job = state.job(&q.namespace, &id)?;
            let s = summarize(state, job);
            Some((s.modify_index, s))
        },
    )
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// One group's scaling status (`TaskGroupScaleStatus`).
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupScaleStatus {
    pub desired: i64,
    pub placed: u64,
    pub running: u64,
    pub healthy: u64,
    pub unhealthy: u64,
    /// Scaling events: rollout records none (always `null`).
    pub events: Option<Vec<()>>,
}

/// `JobScaleStatusResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobScaleStatus {
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub namespace: String,
    pub job_create_index: u64,
    pub job_modify_index: u64,
    pub job_stopped: bool,
    pub task_groups: BTreeMap<String, GroupScaleStatus>,
}

fn live_of_current_version(job: &Job, a: &Allocation) -> bool {
    a.job_version == job.version && a.desired_status == "run" && !a.client_terminal()
}

/// `GET /v1/job/:id/scale`: desired counts, and the current version's live allocations
/// placed, running, healthy and unhealthy.
async fn scale_status(
    State(api): State<Api>,
    Path(id): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<JobScaleStatus>, ApiError> {
    let who = access.identity()?;
    let check = |who: &Identity| {
        who.require(
            &q.namespace,
            &[Capability::ReadJobScaling, Capability::ReadJob],
        )
    };
    check(&who)?;
    let reply = blocking::query_one(
        &api,
        &q,
        &who,
        check,
        "job not found",
        |t| t.jobs,
        |state, _| {
            let job = state.job(&q.namespace, &id)?;
            let mut groups: BTreeMap<String, GroupScaleStatus> = job
                .task_groups
                .iter()
                .map(|g| {
                    let status = GroupScaleStatus {
                        desired: g.count.unwrap_or(0),
                        ..GroupScaleStatus::default()
                    };
                    (g.name.clone(), status)
                })
                .collect();
            for a in state.job_allocs(&job.namespace, &job.id) {
                let Some(g) = groups.get_mut(a.task_group.as_str()) else {
                    continue;
                };
                if !live_of_current_version(job, a) {
                    continue;
                }
                g.placed += 1;
                if a.client_status == client_status::RUNNING {
                    g.running += 1;
                }
                match a.deployment_status.as_ref().and_then(|d| d.healthy) {
                    Some(true) => g.healthy += 1,
                    Some(false) => g.unhealthy += 1,
                    None => {}
                }
            }
            let status = JobScaleStatus {
                job_id: job.id.clone(),
                namespace: job.namespace.clone(),
                job_create_index: job.create_index,
                job_modify_index: job.job_modify_index,
                job_stopped: job.stop,
                task_groups: groups,
            };
            Some((job.modify_index, status))
        },
    )
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// `ScalingRequest`. `Message`, `Error`, `Meta` and `PolicyOverride` describe a
/// scaling event; rollout records no scaling events, so they are accepted and ignored
/// (unknown keys are).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ScalingRequest {
    count: Option<i64>,
    target: BTreeMap<String, String>,
    enforce_index: bool,
    job_modify_index: u64,
}

/// The job with group `group`'s count set to `count`, checked as Nomad checks a scale.
fn scaled(job: &Job, group: &str, count: i64) -> Result<Job, ApiError> {
    if count < 0 {
        return Err(ApiError::bad_request(
            "scaling action count can't be negative",
        ));
    }
    let mut next = job.clone();
    let Some(g) = next.task_groups.iter_mut().find(|g| g.name == group) else {
        return Err(ApiError::bad_request(format!(
            "task group {group:?} specified for scaling does not exist in job"
        )));
    };
    g.count = Some(count);
    Ok(next)
}

/// `POST /v1/job/:id/scale`: the group's new count, registered as a new job version.
/// A request without `Count` (an autoscaler reporting an event) changes nothing and
/// answers with no evaluation.
async fn scale(
    State(api): State<Api>,
    Path(id): Path<String>,
    w: WriteOptions,
    access: Access,
    Body(req): Body<ScalingRequest>,
) -> Result<Write<Answer<JobRegisterResponse>>, ApiError> {
    let namespace = w.namespace_or("")?;
    let who = access.identity()?;
    who.require(&namespace, &[Capability::ScaleJob, Capability::SubmitJob])?;
    let Some(group) = req.target.get("Group").filter(|g| !g.is_empty()) else {
        return Err(ApiError::bad_request(
            "missing task group name for scaling action",
        ));
    };
    let state = api.state();
    let job: Arc<Job> = state
        .job(&namespace, &id)
        .cloned()
        .ok_or_else(|| ApiError::from(Error::JobNotFound(id.clone())))?;
    // Checked before anything else (a scaling event without a count too), with the
    // engine's refusal of a registration enforcing a stale index.
    if req.enforce_index && req.job_modify_index != job.job_modify_index {
        return Err(ApiError::from(Error::EnforceIndexConflict {
            expected: req.job_modify_index,
            actual: job.job_modify_index,
        }));
    }
    let Some(count) = req.count else {
        let answer = JobRegisterResponse {
            index: state.index(),
            job_modify_index: job.job_modify_index,
            ..JobRegisterResponse::default()
        };
        return Ok(Write::new(state.index(), Answer::Applied(answer), w.pretty));
    };
    let next = scaled(&job, group, count)?;
    let command = Command::RegisterJob(RegisterJob {
        job: next,
        enforce_index: true,
        job_modify_index: job.job_modify_index,
        eval_priority: 0,
    });
    let (index, answer) =
        dry_run::submit(&api, &w, command, who.actor(), JobRegisterResponse::new).await?;
    Ok(Write::new(index, answer, w.pretty))
}
