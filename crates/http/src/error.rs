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
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
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
            BackendError::Unavailable(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, m),
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
        response
    }
}

/// Handlers for the router's edges: an unknown path is a bare 404 with an empty body,
/// as Nomad's mux answers; a known path with the wrong method is 405 `Invalid method`.
pub async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
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
}
