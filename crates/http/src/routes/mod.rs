//! The HTTP routes, one module per API concept. Handlers are thin: typed extractors
//! parse and validate the request, one engine read or command does the work, and the
//! answer goes out through `response` (success) or `error` (everything else).
//!
//! Paths and methods follow `http-api.md` §1: PUT and POST are interchangeable wherever a
//! write is accepted; a wrong method is 405 `Invalid method`; an unknown path is 404
//! with a text naming what rollout does not implement. The web page (`/ui`, and `/`
//! redirecting to it) is served from files embedded at build time (`ui`).

mod acl;
mod agent;
mod allocations;
mod deployment_history;
mod deployments;
mod engine;
mod evaluations;
mod events;
mod job_launch;
mod job_scale;
mod jobs;
mod jobspec;
mod namespaces;
mod nodes;
mod operator;
mod status;
mod ui;

use crate::body;
use crate::error;
use crate::limits;
use crate::metrics;
use crate::server::Api;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::{middleware, Router};

pub fn router(api: Api) -> Router {
    let routes = Router::new()
        .merge(deployments::routes())
        .merge(jobs::routes())
        .merge(job_scale::routes())
        .merge(job_launch::routes())
        .merge(jobspec::routes())
        .merge(evaluations::routes())
        .merge(allocations::routes())
        .merge(engine::routes())
        .merge(agent::routes())
        .merge(acl::routes())
        .merge(events::routes())
        .merge(status::routes())
        .merge(namespaces::routes())
        .merge(nodes::routes())
        .merge(operator::routes())
        .merge(ui::routes())
        .method_not_allowed_fallback(error::invalid_method)
        .fallback(error::not_found);
    // A cluster member's reads wait for the read index and report what the member knows
    // of the leader; a single agent is its own leader, and skips both layers (each layer
    // costs every request a boxed clone of the stack beneath it).
    let routes = if api.backend().cluster().is_some() {
        routes
            .layer(middleware::from_fn_with_state(
                api.clone(),
                status::consistent_reads,
            ))
            .layer(middleware::from_fn_with_state(
                api.clone(),
                status::cluster_query_meta,
            ))
    } else {
        routes
    };
    routes
        .layer(DefaultBodyLimit::max(api.config().max_body_bytes))
        .layer(middleware::from_fn_with_state(api.clone(), admission))
        .with_state(api)
}

/// What every request goes through before its route, in this order, as one layer (each
/// `from_fn` layer costs every request a boxed clone of the stack beneath it and a boxed
/// future; merging four and dropping the two a single agent does not need saved about 6 %
/// of a read's CPU, BENCHMARKS.md "HTTP API"):
/// 1. `metrics::track` around everything, so that refusals for load are counted and
///    logged too;
/// 2. `body::receive`: bodies are received before a request takes a slot, and always in
///    full;
/// 3. `limits::limit_requests`: the concurrency limit;
/// 4. `status::refuse_other_regions`.
async fn admission(State(api): State<Api>, request: Request, next: Next) -> Response {
    let api = &api;
    metrics::track(api, request, |request| {
        body::receive(api, request, |request| {
            limits::limit_requests(api, request, |request| {
                status::refuse_other_regions(api, request, |request| next.run(request))
            })
        })
    })
    .await
}
