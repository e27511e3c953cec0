//! The `json_bodies` target: every request body the API decodes, sent to its endpoint.
//!
//! Input: `[endpoint][flags][body …]`. `endpoint % ENDPOINTS.len()` picks the route
//! (the last one is not a route: the body goes straight to the ACL policy rules parser,
//! HCL or JSON). `flags & 3` picks the token ([`Auth`]), bit 2 sends POST instead of
//! PUT, bits 3–4 pick the ID in the path (see [`path_id`]). The body is the rest.

use crate::http::{escape, fixture, send, Auth, POLICY};
use axum::http::Method;

/// Method-less routes that take a body; `{}` is the ID from [`path_id`].
pub const ENDPOINTS: &[(&str, IdKind)] = &[
    ("/v1/jobs", IdKind::None),
    ("/v1/job/{}", IdKind::Job),
    ("/v1/job/{}/revert", IdKind::Job),
    ("/v1/job/{}/stable", IdKind::Job),
    ("/v1/deployment/pause/{}", IdKind::Deployment),
    ("/v1/deployment/promote/{}", IdKind::Deployment),
    ("/v1/deployment/allocation-health/{}", IdKind::Deployment),
    ("/v1/deployment/unblock/{}", IdKind::Deployment),
    ("/v1/deployment/fail/{}", IdKind::Deployment),
    ("/v1/engine/plan", IdKind::None),
    ("/v1/engine/allocations/update", IdKind::None),
    ("/v1/evaluation/{}/ack", IdKind::Eval),
    ("/v1/acl/bootstrap", IdKind::None),
    ("/v1/acl/policy/{}", IdKind::Policy),
    ("/v1/acl/token", IdKind::None),
    ("/v1/acl/token/{}", IdKind::Accessor),
    // Not a route: ACL policy rules (HCL or JSON) through `parse_rules`.
    ("rules", IdKind::None),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    None,
    Job,
    Deployment,
    Eval,
    Policy,
    Accessor,
}

/// The ID in a path: the fixture's (0), a second one of the same kind (1), an unknown
/// well-formed one (2) or a malformed one (3).
pub fn path_id(kind: IdKind, choice: u8) -> String {
    let fx = fixture();
    let unknown = "00000000-0000-4000-8000-00000000bad0";
    let (main, second): (String, String) = match kind {
        IdKind::None => return String::new(),
        IdKind::Job => (fx.job.clone(), "api".into()),
        IdKind::Deployment => (fx.deployment.to_string(), fx.old_deployment.to_string()),
        IdKind::Eval => (fx.eval.to_string(), fx.deployment.to_string()),
        IdKind::Policy => (POLICY.into(), "fuzz".into()),
        IdKind::Accessor => (
            crate::http::CLIENT_ACCESSOR.to_string(),
            crate::http::MANAGEMENT_ACCESSOR.to_string(),
        ),
    };
    match choice % 4 {
        0 => main,
        1 => second,
        2 => unknown.into(),
        _ => "not-a-uuid".into(),
    }
}

pub fn run(data: &[u8]) {
    let [endpoint, flags, body @ ..] = data else {
        return;
    };
    let (route, kind) = ENDPOINTS[*endpoint as usize % ENDPOINTS.len()];
    if route == "rules" {
        let _ = rollout_http::acl::rules::parse_rules(&String::from_utf8_lossy(body));
        return;
    }
    let id = escape(path_id(kind, flags >> 3).as_bytes(), false);
    let path = route.replace("{}", &id);
    let method = if flags & 4 != 0 {
        Method::POST
    } else {
        Method::PUT
    };
    send(method, &path, Auth::from_bits(*flags), body.to_vec());
}
