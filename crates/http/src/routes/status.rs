//! Where the servers are: `/v1/status/leader`, `/v1/status/peers` and `/v1/regions`.
//!
//! Tools call these first (Nomad's Go API checks the leader before anything else), and
//! need no token in Nomad. A single agent is its own leader and its only peer; the
//! address it names is the one it serves on — rollout has no separate RPC port, so the
//! HTTP address is the one a peer or tool reaches it at.

use crate::error::ApiError;
use crate::query::QueryOptions;
use crate::response::{Json, X_NOMAD_KNOWN_LEADER, X_NOMAD_LAST_CONTACT};
use crate::server::Api;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method};
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

/// `GET /v1/status/leader`: the leader's address as a JSON string — in a cluster its
/// peer (Raft) address, as Nomad names its leader's RPC address; 500 `No cluster
/// leader` while there is none.
async fn leader(State(api): State<Api>, q: QueryOptions) -> Result<Json<String>, ApiError> {
    let leader = match api.backend().cluster() {
        Some(cluster) => cluster
            .leader
            .ok_or_else(|| ApiError::internal_quiet("No cluster leader"))?,
        None => server_address(&api)?,
    };
    Ok(Json::new(leader, q.pretty))
}

/// `GET /v1/status/peers`: the addresses of the voting servers.
async fn peers(State(api): State<Api>, q: QueryOptions) -> Result<Json<Vec<String>>, ApiError> {
    let peers = match api.backend().cluster() {
        Some(cluster) => cluster.voters,
        None => vec![server_address(&api)?],
    };
    Ok(Json::new(peers, q.pretty))
}

/// `GET /v1/regions`: the regions this agent knows, sorted (only its own).
async fn regions(State(api): State<Api>, q: QueryOptions) -> Json<Vec<String>> {
    Json::new(vec![api.config().identity.region.clone()], q.pretty)
}

/// `?region=` naming a region other than this agent's: Nomad would forward the request
/// to a server of that region, and with none known answers 500 `No path to region`
/// before doing anything else. An empty value means the agent's own.
pub async fn refuse_other_regions<F: std::future::Future<Output = Response>>(
    api: &Api,
    request: Request,
    next: impl FnOnce(Request) -> F,
) -> Response {
    let other = request.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "region")
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty() && *v != api.config().identity.region)
    });
    match other {
        Some(_) => ApiError::internal_quiet("No path to region").into_response(),
        None => next(request).await,
    }
}

/// A cluster member's reads say what it knows of the leader, as Nomad's do:
/// `X-Nomad-KnownLeader` and `X-Nomad-LastContact` (milliseconds since it last heard
/// from the leader; 0 on the leader). A single agent keeps the `true` and `0` the read
/// was answered with: it is its own leader.
pub async fn cluster_query_meta(State(api): State<Api>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let Some(cluster) = api.backend().cluster() else {
        return response;
    };
    let headers = response.headers_mut();
    if headers.contains_key(X_NOMAD_KNOWN_LEADER) {
        let known = if cluster.leader.is_some() {
            "true"
        } else {
            "false"
        };
        headers.insert(X_NOMAD_KNOWN_LEADER, HeaderValue::from_static(known));
        let ms = cluster
            .last_contact
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        headers.insert(X_NOMAD_LAST_CONTACT, HeaderValue::from(ms));
    }
    response
}

/// Reads of a cluster member are consistent by default, as Nomad's are: before the
/// read runs, the member confirms with the leader (a read index) and waits until it
/// has applied everything acknowledged so far. `?stale` reads what the member holds,
/// without asking (Nomad's `AllowStale`). The agent's own endpoints (health, metrics,
/// status, the page) answer from the member alone.
pub async fn consistent_reads(State(api): State<Api>, request: Request, next: Next) -> Response {
    if api.backend().cluster().is_some()
        && matches!(*request.method(), Method::GET | Method::HEAD)
        && reads_cluster_state(request.uri().path())
        && !allows_stale(request.uri().query())
    {
        if let Err(e) = api.backend().consistent_read().await {
            return ApiError::from(e).into_response();
        }
    }
    next.run(request).await
}

/// Whether `path` reads the replicated state (rather than this agent).
fn reads_cluster_state(path: &str) -> bool {
    const LOCAL: [&str; 5] = [
        "/v1/agent/",
        "/v1/status/",
        "/v1/metrics",
        "/v1/regions",
        "/v1/operator/",
    ];
    path.starts_with("/v1/") && !LOCAL.iter().any(|p| path.starts_with(p))
}

/// `?stale` or `?stale=true` (a bare `stale` is true, as in Nomad).
fn allows_stale(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| {
            k == "stale" && (v.is_empty() || crate::query::parse_go_bool(&v) == Some(true))
        })
    })
}
