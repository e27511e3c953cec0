//! Where the servers are: `/v1/status/leader`, `/v1/status/peers` and `/v1/regions`.
//!
//! Tools call these first (Nomad's Go API checks the leader before anything else), and
//! need no token in Nomad. A single agent is its own leader and its only peer; the
//! address it names is the one it serves on — rollout has no separate RPC port, so the
//! HTTP address is the one a peer or tool reaches it at.

use crate::error::ApiError;
use crate::query::QueryOptions;
use crate::response::Json;
use crate::server::Api;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/status/leader", get(leader))
        .route("/v1/status/peers", get(peers))
        .route("/v1/regions", get(regions))
}

/// `"host:port"` of this server, once it serves.
pub(crate) fn server_address(api: &Api) -> Result<String, ApiError> {
    api.serving_on()
        .map(|addr| addr.to_string())
        .ok_or_else(|| ApiError::internal("No cluster leader"))
}

/// `GET /v1/status/leader`: the leader's address as a JSON string.
async fn leader(State(api): State<Api>, q: QueryOptions) -> Result<Json<String>, ApiError> {
    Ok(Json::new(server_address(&api)?, q.pretty))
}

/// `GET /v1/status/peers`: the addresses of the voting servers.
async fn peers(State(api): State<Api>, q: QueryOptions) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json::new(vec![server_address(&api)?], q.pretty))
}

/// `GET /v1/regions`: the regions this agent knows, sorted (only its own).
async fn regions(State(api): State<Api>, q: QueryOptions) -> Json<Vec<String>> {
    Json::new(vec![api.config().identity.region.clone()], q.pretty)
}

/// `?region=` naming a region other than this agent's: Nomad would forward the request
/// to a server of that region, and with none known answers 500 `No path to region`
/// before doing anything else. An empty value means the agent's own.
pub async fn refuse_other_regions(
    State(api): State<Api>,
    request: Request,
    next: Next,
) -> Response {
    let other = request.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "region")
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty() && *v != api.config().identity.region)
    });
    match other {
        Some(_) => ApiError::internal_quiet("No path to region").into_response(),
        None => next.run(request).await,
    }
}
