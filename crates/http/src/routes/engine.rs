//! Scheduler and client ingest (R6, not in Nomad): what an external scheduler and node
//! agents use to drive the engine over HTTP. The loop is: for each pending evaluation
//! `GET /v1/engine/plan/:eval_id`, bind the placements to nodes, `POST /v1/engine/plan`,
//! then `POST /v1/evaluation/:id/ack`; nodes report status and health with
//! `POST /v1/engine/allocations/update`. The README documents the bodies.

use crate::acl::{Access, Identity};
use crate::blocking::{self, Reply};
use crate::decode::Body;
use crate::error::ApiError;
use crate::ids;
use crate::limits;
use crate::query::{QueryOptions, WriteOptions};
use crate::response::{Read, Write};
use crate::server::Api;
use crate::views::IndexResponse;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::Router;
use rollout_engine::command::{ClientAllocUpdates, PlanResult, UpdateEvalStatus};
use rollout_engine::{actor_kind, plan, Command, Plan};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/engine/plan/{eval_id}", get(read_plan))
        .route("/v1/engine/plan", put(submit_plan).post(submit_plan))
        .route(
            "/v1/engine/allocations/update",
            put(update_allocations).post(update_allocations),
        )
        .route("/v1/evaluation/{id}/ack", put(ack).post(ack))
        .route("/v1/engine/state", get(read_state))
}

/// `GET /v1/engine/state` (R6): the whole engine state at one index, as snapshots hold
/// it (management token). What `rollout what-if` continues in its simulator: one value,
/// so it is consistent however busy the agent is.
async fn read_state(
    State(api): State<Api>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<rollout_engine::State>, ApiError> {
    let who = access.identity()?;
    who.require_management()?;
    let reply = blocking::query(&api, &q, &who, Identity::require_management, |state, _| {
        Reply::ok(state.index(), state.clone())
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// `GET /v1/engine/plan/:eval_id`: what the scheduler must do for a pending evaluation,
/// computed from the current state (read-only; blocks like any read, on the state index).
async fn read_plan(
    State(api): State<Api>,
    Path(eval_id): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Plan>, ApiError> {
    let eval_id = ids::parse("eval", &eval_id)?;
    let who = access.identity()?;
    who.require_management()?;
    let reply = blocking::query(
        &api,
        &q,
        &who,
        Identity::require_management,
        |state, _| match plan(state, &eval_id, api.backend().now_ns()) {
            Ok(p) => Reply::ok(state.index(), p),
            Err(e) => Reply::err(state.index(), e.into()),
        },
    )
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// What a plan or client write created.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct IngestResponse {
    /// Allocations created, in the order they were submitted.
    #[serde(rename = "AllocIDs")]
    alloc_ids: Vec<Uuid>,
    /// Evaluations created (follow-ups, watcher evaluations).
    #[serde(rename = "EvalIDs")]
    eval_ids: Vec<Uuid>,
    index: u64,
}

/// `POST /v1/engine/plan`: a plan result, applied atomically or refused whole
/// (409 for a stale plan, 404 for an unknown evaluation).
async fn submit_plan(
    State(api): State<Api>,
    w: WriteOptions,
    access: Access,
    Body(result): Body<PlanResult>,
) -> Result<Write<IngestResponse>, ApiError> {
    let who = access.identity()?;
    who.require_management()?;
    if result.eval_id.is_nil() {
        return Err(ApiError::bad_request("EvalID must be specified"));
    }
    limits::check_plan(&result, &api.config().limits)?;
    let outcome = api
        .submit(
            Command::ApplyPlanResult(result),
            who.actor_as(actor_kind::SCHEDULER),
        )
        .await?;
    let body = IngestResponse {
        alloc_ids: outcome.allocs_created,
        eval_ids: outcome.evals_created,
        index: outcome.index,
    };
    Ok(Write::new(outcome.index, body, w.pretty))
}

/// `POST /v1/engine/allocations/update`: client status and health reports.
async fn update_allocations(
    State(api): State<Api>,
    w: WriteOptions,
    access: Access,
    Body(updates): Body<ClientAllocUpdates>,
) -> Result<Write<IngestResponse>, ApiError> {
    let who = access.identity()?;
    who.require_management()?;
    if updates.allocations.is_empty() {
        return Err(ApiError::bad_request(
            "must specify at least one allocation update",
        ));
    }
    limits::check_allocation_count(updates.allocations.len(), &api.config().limits)?;
    if updates.allocations.iter().any(|u| u.id.is_nil()) {
        return Err(ApiError::bad_request("allocation ID must be specified"));
    }
    let outcome = api
        .submit(
            Command::UpdateAllocsFromClient(updates),
            who.actor_as(actor_kind::CLIENT),
        )
        .await?;
    let body = IngestResponse {
        alloc_ids: Vec::new(),
        eval_ids: outcome.evals_created,
        index: outcome.index,
    };
    Ok(Write::new(outcome.index, body, w.pretty))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct AckRequest {
    status: String,
    status_description: String,
}

/// `POST /v1/evaluation/:id/ack`: the scheduler is done with a pending evaluation.
async fn ack(
    State(api): State<Api>,
    Path(id): Path<String>,
    w: WriteOptions,
    access: Access,
    Body(req): Body<AckRequest>,
) -> Result<Write<IndexResponse>, ApiError> {
    let eval_id = ids::parse("eval", &id)?;
    let who = access.identity()?;
    who.require_management()?;
    let outcome = api
        .submit(
            Command::UpdateEvalStatus(UpdateEvalStatus {
                eval_id,
                status: req.status,
                status_description: req.status_description,
            }),
            who.actor_as(actor_kind::SCHEDULER),
        )
        .await?;
    Ok(Write::new(
        outcome.index,
        IndexResponse {
            index: outcome.index,
        },
        w.pretty,
    ))
}
