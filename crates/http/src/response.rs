//! Successful answers: JSON bodies and Nomad's headers (`http-api.md` §4).
//!
//! Reads carry `X-Nomad-Index`, `X-Nomad-KnownLeader: true` (a single agent is always
//! its own leader), `X-Nomad-LastContact: 0` and, when there is a next page,
//! `X-Nomad-NextToken` — on errors after the query ran too (a 404 still says at which
//! index it was not found). Writes carry only `X-Nomad-Index`. `?pretty` indents with
//! four spaces and ends with a newline, as Nomad's encoder does.

use crate::blocking::Reply;
use crate::error::ApiError;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub const X_NOMAD_INDEX: HeaderName = HeaderName::from_static("x-nomad-index");
pub const X_NOMAD_KNOWN_LEADER: HeaderName = HeaderName::from_static("x-nomad-knownleader");
pub const X_NOMAD_LAST_CONTACT: HeaderName = HeaderName::from_static("x-nomad-lastcontact");
pub const X_NOMAD_NEXT_TOKEN: HeaderName = HeaderName::from_static("x-nomad-nexttoken");

/// Encodes a body as Nomad does: compact, or indented by four spaces plus a newline.
pub fn to_json<T: Serialize + ?Sized>(value: &T, pretty: bool) -> Result<Vec<u8>, ApiError> {
    let result = if pretty {
        let mut out = Vec::with_capacity(256);
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        value.serialize(&mut serializer).map(|()| {
            out.push(b'\n');
            out
        })
    } else {
        serde_json::to_vec(value)
    };
    result.map_err(|e| ApiError::internal(format!("failed to encode response: {e}")))
}

fn json_response(bytes: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn query_meta(headers: &mut HeaderMap, index: u64, known_leader: bool, next_token: Option<&str>) {
    headers.insert(X_NOMAD_INDEX, HeaderValue::from(index));
    let known_leader = if known_leader { "true" } else { "false" };
    headers.insert(X_NOMAD_KNOWN_LEADER, HeaderValue::from_static(known_leader));
    headers.insert(X_NOMAD_LAST_CONTACT, HeaderValue::from_static("0"));
    if let Some(token) = next_token {
        if let Ok(value) = HeaderValue::from_str(token) {
            headers.insert(X_NOMAD_NEXT_TOKEN, value);
        }
    }
}

/// The answer to a read.
pub struct Read<T> {
    reply: Reply<T>,
    pretty: bool,
}

impl<T> Read<T> {
    pub fn new(reply: Reply<T>, pretty: bool) -> Read<T> {
        Read { reply, pretty }
    }
}

impl<T: Serialize> IntoResponse for Read<T> {
    fn into_response(self) -> Response {
        let index = self.reply.reported_index();
        let mut response = match self.reply.body.and_then(|b| to_json(&b, self.pretty)) {
            Ok(bytes) => json_response(bytes),
            Err(e) => e.into_response(),
        };
        query_meta(
            response.headers_mut(),
            index,
            true,
            self.reply.next_token.as_deref(),
        );
        response
    }
}

/// The answer of writes that return nothing: 200, empty body, no `Content-Type`.
pub struct Empty {
    pub index: u64,
}

impl IntoResponse for Empty {
    fn into_response(self) -> Response {
        let mut response = StatusCode::OK.into_response();
        response
            .headers_mut()
            .insert(X_NOMAD_INDEX, HeaderValue::from(self.index));
        response
    }
}

/// A JSON answer with no query meta: the agent and status endpoints, which Nomad answers
/// from the local agent without a state index.
pub struct Json<T> {
    body: T,
    pretty: bool,
}

impl<T> Json<T> {
    pub fn new(body: T, pretty: bool) -> Json<T> {
        Json { body, pretty }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match to_json(&self.body, self.pretty) {
            Ok(bytes) => json_response(bytes),
            Err(e) => e.into_response(),
        }
    }
}

/// The answer to a write: the body and the index the command was applied at.
pub struct Write<T> {
    index: u64,
    body: T,
    pretty: bool,
    /// `/v1/job/:id/revert` also sends the read headers, from the write's zero query
    /// meta (Nomad calls `setMeta` there).
    query_meta: bool,
}

impl<T> Write<T> {
    pub fn new(index: u64, body: T, pretty: bool) -> Write<T> {
        Write {
            index,
            body,
            pretty,
            query_meta: false,
        }
    }

    pub fn with_query_meta(mut self) -> Write<T> {
        self.query_meta = true;
        self
    }
}

impl<T: Serialize> IntoResponse for Write<T> {
    fn into_response(self) -> Response {
        let mut response = match to_json(&self.body, self.pretty) {
            Ok(bytes) => json_response(bytes),
            Err(e) => return e.into_response(),
        };
        if self.query_meta {
            // The zero query meta of a write response: Nomad sends `KnownLeader: false`.
            query_meta(response.headers_mut(), self.index, false, None);
        } else {
            response
                .headers_mut()
                .insert(X_NOMAD_INDEX, HeaderValue::from(self.index));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_is_four_spaces_and_a_newline() {
        let v = serde_json::json!({"A": [1]});
        assert_eq!(to_json(&v, false).unwrap(), br#"{"A":[1]}"#);
        assert_eq!(
            String::from_utf8(to_json(&v, true).unwrap()).unwrap(),
            "{\n    \"A\": [\n        1\n    ]\n}\n"
        );
    }

    #[test]
    fn html_is_not_escaped() {
        let v = serde_json::json!({"A": "<&>"});
        assert_eq!(to_json(&v, false).unwrap(), br#"{"A":"<&>"}"#);
    }
}
