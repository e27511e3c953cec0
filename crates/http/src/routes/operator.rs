//! `GET /v1/operator/raft/configuration` (`operator:read`): the Raft configuration, in
//! Nomad's `RaftConfigurationResponse` shape.
//!
//! A cluster member lists every server of the configuration in force: its ID (the
//! member's random node ID, in decimal), its cluster address, whether it votes and
//! whether it leads. `Node` is the ID too: members know each other by ID and address,
//! not by `--node-name`, except for themselves. A single agent is a configuration of
//! one: itself, voting and leading, at its HTTP address.

use crate::acl::Access;
use crate::error::ApiError;
use crate::query::QueryOptions;
use crate::response::Json;
use crate::routes::status::server_address;
use crate::server::Api;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

pub fn routes() -> Router<Api> {
    Router::new().route("/v1/operator/raft/configuration", get(configuration))
}

/// Nomad's Raft protocol version, which its tools print.
const RAFT_PROTOCOL: &str = "3";

async fn configuration(
    State(api): State<Api>,
    q: QueryOptions,
    access: Access,
) -> Result<Json<Value>, ApiError> {
    access.identity()?.require_operator_read()?;
    let node_name = &api.config().identity.node_name;
    let body = match api.backend().cluster() {
        Some(cluster) => {
            let servers: Vec<Value> = cluster
                .servers
                .iter()
                .map(|s| {
                    json!({
                        "Address": s.addr,
                        "ID": s.id.to_string(),
                        "Leader": cluster.leader_id == Some(s.id),
                        "Node": if s.id == cluster.id { node_name.clone() } else { s.id.to_string() },
                        "RaftProtocol": RAFT_PROTOCOL,
                        "Voter": s.voter,
                    })
                })
                .collect();
            json!({"Index": cluster.configuration_index, "Servers": servers})
        }
        None => {
            let addr = server_address(&api)?;
            json!({
                "Index": 0,
                "Servers": [{
                    "Address": addr,
                    "ID": addr,
                    "Leader": true,
                    "Node": node_name,
                    "RaftProtocol": RAFT_PROTOCOL,
                    "Voter": true,
                }],
            })
        }
    };
    Ok(Json::new(body, q.pretty))
}
