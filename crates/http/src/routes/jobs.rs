//! The job API (`http-api.md` §7.7–§7.10): list, register, read, deregister, versions,
//! revert, stable, and the job's deployments, evaluations and allocations.
//!
//! Jobs are keyed by (namespace, ID), so the `namespace` parameter selects the job. The
//! engine canonicalises and validates a registered job itself; this layer only does the
//! checks Nomad's HTTP layer does before the RPC.

use crate::acl::{Access, Identity};
use crate::blocking::{self, Reply};
use crate::decode::{Body, JobBody};
use crate::dry_run::{self, Answer};
use crate::error::ApiError;
use crate::limits;
use crate::pagination::{paginate, Token};
use crate::query::{Params, QueryOptions, WriteOptions};
use crate::response::{Read, Write};
use crate::server::Api;
use crate::views::{
    alloc_stub, IndexResponse, JobDeregisterResponse, JobListStub, JobRegisterResponse,
    JobVersionsResponse,
};
use axum::extract::{Path, State};
use axum::routing::{any, get, put};
use axum::Router;
use rollout_engine::acl::Capability;
use rollout_engine::command::{DeregisterJob, RegisterJob, RevertJob, SetJobStability};
use rollout_engine::model::{AllocListStub, Deployment, Evaluation, Job};
use rollout_engine::{Command, EVAL_PRIORITY_RANGE};
use serde::Deserialize;
use std::sync::Arc;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/jobs", get(list).put(register).post(register))
        .route(
            "/v1/job/{id}",
            get(read)
                .put(register_at)
                .post(register_at)
                .delete(deregister),
        )
        // Nomad does no method check on versions.
        .route("/v1/job/{id}/versions", any(versions))
        .route("/v1/job/{id}/revert", put(revert).post(revert))
        .route("/v1/job/{id}/stable", put(stable).post(stable))
        .route("/v1/job/{id}/deployments", get(deployments))
        .route("/v1/job/{id}/deployment", get(deployment))
        .route("/v1/job/{id}/evaluations", get(evaluations))
        .route("/v1/job/{id}/allocations", get(allocations))
}

/// `GET /v1/jobs`: job stubs by ID (`prefix` is a plain ID prefix), `namespace=*` for
/// all namespaces (those the token may list jobs in); paginated. Needs `list-jobs`.
async fn list(
    State(api): State<Api>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Vec<JobListStub>>, ApiError> {
    let who = access.identity()?;
    let check = |who: &Identity| who.require(&q.namespace, &[Capability::ListJobs]);
    check(&who)?;
    let reply = blocking::query(&api, &q, &who, check, |state, who| {
        let all_namespaces = q.namespace == "*";
        let jobs: Vec<&Arc<Job>> = state
            .jobs(q.namespace_selector())
            .filter(|j| j.id.starts_with(&q.prefix))
            .filter(|j| who.allows(&j.namespace, &[Capability::ListJobs]))
            .collect();
        let page = paginate(jobs.into_iter(), &q.page, |j| {
            if all_namespaces {
                Token::id(format!("{}.{}", j.namespace, j.id))
            } else {
                Token::id(&j.id)
            }
        });
        let stubs = page
            .items
            .iter()
            .map(|j| JobListStub::new(state, j))
            .collect();
        Reply::ok(state.table_indexes().jobs, stubs).with_next_token(page.next_token)
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// The register body (`api.JobRegisterRequest`). `PolicyOverride`, `PreserveCounts`,
/// `Submission` and the like are accepted and ignored (unknown keys are).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct JobRegisterRequest {
    job: Option<Job>,
    enforce_index: bool,
    job_modify_index: u64,
    eval_priority: i64,
    namespace: String,
}

/// `PUT /v1/jobs`.
async fn register(
    State(api): State<Api>,
    w: WriteOptions,
    access: Access,
    JobBody(req): JobBody<JobRegisterRequest>,
) -> Result<Write<Answer<JobRegisterResponse>>, ApiError> {
    register_job(&api, &w, access, None, req).await
}

/// `PUT /v1/job/:id`: the same, and the body's job must be the path's.
async fn register_at(
    State(api): State<Api>,
    Path(id): Path<String>,
    w: WriteOptions,
    access: Access,
    JobBody(req): JobBody<JobRegisterRequest>,
) -> Result<Write<Answer<JobRegisterResponse>>, ApiError> {
    register_job(&api, &w, access, Some(&id), req).await
}

fn check_eval_priority(priority: i64) -> Result<(), ApiError> {
    if priority != 0 && !(1..=100).contains(&priority) {
        return Err(ApiError::bad_request(EVAL_PRIORITY_RANGE));
    }
    Ok(())
}

async fn register_job(
    api: &Api,
    w: &WriteOptions,
    access: Access,
    path_id: Option<&str>,
    req: JobRegisterRequest,
) -> Result<Write<Answer<JobRegisterResponse>>, ApiError> {
    let Some(mut job) = req.job else {
        return Err(ApiError::bad_request("Job must be specified"));
    };
    if job.id.is_empty() {
        return Err(ApiError::bad_request("Job ID hasn't been provided"));
    }
    if path_id.is_some_and(|id| id != job.id) {
        return Err(ApiError::bad_request("Job ID does not match name"));
    }
    check_eval_priority(req.eval_priority)?;
    limits::check_job(&job, &api.config().limits)?;
    // The query's namespace wins over the request's, which wins over the job's.
    let body_namespace = if req.namespace.is_empty() {
        job.namespace.clone()
    } else {
        req.namespace
    };
    job.namespace = w.namespace_or(&body_namespace)?;
    let who = access.identity()?;
    who.require(
        &job.namespace,
        &[Capability::SubmitJob, Capability::RegisterJob],
    )?;
    let command = Command::RegisterJob(RegisterJob {
        job,
        enforce_index: req.enforce_index,
        job_modify_index: req.job_modify_index,
        eval_priority: req.eval_priority,
    });
    let (index, answer) =
        dry_run::submit(api, w, command, who.actor(), JobRegisterResponse::new).await?;
    Ok(Write::new(index, answer, w.pretty))
}

/// `GET /v1/job/:id`.
async fn read(
    State(api): State<Api>,
    Path(id): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Arc<Job>>, ApiError> {
    let who = access.reader_of(&q.namespace)?;
    let reply = blocking::query_one(
        &api,
        &q,
        &who,
        |who| who.require_read(&q.namespace),
        "job not found",
        |t| t.jobs,
        |state, _| {
            state
                .job(&q.namespace, &id)
                .map(|j| (j.modify_index, j.clone()))
        },
    )
    .await?;
    Ok(Read::new(reply, q.pretty))
}

fn eval_priority_param(params: &Params) -> Result<i64, ApiError> {
    let Some(v) = params.non_empty("eval_priority") else {
        return Ok(0);
    };
    let priority = v.parse::<i64>().map_err(|_| {
        ApiError::bad_request(format!(
            "Failed to parse value of \"eval_priority\" ({v}) as an int: strconv.Atoi: parsing {v:?}: invalid syntax"
        ))
    })?;
    check_eval_priority(priority)?;
    Ok(priority)
}

/// `DELETE /v1/job/:id[?purge=true]`. An unknown job is 404 (R1), not Nomad's all-zero 200.
async fn deregister(
    State(api): State<Api>,
    Path(id): Path<String>,
    w: WriteOptions,
    access: Access,
) -> Result<Write<Answer<JobDeregisterResponse>>, ApiError> {
    let purge = w.params.bool("purge")?;
    let eval_priority = eval_priority_param(&w.params)?;
    let allowed: &[Capability] = if purge {
        &[Capability::SubmitJob, Capability::PurgeJob]
    } else {
        &[
            Capability::SubmitJob,
            Capability::PurgeJob,
            Capability::DeregisterJob,
        ]
    };
    let namespace = w.namespace_or("")?;
    let who = access.identity()?;
    who.require(&namespace, allowed)?;
    let command = Command::DeregisterJob(DeregisterJob {
        job_id: id,
        namespace,
        purge,
        eval_priority,
    });
    let (index, answer) =
        dry_run::submit(&api, &w, command, who.actor(), JobDeregisterResponse::new).await?;
    Ok(Write::new(index, answer, w.pretty))
}

/// `GET /v1/job/:id/versions[?diffs=true]`: newest first; the index is the highest
/// `ModifyIndex`. With `diffs`, `Diffs[i]` is what changed from version `i + 1` of the
/// list to version `i`.
async fn versions(
    State(api): State<Api>,
    Path(id): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<JobVersionsResponse>, ApiError> {
    let with_diffs = q.params.bool("diffs")?;
    let who = access.reader_of(&q.namespace)?;
    let check = |who: &Identity| who.require_read(&q.namespace);
    let reply = blocking::query(&api, &q, &who, check, |state, _| {
        let versions: Vec<Arc<Job>> = state.job_versions(&q.namespace, &id).cloned().collect();
        let Some(index) = versions.iter().map(|j| j.modify_index).max() else {
            return Reply::err(
                state.table_indexes().job_version,
                ApiError::not_found("job versions not found"),
            );
        };
        let diffs = with_diffs.then(|| {
            versions
                .windows(2)
                .map(|pair| {
                    let d = crate::jobdiff::job_diff(Some(&pair[1]), Some(&pair[0]), None);
                    serde_json::to_value(d).unwrap_or_default()
                })
                .collect()
        });
        let body = JobVersionsResponse {
            diffs,
            index: index.max(1),
            known_leader: true,
            last_contact: 0,
            next_token: String::new(),
            versions,
        };
        Reply::ok(index, body)
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// The body `JobID` of revert and stable must be present and be the path's job.
fn check_body_job_id(body_id: &str, path_id: &str) -> Result<(), ApiError> {
    if body_id.is_empty() {
        return Err(ApiError::bad_request("JobID must be specified"));
    }
    if body_id != path_id {
        return Err(ApiError::bad_request("Job ID does not match"));
    }
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct RevertRequest {
    #[serde(rename = "JobID")]
    job_id: String,
    job_version: u64,
    enforce_prior_version: Option<u64>,
    namespace: String,
}

/// `PUT /v1/job/:id/revert`: re-registers an older version as a new one.
async fn revert(
    State(api): State<Api>,
    Path(id): Path<String>,
    w: WriteOptions,
    access: Access,
    Body(req): Body<RevertRequest>,
) -> Result<Write<Answer<JobRegisterResponse>>, ApiError> {
    check_body_job_id(&req.job_id, &id)?;
    let namespace = w.namespace_or(&req.namespace)?;
    let who = access.identity()?;
    who.require(&namespace, &[Capability::SubmitJob, Capability::RevertJob])?;
    let command = Command::RevertJob(RevertJob {
        job_id: req.job_id,
        namespace,
        job_version: req.job_version,
        enforce_prior_version: req.enforce_prior_version,
    });
    let (index, answer) =
        dry_run::submit(&api, &w, command, who.actor(), JobRegisterResponse::new).await?;
    Ok(Write::new(index, answer, w.pretty).with_query_meta())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct StableRequest {
    #[serde(rename = "JobID")]
    job_id: String,
    job_version: u64,
    stable: bool,
    namespace: String,
}

/// `PUT /v1/job/:id/stable`: answers `{"Index": n}` only (§7.8).
async fn stable(
    State(api): State<Api>,
    Path(id): Path<String>,
    w: WriteOptions,
    access: Access,
    Body(req): Body<StableRequest>,
) -> Result<Write<Answer<IndexResponse>>, ApiError> {
    check_body_job_id(&req.job_id, &id)?;
    let namespace = w.namespace_or(&req.namespace)?;
    let who = access.identity()?;
    who.require(&namespace, &[Capability::SubmitJob, Capability::StableJob])?;
    let command = Command::SetJobStability(SetJobStability {
        job_id: req.job_id,
        namespace,
        job_version: req.job_version,
        stable: req.stable,
    });
    let (index, answer) = dry_run::submit(&api, &w, command, who.actor(), |o| IndexResponse {
        index: o.index,
    })
    .await?;
    Ok(Write::new(index, answer, w.pretty))
}

/// `GET /v1/job/:id/deployments[?all=true]`: `[]` when none.
async fn deployments(
    State(api): State<Api>,
    Path(id): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Vec<Arc<Deployment>>>, ApiError> {
    let all = q.params.bool("all")?;
    let who = access.reader_of(&q.namespace)?;
    let check = |who: &Identity| who.require_read(&q.namespace);
    let reply = blocking::query(&api, &q, &who, check, |state, _| {
        let list = state
            .job_deployments(&q.namespace, &id, all)
            .into_iter()
            .cloned()
            .collect();
        Reply::ok(state.table_indexes().deployment, list)
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// `GET /v1/job/:id/deployment`: the newest deployment, or `null` (200), never 404.
async fn deployment(
    State(api): State<Api>,
    Path(id): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Option<Arc<Deployment>>>, ApiError> {
    let who = access.reader_of(&q.namespace)?;
    let check = |who: &Identity| who.require_read(&q.namespace);
    let reply = blocking::query(&api, &q, &who, check, |state, _| {
        let latest = state.latest_job_deployment(&q.namespace, &id).cloned();
        Reply::ok(state.table_indexes().deployment, latest)
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// `GET /v1/job/:id/evaluations`.
async fn evaluations(
    State(api): State<Api>,
    Path(id): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Vec<Arc<Evaluation>>>, ApiError> {
    let who = access.reader_of(&q.namespace)?;
    let check = |who: &Identity| who.require_read(&q.namespace);
    let reply = blocking::query(&api, &q, &who, check, |state, _| {
        let evals = state.job_evals(&q.namespace, &id).cloned().collect();
        Reply::ok(state.table_indexes().evals, evals)
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// `GET /v1/job/:id/allocations`.
async fn allocations(
    State(api): State<Api>,
    Path(id): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Vec<AllocListStub>>, ApiError> {
    let who = access.reader_of(&q.namespace)?;
    let check = |who: &Identity| who.require_read(&q.namespace);
    let reply = blocking::query(&api, &q, &who, check, |state, _| {
        let stubs = state
            .job_allocs(&q.namespace, &id)
            .map(|a| alloc_stub(state, a))
            .collect();
        Reply::ok(state.table_indexes().allocs, stubs)
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}
