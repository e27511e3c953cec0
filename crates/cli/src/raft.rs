//! `rollout operator raft list-peers|remove-peer`: Nomad's `nomad operator raft`
//! commands over `/v1/operator/raft/*`.

use crate::client::{encode, Client, ClientArgs, ClientError};
use clap::{Args, Subcommand};
use serde_json::Value;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct OperatorArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: OperatorCommand,
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// The Raft configuration of the cluster.
    #[command(subcommand)]
    Raft(RaftCommand),
}

#[derive(Debug, Subcommand)]
enum RaftCommand {
    /// The servers of the Raft configuration: name, ID, address, state, voter.
    ListPeers,
    /// Take a server out of the Raft configuration (through the leader).
    RemovePeer {
        /// The server's ID, as `list-peers` shows it.
        #[arg(
            long,
            value_name = "ID",
            required_unless_present = "peer_address",
            conflicts_with = "peer_address"
        )]
        peer_id: Option<String>,
        /// The server's cluster address (`host:port`).
        #[arg(long, value_name = "ADDR")]
        peer_address: Option<String>,
    },
}

pub fn main(args: OperatorArgs) -> ExitCode {
    let OperatorCommand::Raft(command) = &args.command;
    crate::client::run_and_print(|runtime| {
        let client = args
            .client
            .client()
            .map_err(|e| ("Error creating the client", e))?;
        runtime.block_on(run(&client, command))
    })
}

async fn run(
    client: &Client,
    command: &RaftCommand,
) -> Result<String, (&'static str, ClientError)> {
    match command {
        RaftCommand::ListPeers => {
            let doing = "Failed to retrieve raft configuration";
            let resp = client
                .get("/v1/operator/raft/configuration")
                .await
                .map_err(|e| (doing, e))?;
            Ok(peers_table(&resp.json().map_err(|e| (doing, e))?))
        }
        RaftCommand::RemovePeer {
            peer_id,
            peer_address,
        } => {
            let doing = "Failed to remove raft peer";
            // clap requires exactly one of the two.
            let (query, shown) = match peer_id {
                Some(id) => (format!("id={}", encode(id)), id.clone()),
                None => {
                    let addr = peer_address.clone().unwrap_or_default();
                    (format!("address={}", encode(&addr)), addr)
                }
            };
            client
                .delete(&format!("/v1/operator/raft/peer?{query}"))
                .await
                .map_err(|e| (doing, e))?;
            Ok(format!(
                "Removed peer with {}",
                describe(peer_id.is_some(), &shown)
            ))
        }
    }
}

fn describe(by_id: bool, shown: &str) -> String {
    if by_id {
        format!("id {shown:?}")
    } else {
        format!("address {shown:?}")
    }
}

/// Nomad's `operator raft list-peers` table.
fn peers_table(c: &Value) -> String {
    let mut rows = vec![[
        "Node".to_string(),
        "ID".into(),
        "Address".into(),
        "State".into(),
        "Voter".into(),
        "RaftProtocol".into(),
    ]];
    for s in c["Servers"].as_array().into_iter().flatten() {
        let text = |k: &str| {
            s[k].as_str()
                .map_or_else(|| s[k].to_string(), str::to_owned)
        };
        let state = if s["Leader"] == true {
            "leader"
        } else {
            "follower"
        };
        rows.push([
            text("Node"),
            text("ID"),
            text("Address"),
            state.into(),
            s["Voter"].to_string(),
            text("RaftProtocol"),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
