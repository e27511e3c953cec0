//! Namespaces (`docs/http-api.md` R11): list and read with blocking queries, write and
//! delete with a management token. `default` always exists and cannot be deleted; a job
//! can only be registered into a namespace that exists.

use crate::acl::{Access, Identity};
use crate::blocking::{self, Reply};
use crate::decode::Body;
use crate::error::ApiError;
use crate::query::QueryOptions;
use crate::response::{Empty, Read};
use crate::server::Api;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::Router;
use rollout_engine::namespace::{DeleteNamespaces, Namespace, UpsertNamespaces};
use rollout_engine::Command;
use std::sync::Arc;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/namespaces", get(list))
        .route("/v1/namespace", put(create).post(create))
        .route(
            "/v1/namespace/{name}",
            get(read).put(upsert).post(upsert).delete(delete),
        )
}

/// `GET /v1/namespaces[?prefix=…]`: the namespaces the token may do anything in, by
/// name.
async fn list(
    State(api): State<Api>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Vec<Arc<Namespace>>>, ApiError> {
    let who = access.identity()?;
    let prefix = q.prefix.clone();
    let reply = blocking::query(
        &api,
        &q,
        &who,
        |_| Ok(()),
        |state, who| {
            let visible = state
                .namespaces()
                .into_iter()
                .filter(|n| n.name.starts_with(&prefix) && who.allows_namespace(&n.name))
                .collect();
            Reply::ok(state.namespaces_index(), visible)
        },
    )
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// `GET /v1/namespace/:name`: 403 without any capability in it, 404 when it does not
/// exist.
async fn read(
    State(api): State<Api>,
    Path(name): Path<String>,
    q: QueryOptions,
    access: Access,
) -> Result<Read<Arc<Namespace>>, ApiError> {
    let who = access.identity()?;
    let check = |who: &Identity| {
        if who.allows_namespace(&name) {
            Ok(())
        } else {
            Err(ApiError::permission_denied())
        }
    };
    check(&who)?;
    let reply = blocking::query(&api, &q, &who, check, |state, _| {
        match state.namespace(&name) {
            Some(n) => Reply::ok(n.modify_index, n),
            None => Reply::err(
                state.namespaces_index(),
                ApiError::not_found("Namespace not found"),
            ),
        }
    })
    .await?;
    Ok(Read::new(reply, q.pretty))
}

/// `PUT /v1/namespace`: create or update the namespace the body names.
async fn create(
    State(api): State<Api>,
    access: Access,
    Body(ns): Body<Namespace>,
) -> Result<Empty, ApiError> {
    write(&api, access, ns).await
}

/// `PUT /v1/namespace/:name`: the body's `Name` must be the path's (or empty).
async fn upsert(
    State(api): State<Api>,
    Path(name): Path<String>,
    access: Access,
    Body(mut ns): Body<Namespace>,
) -> Result<Empty, ApiError> {
    if ns.name.is_empty() {
        ns.name = name;
    } else if ns.name != name {
        return Err(ApiError::bad_request(
            "Namespace name does not match request path",
        ));
    }
    write(&api, access, ns).await
}

async fn write(api: &Api, access: Access, ns: Namespace) -> Result<Empty, ApiError> {
    let who = access.identity()?;
    who.require_management()?;
    let outcome = api
        .submit(
            Command::UpsertNamespaces(UpsertNamespaces {
                namespaces: vec![ns],
            }),
            who.actor(),
        )
        .await?;
    Ok(Empty {
        index: outcome.index,
    })
}

/// `DELETE /v1/namespace/:name`: refused for `default` and while it holds a job that
/// is not dead.
async fn delete(
    State(api): State<Api>,
    Path(name): Path<String>,
    access: Access,
) -> Result<Empty, ApiError> {
    let who = access.identity()?;
    who.require_management()?;
    let outcome = api
        .submit(
            Command::DeleteNamespaces(DeleteNamespaces {
                namespaces: vec![name],
                region: api.config().identity.region.clone(),
            }),
            who.actor(),
        )
        .await?;
    Ok(Empty {
        index: outcome.index,
    })
}
