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
use crate::output::{self, Style, Table};
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
                crate::alloc::status_text(a, verbose, &ctx.style, output::now_ns())
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
            ctx.print(&e, |e| {
                crate::eval::status_text(e, verbose, &ctx.style, output::now_ns())
            });
            Ok(())
        }
    }
}
