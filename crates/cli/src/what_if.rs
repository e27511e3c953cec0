//! `rollout what-if DEPLOYMENT [--assume …]`: what the deployment will do from here, if
//! its allocations behave as assumed. The agent's state is read once (`GET
//! /v1/engine/state`, one consistent value) and continued in the simulator on a virtual
//! clock until the deployment ends (its rollback's deployment too), nothing more would
//! happen without an operator, or the horizon passes. The agent is not touched; the run
//! is deterministic for a seed and takes milliseconds.

use crate::operator::{CmdResult, Ctx, Failure, OperatorArgs};
use crate::output;
use clap::Args;
use rollout_engine::model::Deployment;
use rollout_engine::State;
use rollout_sim::timeline::short;
use rollout_sim::what_if::{continue_from, Assumption, Continuation, End, WhatIf};
use serde_json::json;
use std::process::ExitCode;
use uuid::Uuid;

#[derive(Debug, Args)]
pub struct WhatIfArgs {
    #[command(flatten)]
    op: OperatorArgs,
    /// Deployment ID or unique prefix.
    deployment: String,
    /// What the allocations do: healthy, canary-fails (canaries never pass their
    /// checks), unhealthy (no new allocation does), node-lost@DURATION (the node running
    /// most of the job's allocations is lost that long from now).
    #[arg(long, value_name = "ASSUMPTION", default_value = "healthy")]
    assume: Assumption,
    /// Seeds the simulated scheduler's and clients' choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The longest virtual time to simulate (a Go duration).
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    horizon: String,
}

pub fn main(args: WhatIfArgs) -> ExitCode {
    let WhatIfArgs {
        op,
        deployment,
        assume,
        seed,
        horizon,
    } = args;
    op.run(move |ctx| async move { what_if(&ctx, &deployment, assume, seed, &horizon).await })
}

async fn what_if(
    ctx: &Ctx,
    input: &str,
    assumption: Assumption,
    seed: u64,
    horizon: &str,
) -> CmdResult {
    let horizon_ns = rollout_engine::model::parse_go_duration(horizon)
        .ok()
        .filter(|ns| *ns > 0)
        .ok_or_else(|| {
            Failure::usage(format!(
                "invalid --horizon {horizon:?}: use a duration such as 10m"
            ))
        })?;
    let value = ctx
        .read("/v1/engine/state", "reading the agent's state")
        .await?;
    let state: State =
        serde_json::from_value(value).map_err(|e| Failure::new("reading the agent's state", e))?;
    let d = find(&state, input)?;
    let what = WhatIf {
        assumption: assumption.clone(),
        seed,
        horizon_ns,
        job: Some((d.namespace.to_string(), d.job_id.to_string())),
    };
    let from = state.index();
    let (id, namespace, job) = (d.id, d.namespace.to_string(), d.job_id.to_string());
    let run = continue_from(state, &what, |s| ended(s, &id, &namespace, &job));
    if ctx.json {
        ctx.print_json(&json_of(&run, &id, from, &assumption));
        return Ok(());
    }
    output::emit(text_of(&run, &d, from, &assumption));
    Ok(())
}

/// The deployment with this ID, or the only one whose ID starts with it.
fn find(state: &State, input: &str) -> Result<Deployment, Failure> {
    if let Ok(id) = input.parse::<Uuid>() {
        return state
            .deployment(&id)
            .map(|d| (**d).clone())
            .ok_or_else(|| Failure::msg(format!("No deployment with ID {input:?} found")));
    }
    let wanted = input.to_ascii_lowercase();
    let matches: Vec<&Deployment> = state
        .deployments_in_namespace(None)
        .into_iter()
        .filter(|d| d.id.to_string().starts_with(&wanted))
        .map(|d| &**d)
        .collect();
    match matches.as_slice() {
        [] => Err(Failure::msg(format!(
            "No deployment with prefix or ID {input:?} found"
        ))),
        [one] => Ok((*one).clone()),
        many => Err(Failure::msg(format!(
            "Prefix {input:?} matched multiple deployments; use more of the ID: {}",
            many.iter()
                .map(|d| d.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The deployment is over, and so is any deployment of the same job that came after it
/// (an auto-revert's).
fn ended(s: &State, id: &Uuid, namespace: &str, job: &str) -> bool {
    let over = s.deployment(id).is_some_and(|d| !d.active());
    over && s
        .latest_job_deployment(namespace, job)
        .is_none_or(|latest| !latest.active())
}

fn outcome_line(run: &Continuation, d: &Deployment) -> String {
    let after = output::span((run.elapsed_ns / 1_000_000_000).max(0) as u64);
    let Some(now) = run.state.deployment(&d.id) else {
        return format!("Deployment {} was garbage-collected", short(&d.id));
    };
    let mut line = match run.end {
        _ if !now.active() => format!(
            "Deployment {} {} after {after}: {:?}",
            short(&d.id),
            now.status,
            now.status_description
        ),
        End::Quiet => format!(
            "Deployment {} is still {} after {after}: nothing more happens without an operator ({:?})",
            short(&d.id),
            now.status,
            now.status_description
        ),
        _ => format!(
            "Deployment {} is still {} when the horizon ({after}) passes",
            short(&d.id),
            now.status
        ),
    };
    if let Some(latest) = run
        .state
        .latest_job_deployment(&d.namespace, &d.job_id)
        .filter(|l| l.id != d.id)
    {
        line.push_str(&format!(
            "\nThen deployment {} (job version {}) {}: {:?}",
            short(&latest.id),
            latest.job_version,
            latest.status,
            latest.status_description
        ));
    }
    line
}

fn text_of(run: &Continuation, d: &Deployment, from: u64, assumption: &Assumption) -> String {
    let mut out = format!(
        "What if deployment {} (job {:?} version {}, {}) goes on, assuming {assumption}, from index {from}:\n",
        short(&d.id),
        d.job_id,
        d.job_version,
        d.status
    );
    for e in &run.entries {
        out.push_str(&e.to_string());
        out.push('\n');
    }
    if run.entries.is_empty() {
        out.push_str("(nothing happens)\n");
    }
    out.push('\n');
    out.push_str(&outcome_line(run, d));
    out
}

fn json_of(run: &Continuation, id: &Uuid, from: u64, assumption: &Assumption) -> serde_json::Value {
    let entries: Vec<serde_json::Value> = run
        .entries
        .iter()
        .map(|e| {
            json!({"ElapsedNs": e.elapsed_ns, "Index": e.index, "Actor": e.actor.to_string(), "Text": e.text})
        })
        .collect();
    json!({
        "FromIndex": from,
        "Assumption": assumption.to_string(),
        "Timeline": entries,
        "End": format!("{:?}", run.end),
        "ElapsedNs": run.elapsed_ns,
        "Deployment": run.state.deployment(id),
    })
}
