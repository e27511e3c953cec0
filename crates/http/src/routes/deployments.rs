//! The deployment API (`http-api.md` §1, §7.1–§7.4; semantics §1.10): list, read,
//! allocations, and the operator writes fail, pause/resume, promote, allocation health
//! and (unsupported) unblock.

use crate::acl::{Access, Identity};
use crate::blocking::{self, Reply};
use crate::decode::Body;
use crate::dry_run::{self, Answer};
use crate::error::ApiError;
use crate::ids;
use crate::limits;
use crate::pagination::{paginate, Token};
use crate::query::{QueryOptions, WriteOptions};
use crate::response::{Read, Write};
use crate::server::Api;
use crate::views::alloc_stub;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use rollout_engine::acl::Capability;
use rollout_engine::command::{FailDeployment, PauseDeployment, PromoteDeployment, SetAllocHealth};
use rollout_engine::model::{AllocListStub, Deployment, DeploymentUpdateResponse};
use rollout_engine::{Actor, Command, Error, Outcome};
use serde::Deserialize;
use std::sync::Arc;
use uuid::Uuid;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/deployments", get(list))
        .route("/v1/deployment/allocations/{id}", get(allocations))
        .route("/v1/deployment/fail/{id}", put(fail).post(fail))
        .route("/v1/deployment/pause/{id}", put(pause).post(pause))
        .route("/v1/deployment/promote/{id}", put(promote).post(promote))
        .route(
            "/v1/deployment/allocation-health/{id}",
            put(allocation_health).post(allocation_health),
        )
        .route("/v1/deployment/unblock/{id}", put(unblock).post(unblock))
        // Anything else under /v1/deployment/ is an ID, as in Nomad's prefix routing.
        .route("/v1/deployment/{*id}", get(read))
}

/// `GET /v1/deployments`: by ID when `prefix` is given, else in creation order;
/// `namespace=*` for all; paginated.
async fn list(
    State(api): State<Api>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Vec<Arc<Deployment>>>, ApiError> {
    let prefix = q.uuid_prefix()?;
    let who = access.identity()?;
    let check = |who: &Identity| who.require_read(&q.namespace);
    check(&who)?;
    let reply = blocking::query(&api, &q, &who, check, |state, who| {
        let ns = q.namespace_selector();
        let readable = |d: &&Arc<Deployment>| who.can_read(&d.namespace);
        let page = match &prefix {
            Some(p) => paginate(
                state.deployments_by_prefix(ns, p).filter(readable).cloned(),
                &q.page,
                |d| Token::id(d.id),
            ),
            None => paginate(
                state
                    .deployments_in_namespace(ns)
                    .into_iter()
                    .filter(readable)
                    .cloned(),
                &q.page,
                |d| Token::created(d.create_index, d.id),
            ),
        };
        Reply::ok(state.table_indexes().deployment, page.items).with_next_token(page.next_token)
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// `GET /v1/deployment/:id`: looked up by ID in every namespace. The token must read
/// jobs in the request's namespace (403), and a deployment in a namespace it may not
/// read is hidden (404).
async fn read(
    State(api): State<Api>,
    Path(id): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Response, ApiError> {
    if let Some(id) = id.strip_suffix("/history") {
        let who = access.identity()?;
        let (index, entries) = super::deployment_history::history(&api, id, &q, &who).await?;
        return Ok(Read::new(Reply::ok(index, entries), q.pretty).into_response());
    }
    let id = ids::parse("deployment", &id)?;
    let who = access.identity()?;
    let check = |who: &Identity| who.require_read(&q.namespace);
    check(&who)?;
    let reply = blocking::query_one(
        &api,
        &q,
        &who,
        check,
        "deployment not found",
        |t| t.deployment,
        |state, who| {
            state
                .deployment(&id)
                .filter(|d| who.can_read(&d.namespace))
                .map(|d| (d.modify_index, d.clone()))
        },
    )
    .await?;
    Ok(Read::new(reply, q.pretty).into_response())
}

/// `GET /v1/deployment/allocations/:id`: `[]` for an unknown deployment, as in Nomad.
/// The token must read jobs in the request's namespace (403); a deployment in a
/// namespace it may not read is answered like an unknown one (`[]`), so that the answer
/// does not tell whether the ID exists elsewhere.
async fn allocations(
    State(api): State<Api>,
    Path(id): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Vec<AllocListStub>>, ApiError> {
    let id = ids::parse("deployment", &id)?;
    let who = access.identity()?;
    let check = |who: &Identity| who.require_read(&q.namespace);
    check(&who)?;
    let reply = blocking::query(&api, &q, &who, check, |state, who| {
        let visible = state
            .deployment(&id)
            .is_some_and(|d| who.can_read(&d.namespace));
        let stubs = if visible {
            state
                .deployment_allocs(&id)
                .map(|a| alloc_stub(state, a))
                .collect()
        } else {
            Vec::new()
        };
        Reply::ok(state.table_indexes().allocs, stubs)
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// The `DeploymentID` of a write body must be present and name the path's deployment.
fn body_deployment_id(body_id: &str, path_id: &str) -> Result<Uuid, ApiError> {
    if body_id.is_empty() {
        return Err(ApiError::bad_request("DeploymentID must be specified"));
    }
    if body_id != path_id {
        return Err(ApiError::bad_request("Deployment ID does not match"));
    }
    ids::parse("deployment", path_id)
}

/// A deployment write is checked in the deployment's own namespace (the request's is
/// irrelevant): `submit-job` or the write's fine-grained capability. An unknown
/// deployment is 404 before any capability check, as in Nomad — and so is one in a
/// namespace the token may not even read: "not yours" must not be told apart from "not
/// there". A deployment the token can read but not write is 403. Returns who writes, for
/// the audit trail.
fn authorize_write(
    api: &Api,
    who: &Identity,
    id: &Uuid,
    fine_grained: Capability,
) -> Result<Actor, ApiError> {
    let state = api.state();
    let Some(d) = state.deployment(id).filter(|d| who.can_read(&d.namespace)) else {
        return Err(Error::DeploymentNotFound.into());
    };
    who.require(&d.namespace, &[Capability::SubmitJob, fine_grained])?;
    Ok(who.actor())
}

/// Applies a deployment write, or with `?dry_run=true` answers what it would do (R10).
async fn submit(
    api: &Api,
    command: Command,
    actor: Actor,
    w: &WriteOptions,
) -> Result<Write<Answer<DeploymentUpdateResponse>>, ApiError> {
    let (index, answer) =
        dry_run::submit(api, w, command, actor, Outcome::deployment_update_response).await?;
    Ok(Write::new(index, answer, w.pretty))
}

/// `PUT /v1/deployment/fail/:id`: the body is not read (Nomad ignores it).
async fn fail(
    State(api): State<Api>,
    Path(id): Path<String>,
    w: WriteOptions,
    access: Access,
) -> Result<Write<Answer<DeploymentUpdateResponse>>, ApiError> {
    let id = ids::parse("deployment", &id)?;
    let actor = authorize_write(&api, &access.identity()?, &id, Capability::FailDeployment)?;
    let command = Command::FailDeployment(FailDeployment { deployment_id: id });
    submit(&api, command, actor, &w).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct PauseRequest {
    #[serde(rename = "DeploymentID")]
    deployment_id: String,
    pause: bool,
}

/// `PUT /v1/deployment/pause/:id` with `{"Pause": true|false}` (false resumes).
async fn pause(
    State(api): State<Api>,
    Path(id): Path<String>,
    w: WriteOptions,
    access: Access,
    Body(req): Body<PauseRequest>,
) -> Result<Write<Answer<DeploymentUpdateResponse>>, ApiError> {
    let id = body_deployment_id(&req.deployment_id, &id)?;
    let actor = authorize_write(&api, &access.identity()?, &id, Capability::PauseDeployment)?;
    let command = Command::PauseDeployment(PauseDeployment {
        deployment_id: id,
        pause: req.pause,
    });
    submit(&api, command, actor, &w).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct PromoteRequest {
    #[serde(rename = "DeploymentID")]
    deployment_id: String,
    all: bool,
    groups: Option<Vec<String>>,
    /// Accepted for compatibility and ignored: rollout stamps promotions with the
    /// server's time (semantics §8 decision 2).
    _promoted_at: i64,
}

/// `PUT /v1/deployment/promote/:id` with `{"All": true}` or `{"Groups": [...]}`.
async fn promote(
    State(api): State<Api>,
    Path(id): Path<String>,
    w: WriteOptions,
    access: Access,
    Body(req): Body<PromoteRequest>,
) -> Result<Write<Answer<DeploymentUpdateResponse>>, ApiError> {
    let id = body_deployment_id(&req.deployment_id, &id)?;
    let actor = authorize_write(
        &api,
        &access.identity()?,
        &id,
        Capability::PromoteDeployment,
    )?;
    let command = Command::PromoteDeployment(PromoteDeployment {
        deployment_id: id,
        all: req.all,
        groups: req.groups,
    });
    submit(&api, command, actor, &w).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct AllocHealthRequest {
    #[serde(rename = "DeploymentID")]
    deployment_id: String,
    #[serde(rename = "HealthyAllocationIDs")]
    healthy: Vec<String>,
    #[serde(rename = "UnhealthyAllocationIDs")]
    unhealthy: Vec<String>,
}

/// Allocation IDs of a health request. A malformed one can name no allocation: it is
/// refused with Nomad's `unknown alloc` text, as 400 (R1: non-UUID IDs).
fn alloc_ids(ids: &[String]) -> Result<Vec<Uuid>, ApiError> {
    ids.iter()
        .map(|s| {
            Uuid::try_parse(s).map_err(|_| {
                let e: ApiError = Error::UnknownAlloc(s.clone()).into();
                ApiError::bad_request(e.message)
            })
        })
        .collect()
}

/// `PUT /v1/deployment/allocation-health/:id`: manual health (M1–M5).
async fn allocation_health(
    State(api): State<Api>,
    Path(id): Path<String>,
    w: WriteOptions,
    access: Access,
    Body(req): Body<AllocHealthRequest>,
) -> Result<Write<Answer<DeploymentUpdateResponse>>, ApiError> {
    let id = body_deployment_id(&req.deployment_id, &id)?;
    limits::check_id_count(
        req.healthy.len() + req.unhealthy.len(),
        &api.config().limits,
    )?;
    let who = access.identity()?;
    let actor = authorize_write(&api, &who, &id, Capability::SetAllocHealthDeployment)?;
    let command = Command::SetAllocHealth(SetAllocHealth {
        deployment_id: id,
        healthy_allocation_ids: alloc_ids(&req.healthy)?,
        unhealthy_allocation_ids: alloc_ids(&req.unhealthy)?,
    });
    submit(&api, command, actor, &w).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct UnblockRequest {
    #[serde(rename = "DeploymentID")]
    deployment_id: String,
}

/// `PUT /v1/deployment/unblock/:id`: multiregion only, which rollout does not do (R8).
/// The body is still checked, so a malformed request gets the more specific answer.
async fn unblock(
    State(api): State<Api>,
    Path(id): Path<String>,
    access: Access,
    Body(req): Body<UnblockRequest>,
) -> Result<Write<DeploymentUpdateResponse>, ApiError> {
    let id = body_deployment_id(&req.deployment_id, &id)?;
    authorize_write(
        &api,
        &access.identity()?,
        &id,
        Capability::UnblockDeployment,
    )?;
    Err(ApiError::bad_request(
        "multiregion deployments are not supported",
    ))
}
