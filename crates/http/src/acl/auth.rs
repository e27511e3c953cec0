//! Who is asking (`http-api.md` §8.1–§8.2): the request's token, resolved against the
//! current state into an [`Identity`] whose checks every handler calls.
//!
//! [`Access`] is an extractor that never rejects: Nomad decodes the query and the body
//! before the RPC authenticates, so a malformed request gets its 400 even without a
//! valid token. Handlers call [`Access::identity`] (403 for an unknown, expired or
//! garbage token) at the point Nomad's RPC would, then the capability checks.

use crate::error::ApiError;
use crate::server::Api;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use rollout_engine::acl::{resolve, Acl, AclToken, Capability};
use rollout_engine::model::UnixNanos;
use rollout_engine::{actor_kind, Actor, State};
use std::sync::Arc;

/// The token header Nomad clients send.
pub const X_NOMAD_TOKEN: &str = "x-nomad-token";

/// The secret a request presents: `X-Nomad-Token` (trimmed) when non-empty, else the
/// first word after `Authorization: Bearer` (scheme case-insensitive); `""` for none.
/// `None` when a header is not even text: no token can match it.
pub fn request_secret(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get(X_NOMAD_TOKEN) {
        let v = v.to_str().ok()?.trim();
        if !v.is_empty() {
            return Some(v.to_string());
        }
    }
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION) {
        let mut words = v.to_str().ok()?.split_whitespace();
        if let (Some(scheme), Some(token)) = (words.next(), words.next()) {
            if scheme.eq_ignore_ascii_case("bearer") {
                return Some(token.to_string());
            }
        }
    }
    Some(String::new())
}

/// The requester, resolved when the request arrives and again whenever a blocking query
/// wakes ([`Identity::refreshed`]): a token revoked while a query waited no longer reads.
#[derive(Clone, Debug)]
pub struct Identity {
    /// `None` when ACLs are disabled: everything is allowed.
    acl: Option<Acl>,
    /// The token presented; `None` for the anonymous token (or ACLs disabled).
    pub token: Option<Arc<AclToken>>,
    /// The presented secret, to echo to its owner (never logged).
    secret: String,
}

impl Identity {
    /// Who this requester is in the audit trail (issue 16): an operator, with its
    /// token's `AccessorID` and `Name` — never its secret. Without a token (ACLs off, or
    /// the anonymous token) an operator and nothing more.
    pub fn actor(&self) -> Actor {
        self.actor_as(actor_kind::OPERATOR)
    }

    /// [`Identity::actor`] as another kind of writer: the ingest routes are the
    /// scheduler's and the clients' (plans and acks, allocation and node updates), and
    /// are recorded as theirs, with the token they presented.
    pub fn actor_as(&self, kind: &str) -> Actor {
        match &self.token {
            Some(t) => Actor {
                kind: kind.to_string(),
                accessor_id: Some(t.accessor_id),
                name: t.name.clone(),
            },
            None => Actor {
                kind: kind.to_string(),
                ..Actor::default()
            },
        }
    }

    fn disabled() -> Identity {
        Identity {
            acl: None,
            token: None,
            secret: String::new(),
        }
    }

    /// The same requester resolved again against `state` at `now`: a token deleted or
    /// expired since is 403, and a changed policy gives the rights it grants now.
    pub fn refreshed(&self, state: &State, now: UnixNanos) -> Result<Identity, ApiError> {
        if self.acl.is_none() {
            return Ok(self.clone());
        }
        match resolve(state, &self.secret, now) {
            Ok(r) => Ok(Identity {
                acl: Some(r.acl),
                token: r.token,
                secret: self.secret.clone(),
            }),
            Err(_) => Err(ApiError::permission_denied()),
        }
    }

    pub fn is_management(&self) -> bool {
        self.acl.as_ref().is_none_or(Acl::is_management)
    }

    /// May the requester do any of `ops` in `namespace` (`*`: in some namespace)?
    pub fn allows(&self, namespace: &str, ops: &[Capability]) -> bool {
        self.acl
            .as_ref()
            .is_none_or(|acl| acl.allow_any(namespace, ops))
    }

    /// Any capability at all in `namespace` (Nomad's `AllowNamespace`): what reading a
    /// namespace needs.
    pub fn allows_namespace(&self, namespace: &str) -> bool {
        self.acl
            .as_ref()
            .is_none_or(|acl| acl.allow_namespace(namespace))
    }

    /// `read-job` in `namespace`: what every read needs.
    pub fn can_read(&self, namespace: &str) -> bool {
        self.allows(namespace, &[Capability::ReadJob])
    }

    /// 403 `Permission denied` unless one of `ops` is allowed in `namespace`.
    pub fn require(&self, namespace: &str, ops: &[Capability]) -> Result<(), ApiError> {
        if self.allows(namespace, ops) {
            Ok(())
        } else {
            Err(ApiError::permission_denied())
        }
    }

    /// 403 unless the requester may read jobs in the request's namespace (for `*`: in
    /// at least one).
    pub fn require_read(&self, namespace: &str) -> Result<(), ApiError> {
        self.require(namespace, &[Capability::ReadJob])
    }

    /// 403 unless the coarse rule `allowed` picks out of the token's ACL holds (a disabled
    /// ACL system allows everything).
    fn require_level(&self, allowed: impl Fn(&Acl) -> bool) -> Result<(), ApiError> {
        if self.acl.as_ref().is_none_or(allowed) {
            Ok(())
        } else {
            Err(ApiError::permission_denied())
        }
    }

    /// `agent:read` (`/v1/agent/self`, `/v1/agent/members`).
    pub fn require_agent_read(&self) -> Result<(), ApiError> {
        self.require_level(Acl::allow_agent_read)
    }

    /// `node:read` (`/v1/nodes`, `/v1/node/:id`).
    pub fn require_node_read(&self) -> Result<(), ApiError> {
        self.require_level(Acl::allow_node_read)
    }

    /// `node:write` (node registration through the ingest API).
    pub fn require_node_write(&self) -> Result<(), ApiError> {
        self.require_level(Acl::allow_node_write)
    }

    /// `operator:read` (the Raft configuration).
    pub fn require_operator_read(&self) -> Result<(), ApiError> {
        self.require_level(Acl::allow_operator_read)
    }

    /// `operator:write` (removing a Raft peer).
    pub fn require_operator_write(&self) -> Result<(), ApiError> {
        self.require_level(Acl::allow_operator_write)
    }

    pub fn require_management(&self) -> Result<(), ApiError> {
        if self.is_management() {
            Ok(())
        } else {
            Err(ApiError::permission_denied())
        }
    }

    /// The policies the requester holds (the anonymous token holds `anonymous`).
    pub fn policies(&self) -> Vec<String> {
        match &self.token {
            Some(t) => t.policies.clone(),
            None => vec![rollout_engine::acl::ANONYMOUS_POLICY.to_string()],
        }
    }

    /// The secret the requester presented, if it is `token`'s: the only case in which a
    /// secret is shown again after creation (a token reading itself).
    pub fn own_secret_of(&self, token: &AclToken) -> Option<&str> {
        (!self.secret.is_empty() && token.secret_hash.matches(&self.secret))
            .then_some(self.secret.as_str())
    }
}

/// The request's identity, or the 403 to answer with once it is needed.
#[derive(Debug)]
pub struct Access(Result<Identity, ApiError>);

impl Access {
    /// The identity, or 403 `Permission denied` for a token that does not resolve.
    pub fn identity(self) -> Result<Identity, ApiError> {
        self.0
    }

    /// The identity, which must read jobs in `namespace` (403 otherwise): what the reads
    /// of a job and of its objects check first.
    pub fn reader_of(self, namespace: &str) -> Result<Identity, ApiError> {
        let who = self.0?;
        who.require_read(namespace)?;
        Ok(who)
    }
}

impl FromRequestParts<Api> for Access {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Access, Self::Rejection> {
        if !api.config().acl_enabled {
            return Ok(Access(Ok(Identity::disabled())));
        }
        let Some(secret) = request_secret(&parts.headers) else {
            return Ok(Access(Err(ApiError::permission_denied())));
        };
        let state = api.state();
        let resolved = resolve(&state, &secret, api.backend().now_ns());
        Ok(Access(match resolved {
            Ok(r) => Ok(Identity {
                acl: Some(r.acl),
                token: r.token,
                secret,
            }),
            // Unknown, expired or malformed: Nomad's RPCs all answer `Permission denied`.
            Err(_) => Err(ApiError::permission_denied()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn token_sources_in_nomads_order() {
        assert_eq!(request_secret(&headers(&[])).unwrap(), "");
        assert_eq!(
            request_secret(&headers(&[("x-nomad-token", "  abc  ")])).unwrap(),
            "abc"
        );
        assert_eq!(
            request_secret(&headers(&[
                ("x-nomad-token", "abc"),
                ("authorization", "Bearer def")
            ]))
            .unwrap(),
            "abc"
        );
        assert_eq!(
            request_secret(&headers(&[
                ("x-nomad-token", " "),
                ("authorization", "bEaReR def ghi")
            ]))
            .unwrap(),
            "def"
        );
        assert_eq!(
            request_secret(&headers(&[("authorization", "Basic dXNlcg==")])).unwrap(),
            ""
        );
        assert_eq!(
            request_secret(&headers(&[("authorization", "Bearer")])).unwrap(),
            ""
        );
    }
}
