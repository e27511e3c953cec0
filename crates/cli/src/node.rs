//! `rollout node status [NODE]` and `rollout node eligibility`, as Nomad's `nomad node
//! status` and `nomad node eligibility`: the nodes the scheduler and clients report (the
//! dev cluster's simulated ones included), one node with its events and allocations,
//! and marking a node (in)eligible for placements. A node is found by ID or unique
//! prefix.

use crate::client::encode;
use crate::job::allocations_table;
use crate::operator::{str_of, CmdResult, Ctx, Failure, OperatorArgs};
use crate::output::{self, key_values, or_none, status_color, Cell, Style, Table};
use crate::resolve;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct NodeArgs {
    #[command(flatten)]
    op: OperatorArgs,
    #[command(subcommand)]
    command: NodeCommand,
}

#[derive(Debug, Subcommand)]
enum NodeCommand {
    /// List the nodes, or show one with its events and allocations (`--json`: the
    /// API's objects).
    Status {
        /// Node ID or unique prefix; none lists every node.
        id: Option<String>,
        /// Full IDs and dates instead of short IDs and relative times.
        #[arg(long)]
        verbose: bool,
    },
    /// Mark a node eligible or ineligible for new placements.
    Eligibility {
        /// Node ID or unique prefix.
        id: String,
        /// Make the node eligible.
        #[arg(long, conflicts_with = "disable", required_unless_present = "disable")]
        enable: bool,
        /// Make the node ineligible.
        #[arg(long)]
        disable: bool,
    },
}

pub fn main(args: NodeArgs) -> ExitCode {
    let command = args.command;
    args.op.run(move |ctx| async move {
        match command {
            NodeCommand::Status { id: None, verbose } => list(&ctx, verbose).await,
            NodeCommand::Status {
                id: Some(id),
                verbose,
            } => status(&ctx, &id, verbose).await,
            NodeCommand::Eligibility { id, enable, .. } => eligibility(&ctx, &id, enable).await,
        }
    })
}

async fn list(ctx: &Ctx, verbose: bool) -> CmdResult {
    let nodes = ctx.read("/v1/nodes", "querying node status").await?;
    ctx.print(&nodes, |nodes| {
        let nodes = nodes.as_array().map(Vec::as_slice).unwrap_or(&[]);
        if nodes.is_empty() {
            "No nodes registered".to_string()
        } else {
            nodes_table(nodes, verbose, &ctx.style)
        }
    });
    Ok(())
}

/// The node with ID `input`, or the only one whose ID starts with it.
async fn resolve(ctx: &Ctx, input: &str) -> Result<Value, Failure> {
    let path = format!("/v1/nodes?prefix={}", encode(input));
    let found = ctx.read(&path, "querying node status").await?;
    let found = found.as_array().cloned().unwrap_or_default();
    let id = match found.as_slice() {
        [] => {
            return Err(Failure::msg(format!(
                "No node(s) with prefix {input:?} found"
            )))
        }
        [one] => str_of(one, "ID").to_string(),
        many => match many.iter().find(|n| str_of(n, "ID") == input) {
            Some(exact) => str_of(exact, "ID").to_string(),
            None => return Err(resolve::ambiguous("nodes", input, &nodes_rows(many, true))),
        },
    };
    ctx.read(&format!("/v1/node/{}", encode(&id)), "querying node info")
        .await
}

async fn status(ctx: &Ctx, input: &str, verbose: bool) -> CmdResult {
    let node = resolve(ctx, input).await?;
    let path = format!("/v1/node/{}/allocations", encode(str_of(&node, "ID")));
    let allocs = ctx.read(&path, "querying node allocations").await?;
    if ctx.json {
        ctx.print_json(&node);
        return Ok(());
    }
    let allocs = allocs.as_array().cloned().unwrap_or_default();
    output::emit(status_text(
        &node,
        &allocs,
        verbose,
        &ctx.style,
        output::now_ns(),
    ));
    Ok(())
}

async fn eligibility(ctx: &Ctx, input: &str, enable: bool) -> CmdResult {
    let node = resolve(ctx, input).await?;
    let id = str_of(&node, "ID");
    let value = if enable { "eligible" } else { "ineligible" };
    let body = json!({"NodeID": id, "Eligibility": value});
    let r = ctx
        .write(
            &format!("/v1/node/{}/eligibility", encode(id)),
            &body,
            "updating scheduling eligibility",
        )
        .await?;
    ctx.print(&r, |_| {
        format!("Node {id:?} scheduling eligibility set: {value} for scheduling")
    });
    Ok(())
}

/// Nomad's `node status` table.
pub fn nodes_table(nodes: &[Value], verbose: bool, style: &Style) -> String {
    nodes_rows(nodes, verbose).render(style)
}

fn nodes_rows(nodes: &[Value], verbose: bool) -> Table {
    let mut header = vec!["ID", "Node Pool", "DC", "Name", "Class"];
    if verbose {
        header.push("Address");
        header.push("Version");
    }
    header.extend(["Drain", "Eligibility", "Status"]);
    let mut t = Table::new(&header);
    for n in nodes {
        let status = str_of(n, "Status");
        let mut row: Vec<Cell> = vec![
            output::id(str_of(n, "ID"), verbose).into(),
            str_of(n, "NodePool").into(),
            str_of(n, "Datacenter").into(),
            str_of(n, "Name").into(),
            or_none(str_of(n, "NodeClass")),
        ];
        if verbose {
            row.push(str_of(n, "Address").into());
            row.push(str_of(n, "Version").into());
        }
        row.push(output::text(&n["Drain"]).into());
        row.push(str_of(n, "SchedulingEligibility").into());
        row.push(Cell::colored(status, status_color(status)));
        t.row(row);
    }
    t
}

/// The drivers a node reports detected and healthy, by name (`Driver Status`).
fn healthy_drivers(node: &Value) -> String {
    let mut names: Vec<&str> = node["Drivers"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, d)| d["Detected"] == true && d["Healthy"] == true)
        .map(|(name, _)| name.as_str())
        .collect();
    names.sort_unstable();
    names.join(",")
}

/// Nomad's `node status NODE` layout: the node, its events, its allocations.
pub fn status_text(
    node: &Value,
    allocs: &[Value],
    verbose: bool,
    style: &Style,
    now_ns: i64,
) -> String {
    let status = str_of(node, "Status");
    let drain = node["DrainStrategy"].is_object();
    let rows = vec![
        ("ID", or_none(&output::id(str_of(node, "ID"), verbose))),
        ("Name", or_none(str_of(node, "Name"))),
        ("Node Pool", or_none(str_of(node, "NodePool"))),
        ("Class", or_none(str_of(node, "NodeClass"))),
        ("DC", or_none(str_of(node, "Datacenter"))),
        ("Drain", drain.to_string().into()),
        (
            "Eligibility",
            or_none(str_of(node, "SchedulingEligibility")),
        ),
        ("Status", Cell::colored(status, status_color(status))),
        ("Driver Status", or_none(&healthy_drivers(node))),
    ];
    let mut out = key_values(&rows, style);
    let events = node["Events"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if !events.is_empty() {
        out.push_str("\n\nNode Events\n");
        let mut t = Table::new(&["Time", "Subsystem", "Message"]);
        // Newest first, as Nomad shows them.
        for e in events.iter().rev() {
            let time = if verbose {
                output::nomad_time_rfc3339(&e["Timestamp"])
            } else {
                output::relative_rfc3339(&e["Timestamp"], now_ns)
            };
            t.row(vec![
                time.into(),
                str_of(e, "Subsystem").into(),
                str_of(e, "Message").into(),
            ]);
        }
        out.push_str(&t.render(style));
    }
    out.push_str("\n\nAllocations\n");
    if allocs.is_empty() {
        out.push_str("No allocations placed");
    } else {
        out.push_str(&allocations_table(allocs, verbose, style, now_ns));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Value {
        json!({
            "ID": "node-000", "Name": "n0", "NodePool": "default", "NodeClass": "",
            "Datacenter": "dc1", "SchedulingEligibility": "eligible", "Status": "ready",
            "DrainStrategy": null,
            "Drivers": {"mock": {"Detected": true, "Healthy": true}, "exec": {"Detected": false}},
            "Events": [
                {"Message": "Node registered", "Subsystem": "Cluster", "Timestamp": "2023-11-14T22:13:20Z"},
                {"Message": "Node marked as ineligible for scheduling", "Subsystem": "Cluster",
                 "Timestamp": "2023-11-14T22:14:20Z"}
            ],
        })
    }

    #[test]
    fn node_status_shows_nomads_layout_newest_event_first() {
        let text = status_text(&node(), &[], true, &Style::default(), 0);
        insta::assert_snapshot!("node_status_verbose", text);
        assert!(text.find("ineligible").unwrap() < text.find("Node registered").unwrap());
    }

    #[test]
    fn nodes_table_has_nomads_columns() {
        let stub = json!({
            "ID": "node-000", "NodePool": "default", "Datacenter": "dc1", "Name": "n0",
            "NodeClass": "", "Drain": false, "SchedulingEligibility": "eligible",
            "Status": "ready", "Address": "127.0.0.1", "Version": "0.1.0",
        });
        insta::assert_snapshot!(
            "nodes_table",
            nodes_table(&[stub], false, &Style::default())
        );
    }
}
