//! The ACL API (`http-api.md` §8.5): bootstrap, policies and tokens.
//!
//! Every endpoint answers 400 `ACL support disabled` when the agent runs without ACLs.
//! Writes and token listing need a management token. A client token may list and read
//! the policies it holds (everyone may read `anonymous`) and read itself.
//!
//! Secrets: the engine stores only a hash of each token's secret, so a secret is shown
//! exactly when the caller already holds it or has just been given it — in the answer
//! to bootstrap and create, and when a token reads itself (`/v1/acl/token/self`, or its
//! own accessor). Everywhere else `SecretID` is `""` (Nomad would show it to management
//! tokens).

use crate::acl::rules::parse_rules;
use crate::acl::views::{PolicyStub, PolicyView, TokenStub, TokenView};
use crate::acl::{random_uuid, Access, Identity};
use crate::blocking::{self, Reply};
use crate::decode::{from_slice, Body};
use crate::error::ApiError;
use crate::pagination::{paginate, Token};
use crate::query::{parse_go_duration, QueryOptions, WriteOptions};
use crate::response::{Empty, Read, Write};
use crate::server::Api;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::Router;
use rollout_engine::acl::policy::validate_policy;
use rollout_engine::acl::{
    AclPolicyWrite, AclTokenWrite, BootstrapAcl, DeleteAclPolicies, DeleteAclTokens, JobAcl,
    SecretHash, UpsertAclPolicies, UpsertAclTokens, ANONYMOUS_POLICY,
};
use rollout_engine::model::time::parse_rfc3339;
use rollout_engine::{Actor, Command, Error};
use serde::Deserialize;
use std::sync::Arc;
use uuid::Uuid;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/acl/bootstrap", put(bootstrap).post(bootstrap))
        .route("/v1/acl/policies", get(list_policies))
        .route(
            "/v1/acl/policy/{name}",
            get(read_policy)
                .put(write_policy)
                .post(write_policy)
                .delete(delete_policy),
        )
        .route("/v1/acl/tokens", get(list_tokens))
        .route("/v1/acl/token", put(create_token).post(create_token))
        .route("/v1/acl/token/self", get(token_self))
        .route(
            "/v1/acl/token/{accessor}",
            get(read_token)
                .put(update_token)
                .post(update_token)
                .delete(delete_token),
        )
}

/// 400 `ACL support disabled` unless the agent runs with ACLs.
fn enabled(api: &Api) -> Result<(), ApiError> {
    if api.config().acl_enabled {
        Ok(())
    } else {
        Err(ApiError::bad_request("ACL support disabled"))
    }
}

// --- bootstrap -------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct BootstrapRequest {
    bootstrap_secret: String,
}

/// `PUT /v1/acl/bootstrap`: the first management token, once. The body is optional
/// (`{"BootstrapSecret": "<uuid>"}` chooses the secret). To bootstrap again, write the
/// reset index from the error into the agent's reset file.
async fn bootstrap(
    State(api): State<Api>,
    w: WriteOptions,
    body: Bytes,
) -> Result<Write<TokenView>, ApiError> {
    let req: BootstrapRequest = if body.is_empty() {
        BootstrapRequest::default()
    } else {
        from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("failed to decode request body: {e}")))?
    };
    enabled(&api)?;
    let secret = if req.bootstrap_secret.is_empty() {
        random_uuid()?.to_string()
    } else {
        Uuid::try_parse(&req.bootstrap_secret)
            .map_err(|_| ApiError::bad_request("invalid acl token"))?;
        req.bootstrap_secret
    };
    let accessor_id = random_uuid()?;
    let reset_index = if api.state().acl_indexes().bootstrap == 0 {
        0
    } else {
        api.bootstrap_reset_index()
    };
    let outcome = api
        .submit(
            Command::BootstrapAcl(BootstrapAcl {
                accessor_id,
                secret_hash: SecretHash::of(&secret),
                reset_index,
            }),
            Actor::anonymous_operator(),
        )
        .await?;
    let token = written_token(&api, &accessor_id)?;
    Ok(Write::new(
        outcome.index,
        TokenView::new(&token, Some(&secret)),
        w.pretty,
    ))
}

/// A token just written, read back from the state (Nomad does the same lookup).
fn written_token(
    api: &Api,
    accessor: &Uuid,
) -> Result<Arc<rollout_engine::acl::AclToken>, ApiError> {
    api.state()
        .acl_token(accessor)
        .cloned()
        .ok_or_else(|| ApiError::not_found("ACL token not found"))
}

// --- policies --------------------------------------------------------------------------------

/// `GET /v1/acl/policies`: all for management, else the requester's own policies.
async fn list_policies(
    State(api): State<Api>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Vec<PolicyStub>>, ApiError> {
    enabled(&api)?;
    let who = access.identity()?;
    let reply = blocking::query(
        &api,
        &q,
        &who,
        |_| Ok(()),
        |state, who| {
            let held = (!who.is_management()).then(|| who.policies());
            let stubs = state
                .acl_policies()
                .filter(|p| p.name.starts_with(&q.prefix))
                .filter(|p| held.as_ref().is_none_or(|h| h.contains(&p.name)))
                .map(|p| PolicyStub::new(p))
                .collect();
            Reply::ok(state.acl_indexes().policies, stubs)
        },
    )
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// `GET /v1/acl/policy/:name`: management, holders of the policy, and anyone for
/// `anonymous`.
async fn read_policy(
    State(api): State<Api>,
    Path(name): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<PolicyView>, ApiError> {
    enabled(&api)?;
    let who = access.identity()?;
    let check = |who: &Identity| {
        if who.is_management() || name == ANONYMOUS_POLICY || who.policies().contains(&name) {
            Ok(())
        } else {
            Err(ApiError::permission_denied())
        }
    };
    check(&who)?;
    let reply = blocking::query(&api, &q, &who, check, |state, _| {
        match state.acl_policy(&name) {
            Some(p) => Reply::ok(p.modify_index, PolicyView::new(p)),
            None => Reply::err(
                state.acl_indexes().policies,
                ApiError::not_found("ACL policy not found"),
            ),
        }
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct PolicyRequest {
    name: String,
    description: String,
    rules: String,
    #[serde(rename = "JobACL")]
    job_acl: Option<JobAcl>,
}

/// `PUT /v1/acl/policy/:name` with `{Name, Description, Rules, JobACL}`.
async fn write_policy(
    State(api): State<Api>,
    Path(name): Path<String>,
    access: Access,
    Body(req): Body<PolicyRequest>,
) -> Result<Empty, ApiError> {
    if req.name != name {
        return Err(ApiError::bad_request(
            "ACL policy name does not match request path",
        ));
    }
    enabled(&api)?;
    let who = access.identity()?;
    who.require_management()?;
    let document = match parse_rules(&req.rules) {
        Ok(doc) => doc,
        Err(e) => {
            // The same framing and order as the engine's own validation.
            let errors = validate_policy(
                &req.name,
                &req.description,
                &req.rules,
                Err(&e),
                req.job_acl.as_ref(),
            )
            .err()
            .unwrap_or_default();
            return Err(Error::InvalidAclPolicy { index: 0, errors }.into());
        }
    };
    let outcome = api
        .submit(
            Command::UpsertAclPolicies(UpsertAclPolicies {
                policies: vec![AclPolicyWrite {
                    name: req.name,
                    description: req.description,
                    rules: req.rules,
                    document,
                    job_acl: req.job_acl,
                }],
            }),
            who.actor(),
        )
        .await?;
    Ok(Empty {
        index: outcome.index,
    })
}

/// `DELETE /v1/acl/policy/:name` (404 for an unknown policy: R1).
async fn delete_policy(
    State(api): State<Api>,
    Path(name): Path<String>,
    access: Access,
) -> Result<Empty, ApiError> {
    enabled(&api)?;
    let who = access.identity()?;
    who.require_management()?;
    let outcome = api
        .submit(
            Command::DeleteAclPolicies(DeleteAclPolicies { names: vec![name] }),
            who.actor(),
        )
        .await?;
    Ok(Empty {
        index: outcome.index,
    })
}

// --- tokens ----------------------------------------------------------------------------------

/// `GET /v1/acl/tokens` (management): stubs in creation order, `prefix` on the accessor.
async fn list_tokens(
    State(api): State<Api>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Vec<TokenStub>>, ApiError> {
    enabled(&api)?;
    let who = access.identity()?;
    who.require_management()?;
    let reply = blocking::query(&api, &q, &who, Identity::require_management, |state, _| {
        let tokens = state
            .acl_tokens()
            .into_iter()
            .filter(|t| q.prefix.is_empty() || t.accessor_id.to_string().starts_with(&q.prefix));
        let page = if q.prefix.is_empty() {
            paginate(tokens, &q.page, |t| {
                Token::created(t.create_index, t.accessor_id)
            })
        } else {
            paginate(tokens, &q.page, |t| Token::id(t.accessor_id))
        };
        let stubs = page.items.into_iter().map(|t| TokenStub::new(t)).collect();
        Reply::ok(state.acl_indexes().tokens, stubs).with_next_token(page.next_token)
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// A token request body (`api.ACLToken`). `ExpirationTTL` is a duration string or a
/// number of nanoseconds; `ExpirationTime` RFC 3339 or null.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct TokenRequest {
    #[serde(rename = "AccessorID")]
    accessor_id: String,
    name: String,
    #[serde(rename = "Type")]
    token_type: String,
    policies: Option<Vec<String>>,
    roles: Option<Vec<serde_json::Value>>,
    global: bool,
    #[serde(rename = "ExpirationTTL")]
    expiration_ttl: serde_json::Value,
    expiration_time: Option<String>,
}

/// `ACLToken.UnmarshalJSON`'s TTL: a Go duration string (`""` = none) or a number.
fn expiration_ttl(v: &serde_json::Value) -> Result<i64, ApiError> {
    match v {
        serde_json::Value::String(s) if s.is_empty() => Ok(0),
        serde_json::Value::String(s) => {
            let (negative, digits) = match s.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s.strip_prefix('+').unwrap_or(s)),
            };
            let d = parse_go_duration(digits)
                .ok_or_else(|| ApiError::bad_request(format!("time: invalid duration {s:?}")))?;
            let ns = d.map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
            Ok(if negative { -ns } else { ns })
        }
        serde_json::Value::Number(n) => Ok(n.as_f64().map_or(0, |f| f as i64)),
        _ => Ok(0),
    }
}

fn expiration_time(v: Option<&str>) -> Result<Option<i64>, ApiError> {
    match v {
        None => Ok(None),
        Some(s) => {
            let ns = parse_rfc3339(s).map_err(ApiError::bad_request)?;
            // Go's zero time counts as unset.
            Ok((ns != 0).then_some(ns))
        }
    }
}

/// `PUT /v1/acl/token`: create (or, with an `AccessorID`, update — as Nomad does).
async fn create_token(
    State(api): State<Api>,
    w: WriteOptions,
    access: Access,
    Body(req): Body<TokenRequest>,
) -> Result<Write<TokenView>, ApiError> {
    upsert_token(&api, &w, access, req).await
}

/// `PUT /v1/acl/token/:accessor`: update; the body's `AccessorID` must be the path's.
async fn update_token(
    State(api): State<Api>,
    Path(accessor): Path<String>,
    w: WriteOptions,
    access: Access,
    Body(req): Body<TokenRequest>,
) -> Result<Write<TokenView>, ApiError> {
    if req.accessor_id != accessor {
        return Err(ApiError::bad_request(
            "ACL token accessor does not match request path",
        ));
    }
    upsert_token(&api, &w, access, req).await
}

async fn upsert_token(
    api: &Api,
    w: &WriteOptions,
    access: Access,
    req: TokenRequest,
) -> Result<Write<TokenView>, ApiError> {
    let ttl = expiration_ttl(&req.expiration_ttl)?;
    let at = expiration_time(req.expiration_time.as_deref())?;
    enabled(api)?;
    let who = access.identity()?;
    who.require_management()?;
    let (accessor_id, secret) = if req.accessor_id.is_empty() {
        (random_uuid()?, Some(random_uuid()?.to_string()))
    } else {
        let id = Uuid::try_parse(&req.accessor_id)
            .map_err(|_| ApiError::not_found(format!("cannot find token {}", req.accessor_id)))?;
        (id, None)
    };
    let write = AclTokenWrite {
        accessor_id,
        secret_hash: secret.as_deref().map(SecretHash::of),
        name: req.name,
        token_type: req.token_type,
        policies: req.policies.unwrap_or_default(),
        roles: req.roles.map_or(0, |r| r.len()),
        global: req.global,
        expiration_time: at,
        expiration_ttl: ttl,
    };
    let outcome = api
        .submit(
            Command::UpsertAclTokens(UpsertAclTokens {
                tokens: vec![write],
            }),
            who.actor(),
        )
        .await?;
    let token = written_token(api, &accessor_id)?;
    let shown = secret.as_deref().or_else(|| who.own_secret_of(&token));
    Ok(Write::new(
        outcome.index,
        TokenView::new(&token, shown),
        w.pretty,
    ))
}

/// `GET /v1/acl/token/:accessor`: management reads any token; a client token only
/// itself (anything else, known or not, is 403).
async fn read_token(
    State(api): State<Api>,
    Path(accessor): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<TokenView>, ApiError> {
    enabled(&api)?;
    let who = access.identity()?;
    let accessor = Uuid::try_parse(&accessor).ok();
    let check = |who: &Identity| {
        if who.is_management()
            || (accessor.is_some() && who.token.as_ref().map(|t| t.accessor_id) == accessor)
        {
            Ok(())
        } else {
            Err(ApiError::permission_denied())
        }
    };
    check(&who)?;
    let reply = blocking::query(&api, &q, &who, check, |state, who| {
        match accessor.and_then(|a| state.acl_token(&a)) {
            Some(t) => Reply::ok(t.modify_index, TokenView::new(t, who.own_secret_of(t))),
            None => Reply::err(
                state.acl_indexes().tokens,
                ApiError::not_found("ACL token not found"),
            ),
        }
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// `GET /v1/acl/token/self`: the requester's own token, secret included (they sent
/// it); 404 `ACL token not found` without a token.
async fn token_self(
    State(api): State<Api>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<TokenView>, ApiError> {
    enabled(&api)?;
    let who: Identity = access.identity()?;
    let Some(token) = who.token.clone() else {
        return Err(ApiError::not_found("ACL token not found"));
    };
    let view = TokenView::new(&token, who.own_secret_of(&token));
    Ok(Read::new(Reply::ok(token.modify_index, view), q.pretty))
}

/// `DELETE /v1/acl/token/:accessor`.
async fn delete_token(
    State(api): State<Api>,
    Path(accessor): Path<String>,
    access: Access,
) -> Result<Empty, ApiError> {
    enabled(&api)?;
    let who = access.identity()?;
    who.require_management()?;
    let id = Uuid::try_parse(&accessor).map_err(|_| {
        ApiError::bad_request(format!("Cannot delete nonexistent tokens: {accessor}"))
    })?;
    let outcome = api
        .submit(
            Command::DeleteAclTokens(DeleteAclTokens {
                accessor_ids: vec![id],
            }),
            who.actor(),
        )
        .await?;
    Ok(Empty {
        index: outcome.index,
    })
}
