//! Jobspecs before registration: parse HCL into a job (`/v1/jobs/parse`), validate a
//! job (`/v1/validate/job`), and plan a registration without making it
//! (`/v1/job/:id/plan`).
//!
//! A plan is the engine's pure dry run of the registration on a copy of the current
//! state: nothing is written, no index is consumed, and the plan's counts are what the
//! planner would hand the scheduler for the evaluation the registration would create.

use crate::acl::Access;
use crate::decode::{Body, JobBody};
use crate::error::ApiError;
use crate::jobdiff::{job_diff, JobDiff};
use crate::limits;
use crate::query::WriteOptions;
use crate::response::Write;
use crate::server::Api;
use axum::extract::{Path, State};
use axum::routing::put;
use axum::Router;
use rollout_engine::acl::Capability;
use rollout_engine::command::RegisterJob;
use rollout_engine::format::multierror;
use rollout_engine::job::{canonicalize, validate};
use rollout_engine::model::Job;
use rollout_engine::planner::DesiredUpdates;
use rollout_engine::Command;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/jobs/parse", put(parse).post(parse))
        .route("/v1/validate/job", put(validate_job).post(validate_job))
        .route("/v1/job/{id}/plan", put(plan).post(plan))
}

/// `api.JobsParseRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ParseRequest {
    #[serde(rename = "JobHCL")]
    job_hcl: String,
    #[serde(rename = "HCLv1")]
    hcl_v1: bool,
    canonicalize: bool,
    /// A var file's content (HCL `name = value` lines).
    variables: String,
}

/// The file name parse errors are reported against.
const PARSE_FILE: &str = "input.hcl";

/// `PUT|POST /v1/jobs/parse`: the job JSON of an HCL2 jobspec; Nomad's defaults only
/// with `Canonicalize`, and without it every field of Nomad's `api.Job` that the
/// jobspec leaves unset as Nomad encodes it (`null`, or a non-pointer's zero value). Needs `parse-job` (or `submit-job`) in the request's namespace.
async fn parse(
    State(api): State<Api>,
    w: WriteOptions,
    access: Access,
    JobBody(req): JobBody<ParseRequest>,
) -> Result<Write<Value>, ApiError> {
    let namespace = w.namespace_or("")?;
    access
        .identity()?
        .require(&namespace, &[Capability::ParseJob, Capability::SubmitJob])?;
    if req.hcl_v1 {
        return Err(ApiError::bad_request("HCLv1 is not supported"));
    }
    if req.job_hcl.trim().is_empty() {
        return Err(ApiError::bad_request("Job HCL must be specified"));
    }
    let mut job = if rollout_jobspec::is_json(&req.job_hcl) {
        rollout_jobspec::json_job(&req.job_hcl).map_err(ApiError::bad_request)?
    } else {
        let options = rollout_jobspec::Options {
            var_files: if req.variables.trim().is_empty() {
                Vec::new()
            } else {
                vec![("variables".into(), req.variables)]
            },
            ..Default::default()
        };
        rollout_jobspec::parse(PARSE_FILE, &req.job_hcl, &options)
            .map_err(|e| ApiError::bad_request(e.to_string()))?
    };
    if req.canonicalize {
        let mut typed: Job = serde_json::from_value(job)
            .map_err(|e| ApiError::bad_request(format!("the job does not decode: {e}")))?;
        canonicalize(&mut typed);
        job = serde_json::to_value(&typed).map_err(|e| ApiError::internal(e.to_string()))?;
    } else {
        // Nomad answers the decoded `api.Job` itself: unset fields are `null`.
        job = crate::nomad_api::with_unset_fields(job);
    }
    let index = api.backend().state().index();
    Ok(Write::new(index, job, w.pretty))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ValidateRequest {
    job: Option<Job>,
    namespace: String,
}

/// `structs.JobValidateResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ValidateResponse {
    driver_config_validated: bool,
    validation_errors: Option<Vec<String>>,
    error: String,
    warnings: String,
}

/// `PUT|POST /v1/validate/job`: the job's validation errors and warnings, as
/// registering it would report them (always 200 when the body decodes). Needs
/// `read-job` or `submit-job`.
async fn validate_job(
    State(api): State<Api>,
    w: WriteOptions,
    access: Access,
    Body(req): Body<ValidateRequest>,
) -> Result<Write<ValidateResponse>, ApiError> {
    let Some(mut job) = req.job else {
        return Err(ApiError::bad_request("Job must be specified"));
    };
    let body_namespace = if req.namespace.is_empty() {
        job.namespace.clone()
    } else {
        req.namespace
    };
    job.namespace = w.namespace_or(&body_namespace)?;
    access.identity()?.require(
        &job.namespace,
        &[Capability::ReadJob, Capability::SubmitJob],
    )?;
    canonicalize(&mut job);
    let v = validate(&job);
    let response = ValidateResponse {
        // rollout runs no drivers: there is no driver config to check.
        driver_config_validated: false,
        error: if v.errors.is_empty() {
            String::new()
        } else {
            multierror(&v.errors)
        },
        validation_errors: (!v.errors.is_empty()).then_some(v.errors),
        warnings: if v.warnings.is_empty() {
            String::new()
        } else {
            multierror(&v.warnings)
        },
    };
    let index = api.backend().state().index();
    Ok(Write::new(index, response, w.pretty))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct PlanRequest {
    job: Option<Job>,
    diff: bool,
    /// Sentinel policies are an Enterprise feature: accepted and ignored.
    #[allow(dead_code)]
    policy_override: bool,
    namespace: String,
}

/// Nomad's `DesiredUpdates`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct DesiredTgUpdates {
    ignore: u64,
    place: u64,
    migrate: u64,
    stop: u64,
    in_place_update: u64,
    destructive_update: u64,
    canary: u64,
    preemptions: u64,
}

impl From<&DesiredUpdates> for DesiredTgUpdates {
    fn from(u: &DesiredUpdates) -> DesiredTgUpdates {
        DesiredTgUpdates {
            ignore: u.ignore,
            place: u.place,
            migrate: u.migrate,
            stop: u.stop,
            in_place_update: u.in_place_update,
            destructive_update: u.destructive_update,
            canary: u.canary,
            preemptions: 0,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct PlanAnnotations {
    #[serde(rename = "DesiredTGUpdates")]
    desired_tg_updates: BTreeMap<String, DesiredTgUpdates>,
    preempted_allocs: Option<Vec<Value>>,
}

/// `structs.JobPlanResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct PlanResponse {
    annotations: PlanAnnotations,
    /// rollout's scheduler is the embedder's: no placement fails in a plan.
    #[serde(rename = "FailedTGAllocs")]
    failed_tg_allocs: Option<BTreeMap<String, Value>>,
    job_modify_index: u64,
    created_evals: Option<Vec<Value>>,
    diff: Option<JobDiff>,
    next_periodic_launch: &'static str,
    warnings: String,
    index: u64,
}

/// `PUT|POST /v1/job/:id/plan`: what registering the job would do — the per-group
/// counts, the diff against the current version (`Diff: true`), and the current
/// `JobModifyIndex` for `-check-index`. Needs `submit-job`.
async fn plan(
    State(api): State<Api>,
    Path(id): Path<String>,
    w: WriteOptions,
    access: Access,
    JobBody(req): JobBody<PlanRequest>,
) -> Result<Write<PlanResponse>, ApiError> {
    let Some(mut job) = req.job else {
        return Err(ApiError::bad_request("Job must be specified"));
    };
    if job.id.is_empty() {
        return Err(ApiError::bad_request("Job ID hasn't been provided"));
    }
    if job.id != id {
        return Err(ApiError::bad_request("Job ID does not match"));
    }
    limits::check_job(&job, &api.config().limits)?;
    let body_namespace = if req.namespace.is_empty() {
        job.namespace.clone()
    } else {
        req.namespace
    };
    job.namespace = w.namespace_or(&body_namespace)?;
    access
        .identity()?
        .require(&job.namespace, &[Capability::SubmitJob])?;
    let namespace = job.namespace.clone();

    let state = api.backend().state();
    let index = state.index();
    let old = state.job(&namespace, &id).cloned();
    let what_if = api.dry_run(
        state,
        Command::RegisterJob(RegisterJob {
            job,
            ..RegisterJob::default()
        }),
    )?;
    let updates = match what_if.outcome.eval_id {
        Some(eval) => {
            rollout_engine::plan(&what_if.state, &eval, what_if.envelope.now)?.desired_tg_updates
        }
        None => BTreeMap::new(),
    };
    let new = what_if.state.job(&namespace, &id).cloned();
    let diff = req
        .diff
        .then(|| job_diff(old.as_deref(), new.as_deref(), Some(&updates)));
    let warnings = if what_if.outcome.warnings.is_empty() {
        String::new()
    } else {
        multierror(&what_if.outcome.warnings)
    };
    let response = PlanResponse {
        annotations: PlanAnnotations {
            desired_tg_updates: updates.iter().map(|(g, u)| (g.clone(), u.into())).collect(),
            preempted_allocs: None,
        },
        failed_tg_allocs: None,
        job_modify_index: old.as_ref().map_or(0, |j| j.job_modify_index),
        created_evals: None,
        diff,
        next_periodic_launch: "0001-01-01T00:00:00Z",
        warnings,
        index,
    };
    Ok(Write::new(index, response, w.pretty))
}
