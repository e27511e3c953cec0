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
use axum::extract::DefaultBodyLimit;
use axum::{middleware, Router};

pub fn router(api: Api) -> Router {
    Router::new()
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
        .fallback(error::not_found)
        .layer(middleware::from_fn_with_state(
            api.clone(),
            status::consistent_reads,
        ))
        .layer(middleware::from_fn_with_state(
            api.clone(),
            status::cluster_query_meta,
        ))
        .layer(middleware::from_fn_with_state(
            api.clone(),
            status::refuse_other_regions,
        ))
        .layer(DefaultBodyLimit::max(api.config().max_body_bytes))
        // Inside the metrics layer, so that refusals for load are counted and logged.
        .layer(middleware::from_fn_with_state(
            api.clone(),
            limits::limit_requests,
        ))
        // Bodies are received before a request takes a slot, and always in full.
        .layer(middleware::from_fn_with_state(api.clone(), body::receive))
        .layer(middleware::from_fn_with_state(api.clone(), metrics::track))
        .with_state(api)
}
