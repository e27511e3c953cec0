//! `GET /v1/operator/raft/configuration` (`operator:read`): the Raft configuration, in
//! Nomad's `RaftConfigurationResponse` shape.
//!
//! A cluster member lists every server of the configuration in force: its ID (the
//! member's random node ID, in decimal), its cluster address, whether it votes and
//! whether it leads. `Node` is the ID too: members know each other by ID and address,
//! not by `--node-name`, except for themselves. A single agent is a configuration of
//! one: itself, voting and leading, at its HTTP address.
//!
//! `DELETE /v1/operator/raft/peer?id=ID` (or `?address=HOST:PORT`, `operator:write`)
//! takes a member out of the configuration through the leader, as Nomad's
//! `operator raft remove-peer` does; a single agent has no peer to remove.

use crate::acl::Access;
use crate::error::ApiError;
use crate::query::QueryOptions;
use crate::response::Empty;
use crate::response::Json;
use crate::routes::status::server_address;
use crate::server::Api;
use axum::extract::State;
use axum::routing::{delete, get};
use axum::Router;
use serde_json::{json, Value};

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/operator/raft/configuration", get(configuration))
        .route("/v1/operator/raft/peer", delete(remove_peer))
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

/// `DELETE /v1/operator/raft/peer`: the member named by `id` or `address` leaves the
/// configuration; 200 with no body once the new configuration is committed.
async fn remove_peer(
    State(api): State<Api>,
    q: QueryOptions,
    access: Access,
) -> Result<Empty, ApiError> {
    access.identity()?.require_operator_write()?;
    let (id, address) = (q.params.get("id"), q.params.get("address"));
    let missing = || {
        ApiError::bad_request(
            "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove",
        )
    };
    let Some(cluster) = api.backend().cluster() else {
        return Err(ApiError::bad_request(
            "this agent is not a cluster member (--cluster-addr): there is no peer to remove",
        ));
    };
    let target = match (id, address) {
        (Some(id), _) if !id.is_empty() => cluster
            .servers
            .iter()
            .find(|s| s.id.to_string() == id)
            .ok_or_else(|| {
                ApiError::bad_request(format!("id {id:?} was not found in the Raft configuration"))
            })?,
        (_, Some(addr)) if !addr.is_empty() => cluster
            .servers
            .iter()
            .find(|s| s.addr == addr)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "address {addr:?} was not found in the Raft configuration"
                ))
            })?,
        _ => return Err(missing()),
    };
    api.backend().remove_peer(target.id).await?;
    Ok(Empty {
        index: api.state().index(),
    })
}
