//! The one place where failures become HTTP responses (R1).
//!
//! Bodies are Nomad's plain-text messages, byte for byte (no JSON, no trailing newline);
//! the status codes are rollout's meaningful ones (semantics §8 decision 13): 400 for
//! malformed input, 404 for unknown objects, 409 when the state refuses the request, 405
//! for a wrong method, and 500 only for real faults, which are logged.

use crate::backend::BackendError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rollout_engine::ErrorKind;

/// An error answer: a status code and Nomad's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds a client should wait before trying again (`Retry-After`): set on the
    /// answers to load (429, 503), so that well-behaved clients back off instead of
    /// hammering an agent at capacity.
    pub retry_after_s: Option<u32>,
}

/// What overload answers suggest as `Retry-After`: long enough for a full queue or a
/// busy writer to drain (a group commit takes milliseconds), short enough that a retry
/// is not a noticeable stall.
pub const RETRY_AFTER_S: u32 = 1;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after_s: None,
        }
    }

    /// 503 with `Retry-After`: the agent is at capacity (a full store queue, every
    /// request slot taken) or shutting down; the request changed nothing.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message).retry_after(RETRY_AFTER_S)
    }

    /// 429 with `Retry-After`: this client is over its own share (blocking queries,
    /// connections), whatever the load of others.
    pub fn too_many_requests(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, message).retry_after(RETRY_AFTER_S)
    }

    /// 413: the request is larger than a limit allows.
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    pub fn retry_after(mut self, seconds: u32) -> ApiError {
        self.retry_after_s = Some(seconds);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// A fault of ours, not of the request: logged here so that no caller forgets.
    pub fn internal(message: impl Into<String>) -> ApiError {
        let message = message.into();
        tracing::error!(error = %message, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// A 500 that is the request's doing, not ours (`No path to region`): not logged
    /// as an internal error.
    pub fn internal_quiet(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Invalid method")
    }

    /// Every ACL refusal (§8.2): unknown, expired or garbage tokens and missing
    /// capabilities alike.
    pub fn permission_denied() -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "Permission denied")
    }

    pub fn body_empty() -> ApiError {
        ApiError::bad_request("Request body is empty")
    }
}

impl From<rollout_engine::Error> for ApiError {
    fn from(e: rollout_engine::Error) -> ApiError {
        let status = match e.kind() {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            // A broken contract between the service and its engine: log it, answer 500.
            ErrorKind::Internal => return ApiError::internal(e.to_string()),
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> ApiError {
        match e {
            BackendError::Rejected(e) => e.into(),
            BackendError::NoLeader => ApiError::internal_quiet("No cluster leader"),
            BackendError::Unavailable(m) => ApiError::unavailable(m),
            BackendError::Internal(m) => ApiError::internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.message).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if let Some(seconds) = self.retry_after_s {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Handlers for the router's edges: a path rollout does not serve is 404 with a text
/// that says so (`rollout does not implement GET /v1/client/fs/logs`) — Nomad's own mux
/// answers an empty body, which leaves a user of a Nomad tool guessing whether the ID or
/// the endpoint was wrong; a known path with the wrong method is 405 `Invalid method`.
pub async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!(
        "rollout does not implement {method} {}",
        uri.path()
    ))
}

pub async fn invalid_method() -> ApiError {
    ApiError::method_not_allowed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollout_engine::Error;

    #[test]
    fn engine_errors_map_by_kind_with_nomad_texts() {
        let e: ApiError = Error::CantPromoteTerminal.into();
        assert_eq!(e.status, StatusCode::CONFLICT);
        assert_eq!(e.message, "can't promote terminal deployment");
        let e: ApiError = Error::DeploymentNotFound.into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let e: ApiError = Error::MissingAllocationIds.into();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn unavailable_backends_answer_503_with_retry_after() {
        let e: ApiError = BackendError::Unavailable("store overloaded".into()).into();
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        let response = e.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        let response = ApiError::bad_request("x").into_response();
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }
}
