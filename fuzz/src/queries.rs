//! The `query_params` target: query strings and path IDs of every read (and of the
//! deletes, which take only a path and a query).
//!
//! Input: `[endpoint][flags][id]\n[query]`. `endpoint % ENDPOINTS.len()` picks the
//! route; the last two are not routes: `raw` sends the `id` part as the whole path, and
//! `parsers` hands the query to the public parsers directly (UUID prefixes, RFC 3339
//! times, UUIDs). `flags & 3` picks the token ([`Auth`]); `flags >> 2 & 3` picks the ID in
//! the path like `json_bodies` does, where 3 means "the `id` bytes of the input". Without
//! a `\n` the whole rest is the query. Bytes a URI cannot hold are percent-encoded.

use crate::bodies::{path_id, IdKind};
use crate::http::{escape, send, Auth};
use axum::http::Method;

pub const ENDPOINTS: &[(Method, &str, IdKind)] = &[
    (Method::GET, "/v1/deployments", IdKind::None),
    (Method::GET, "/v1/deployment/{}", IdKind::Deployment),
    (
        Method::GET,
        "/v1/deployment/allocations/{}",
        IdKind::Deployment,
    ),
    (Method::GET, "/v1/jobs", IdKind::None),
    (Method::GET, "/v1/job/{}", IdKind::Job),
    (Method::GET, "/v1/job/{}/versions", IdKind::Job),
    (Method::GET, "/v1/job/{}/deployments", IdKind::Job),
    (Method::GET, "/v1/job/{}/deployment", IdKind::Job),
    (Method::GET, "/v1/job/{}/evaluations", IdKind::Job),
    (Method::GET, "/v1/job/{}/allocations", IdKind::Job),
    (Method::GET, "/v1/evaluations", IdKind::None),
    (Method::GET, "/v1/evaluation/{}", IdKind::Eval),
    (Method::GET, "/v1/evaluation/{}/allocations", IdKind::Eval),
    (Method::GET, "/v1/allocations", IdKind::None),
    (Method::GET, "/v1/allocation/{}", IdKind::Deployment),
    (Method::GET, "/v1/engine/plan/{}", IdKind::Eval),
    (Method::GET, "/v1/acl/policies", IdKind::None),
    (Method::GET, "/v1/acl/policy/{}", IdKind::Policy),
    (Method::GET, "/v1/acl/tokens", IdKind::None),
    (Method::GET, "/v1/acl/token/{}", IdKind::Accessor),
    (Method::GET, "/v1/acl/token/self", IdKind::None),
    (Method::GET, "/v1/agent/health", IdKind::None),
    (Method::GET, "/v1/metrics", IdKind::None),
    (Method::DELETE, "/v1/job/{}", IdKind::Job),
    (Method::DELETE, "/v1/acl/policy/{}", IdKind::Policy),
    (Method::DELETE, "/v1/acl/token/{}", IdKind::Accessor),
    (Method::GET, "raw", IdKind::None),
    (Method::GET, "parsers", IdKind::None),
];

pub fn run(data: &[u8]) {
    let [endpoint, flags, rest @ ..] = data else {
        return;
    };
    let (id_bytes, query) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&rest[..0], rest),
    };
    let (method, route, kind) = &ENDPOINTS[*endpoint as usize % ENDPOINTS.len()];
    let auth = Auth::from_bits(*flags);
    let query = escape(query, true);
    match *route {
        "parsers" => {
            let text = String::from_utf8_lossy(rest);
            let _ = rollout_engine::state::Prefix::parse(&text).map(|p| p.bounds());
            let _ = rollout_engine::model::time::parse_rfc3339(&text);
            let _ = uuid::Uuid::try_parse(&text);
        }
        "raw" => {
            let path = format!("/{}", escape(id_bytes, true).trim_start_matches('/'));
            let uri = if query.is_empty() {
                path
            } else {
                format!("{path}?{query}")
            };
            send(Method::GET, &uri, auth, Vec::new());
        }
        route => {
            let id = match (flags >> 2) & 3 {
                3 => escape(id_bytes, false),
                choice => escape(path_id(*kind, choice).as_bytes(), false),
            };
            let path = route.replace("{}", &id);
            let uri = if query.is_empty() {
                path
            } else {
                format!("{path}?{query}")
            };
            send(method.clone(), &uri, auth, Vec::new());
        }
    }
}
