//! Evaluations (`http-api.md` §7.5): list (with `job` and `status` filters), read, and
//! the allocations an evaluation placed. Acknowledging one is a scheduler write and
//! lives with the other ingest endpoints (`engine`).

use crate::acl::{Access, Identity};
use crate::blocking::{self, Reply};
use crate::error::ApiError;
use crate::ids;
use crate::pagination::{paginate, Token};
use crate::query::QueryOptions;
use crate::response::Read;
use crate::server::Api;
use crate::views::stored_alloc_stub;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use rollout_engine::model::{AllocListStub, Evaluation};
use std::sync::Arc;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/evaluations", get(list))
        .route("/v1/evaluation/{id}", get(read))
        .route("/v1/evaluation/{id}/allocations", get(allocations))
}

fn in_namespace(selector: &str, namespace: &str) -> bool {
    selector == "*" || selector == namespace
}

/// `GET /v1/evaluations[?job=…&status=…]`.
async fn list(
    State(api): State<Api>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Vec<Arc<Evaluation>>>, ApiError> {
    let prefix = q.uuid_prefix()?;
    let job = q.params.non_empty("job");
    let status = q.params.non_empty("status");
    let who = access.identity()?;
    let check = |who: &Identity| who.require_read(&q.namespace);
    check(&who)?;
    let reply = blocking::query(&api, &q, &who, check, |state, who| {
        let wanted = |e: &&Arc<Evaluation>| {
            in_namespace(&q.namespace, &e.namespace)
                && who.can_read(&e.namespace)
                && job.is_none_or(|j| e.job_id == j)
                && status.is_none_or(|s| e.status == s)
        };
        let page = match &prefix {
            Some(p) => {
                let evals: Vec<&Arc<Evaluation>> =
                    state.evals_by_prefix(p).filter(wanted).collect();
                paginate(evals.into_iter().cloned(), &q.page, |e| Token::id(e.id))
            }
            None => {
                let evals: Vec<&Arc<Evaluation>> = state
                    .evals_in_namespace(q.namespace_selector())
                    .into_iter()
                    .filter(wanted)
                    .collect();
                paginate(evals.into_iter().cloned(), &q.page, |e| {
                    Token::created(e.create_index, e.id)
                })
            }
        };
        Reply::ok(state.table_indexes().evals, page.items).with_next_token(page.next_token)
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// `GET /v1/evaluation/:id`.
async fn read(
    State(api): State<Api>,
    Path(id): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Arc<Evaluation>>, ApiError> {
    let id = ids::parse("eval", &id)?;
    let who = access.reader_of(&q.namespace)?;
    let reply = blocking::query_one(
        &api,
        &q,
        &who,
        |who| who.require_read(&q.namespace),
        "eval not found",
        |t| t.evals,
        |state, who| {
            state
                .eval(&id)
                .filter(|e| who.can_read(&e.namespace))
                .map(|e| (e.modify_index, e.clone()))
        },
    )
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// `GET /v1/evaluation/:id/allocations`: `[]` for an unknown evaluation.
async fn allocations(
    State(api): State<Api>,
    Path(id): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Vec<AllocListStub>>, ApiError> {
    let id = ids::parse("eval", &id)?;
    let who = access.reader_of(&q.namespace)?;
    let check = |who: &Identity| who.require_read(&q.namespace);
    let reply = blocking::query(&api, &q, &who, check, |state, who| {
        let stubs: Vec<AllocListStub> = match state.eval(&id).filter(|e| who.can_read(&e.namespace))
        {
            Some(_) => state
                .eval_allocs(&id)
                .map(|a| stored_alloc_stub(state, a))
                .collect(),
            None => Vec::new(),
        };
        Reply::ok(state.table_indexes().allocs, stubs)
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}
