//! Asking a job to run now (`docs/http-api.md` R11): `POST /v1/job/:id/evaluate`
//! creates a new evaluation of it (EV1); `POST /v1/job/:id/periodic/force` and `POST
//! /v1/job/:id/dispatch` launch children of periodic and parameterized jobs, which
//! rollout does not run — they answer 400 saying so (or with Nomad's text when the job
//! is not of that kind), never 404.

use crate::acl::Access;
use crate::decode::Body;
use crate::dry_run::{self, Answer};
use crate::error::ApiError;
use crate::query::WriteOptions;
use crate::response::Write;
use crate::server::Api;
use crate::views::JobRegisterResponse;
use axum::extract::{Path, State};
use axum::routing::put;
use axum::Router;
use rollout_engine::acl::Capability;
use rollout_engine::command::EvaluateJob;
use rollout_engine::model::Job;
use rollout_engine::{Command, Error};
use serde_json::Value;
use std::sync::Arc;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/job/{id}/evaluate", put(evaluate).post(evaluate))
        .route(
            "/v1/job/{id}/periodic/force",
            put(periodic_force).post(periodic_force),
        )
        .route("/v1/job/{id}/dispatch", put(dispatch).post(dispatch))
}

/// `POST /v1/job/:id/evaluate`, answered like a registration (Nomad's reply is a
/// `JobRegisterResponse`). The body's `EvalOptions` are accepted; rollout's scheduler
/// ingest decides placement, so `ForceReschedule` has no effect.
async fn evaluate(
    State(api): State<Api>,
    Path(id): Path<String>,
    w: WriteOptions,
    access: Access,
) -> Result<Write<Answer<JobRegisterResponse>>, ApiError> {
    let namespace = w.namespace_or("")?;
    let who = access.identity()?;
    who.require(&namespace, &[Capability::ReadJob])?;
    let command = Command::EvaluateJob(EvaluateJob {
        job_id: id,
        namespace,
    });
    let (index, answer) =
        dry_run::submit(&api, &w, command, who.actor(), JobRegisterResponse::new).await?;
    Ok(Write::new(index, answer, w.pretty))
}

/// The job a launch names: 404 `job not found` (Nomad's text) when there is none.
fn launched_job(api: &Api, namespace: &str, id: &str) -> Result<Arc<Job>, ApiError> {
    api.state()
        .job(namespace, id)
        .cloned()
        .ok_or_else(|| ApiError::from(Error::JobNotFound(id.to_string())))
}

fn present(block: &Option<Value>) -> bool {
    block.as_ref().is_some_and(|v| !v.is_null())
}

/// `POST /v1/job/:id/periodic/force`.
async fn periodic_force(
    State(api): State<Api>,
    Path(id): Path<String>,
    w: WriteOptions,
    access: Access,
) -> Result<Write<()>, ApiError> {
    let namespace = w.namespace_or("")?;
    access.identity()?.require(
        &namespace,
        &[Capability::SubmitJob, Capability::DispatchJob],
    )?;
    let job = launched_job(&api, &namespace, &id)?;
    if !present(&job.periodic) {
        return Err(ApiError::bad_request(format!("job {id:?} is not periodic")));
    }
    Err(ApiError::bad_request(
        "rollout does not launch periodic jobs: it tracks the deployments of service jobs",
    ))
}

/// `POST /v1/job/:id/dispatch`.
async fn dispatch(
    State(api): State<Api>,
    Path(id): Path<String>,
    w: WriteOptions,
    access: Access,
    Body(_payload): Body<Value>,
) -> Result<Write<()>, ApiError> {
    let namespace = w.namespace_or("")?;
    access
        .identity()?
        .require(&namespace, &[Capability::DispatchJob])?;
    let job = launched_job(&api, &namespace, &id)?;
    if !present(&job.parameterized_job) {
        return Err(ApiError::bad_request(format!(
            "Specified job {id:?} is not a parameterized job"
        )));
    }
    Err(ApiError::bad_request(
        "rollout does not dispatch parameterized jobs: it tracks the deployments of service jobs",
    ))
}
