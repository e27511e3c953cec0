//! `rollout deployment …`: list, inspect, follow and operate deployments, as Nomad's
//! `nomad deployment …` does, over the API of spec §7.1–7.3.

use crate::client::encode;
use crate::monitor;
use crate::operator::{str_of, u64_of, CmdResult, Context, Ctx, Failure, OperatorArgs};
use crate::output::{self, key_values, status_color, Cell, Style, Table};
use crate::resolve;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct DeploymentArgs {
    #[command(flatten)]
    op: OperatorArgs,
    #[command(subcommand)]
    command: DeploymentCommand,
}

#[derive(Debug, Subcommand)]
enum DeploymentCommand {
    /// List deployments, newest first.
    List {
        /// Only deployments whose ID starts with this.
        #[arg(long)]
        prefix: Option<String>,
        /// Full IDs.
        #[arg(long)]
        verbose: bool,
    },
    /// Show a deployment; with --monitor, follow it until it ends.
    ///
    /// --monitor exits 0 when the deployment succeeds and 1 when it fails or is
    /// cancelled; after a failure that rolled back, it first follows the rollback's
    /// deployment to its end, as Nomad does.
    Status {
        /// Deployment ID or unique prefix.
        id: String,
        /// Follow the deployment live (blocking queries) until it ends.
        #[arg(long, conflicts_with = "at_index")]
        monitor: bool,
        /// Show the deployment as it was right after the write at this index (time
        /// travel: replayed from the agent's log).
        #[arg(long, value_name = "N")]
        at_index: Option<u64>,
        /// Full IDs.
        #[arg(long)]
        verbose: bool,
    },
    /// Why a deployment is where it is: every write that changed its status, with the
    /// rule that decided it, and what a running deployment waits for.
    Why {
        /// Deployment ID or unique prefix.
        id: String,
    },
    /// Promote canaries: all groups, or only those named.
    Promote {
        /// Deployment ID or unique prefix.
        id: String,
        /// A task group to promote; repeat or list several.
        #[arg(long = "group", value_name = "GROUP", num_args = 1..)]
        groups: Vec<String>,
    },
    /// Pause a running deployment.
    Pause {
        /// Deployment ID or unique prefix.
        id: String,
    },
    /// Resume a paused deployment.
    Resume {
        /// Deployment ID or unique prefix.
        id: String,
    },
    /// Mark a deployment failed (rolling back if its groups auto-revert).
    Fail {
        /// Deployment ID or unique prefix.
        id: String,
    },
    /// Unblock a multiregion deployment (rollout has no regions: the agent says so).
    Unblock {
        /// Deployment ID or unique prefix.
        id: String,
    },
    /// Set the health of a deployment's allocations (for manual health checks).
    Health {
        /// Deployment ID or unique prefix.
        id: String,
        /// Allocation IDs (or unique prefixes) to mark healthy.
        #[arg(long, value_name = "ALLOC", num_args = 1..)]
        healthy: Vec<String>,
        /// Allocation IDs (or unique prefixes) to mark unhealthy.
        #[arg(long, value_name = "ALLOC", num_args = 1..)]
        unhealthy: Vec<String>,
    },
}

pub fn main(args: DeploymentArgs) -> ExitCode {
    let command = args.command;
    args.op
        .run(move |ctx| async move { run(&ctx, command).await })
}

async fn run(ctx: &Ctx, command: DeploymentCommand) -> CmdResult {
    match command {
        DeploymentCommand::List { prefix, verbose } => list(ctx, prefix.as_deref(), verbose).await,
        DeploymentCommand::Status {
            id,
            monitor,
            at_index,
            verbose,
        } => {
            let d = resolve::deployment(ctx, &id).await?;
            if let Some(n) = at_index {
                let path = format!("/v1/deployment/{}?at_index={n}", str_of(&d, "ID"));
                let past = ctx
                    .client
                    .get(&path)
                    .await
                    .doing(&format!("reading the deployment at index {n}"))?
                    .json()
                    .doing("reading the deployment")?;
                ctx.print(&past, |d| {
                    status_text(d, verbose, &ctx.style, output::now_ns())
                });
                return Ok(());
            }
            if monitor {
                monitor::follow(ctx, d, verbose).await
            } else {
                ctx.print(&d, |d| {
                    status_text(d, verbose, &ctx.style, output::now_ns())
                });
                Ok(())
            }
        }
        DeploymentCommand::Why { id } => {
            let d = resolve::deployment(ctx, &id).await?;
            let path = format!("/v1/deployment/{}/history", str_of(&d, "ID"));
            let history = ctx
                .client
                .get(&path)
                .await
                .doing("reading the deployment's history")?
                .json()
                .doing("reading the deployment's history")?;
            ctx.print(&history, |h| why_text(&d, h));
            Ok(())
        }
        DeploymentCommand::Promote { id, groups } => {
            let d = resolve::deployment(ctx, &id).await?;
            promote(ctx, &d, &groups).await
        }
        DeploymentCommand::Unblock { id } => {
            let d = resolve::deployment(ctx, &id).await?;
            let id = str_of(&d, "ID");
            let r = ctx
                .write(
                    &format!("/v1/deployment/unblock/{id}"),
                    &json!({"DeploymentID": id}),
                    "unblocking deployment",
                )
                .await?;
            ctx.print(&r, |r| {
                format!(
                    "Deployment {:?} unblocked; evaluation {:?}",
                    output::id(id, false),
                    output::id(str_of(r, "EvalID"), false)
                )
            });
            Ok(())
        }
        DeploymentCommand::Pause { id } => pause(ctx, &id, true).await,
        DeploymentCommand::Resume { id } => pause(ctx, &id, false).await,
        DeploymentCommand::Fail { id } => {
            let d = resolve::deployment(ctx, &id).await?;
            let id = str_of(&d, "ID");
            let r = ctx
                .write(
                    &format!("/v1/deployment/fail/{id}"),
                    &json!({"DeploymentID": id}),
                    "failing deployment",
                )
                .await?;
            let mut text = format!("Deployment {:?} marked as failed", output::id(id, false));
            if let Some(from) = r["RevertedJobVersion"].as_u64() {
                text.push_str(&format!(
                    "; job {:?} rolled back to version {from}",
                    str_of(&d, "JobID")
                ));
                if let Some(now) = version_registered_at(ctx, &d, u64_of(&r, "Index")).await {
                    text.push_str(&format!(" as version {now}"));
                }
            }
            ctx.print(&r, |_| text);
            Ok(())
        }
        DeploymentCommand::Health {
            id,
            healthy,
            unhealthy,
        } => {
            if healthy.is_empty() && unhealthy.is_empty() {
                return Err(Failure::usage(
                    "Error setting allocation health: give --healthy and/or --unhealthy allocation IDs",
                ));
            }
            let d = resolve::deployment(ctx, &id).await?;
            let id = str_of(&d, "ID");
            let healthy_ids = resolve::allocations_of(ctx, id, &healthy).await?;
            let unhealthy_ids = resolve::allocations_of(ctx, id, &unhealthy).await?;
            let body = json!({
                "DeploymentID": id,
                "HealthyAllocationIDs": healthy_ids,
                "UnhealthyAllocationIDs": unhealthy_ids,
            });
            let r = ctx
                .write(
                    &format!("/v1/deployment/allocation-health/{id}"),
                    &body,
                    "setting allocation health",
                )
                .await?;
            ctx.print(&r, |_| {
                format!(
                    "Deployment {:?}: {} allocation(s) marked healthy, {} unhealthy",
                    output::id(id, false),
                    healthy_ids.len(),
                    unhealthy_ids.len()
                )
            });
            Ok(())
        }
    }
}

/// Promotes the canaries of deployment `d`: every group, or those named.
pub async fn promote(ctx: &Ctx, d: &Value, groups: &[String]) -> CmdResult {
    let id = str_of(d, "ID");
    let body = if groups.is_empty() {
        json!({"DeploymentID": id, "All": true})
    } else {
        json!({"DeploymentID": id, "Groups": groups})
    };
    let r = ctx
        .write(
            &format!("/v1/deployment/promote/{id}"),
            &body,
            "promoting deployment",
        )
        .await?;
    let what = if groups.is_empty() {
        String::new()
    } else {
        format!(" (groups {})", groups.join(", "))
    };
    ctx.print(&r, |r| {
        format!(
            "Deployment {:?} promoted{what}; evaluation {:?}",
            output::id(id, false),
            output::id(str_of(r, "EvalID"), false)
        )
    });
    Ok(())
}

async fn list(ctx: &Ctx, prefix: Option<&str>, verbose: bool) -> CmdResult {
    let deployments = match prefix {
        Some(p) => resolve::deployments_with_prefix(ctx, p).await?,
        None => {
            let list = ctx
                .read("/v1/deployments", "retrieving deployments")
                .await?;
            let mut all = list.as_array().cloned().unwrap_or_default();
            resolve::newest_first(&mut all);
            all
        }
    };
    let value = Value::Array(deployments);
    ctx.print(&value, |v| {
        let list = v.as_array().map(Vec::as_slice).unwrap_or_default();
        if list.is_empty() {
            return "No deployments found".into();
        }
        list_table(list, verbose, &ctx.style, output::now_ns())
    });
    Ok(())
}

/// Deployments as a table: ID, job, version, status, description, age (last, so that
/// its changing width moves no other column).
pub fn list_table(list: &[Value], verbose: bool, style: &Style, now_ns: i64) -> String {
    let mut t = Table::new(&[
        "ID",
        "Job ID",
        "Job Version",
        "Status",
        "Description",
        "Created",
    ]);
    for d in list {
        let status = str_of(d, "Status");
        t.row(vec![
            output::id(str_of(d, "ID"), verbose).into(),
            str_of(d, "JobID").into(),
            output::text(&d["JobVersion"]).into(),
            Cell::colored(status, status_color(status)),
            str_of(d, "StatusDescription").into(),
            output::relative(d["CreateTime"].as_i64().unwrap_or(0), now_ns).into(),
        ]);
    }
    t.render(style)
}

async fn pause(ctx: &Ctx, id: &str, pause: bool) -> CmdResult {
    let d = resolve::deployment(ctx, id).await?;
    let id = str_of(&d, "ID");
    let doing = if pause {
        "pausing deployment"
    } else {
        "resuming deployment"
    };
    let r = ctx
        .write(
            &format!("/v1/deployment/pause/{id}"),
            &json!({"DeploymentID": id, "Pause": pause}),
            doing,
        )
        .await?;
    ctx.print(&r, |_| {
        format!(
            "Deployment {:?} {}",
            output::id(id, false),
            if pause { "paused" } else { "resumed" }
        )
    });
    Ok(())
}

/// A deployment as `rollout deployment status` prints it.
pub fn status_text(d: &Value, verbose: bool, style: &Style, now_ns: i64) -> String {
    let status = str_of(d, "Status");
    let mut rows = vec![
        ("ID", Cell::from(output::id(str_of(d, "ID"), verbose))),
        ("Job ID", str_of(d, "JobID").into()),
        ("Job Version", output::text(&d["JobVersion"]).into()),
        ("Status", Cell::colored(status, status_color(status))),
        ("Description", str_of(d, "StatusDescription").into()),
        (
            "Created",
            output::relative(d["CreateTime"].as_i64().unwrap_or(0), now_ns).into(),
        ),
    ];
    if d["Namespace"] != "default" {
        rows.insert(2, ("Namespace", str_of(d, "Namespace").into()));
    }
    format!(
        "{}\n\nDeployed\n{}",
        key_values(&rows, style),
        groups_table(d, style, now_ns)
    )
}

/// `deployment why`: the status changes in order, each with the decisions that made
/// it, then what a running deployment waits for.
pub fn why_text(d: &Value, history: &Value) -> String {
    let mut lines = Vec::new();
    for e in history.as_array().into_iter().flatten() {
        let Some(to) = e["Status"]["To"].as_str() else {
            continue;
        };
        let from = e["Status"]["From"].as_str().unwrap_or("");
        let head = if from.is_empty() {
            format!("index {}: created {to}", u64_of(e, "Index"))
        } else {
            format!("index {}: {from} → {to}", u64_of(e, "Index"))
        };
        lines.push(format!(
            "{head} at {} ({}){}: {}",
            output::date(e["Time"].as_i64().unwrap_or(0)),
            str_of(e, "Type"),
            actor_text(&e["Actor"]).map_or(String::new(), |a| format!(" by {a}")),
            str_of(e, "StatusDescription")
        ));
        for c in e["Decisions"].as_array().into_iter().flatten() {
            lines.push(format!(
                "  {} {}: {} ({})",
                str_of(c, "Topic"),
                output::id(str_of(c, "Key"), false),
                str_of(c, "Reason"),
                str_of(c, "Rule")
            ));
        }
    }
    let status = str_of(d, "Status");
    if !is_terminal(status) {
        lines.push(waiting_for(d));
    }
    lines.join("\n")
}

/// Who made a write, from a history entry's `Actor`: `operator ci-token (accessor
/// 3f2a1b2c)`, `operator`, `client`; `None` for a write whose log entry records no actor.
pub fn actor_text(actor: &Value) -> Option<String> {
    let kind = actor["Kind"].as_str().filter(|k| !k.is_empty())?;
    let mut out = kind.to_string();
    if let Some(name) = actor["Name"].as_str().filter(|n| !n.is_empty()) {
        out.push(' ');
        out.push_str(name);
    }
    if let Some(accessor) = actor["AccessorID"].as_str().filter(|a| !a.is_empty()) {
        out.push_str(&format!(" (accessor {})", output::id(accessor, false)));
    }
    Some(out)
}

/// What a deployment that has not ended waits for, group by group.
fn waiting_for(d: &Value) -> String {
    if str_of(d, "Status") == "paused" {
        return "waiting: the deployment is paused; resume it to go on".into();
    }
    let mut waits = Vec::new();
    for (name, g) in groups(d) {
        let canaries = u64_of(g, "DesiredCanaries");
        let healthy = g["HealthyAllocs"].as_i64().unwrap_or(0);
        let total = u64_of(g, "DesiredTotal");
        if canaries > 0 && g["Promoted"] != true {
            let placed = g["PlacedCanaries"].as_array().map_or(0, Vec::len);
            let how = if g["AutoPromote"] == true {
                "then it promotes itself"
            } else {
                "then it needs a promotion"
            };
            waits.push(format!(
                "group {name}: {placed} of {canaries} canaries placed, {healthy} allocations healthy; {how}"
            ));
        } else {
            waits.push(format!(
                "group {name}: {healthy} of {total} allocations healthy"
            ));
        }
        if let Some(by) = g["RequireProgressBy"].as_str() {
            waits.push(format!("  progress deadline: {by}"));
        }
    }
    format!("waiting:\n  {}", waits.join("\n  "))
}

/// Whether a deployment status is final.
pub fn is_terminal(status: &str) -> bool {
    matches!(status, "successful" | "failed" | "cancelled")
}

/// The task groups of a deployment, sorted by name.
pub fn groups(d: &Value) -> Vec<(&str, &Value)> {
    let mut groups: Vec<(&str, &Value)> = d["TaskGroups"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    groups.sort_by_key(|(k, _)| *k);
    groups
}

/// Placed / desired canaries, or `-` when the group has none.
pub fn canaries(g: &Value) -> String {
    let placed = g["PlacedCanaries"].as_array().map_or(0, Vec::len);
    let desired = u64_of(g, "DesiredCanaries");
    if placed == 0 && desired == 0 {
        "-".into()
    } else {
        format!("{placed}/{desired}")
    }
}

/// When a group must next make progress: relative for a live deployment, else `-`.
pub fn deadline(d: &Value, g: &Value, now_ns: i64) -> String {
    if is_terminal(str_of(d, "Status")) {
        "-".into()
    } else {
        output::relative_rfc3339(&g["RequireProgressBy"], now_ns)
    }
}

/// Per task group: the rollout's counters, as in `nomad deployment status`.
pub fn groups_table(d: &Value, style: &Style, now_ns: i64) -> String {
    let mut t = Table::new(&[
        "Task Group",
        "Auto Revert",
        "Promoted",
        "Desired",
        "Canaries",
        "Placed",
        "Healthy",
        "Unhealthy",
        "Progress Deadline",
    ]);
    for (name, g) in groups(d) {
        t.row(vec![
            name.into(),
            output::text(&g["AutoRevert"]).into(),
            output::text(&g["Promoted"]).into(),
            output::text(&g["DesiredTotal"]).into(),
            canaries(g).into(),
            output::text(&g["PlacedAllocs"]).into(),
            output::text(&g["HealthyAllocs"]).into(),
            output::text(&g["UnhealthyAllocs"]).into(),
            deadline(d, g, now_ns).into(),
        ]);
    }
    t.render(style)
}

/// The job version a rollback of deployment `d` registered at index `index` (the
/// engine reverts in the same write that fails the deployment, spec §8 decision 14).
pub async fn version_registered_at(ctx: &Ctx, d: &Value, index: u64) -> Option<u64> {
    let path = format!(
        "/v1/job/{}/versions?namespace={}",
        encode(str_of(d, "JobID")),
        encode(str_of(d, "Namespace"))
    );
    let versions = ctx.client.get(&path).await.ok()?.json().ok()?;
    versions["Versions"]
        .as_array()?
        .iter()
        .find(|v| u64_of(v, "JobModifyIndex") == index)
        .and_then(|v| v["Version"].as_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep() -> Value {
        json!({"ID": "5c0f0a8e-1234-4abc-9def-0123456789ab", "JobID": "web", "JobVersion": 1,
               "Namespace": "default", "Status": "running", "CreateTime": 1_800_000_000_000_000_000i64 - 65_000_000_000,
               "StatusDescription": "Deployment is running but requires manual promotion",
               "TaskGroups": {
                 "web": {"AutoRevert": true, "Promoted": false, "DesiredTotal": 2, "DesiredCanaries": 1,
                         "PlacedCanaries": ["a"], "PlacedAllocs": 1, "HealthyAllocs": 1, "UnhealthyAllocs": 0,
                         "RequireProgressBy": "2027-01-15T08:09:58Z"},
                 "api": {"AutoRevert": false, "Promoted": false, "DesiredTotal": 1, "DesiredCanaries": 0,
                         "PlacedCanaries": null, "PlacedAllocs": 0, "HealthyAllocs": 0, "UnhealthyAllocs": 0,
                         "RequireProgressBy": null}}})
    }

    #[test]
    fn why_says_who_made_each_status_change_never_a_secret() {
        let history = json!([
            {"Index": 6, "Time": 0, "Type": "JobRegistered", "Status": {"From": "", "To": "running"},
             "StatusDescription": "Deployment is running",
             "Actor": {"Kind": "operator", "AccessorID": "3f2a1b2c-0000-4000-8000-000000000001", "Name": "ci-token"},
             "Decisions": []},
            {"Index": 9, "Time": 0, "Type": "AllocationUpdated", "Status": {"From": "running", "To": "failed"},
             "StatusDescription": "Failed due to unhealthy allocations",
             "Actor": {"Kind": "client"}, "Decisions": []},
            {"Index": 12, "Time": 0, "Type": "DeploymentStatusUpdate", "Status": {"From": "failed", "To": "cancelled"},
             "StatusDescription": "old", "Actor": null, "Decisions": []}
        ]);
        let mut d = dep();
        d["Status"] = json!("failed");
        let text = why_text(&d, &history);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].ends_with(
                "(JobRegistered) by operator ci-token (accessor 3f2a1b2c): Deployment is running"
            ),
            "{text}"
        );
        assert!(
            lines[1]
                .ends_with("(AllocationUpdated) by client: Failed due to unhealthy allocations"),
            "{text}"
        );
        // A write logged before actors were recorded says nothing about who.
        assert!(
            lines[2].ends_with("(DeploymentStatusUpdate): old"),
            "{text}"
        );
    }

    #[test]
    fn status_reads_like_nomad() {
        let now = 1_800_000_000_000_000_000;
        assert_eq!(
            status_text(&dep(), false, &Style::default(), now),
            "\
ID          = 5c0f0a8e
Job ID      = web
Job Version = 1
Status      = running
Description = Deployment is running but requires manual promotion
Created     = 1m5s ago

Deployed
Task Group  Auto Revert  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy  Progress Deadline
api         false        false     1        -         0       0        0          -
web         true         false     2        1/1       1       1        0          in 9m58s"
        );
    }
}
