//! The agent itself: health, metrics, and what Nomad's `/v1/agent/self`,
//! `/v1/agent/members` and `/v1/agent/servers` tell tools about it.

use crate::acl::Access;
use crate::error::ApiError;
use crate::query::QueryOptions;
use crate::response::{to_json, Json};
use crate::routes::status::server_address;
use crate::server::Api;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/agent/health", get(health))
        .route("/v1/agent/self", get(agent_self))
        .route("/v1/agent/members", get(members))
        .route("/v1/agent/servers", get(servers))
        .route("/v1/metrics", get(metrics))
}

/// `GET /v1/agent/health`: Nomad's server shape. While shutting down the agent answers
/// 500 so that load balancers stop sending it work; while its store refuses writes (a
/// commit failed and it is reopening the database), 503 with the reason; a cluster
/// member that knows no leader, 500 `No cluster leader`.
async fn health(State(api): State<Api>) -> Response {
    let refusing = api.backend().refusing_writes();
    let (status, ok, message) = if api.is_shutting_down() {
        (StatusCode::INTERNAL_SERVER_ERROR, false, "shutting down")
    } else if let Some(why) = &refusing {
        (StatusCode::SERVICE_UNAVAILABLE, false, why.as_str())
    } else if api.backend().cluster().is_some_and(|c| c.leader.is_none()) {
        // A member that knows no leader can serve no consistent read and take no write.
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            false,
            "No cluster leader",
        )
    } else {
        (StatusCode::OK, true, "ok")
    };
    let body = json!({"server": {"message": message, "ok": ok}});
    match to_json(&body, false) {
        Ok(bytes) => {
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /v1/metrics`: Nomad's JSON shape by default (`Timestamp`, `Gauges`, `Counters`,
/// `Samples`), the Prometheus text with `?format=prometheus` (what scrapers send).
async fn metrics(State(api): State<Api>, q: QueryOptions) -> Response {
    let m = api.metrics();
    m.refresh(&api);
    if q.params.get("format") == Some("prometheus") {
        let mut response = (StatusCode::OK, m.prometheus_text()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        return response;
    }
    Json::new(m.json(api.backend().now_ns()), q.pretty).into_response()
}

/// The version Nomad's tools see: rollout's own, with its name as the metadata.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// This agent as a gossip member (`AgentMember`): `Name` is `node.region`, as Nomad's
/// serf names servers; the tags are the ones Nomad's tools read (`role`, `region`, `dc`,
/// `build`, `port`, `bootstrap`, `expect`).
fn member(api: &Api) -> Result<Value, ApiError> {
    let id = &api.config().identity;
    let addr = api
        .serving_on()
        .ok_or_else(|| ApiError::internal("the agent is not serving yet"))?;
    let tags: BTreeMap<&str, String> = [
        ("role", "nomad".to_string()),
        ("region", id.region.clone()),
        ("dc", id.datacenter.clone()),
        ("build", VERSION.to_string()),
        ("port", addr.port().to_string()),
        ("bootstrap", "1".to_string()),
        ("expect", "1".to_string()),
        ("vsn", "1".to_string()),
        ("mvn", "1".to_string()),
    ]
    .into_iter()
    .collect();
    Ok(json!({
        "Name": format!("{}.{}", id.node_name, id.region),
        "Addr": addr.ip().to_string(),
        "Port": addr.port(),
        "Tags": tags,
        "Status": "alive",
        "ProtocolMin": 1,
        "ProtocolMax": 5,
        "ProtocolCur": 2,
        "DelegateMin": 2,
        "DelegateMax": 5,
        "DelegateCur": 4,
    }))
}

/// `GET /v1/agent/self` (`agent:read`): Nomad's lower-case `config`, `member` and
/// `stats` keys. `config` holds what Nomad's Go API reads (`Region`, `Datacenter`,
/// `NodeName`, `Version`) plus the ACL, server and client switches; `stats` is strings
/// only, as Nomad's.
async fn agent_self(
    State(api): State<Api>,
    q: QueryOptions,
    access: Access,
) -> Result<Json<Value>, ApiError> {
    access.identity()?.require_agent_read()?;
    let id = &api.config().identity;
    let addr = server_address(&api)?;
    let index = api.state().index().to_string();
    let config = json!({
        "Region": id.region,
        "Datacenter": id.datacenter,
        "NodeName": id.node_name,
        "Version": {
            "Version": VERSION,
            "VersionPrerelease": "",
            "VersionMetadata": "rollout",
            "Revision": "",
        },
        "ACL": {"Enabled": api.config().acl_enabled},
        "Server": {"Enabled": true, "BootstrapExpect": 1},
        "Client": {"Enabled": false},
        "Addresses": {"HTTP": addr},
    });
    let stats = json!({
        "nomad": {
            "server": "true",
            "leader": "true",
            "leader_addr": addr,
            "bootstrap": "true",
            "known_regions": "1",
        },
        "raft": {
            "state": "Leader",
            "applied_index": index,
            "commit_index": index,
            "last_log_index": index,
            "num_peers": "0",
        },
        "runtime": {
            "arch": std::env::consts::ARCH,
            "kernel.name": std::env::consts::OS,
            "cpu_count": std::thread::available_parallelism().map_or(1, |n| n.get()).to_string(),
            "version": VERSION,
        },
    });
    let body = json!({"config": config, "member": member(&api)?, "stats": stats});
    Ok(Json::new(body, q.pretty))
}

/// `GET /v1/agent/members` (`node:read`): the server members this agent knows.
async fn members(
    State(api): State<Api>,
    q: QueryOptions,
    access: Access,
) -> Result<Json<Value>, ApiError> {
    access.identity()?.require_node_read()?;
    let id = &api.config().identity;
    let body = json!({
        "ServerName": id.node_name,
        "ServerRegion": id.region,
        "ServerDC": id.datacenter,
        "Members": [member(&api)?],
    });
    Ok(Json::new(body, q.pretty))
}

/// `GET /v1/agent/servers` (`agent:read`): the server addresses a client would use.
async fn servers(
    State(api): State<Api>,
    q: QueryOptions,
    access: Access,
) -> Result<Json<Vec<String>>, ApiError> {
    access.identity()?.require_agent_read()?;
    Ok(Json::new(vec![server_address(&api)?], q.pretty))
}
