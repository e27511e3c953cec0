//! `rollout eval status EVAL`, as Nomad's `nomad eval status`: an evaluation's times,
//! status, trigger, job and placement failures. Found by ID or unique prefix, as `rollout
//! status` finds one.

use crate::operator::{str_of, u64_of, CmdResult, Ctx, OperatorArgs};
use crate::output::{self, key_values, or_none, status_color, Cell, Style};
use crate::resolve;
use clap::{Args, Subcommand};
use serde_json::Value;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    op: OperatorArgs,
    #[command(subcommand)]
    command: EvalCommand,
}

#[derive(Debug, Subcommand)]
enum EvalCommand {
    /// Show an evaluation and why it did not place every allocation (`--json`: the API's
    /// evaluation).
    Status {
        /// Evaluation ID or unique prefix.
        id: String,
        /// Full IDs and dates instead of relative times; the previous, next and blocked
        /// evaluations.
        #[arg(long)]
        verbose: bool,
    },
}

pub fn main(args: EvalArgs) -> ExitCode {
    let EvalCommand::Status { id, verbose } = args.command;
    args.op
        .run(move |ctx| async move { status(&ctx, &id, verbose).await })
}

async fn status(ctx: &Ctx, id: &str, verbose: bool) -> CmdResult {
    let e = resolve::evaluation(ctx, id).await?;
    ctx.print(&e, |e| {
        status_text(e, verbose, &ctx.style, output::now_ns())
    });
    Ok(())
}

/// Whether an evaluation failed to place allocations, in Nomad's words (`true`,
/// `false`, `N/A - In Progress` while blocked).
pub fn placement_failures(e: &Value) -> (&'static str, bool) {
    let failed = e["FailedTGAllocs"]
        .as_object()
        .is_some_and(|m| !m.is_empty());
    let text = if str_of(e, "Status") == "blocked" {
        "N/A - In Progress"
    } else if failed {
        "true"
    } else {
        "false"
    };
    (text, failed)
}

/// Nomad's `eval status` layout.
pub fn status_text(e: &Value, verbose: bool, style: &Style, now_ns: i64) -> String {
    let when = |key: &str| {
        let at = e[key].as_i64().unwrap_or(0);
        if at <= 0 {
            String::new()
        } else if verbose {
            output::nomad_time(at)
        } else {
            output::relative(at, now_ns)
        }
    };
    let status = str_of(e, "Status");
    let description = match str_of(e, "StatusDescription") {
        "" => status,
        d => d,
    };
    let (failures, failed) = placement_failures(e);
    let mut rows = vec![
        ("ID", or_none(&output::id(str_of(e, "ID"), verbose))),
        ("Create Time", or_none(&when("CreateTime"))),
        ("Modify Time", or_none(&when("ModifyTime"))),
        ("Status", Cell::colored(status, status_color(status))),
        ("Status Description", or_none(description)),
        ("Type", or_none(str_of(e, "Type"))),
        ("TriggeredBy", or_none(str_of(e, "TriggeredBy"))),
    ];
    if str_of(e, "TriggeredBy") == "node-update" {
        rows.push((
            "Node ID",
            or_none(&output::id(str_of(e, "NodeID"), verbose)),
        ));
    } else {
        rows.push(("Job ID", or_none(str_of(e, "JobID"))));
    }
    rows.push(("Namespace", or_none(str_of(e, "Namespace"))));
    rows.push(("Priority", output::text(&e["Priority"]).into()));
    rows.push(("Placement Failures", failures.into()));
    let deployment = str_of(e, "DeploymentID");
    if !deployment.is_empty() {
        rows.push(("Deployment ID", output::id(deployment, verbose).into()));
    }
    if verbose {
        for (key, field) in [
            ("Previous Eval", "PreviousEval"),
            ("Next Eval", "NextEval"),
            ("Blocked Eval", "BlockedEval"),
        ] {
            rows.push((key, or_none(str_of(e, field))));
        }
    }
    let mut out = key_values(&rows, style);
    if failed {
        out.push_str("\n\nFailed Placements\n");
        out.push_str(&failed_placements(e));
        out.push('\n');
        let blocked = str_of(e, "BlockedEval");
        if !blocked.is_empty() {
            out.push_str(&format!(
                "\nEvaluation {:?} waiting for additional capacity to place remainder",
                output::id(blocked, verbose)
            ));
        }
    }
    out.trim_end().to_owned()
}

/// Each group's failed placements: `Task Group "web" (failed to place 2 allocations):`
/// and what the scheduler found, a blank line after each.
pub fn failed_placements(e: &Value) -> String {
    let mut out = String::new();
    // A map's keys come sorted.
    for (group, metric) in e["FailedTGAllocs"].as_object().into_iter().flatten() {
        let n = u64_of(metric, "CoalescedFailures") + 1;
        let noun = if n > 1 { "allocations" } else { "allocation" };
        out.push_str(&format!(
            "Task Group {group:?} (failed to place {n} {noun}):\n{}\n\n",
            metric_lines(metric)
        ));
    }
    out.trim_end().to_owned()
}

/// An `AllocMetric` as Nomad's `formatAllocMetrics` words it (without scores).
fn metric_lines(m: &Value) -> String {
    let mut lines = Vec::new();
    if u64_of(m, "NodesEvaluated") == 0 {
        lines.push("  * No nodes were eligible for evaluation".to_owned());
    }
    if let Some(dcs) = m["NodesAvailable"].as_object() {
        for (dc, n) in dcs {
            if n.as_u64() == Some(0) {
                lines.push(format!("  * No nodes are available in datacenter {dc:?}"));
            }
        }
    }
    let counts = |key: &str| -> Vec<(String, u64)> {
        m[key]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
            .collect()
    };
    for (class, n) in counts("ClassFiltered") {
        lines.push(format!("  * Class {class:?}: {n} nodes excluded by filter"));
    }
    for (constraint, n) in counts("ConstraintFiltered") {
        lines.push(format!(
            "  * Constraint {constraint:?}: {n} nodes excluded by filter"
        ));
    }
    let exhausted = u64_of(m, "NodesExhausted");
    if exhausted > 0 {
        lines.push(format!("  * Resources exhausted on {exhausted} nodes"));
    }
    for (class, n) in counts("ClassExhausted") {
        lines.push(format!("  * Class {class:?} exhausted on {n} nodes"));
    }
    for (dimension, n) in counts("DimensionExhausted") {
        lines.push(format!(
            "  * Dimension {dimension:?} exhausted on {n} nodes"
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evaluations_print_in_nomads_layout() {
        let s = 1_000_000_000i64;
        let now = 1_800_000_000 * s;
        let e = json!({
            "ID": "5c0f0a8e-1234-4abc-9def-0123456789ab", "CreateTime": now - 3 * s,
            "ModifyTime": now - 2 * s, "Status": "complete", "Type": "service",
            "TriggeredBy": "job-register", "JobID": "web", "Namespace": "default",
            "Priority": 50
        });
        assert_eq!(
            status_text(&e, false, &Style::default(), now),
            "ID                 = 5c0f0a8e
Create Time        = 3s ago
Modify Time        = 2s ago
Status             = complete
Status Description = complete
Type               = service
TriggeredBy        = job-register
Job ID             = web
Namespace          = default
Priority           = 50
Placement Failures = false"
        );
        let mut failed = e.clone();
        failed["FailedTGAllocs"] = json!({
            "api": {"NodesEvaluated": 3, "NodesExhausted": 2,
                    "ConstraintFiltered": {"${attr.kernel.name} = windows": 1},
                    "DimensionExhausted": {"memory": 2}},
            "web": {"CoalescedFailures": 1, "NodesEvaluated": 0}
        });
        failed["BlockedEval"] = json!("66666666-1234-4abc-9def-0123456789ab");
        let text = status_text(&failed, false, &Style::default(), now);
        assert!(
            text.ends_with(
                "Placement Failures = true

Failed Placements
Task Group \"api\" (failed to place 1 allocation):
  * Constraint \"${attr.kernel.name} = windows\": 1 nodes excluded by filter
  * Resources exhausted on 2 nodes
  * Dimension \"memory\" exhausted on 2 nodes

Task Group \"web\" (failed to place 2 allocations):
  * No nodes were eligible for evaluation

Evaluation \"66666666\" waiting for additional capacity to place remainder"
            ),
            "{text}"
        );
    }
}
