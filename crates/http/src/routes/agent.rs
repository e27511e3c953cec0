//! The agent itself: health and metrics.

use crate::response::to_json;
use crate::server::Api;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/agent/health", get(health))
        .route("/v1/metrics", get(metrics))
}

/// `GET /v1/agent/health`: Nomad's server shape. While shutting down the agent answers
/// 500 so that load balancers stop sending it work; while its store refuses writes (a
/// commit failed and it is reopening the database), 503 with the reason.
async fn health(State(api): State<Api>) -> Response {
    let refusing = api.backend().refusing_writes();
    let (status, ok, message) = if api.is_shutting_down() {
        (StatusCode::INTERNAL_SERVER_ERROR, false, "shutting down")
    } else if let Some(why) = &refusing {
        (StatusCode::SERVICE_UNAVAILABLE, false, why.as_str())
    } else {
        (StatusCode::OK, true, "ok")
    };
    let body = json!({"server": {"message": message, "ok": ok}});
    match to_json(&body, false) {
        Ok(bytes) => {
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /v1/metrics`: Prometheus text, whatever `format` says (Nomad's JSON format is
/// not implemented; `?format=prometheus` is what scrapers send).
async fn metrics(State(api): State<Api>) -> Response {
    let mut text = api.metrics().render(api.state().index());
    api.limiter().render(&mut text);
    api.backend().render_metrics(&mut text);
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}
