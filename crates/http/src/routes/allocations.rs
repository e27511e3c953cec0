//! Allocations (`http-api.md` §7.4, §7.6): list and read; stop one (AS1), which the
//! scheduler then replaces.

use crate::acl::{Access, Identity};
use crate::blocking::{self, Reply};
use crate::dry_run::{self, Answer};
use crate::error::ApiError;
use crate::ids;
use crate::pagination::{paginate, Token};
use crate::query::QueryOptions;
use crate::query::WriteOptions;
use crate::response::Read;
use crate::response::Write;
use crate::server::Api;
use crate::views::{alloc_stub, AllocListItem, AllocationView};
use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::Router;
use rollout_engine::acl::Capability;
use rollout_engine::command::StopAllocation;
use rollout_engine::model::Allocation;
use rollout_engine::{Command, Error, Outcome, State as EngineState};
use serde::Serialize;
use std::sync::Arc;
use uuid::Uuid;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/allocations", get(list))
        .route("/v1/allocation/{id}", get(read))
        .route("/v1/allocation/{id}/stop", put(stop).post(stop))
}

/// `GET /v1/allocations[?resources=true][&task_states=false]`.
async fn list(
    State(api): State<Api>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Vec<AllocListItem>>, ApiError> {
    let prefix = q.uuid_prefix()?;
    let who = access.identity()?;
    let check = |who: &Identity| who.require_read(&q.namespace);
    check(&who)?;
    let resources = q.params.bool("resources")?;
    // Task states are included unless explicitly turned off.
    let task_states =
        q.params.non_empty("task_states").is_none() || q.params.bool("task_states")?;
    let item = |state: &EngineState, a: &Arc<Allocation>| {
        let mut stub = alloc_stub(state, a);
        if !task_states {
            stub.task_states = None;
        }
        AllocListItem {
            stub,
            allocated_resources: if resources {
                a.allocated_resources.as_ref().map(|r| r.value())
            } else {
                None
            },
        }
    };
    let reply = blocking::query(&api, &q, &who, check, |state, who| {
        let readable = |a: &&Arc<Allocation>| who.can_read(&a.namespace);
        let page = match &prefix {
            Some(p) => {
                let allocs: Vec<&Arc<Allocation>> = state
                    .allocs_by_prefix(p)
                    .filter(|a| q.namespace == "*" || a.namespace == q.namespace)
                    .filter(readable)
                    .collect();
                paginate(allocs.into_iter(), &q.page, |a| Token::id(a.id))
            }
            None => paginate(
                state
                    .allocs_in_namespace(q.namespace_selector())
                    .into_iter()
                    .filter(readable),
                &q.page,
                |a| Token::created(a.create_index, a.id),
            ),
        };
        let items = page.items.into_iter().map(|a| item(state, a)).collect();
        Reply::ok(state.table_indexes().allocs, items).with_next_token(page.next_token)
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// `GET /v1/allocation/:id`: the allocation with its job embedded, looked up by ID in
/// every namespace. The token must read jobs in the request's namespace (403); an
/// allocation in a namespace it may not read is hidden (404).
async fn read(
    State(api): State<Api>,
    Path(id): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<AllocationView>, ApiError> {
    let id = ids::parse("alloc", &id)?;
    let who = access.identity()?;
    let check = |who: &Identity| who.require_read(&q.namespace);
    check(&who)?;
    let reply = blocking::query_one(
        &api,
        &q,
        &who,
        check,
        "alloc not found",
        |t| t.allocs,
        |state, who| {
            let alloc = state.alloc(&id).filter(|a| who.can_read(&a.namespace))?;
            Some((alloc.modify_index, AllocationView::new(state, alloc)))
        },
    )
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// Nomad's `AllocStopResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocStopResponse {
    #[serde(rename = "EvalID")]
    eval_id: Option<Uuid>,
    index: u64,
}

impl AllocStopResponse {
    fn of(outcome: &Outcome) -> AllocStopResponse {
        AllocStopResponse {
            eval_id: outcome.eval_id,
            index: outcome.index,
        }
    }
}

/// `POST /v1/allocation/:id/stop[?no_shutdown_delay=true]` (AS1): needs
/// `alloc-lifecycle` in the allocation's namespace. An allocation the token may not
/// even read is 404, like one that does not exist; `?dry_run=true` answers what the stop
/// would do (R10).
async fn stop(
    State(api): State<Api>,
    Path(id): Path<String>,
    w: WriteOptions,
    access: Access,
) -> Result<Write<Answer<AllocStopResponse>>, ApiError> {
    let id = ids::parse("alloc", &id)?;
    let who = access.identity()?;
    let namespace = api
        .state()
        .alloc(&id)
        .filter(|a| who.can_read(&a.namespace))
        .map(|a| a.namespace.clone())
        .ok_or(Error::AllocNotFound)?;
    who.require(&namespace, &[Capability::AllocLifecycle])?;
    let command = Command::StopAllocation(StopAllocation {
        alloc_id: id,
        no_shutdown_delay: w.params.bool("no_shutdown_delay")?,
    });
    let (index, answer) =
        dry_run::submit(&api, &w, command, who.actor(), AllocStopResponse::of).await?;
    Ok(Write::new(index, answer, w.pretty))
}
