//! `rollout alloc status ALLOC`, as Nomad's `nomad alloc status`: the allocation's
//! identity, placement, statuses, times and deployment health, then per task its state
//! and recent events. The allocation is found by ID or unique prefix, as `rollout
//! status` finds one.

use crate::operator::{str_of, CmdResult, Ctx, OperatorArgs};
use crate::output::{self, key_values, or_none, status_color, Cell, Style, Table};
use crate::resolve;
use clap::{Args, Subcommand};
use serde_json::Value;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct AllocArgs {
    #[command(flatten)]
    op: OperatorArgs,
    #[command(subcommand)]
    command: AllocCommand,
}

#[derive(Debug, Subcommand)]
enum AllocCommand {
    /// Show an allocation and its tasks (`--json`: the API's allocation).
    Status {
        /// Allocation ID or unique prefix.
        id: String,
        /// Full IDs and dates instead of relative times.
        #[arg(long)]
        verbose: bool,
    },
}

pub fn main(args: AllocArgs) -> ExitCode {
    let AllocCommand::Status { id, verbose } = args.command;
    args.op
        .run(move |ctx| async move { status(&ctx, &id, verbose).await })
}

async fn status(ctx: &Ctx, id: &str, verbose: bool) -> CmdResult {
    let a = resolve::allocation(ctx, id).await?;
    ctx.print(&a, |a| {
        status_text(a, verbose, &ctx.style, output::now_ns())
    });
    Ok(())
}

/// A time as Nomad's `alloc status` shows one: relative, or the date with `verbose`;
/// "" when unset.
fn when(at_ns: i64, verbose: bool, now_ns: i64) -> String {
    if at_ns <= 0 {
        String::new()
    } else if verbose {
        output::nomad_time(at_ns)
    } else {
        output::relative(at_ns, now_ns)
    }
}

/// Nomad's `alloc status` layout for a full allocation (`GET /v1/allocation/:id`).
pub fn status_text(a: &Value, verbose: bool, style: &Style, now_ns: i64) -> String {
    let client = str_of(a, "ClientStatus");
    let mut rows = vec![
        ("ID", or_none(str_of(a, "ID"))),
        (
            "Eval ID",
            or_none(&output::id(str_of(a, "EvalID"), verbose)),
        ),
        ("Name", or_none(str_of(a, "Name"))),
        (
            "Node ID",
            or_none(&output::id(str_of(a, "NodeID"), verbose)),
        ),
        ("Node Name", or_none(str_of(a, "NodeName"))),
        ("Job ID", or_none(str_of(a, "JobID"))),
        ("Job Version", output::text(&a["Job"]["Version"]).into()),
        ("Client Status", Cell::colored(client, status_color(client))),
        (
            "Client Description",
            or_none(str_of(a, "ClientDescription")),
        ),
        ("Desired Status", or_none(str_of(a, "DesiredStatus"))),
        (
            "Desired Description",
            or_none(str_of(a, "DesiredDescription")),
        ),
        (
            "Created",
            or_none(&when(
                a["CreateTime"].as_i64().unwrap_or(0),
                verbose,
                now_ns,
            )),
        ),
        (
            "Modified",
            or_none(&when(
                a["ModifyTime"].as_i64().unwrap_or(0),
                verbose,
                now_ns,
            )),
        ),
    ];
    let deployment = str_of(a, "DeploymentID");
    if !deployment.is_empty() {
        let ds = &a["DeploymentStatus"];
        let health = match ds["Healthy"].as_bool() {
            Some(true) => "healthy",
            Some(false) => "unhealthy",
            None => "unset",
        };
        rows.push(("Deployment ID", output::id(deployment, verbose).into()));
        rows.push((
            "Deployment Health",
            Cell::colored(health, status_color(health)),
        ));
        if ds["Canary"] == true {
            rows.push(("Canary", "true".into()));
        }
    }
    let next = str_of(a, "NextAllocation");
    if !next.is_empty() {
        rows.push(("Replacement Alloc ID", output::id(next, verbose).into()));
    }
    let mut out = key_values(&rows, style);
    if let Some(states) = a["TaskStates"].as_object() {
        // By name, as the map's keys come.
        for (task, state) in states {
            out.push_str(&format!(
                "\n\nTask {task:?} is {:?}\n\n{}",
                str_of(state, "State"),
                task_text(state, style)
            ));
        }
    }
    out
}

/// A task's times and restarts, then its events newest first (Nomad's "Task Events"
/// and "Recent Events").
fn task_text(state: &Value, style: &Style) -> String {
    let at = |key: &str| {
        let t = output::nomad_time_rfc3339(&state[key]);
        if t.is_empty() {
            "N/A".to_owned()
        } else {
            t
        }
    };
    let rows = [
        ("Started At", Cell::from(at("StartedAt"))),
        ("Finished At", at("FinishedAt").into()),
        ("Total Restarts", output::text(&state["Restarts"]).into()),
        ("Last Restart", at("LastRestart").into()),
    ];
    let mut t = Table::new(&["Time", "Type", "Description"]);
    let events = state["Events"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for e in events.iter().rev() {
        let message = match str_of(e, "DisplayMessage") {
            "" => str_of(e, "Message"),
            m => m,
        };
        t.row(vec![
            or_none(&output::nomad_time(e["Time"].as_i64().unwrap_or(0))),
            or_none(str_of(e, "Type")),
            or_none(message),
        ]);
    }
    format!(
        "Task Events:\n{}\n\nRecent Events:\n{}",
        key_values(&rows, style),
        t.render(style)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn allocations_print_in_nomads_layout() {
        let s = 1_000_000_000i64;
        let now = 1_800_000_000 * s;
        let a = json!({
            "ID": "5c0f0a8e-1234-4abc-9def-0123456789ab",
            "EvalID": "11111111-1234-4abc-9def-0123456789ab",
            "Name": "web.web[0]", "NodeID": "22222222-1234-4abc-9def-0123456789ab",
            "NodeName": "dev-1", "JobID": "web", "Job": {"Version": 3},
            "ClientStatus": "running", "ClientDescription": "Tasks are running",
            "DesiredStatus": "run", "CreateTime": now - 5 * s, "ModifyTime": now - 2 * s,
            "DeploymentID": "33333333-1234-4abc-9def-0123456789ab",
            "DeploymentStatus": {"Healthy": true, "Canary": true},
            "TaskStates": {"app": {"State": "running", "StartedAt": "2027-01-15T07:59:55Z",
                "Restarts": 0, "Events": [
                    {"Time": now - 6 * s, "Type": "Received", "DisplayMessage": "Task received by client"},
                    {"Time": now - 5 * s, "Type": "Started", "DisplayMessage": "Task started by client"}
                ]}}
        });
        assert_eq!(
            status_text(&a, false, &Style::default(), now),
            "ID                  = 5c0f0a8e-1234-4abc-9def-0123456789ab
Eval ID             = 11111111
Name                = web.web[0]
Node ID             = 22222222
Node Name           = dev-1
Job ID              = web
Job Version         = 3
Client Status       = running
Client Description  = Tasks are running
Desired Status      = run
Desired Description = <none>
Created             = 5s ago
Modified            = 2s ago
Deployment ID       = 33333333
Deployment Health   = healthy
Canary              = true

Task \"app\" is \"running\"

Task Events:
Started At     = 01/15/27 07:59:55 UTC
Finished At    = N/A
Total Restarts = 0
Last Restart   = N/A

Recent Events:
Time                   Type      Description
01/15/27 07:59:55 UTC  Started   Task started by client
01/15/27 07:59:54 UTC  Received  Task received by client"
        );
    }
}
