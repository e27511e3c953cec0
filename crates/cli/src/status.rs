//! `rollout status [prefix]`, as `nomad status`: without a prefix, the jobs of the
//! namespace; with one, the job, deployment, allocation or evaluation it names (an exact
//! job ID first, else the only object of any kind whose ID starts with it). A prefix
//! that matches several objects lists them and exits 1.
//!
//! Nomad asks its search API (`/v1/search`); rollout has none, so the four lists are
//! asked by prefix, as `rollout job status` and `rollout deployment status` do.

use crate::client::encode;
use crate::deployment;
use crate::job;
use crate::operator::{str_of, CmdResult, Ctx, Failure, OperatorArgs};
use crate::output::{self, key_values, status_color, Cell, Style, Table};
use crate::resolve;
use clap::Args;
use serde_json::Value;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    op: OperatorArgs,
    /// An ID, or the start of one, of a job, deployment, allocation or evaluation.
    prefix: Option<String>,
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
}

pub fn main(args: StatusArgs) -> ExitCode {
    let StatusArgs {
        op,
        prefix,
        verbose,
    } = args;
    op.run(move |ctx| async move { run(&ctx, prefix, verbose).await })
}

/// The kinds of object `rollout status` finds, and the lists it asks.
const UUID_KINDS: [(&str, &str); 3] = [
    ("deployment", "/v1/deployments"),
    ("allocation", "/v1/allocations"),
    ("evaluation", "/v1/evaluations"),
];

async fn run(ctx: &Ctx, prefix: Option<String>, verbose: bool) -> CmdResult {
    let Some(prefix) = prefix.filter(|p| !p.is_empty()) else {
        return job::list(ctx, verbose).await;
    };
    let jobs = ctx
        .read(
            &format!("/v1/jobs?prefix={}", encode(&prefix)),
            "retrieving jobs",
        )
        .await?;
    let jobs = jobs.as_array().cloned().unwrap_or_default();
    if jobs.iter().any(|j| str_of(j, "ID") == prefix) {
        return job::status(ctx, &prefix, verbose).await;
    }
    let mut found: Vec<(&str, Value)> = jobs.into_iter().map(|j| ("job", j)).collect();
    if resolve::is_uuid_prefix(&prefix) {
        for (kind, path) in UUID_KINDS {
            let matches = resolve::with_uuid_prefix(ctx, kind, path, &prefix).await?;
            found.extend(matches.into_iter().map(|v| (kind, v)));
        }
    }
    match found.as_slice() {
        [] => Err(Failure::msg(format!(
            "No job, deployment, allocation or evaluation with prefix or ID {prefix:?} found in namespace {:?}",
            ctx.namespace
        ))),
        [(kind, v)] => show(ctx, kind, v, verbose).await,
        many => {
            let mut t = Table::new(&["Kind", "ID", "Job ID", "Status"]);
            for (kind, v) in many {
                let status = match *kind {
                    "allocation" => str_of(v, "ClientStatus"),
                    _ => str_of(v, "Status"),
                };
                let job_id = match *kind {
                    "job" => "",
                    _ => str_of(v, "JobID"),
                };
                t.row(vec![
                    (*kind).into(),
                    str_of(v, "ID").into(),
                    job_id.into(),
                    status.into(),
                ]);
            }
            Err(Failure::msg(format!(
                "Prefix {prefix:?} matched several objects; use more of the ID:\n\n{}",
                t.render(&Style::default())
            )))
        }
    }
}

/// Shows the one object found, as its own status command does.
async fn show(ctx: &Ctx, kind: &str, v: &Value, verbose: bool) -> CmdResult {
    let id = str_of(v, "ID");
    match kind {
        "job" => job::status(ctx, id, verbose).await,
        "deployment" => {
            ctx.print(v, |d| {
                deployment::status_text(d, verbose, &ctx.style, output::now_ns())
            });
            Ok(())
        }
        "allocation" => {
            let a = ctx
                .read(
                    &format!("/v1/allocation/{}", encode(id)),
                    "retrieving allocation",
                )
                .await?;
            ctx.print(&a, |a| {
                allocation_text(a, verbose, &ctx.style, output::now_ns())
            });
            Ok(())
        }
        _ => {
            let e = ctx
                .read(
                    &format!("/v1/evaluation/{}", encode(id)),
                    "retrieving evaluation",
                )
                .await?;
            ctx.print(&e, |e| evaluation_text(e, verbose, &ctx.style));
            Ok(())
        }
    }
}

/// An allocation's identity, placement and deployment health.
pub fn allocation_text(a: &Value, verbose: bool, style: &Style, now_ns: i64) -> String {
    let client = str_of(a, "ClientStatus");
    let health = match a["DeploymentStatus"]["Healthy"].as_bool() {
        Some(true) => "healthy",
        Some(false) => "unhealthy",
        None => "-",
    };
    let rows = [
        ("ID", Cell::from(output::id(str_of(a, "ID"), verbose))),
        ("Eval ID", output::id(str_of(a, "EvalID"), verbose).into()),
        ("Name", str_of(a, "Name").into()),
        ("Node ID", output::id(str_of(a, "NodeID"), verbose).into()),
        ("Job ID", str_of(a, "JobID").into()),
        ("Job Version", output::text(&a["Job"]["Version"]).into()),
        (
            "Deployment ID",
            or_dash(&output::id(str_of(a, "DeploymentID"), verbose)),
        ),
        ("Desired Status", str_of(a, "DesiredStatus").into()),
        ("Client Status", Cell::colored(client, status_color(client))),
        (
            "Deployment Health",
            Cell::colored(health, status_color(health)),
        ),
        (
            "Created",
            output::relative(a["CreateTime"].as_i64().unwrap_or(0), now_ns).into(),
        ),
    ];
    key_values(&rows, style)
}

/// An evaluation: why it was created, for which job and deployment, how it ended.
pub fn evaluation_text(e: &Value, verbose: bool, style: &Style) -> String {
    let status = str_of(e, "Status");
    let mut rows = vec![
        ("ID", Cell::from(output::id(str_of(e, "ID"), verbose))),
        ("Status", Cell::colored(status, status_color(status))),
        (
            "Status Description",
            or_dash(str_of(e, "StatusDescription")),
        ),
        ("Type", str_of(e, "Type").into()),
        ("TriggeredBy", str_of(e, "TriggeredBy").into()),
        ("Job ID", str_of(e, "JobID").into()),
        (
            "Deployment ID",
            or_dash(&output::id(str_of(e, "DeploymentID"), verbose)),
        ),
        ("Priority", output::text(&e["Priority"]).into()),
    ];
    let blocked = str_of(e, "BlockedEval");
    if !blocked.is_empty() {
        rows.push(("Blocked Eval", output::id(blocked, verbose).into()));
    }
    key_values(&rows, style)
}

/// A cell for a field that may be empty: `-` then.
fn or_dash(text: &str) -> Cell {
    if text.is_empty() {
        "-".into()
    } else {
        text.into()
    }
}
