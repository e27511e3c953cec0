//! `GET /v1/event/stream` (`http-api.md` §9).

use crate::acl::Access;
use crate::error::ApiError;
use crate::events::stream;
use crate::events::subscription::Subscription;
use crate::query::Params;
use crate::server::Api;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::convert::Infallible;
use tokio::sync::mpsc;

/// Lines a subscriber's task may have queued for the socket beyond what the socket
/// takes; past that the task waits, and the frames pile up in the shared ring instead,
/// where falling a whole ring behind ends the stream.
const LINES_QUEUED: usize = 16;

pub fn routes() -> Router<Api> {
    Router::new().route("/v1/event/stream", get(stream))
}

/// Parses the query (400s first, as Nomad), checks the token against every topic asked
/// for (403 before anything is streamed), then streams.
async fn stream(
    State(api): State<Api>,
    RawQuery(query): RawQuery,
    access: Access,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let sub = Subscription::parse(&params)?;
    let who = access.identity()?;
    sub.topics.authorize(&who, sub.namespace())?;
    if api.is_shutting_down() {
        return Err(ApiError::unavailable("the agent is shutting down"));
    }
    let (tx, mut rx) = mpsc::channel::<Bytes>(LINES_QUEUED);
    api.metrics().event_subscriber(1);
    let guard = SubscriberGauge(api.clone());
    tokio::spawn(async move {
        let _gauge = guard;
        stream::run(api, std::sync::Arc::new(sub), who, tx).await;
    });
    let lines = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|line| line.map(Ok::<_, Infallible>))
    });
    let mut response = Response::new(Body::from_stream(lines));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// Counts a subscriber in `/v1/metrics` for as long as its task runs.
struct SubscriberGauge(Api);

impl Drop for SubscriberGauge {
    fn drop(&mut self) {
        self.0.metrics().event_subscriber(-1);
    }
}
