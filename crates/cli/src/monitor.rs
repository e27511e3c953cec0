//! `rollout deployment status --monitor`: follows a deployment until it ends, driven by
//! blocking queries on `/v1/deployment/:id` (each answers as soon as the deployment's
//! `ModifyIndex` passes the one sent), never by polling.
//!
//! Three views of the same stream of deployment states:
//! - on a terminal, a live view (indicatif): a status line with the description and the
//!   time left to the progress deadline (redrawn every second), and per task group a bar
//!   of healthy / desired with placed, unhealthy and canary counts;
//! - otherwise, one plain line per change (a status line when the status or its
//!   description changes, a group line when a group's counters change);
//! - with `--json`, each new state of the deployment as one compact JSON line.
//!
//! It ends when the deployment does: exit 0 when it succeeded, 1 (Nomad's code) when it
//! failed or was cancelled, after saying which job version a rollback registered and
//! following that version's deployment to its end.

use crate::client::encode;
use crate::deployment::{canaries, groups, is_terminal, version_registered_at};
use crate::operator::{str_of, u64_of, CmdResult, Context, Ctx, Failure, EXIT_DEPLOYMENT_FAILED};
use crate::output::{self, status_color, Style};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

/// Follows deployment `d` (as last read) until it is terminal and, when it failed and
/// rolled back, the rollback's deployment too (as Nomad's monitor does). Succeeds only
/// when the first deployment did.
pub async fn follow(ctx: &Ctx, d: Value, verbose: bool) -> CmdResult {
    let mut next = d;
    let mut failed = false;
    loop {
        let (end, rollback) = follow_one(ctx, next, verbose).await?;
        failed |= str_of(&end, "Status") != "successful";
        match rollback_deployment(ctx, &end, rollback).await {
            Some(d) => next = d,
            None if failed => return Err(Failure::quiet(EXIT_DEPLOYMENT_FAILED)),
            None => return Ok(()),
        }
    }
}

/// Follows one deployment to its end: its last state and the rollback that ended it.
async fn follow_one(
    ctx: &Ctx,
    d: Value,
    verbose: bool,
) -> Result<(Value, Option<Rollback>), Failure> {
    let id = str_of(&d, "ID").to_owned();
    let mut view = if ctx.json {
        View::Json
    } else if std::io::stdout().is_terminal() {
        View::Live(Live::new(&d, ctx.style))
    } else {
        View::Lines(Lines::default())
    };
    view.start(&d, verbose);
    let path = format!("/v1/deployment/{id}");
    let mut index = u64_of(&d, "ModifyIndex");
    let mut current = d;
    // Only the live view's countdown needs a clock; the data comes from the server.
    let mut countdown = tokio::time::interval(Duration::from_secs(1));
    let ticking = view.ticks();
    while !is_terminal(str_of(&current, "Status")) {
        let fetch = ctx.client.get_blocking(&path, index);
        tokio::pin!(fetch);
        let answer = loop {
            tokio::select! {
                answer = &mut fetch => break answer,
                _ = countdown.tick(), if ticking => view.tick(&current),
            }
        };
        let answer = answer.doing("following deployment")?;
        let next = answer.json().doing("following deployment")?;
        // The index never goes back: after a timeout the server may answer a lower one.
        index = index.max(answer.index).max(u64_of(&next, "ModifyIndex"));
        if next != current {
            view.update(&next);
            current = next;
        }
    }
    let rollback = rollback_of(ctx, &current).await;
    view.finish(&current, rollback, verbose);
    Ok((current, rollback))
}

/// The deployment of the job version a rollback registered, when it has one (the engine
/// creates it in the write that registers the version).
async fn rollback_deployment(
    ctx: &Ctx,
    ended: &Value,
    rollback: Option<Rollback>,
) -> Option<Value> {
    let version = rollback?.as_version?;
    let path = format!(
        "/v1/job/{}/deployments?namespace={}",
        encode(str_of(ended, "JobID")),
        encode(str_of(ended, "Namespace"))
    );
    let list = ctx.client.get(&path).await.ok()?.json().ok()?;
    list.as_array()?
        .iter()
        .filter(|d| d["JobVersion"].as_u64() == Some(version) && d["ID"] != ended["ID"])
        .max_by_key(|d| u64_of(d, "CreateIndex"))
        .cloned()
}

/// A rollback that ended a failed deployment: the stable version it went back to and,
/// when found, the job version it registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rollback {
    pub to: u64,
    pub as_version: Option<u64>,
}

/// The version named by a failed deployment's description (`… - rolling back to job
/// version N`), as Nomad's deployment watcher words it.
pub fn rollback_target(description: &str) -> Option<u64> {
    let (_, rest) = description.split_once("rolling back to job version ")?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

async fn rollback_of(ctx: &Ctx, d: &Value) -> Option<Rollback> {
    if str_of(d, "Status") != "failed" {
        return None;
    }
    let to = rollback_target(str_of(d, "StatusDescription"))?;
    // The revert is registered in the write that failed the deployment.
    let as_version = version_registered_at(ctx, d, u64_of(d, "ModifyIndex")).await;
    Some(Rollback { to, as_version })
}

/// The closing lines: how the deployment ended and what a rollback did.
pub fn ending(d: &Value, rollback: Option<Rollback>, verbose: bool) -> String {
    let mut out = format!(
        "==> Deployment {:?} {}: {}",
        output::id(str_of(d, "ID"), verbose),
        str_of(d, "Status"),
        str_of(d, "StatusDescription")
    );
    if let Some(r) = rollback {
        out.push_str(&format!(
            "\n==> Job {:?} rolled back to version {}",
            str_of(d, "JobID"),
            r.to
        ));
        if let Some(v) = r.as_version {
            out.push_str(&format!(", registered as version {v}"));
        }
    }
    out
}

enum View {
    Json,
    Lines(Lines),
    Live(Live),
}

impl View {
    fn ticks(&self) -> bool {
        matches!(self, View::Live(_))
    }

    fn start(&mut self, d: &Value, verbose: bool) {
        match self {
            View::Json => output::emit(d),
            View::Lines(lines) => {
                output::emit(opening(d, verbose));
                lines.update(d);
            }
            View::Live(live) => {
                let _ = live.multi.println(opening(d, verbose));
                live.update(d);
            }
        }
    }

    fn update(&mut self, d: &Value) {
        match self {
            View::Json => output::emit(d),
            View::Lines(lines) => lines.update(d),
            View::Live(live) => live.update(d),
        }
    }

    fn tick(&mut self, d: &Value) {
        if let View::Live(live) = self {
            live.header
                .set_message(header(d, &live.style, output::now_ns()));
        }
    }

    fn finish(self, d: &Value, rollback: Option<Rollback>, verbose: bool) {
        let end = ending(d, rollback, verbose);
        match self {
            View::Json => {}
            View::Lines(_) => output::emit(end),
            View::Live(live) => {
                live.header
                    .finish_with_message(header(d, &live.style, output::now_ns()));
                for bar in live.bars.values() {
                    bar.finish();
                }
                drop(live);
                output::emit(end);
            }
        }
    }
}

fn opening(d: &Value, verbose: bool) -> String {
    format!(
        "==> Monitoring deployment {:?} (job {:?}, version {})",
        output::id(str_of(d, "ID"), verbose),
        str_of(d, "JobID"),
        output::text(&d["JobVersion"])
    )
}

/// The soonest progress deadline of a live deployment, as `progress deadline in 9m58s`.
fn deadline_note(d: &Value, now_ns: i64) -> Option<String> {
    if is_terminal(str_of(d, "Status")) {
        return None;
    }
    groups(d)
        .iter()
        .filter_map(|(_, g)| g["RequireProgressBy"].as_str())
        .filter_map(|s| rollout_engine::model::time::parse_rfc3339(s).ok())
        .min()
        .map(|at| {
            let when = output::relative(at, now_ns);
            if at > now_ns {
                format!("progress deadline {when}")
            } else {
                format!("progress deadline passed {when}")
            }
        })
}

/// The status line: status, description and deadline.
fn header(d: &Value, style: &Style, now_ns: i64) -> String {
    let status = str_of(d, "Status");
    let mut line = format!(
        "{} {}",
        style.paint(status, status_color(status)),
        str_of(d, "StatusDescription")
    );
    if let Some(note) = deadline_note(d, now_ns) {
        line.push_str(&format!(" ({note})"));
    }
    line
}

/// A group's counters, the part of a line that marks a change.
fn counters(g: &Value) -> String {
    format!(
        "desired {}, placed {}, healthy {}, unhealthy {}, canaries {}",
        u64_of(g, "DesiredTotal"),
        u64_of(g, "PlacedAllocs"),
        u64_of(g, "HealthyAllocs"),
        u64_of(g, "UnhealthyAllocs"),
        canaries(g)
    )
}

/// Plain output: a line for each change, nothing redrawn.
#[derive(Default)]
struct Lines {
    status: String,
    groups: BTreeMap<String, String>,
}

impl Lines {
    /// Prints what changed: the status first while the deployment runs, last when it
    /// ends (so that the final counters come before the verdict).
    fn update(&mut self, d: &Value) {
        if is_terminal(str_of(d, "Status")) {
            self.update_groups(d);
            self.update_status(d);
        } else {
            self.update_status(d);
            self.update_groups(d);
        }
    }

    fn update_status(&mut self, d: &Value) {
        let status = format!(
            "{}: {}",
            str_of(d, "Status"),
            str_of(d, "StatusDescription")
        );
        if status != self.status {
            match deadline_note(d, output::now_ns()) {
                Some(note) => output::emit(format!("{status} ({note})")),
                None => output::emit(&status),
            }
            self.status = status;
        }
    }

    fn update_groups(&mut self, d: &Value) {
        for (name, g) in groups(d) {
            let line = counters(g);
            if self.groups.get(name) != Some(&line) {
                output::emit(format!("{name}: {line}"));
                self.groups.insert(name.to_owned(), line);
            }
        }
    }
}

/// The terminal view: a spinner with the status, a bar per task group.
struct Live {
    multi: MultiProgress,
    header: ProgressBar,
    bars: BTreeMap<String, ProgressBar>,
    style: Style,
    width: usize,
}

impl Live {
    fn new(d: &Value, style: Style) -> Live {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        let header = multi.add(ProgressBar::new_spinner());
        header.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        header.enable_steady_tick(Duration::from_millis(120));
        let width = groups(d).iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        Live {
            multi,
            header,
            bars: BTreeMap::new(),
            style,
            width,
        }
    }

    fn bar_style(&self) -> ProgressStyle {
        let bar = if self.style.color {
            "{bar:30.green/white}"
        } else {
            "{bar:30}"
        };
        let template = format!(
            "  {{prefix:<{}}} [{bar}] {{pos}}/{{len}} healthy  {{msg}}",
            self.width
        );
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ")
    }

    fn update(&mut self, d: &Value) {
        self.header
            .set_message(header(d, &self.style, output::now_ns()));
        for (name, g) in groups(d) {
            let (desired, healthy) = (u64_of(g, "DesiredTotal"), u64_of(g, "HealthyAllocs"));
            let message = format!(
                "placed {} · unhealthy {} · canaries {}",
                u64_of(g, "PlacedAllocs"),
                u64_of(g, "UnhealthyAllocs"),
                canaries(g)
            );
            match self.bars.get(name) {
                Some(bar) => {
                    bar.set_length(desired);
                    bar.set_position(healthy);
                    bar.set_message(message);
                }
                None => {
                    // Complete before it is shown, so that it never draws as 0/0.
                    let bar = ProgressBar::new(desired)
                        .with_position(healthy)
                        .with_style(self.bar_style())
                        .with_prefix(name.to_owned())
                        .with_message(message);
                    self.bars.insert(name.to_owned(), self.multi.add(bar));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_rollback_target_comes_from_the_description() {
        assert_eq!(
            rollback_target("Failed due to unhealthy allocations - rolling back to job version 1"),
            Some(1)
        );
        assert_eq!(
            rollback_target("Deployment marked as failed - rolling back to job version 12"),
            Some(12)
        );
        assert_eq!(
            rollback_target("Deployment marked as failed - not rolling back to stable job version 2 as current job has same specification"),
            None
        );
        assert_eq!(rollback_target("Deployment marked as failed"), None);
    }

    #[test]
    fn endings_name_the_rollback() {
        let d = json!({"ID": "5c0f0a8e-1234-4abc-9def-0123456789ab", "JobID": "web", "Status": "failed",
                       "StatusDescription": "Failed due to unhealthy allocations - rolling back to job version 1"});
        assert_eq!(
            ending(&d, Some(Rollback { to: 1, as_version: Some(3) }), false),
            "==> Deployment \"5c0f0a8e\" failed: Failed due to unhealthy allocations - rolling back to job version 1\n\
             ==> Job \"web\" rolled back to version 1, registered as version 3"
        );
    }

    #[test]
    fn deadlines_count_down_only_while_live() {
        let now = 1_800_000_000_000_000_000;
        let mut d = json!({"Status": "running", "StatusDescription": "Deployment is running",
                           "TaskGroups": {"a": {"RequireProgressBy": "2027-01-15T08:00:30Z"},
                                          "b": {"RequireProgressBy": "2027-01-15T08:00:10Z"},
                                          "c": {"RequireProgressBy": null}}});
        assert_eq!(
            header(&d, &Style::default(), now),
            "running Deployment is running (progress deadline in 10s)"
        );
        d["Status"] = json!("successful");
        assert_eq!(deadline_note(&d, now), None);
    }
}
