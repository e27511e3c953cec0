//! Client nodes (`docs/http-api.md` R12): Nomad's `/v1/nodes`, `/v1/node/:id`, its
//! allocations and its eligibility, all behind `node:read` / `node:write`; and the
//! ingest API's registration and deregistration, through which the clients (or the
//! scheduler) that drive the engine report the nodes they run on.

use crate::acl::{Access, Identity};
use crate::blocking::{self, Reply};
use crate::decode::Body;
use crate::error::ApiError;
use crate::query::{QueryOptions, WriteOptions};
use crate::response::{Read, Write};
use crate::server::Api;
use crate::views::AllocationView;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::Router;
use rollout_engine::node::{DeregisterNodes, Node, RegisterNode, UpdateNodeEligibility};
use rollout_engine::{actor_kind, Command, State as EngineState};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/nodes", get(list))
        .route("/v1/node/{id}", get(read))
        .route("/v1/node/{id}/allocations", get(allocations))
        .route(
            "/v1/node/{id}/eligibility",
            put(set_eligibility).post(set_eligibility),
        )
        .route("/v1/engine/node/register", put(register).post(register))
        .route(
            "/v1/engine/node/deregister",
            put(deregister).post(deregister),
        )
}

/// A node as `/v1/nodes` lists it (Nomad's `NodeListStub`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct NodeListStub {
    /// The host part of `HTTPAddr`.
    address: String,
    #[serde(rename = "ID")]
    id: String,
    /// Only with `?os=true`: the `os.*` attributes.
    #[serde(skip_serializing_if = "Option::is_none")]
    attributes: Option<BTreeMap<String, String>>,
    datacenter: String,
    name: String,
    node_class: String,
    node_pool: String,
    /// The client's version (`nomad.version` attribute).
    version: String,
    drain: bool,
    scheduling_eligibility: String,
    status: String,
    status_description: String,
    drivers: Option<Value>,
    host_volumes: Option<Value>,
    /// Only with `?resources=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    node_resources: Option<Value>,
    /// Only with `?resources=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    reserved_resources: Option<Value>,
    last_drain: Option<Value>,
    create_index: u64,
    modify_index: u64,
}

impl NodeListStub {
    fn new(n: &Node, os: bool, resources: bool) -> NodeListStub {
        let address = n
            .http_addr
            .rsplit_once(':')
            .map_or(n.http_addr.as_str(), |(host, _)| host)
            .to_string();
        NodeListStub {
            address,
            id: n.id.clone(),
            attributes: os.then(|| {
                n.attributes
                    .iter()
                    .filter(|(k, _)| k.starts_with("os."))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }),
            datacenter: n.datacenter.clone(),
            name: n.name.clone(),
            node_class: n.node_class.clone(),
            node_pool: n.node_pool.clone(),
            version: n
                .attributes
                .get("nomad.version")
                .cloned()
                .unwrap_or_default(),
            drain: n.draining(),
            scheduling_eligibility: n.scheduling_eligibility.clone(),
            status: n.status.clone(),
            status_description: n.status_description.clone(),
            drivers: n.drivers.clone(),
            host_volumes: n.host_volumes.clone(),
            node_resources: if resources {
                n.node_resources.clone()
            } else {
                None
            },
            reserved_resources: if resources {
                n.reserved_resources.clone()
            } else {
                None
            },
            last_drain: n.last_drain.clone(),
            create_index: n.create_index,
            modify_index: n.modify_index,
        }
    }
}

/// `GET /v1/nodes[?prefix=][&os=true][&resources=true]`: every node, by ID.
async fn list(
    State(api): State<Api>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Vec<NodeListStub>>, ApiError> {
    let who = access.identity()?;
    let check = Identity::require_node_read;
    check(&who)?;
    let os = q.params.bool("os")?;
    let resources = q.params.bool("resources")?;
    let prefix = q.prefix.clone();
    let reply = blocking::query(&api, &q, &who, check, |state, _| {
        let stubs = state
            .nodes_with_prefix(&prefix)
            .map(|n| NodeListStub::new(n, os, resources))
            .collect();
        Reply::ok(state.nodes_index(), stubs)
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// The node with this exact ID, or a 404 at the table's index (Nomad blocks on the
/// table until it appears).
fn find_node<T>(state: &EngineState, id: &str) -> Result<Arc<Node>, Reply<T>> {
    state
        .node(id)
        .ok_or_else(|| Reply::err(state.nodes_index(), ApiError::not_found("node not found")))
}

/// `GET /v1/node/:id`.
async fn read(
    State(api): State<Api>,
    Path(id): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Arc<Node>>, ApiError> {
    let who = access.identity()?;
    let check = Identity::require_node_read;
    check(&who)?;
    let reply = blocking::query(&api, &q, &who, check, |state, _| {
        match find_node(state, &id) {
            Ok(n) => Reply::ok(n.modify_index, n),
            Err(not_found) => not_found,
        }
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// `GET /v1/node/:id/allocations`: every allocation placed on it that the token may
/// read (in any namespace), each with its job, oldest first.
async fn allocations(
    State(api): State<Api>,
    Path(id): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Vec<AllocationView>>, ApiError> {
    let who = access.identity()?;
    let check = Identity::require_node_read;
    check(&who)?;
    let reply = blocking::query(&api, &q, &who, check, |state, who| {
        if let Err(not_found) = find_node(state, &id) {
            return not_found;
        }
        // A scan: operators list one node's allocations now and then, while an index
        // by node would cost every placement.
        let allocs = state
            .allocs_in_namespace(None)
            .into_iter()
            .filter(|a| a.node_id == id && who.can_read(&a.namespace))
            .map(|a| AllocationView::new(state, a))
            .collect();
        Reply::ok(state.table_indexes().allocs, allocs)
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// Nomad's `NodeEligibilityUpdateResponse` (and `NodeUpdateResponse` of the ingest
/// API): rollout creates no evaluations for node writes — it schedules nothing.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct NodeWriteResponse {
    #[serde(rename = "EvalIDs")]
    eval_ids: Vec<Uuid>,
    eval_create_index: u64,
    node_modify_index: u64,
    index: u64,
}

impl NodeWriteResponse {
    fn at(index: u64) -> NodeWriteResponse {
        NodeWriteResponse {
            eval_ids: Vec::new(),
            eval_create_index: 0,
            node_modify_index: index,
            index,
        }
    }
}

/// `PUT /v1/node/:id/eligibility` with `{"Eligibility": "eligible"|"ineligible"}`
/// (`node:write`).
async fn set_eligibility(
    State(api): State<Api>,
    Path(id): Path<String>,
    w: WriteOptions,
    access: Access,
    Body(mut c): Body<UpdateNodeEligibility>,
) -> Result<Write<NodeWriteResponse>, ApiError> {
    let who = access.identity()?;
    who.require_node_write()?;
    if c.node_id.is_empty() {
        c.node_id = id;
    } else if c.node_id != id {
        return Err(ApiError::bad_request(
            "NodeID in request body does not match request path",
        ));
    }
    let outcome = api
        .submit(Command::UpdateNodeEligibility(c), who.actor())
        .await?;
    Ok(Write::new(
        outcome.index,
        NodeWriteResponse::at(outcome.index),
        w.pretty,
    ))
}

/// `PUT /v1/engine/node/register` with `{"Node": {…}}` (R6 ingest, `node:write`).
async fn register(
    State(api): State<Api>,
    w: WriteOptions,
    access: Access,
    Body(c): Body<RegisterNode>,
) -> Result<Write<NodeWriteResponse>, ApiError> {
    let who = access.identity()?;
    who.require_node_write()?;
    let outcome = api
        .submit(Command::RegisterNode(c), who.actor_as(actor_kind::CLIENT))
        .await?;
    Ok(Write::new(
        outcome.index,
        NodeWriteResponse::at(outcome.index),
        w.pretty,
    ))
}

/// `PUT /v1/engine/node/deregister` with `{"NodeIDs": […]}` (R6 ingest, `node:write`).
async fn deregister(
    State(api): State<Api>,
    w: WriteOptions,
    access: Access,
    Body(c): Body<DeregisterNodes>,
) -> Result<Write<NodeWriteResponse>, ApiError> {
    let who = access.identity()?;
    who.require_node_write()?;
    let outcome = api
        .submit(
            Command::DeregisterNodes(c),
            who.actor_as(actor_kind::CLIENT),
        )
        .await?;
    Ok(Write::new(
        outcome.index,
        NodeWriteResponse::at(outcome.index),
        w.pretty,
    ))
}
