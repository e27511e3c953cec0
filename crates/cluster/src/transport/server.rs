//! The serving side: the peer API on the node's cluster address.

use super::{decode, encode, path, AddMember, ForwardWrite, RemoveMember, MAX_BODY_BYTES};
use crate::node::Core;
use crate::secret::SECRET_HEADER;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The peer API's routes.
pub(crate) fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route(path::APPEND, post(append))
        .route(path::VOTE, post(vote))
        .route(path::SNAPSHOT, post(snapshot))
        .route(path::FORWARD_WRITE, post(forward_write))
        .route(path::READ_INDEX, post(read_index))
        .route(path::IDENTITY, post(identity))
        .route(path::REMOVE_MEMBER, post(remove_member))
        .route(path::ADD_MEMBER, post(add_member))
        .with_state(core)
}

/// Serves the peer API on `listener` until `stop` resolves.
pub(crate) async fn serve(
    listener: TcpListener,
    core: Arc<Core>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    if let Err(e) = axum::serve(listener, router(core))
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!("cluster transport stopped: {e}");
    }
}

/// A request body, read only if the request carries the cluster secret: a stranger is
/// refused before anything it sent is decoded.
async fn admitted<T: DeserializeOwned>(core: &Core, request: Request) -> Result<T, Response> {
    let presented = request
        .headers()
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes().to_vec());
    if !core.secret.admits(presented.as_deref()) {
        return Err((StatusCode::UNAUTHORIZED, "cluster secret missing or wrong").into_response());
    }
    let bytes = to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()).into_response())?;
    decode(&bytes).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("request does not decode: {e}"),
        )
            .into_response()
    })
}

fn reply<T: Serialize>(value: &T) -> Response {
    match encode(value) {
        Ok(bytes) => (
            [(axum::http::header::CONTENT_TYPE, super::CONTENT_TYPE)],
            Body::from(bytes),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn append(State(core): State<Arc<Core>>, request: Request) -> Response {
    let rpc: AppendEntriesRequest<_> = match admitted(&core, request).await {
        Ok(rpc) => rpc,
        Err(refused) => return refused,
    };
    core.touch_leader_contact();
    reply(&core.raft.append_entries(rpc).await)
}

async fn vote(State(core): State<Arc<Core>>, request: Request) -> Response {
    let rpc: VoteRequest<_> = match admitted(&core, request).await {
        Ok(rpc) => rpc,
        Err(refused) => return refused,
    };
    reply(&core.raft.vote(rpc).await)
}

async fn snapshot(State(core): State<Arc<Core>>, request: Request) -> Response {
    let rpc: InstallSnapshotRequest<_> = match admitted(&core, request).await {
        Ok(rpc) => rpc,
        Err(refused) => return refused,
    };
    core.touch_leader_contact();
    reply(&core.raft.install_snapshot(rpc).await)
}

async fn forward_write(State(core): State<Arc<Core>>, request: Request) -> Response {
    let write: ForwardWrite = match admitted(&core, request).await {
        Ok(write) => write,
        Err(refused) => return refused,
    };
    reply(
        &core
            .propose_here(write.request_id, write.command, write.actor)
            .await,
    )
}

async fn read_index(State(core): State<Arc<Core>>, request: Request) -> Response {
    let (): () = match admitted(&core, request).await {
        Ok(unit) => unit,
        Err(refused) => return refused,
    };
    reply(&core.read_index_here().await)
}

async fn identity(State(core): State<Arc<Core>>, request: Request) -> Response {
    let (): () = match admitted(&core, request).await {
        Ok(unit) => unit,
        Err(refused) => return refused,
    };
    reply(&core.identity())
}

async fn remove_member(State(core): State<Arc<Core>>, request: Request) -> Response {
    let remove: RemoveMember = match admitted(&core, request).await {
        Ok(remove) => remove,
        Err(refused) => return refused,
    };
    reply(&core.remove_here(remove.id).await)
}

async fn add_member(State(core): State<Arc<Core>>, request: Request) -> Response {
    let add: AddMember = match admitted(&core, request).await {
        Ok(add) => add,
        Err(refused) => return refused,
    };
    reply(&core.add_member_here(add.id, add.addr).await)
}
