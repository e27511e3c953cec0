//! A human-readable account of a run: what each applied command changed, in words.
//!
//! Built only from the states before and after each command and the engine's
//! [`Outcome`] events, so it describes what the engine did, not what the simulation
//! intended.

use crate::clock::format_elapsed;
use crate::jobs::release_of;
use rollout_engine::{Change, Topic};
use rollout_engine::{Envelope, Outcome, RollbackOutcome, State};
use std::fmt;
use uuid::Uuid;

/// Who issued a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Actor {
    Scheduler,
    Client,
    Operator,
    /// Progress-deadline ticks.
    Clock,
    /// A scripted scenario step.
    Script,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Actor::Scheduler => "scheduler",
            Actor::Client => "client",
            Actor::Operator => "operator",
            Actor::Clock => "clock",
            Actor::Script => "script",
        })
    }
}

/// One line of the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Nanoseconds since the simulation started.
    pub elapsed_ns: i64,
    /// The index the command was applied at.
    pub index: u64,
    pub actor: Actor,
    pub text: String,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}  #{:<4} {:<9} {}",
            format_elapsed(self.elapsed_ns),
            self.index,
            self.actor,
            self.text
        )
    }
}

/// The first eight characters of an ID, as Nomad's CLI shows them.
pub fn short(id: &Uuid) -> String {
    id.to_string()[..8].to_string()
}

/// Describes what one applied command changed.
pub fn narrate(before: &State, after: &State, env: &Envelope, outcome: &Outcome) -> Vec<String> {
    // Allocation changes first: within one index they are usually the cause (a health
    // report) of the deployment and job changes that follow.
    let mut alloc_changes = Vec::new();
    let mut lines = Vec::new();
    for e in &outcome.events {
        match e.topic {
            Topic::Job => job_lines(before, after, &e.namespace, &e.key, &mut lines),
            Topic::Deployment => {
                if let Ok(id) = e.key.parse::<Uuid>() {
                    deployment_lines(before, after, &id, e.change, &mut lines);
                }
            }
            Topic::Allocation => {
                if let Ok(id) = e.key.parse::<Uuid>() {
                    alloc_lines(before, after, &id, &mut alloc_changes);
                }
            }
            Topic::Evaluation
            | Topic::AclToken
            | Topic::AclPolicy
            | Topic::Namespace
            | Topic::Node => {}
        }
    }
    alloc_changes.append(&mut lines);
    let mut lines = alloc_changes;
    for r in &outcome.rollbacks {
        if let RollbackOutcome::RolledBack {
            stable_version,
            new_version,
        } = r.outcome
        {
            lines.push(format!(
                "auto-revert of deployment {}: stable version {stable_version} re-registered as version {new_version}",
                short(&r.deployment_id)
            ));
        }
    }
    if lines.is_empty() {
        if let rollout_engine::Command::PauseDeployment(_) = env.command {
            lines.push("pause/resume changed nothing".to_string());
        }
    }
    lines
}

fn job_lines(before: &State, after: &State, ns: &str, id: &str, lines: &mut Vec<String>) {
    let (old, new) = (before.job(ns, id), after.job(ns, id));
    let Some(new) = new else {
        lines.push(format!("job {id} purged"));
        return;
    };
    let release = new
        .task_groups
        .first()
        .and_then(|g| release_of(new, &g.name))
        .unwrap_or_default();
    match old {
        Some(old) if old.version == new.version => {
            if !old.stable && new.stable {
                lines.push(format!("job {id} version {} marked stable", new.version));
            }
        }
        _ => lines.push(format!(
            "job {id} version {} registered (release {release}, priority {})",
            new.version, new.priority
        )),
    }
}

fn deployment_lines(
    before: &State,
    after: &State,
    id: &Uuid,
    change: Change,
    lines: &mut Vec<String>,
) {
    let Some(d) = after.deployment(id) else {
        lines.push(format!("deployment {} deleted", short(id)));
        return;
    };
    let Some(old) = before.deployment(id).filter(|_| change != Change::Created) else {
        let groups: Vec<String> = d
            .task_groups
            .iter()
            .map(|(n, g)| {
                if g.desired_canaries > 0 {
                    format!(
                        "{n}: {} allocs, {} canaries",
                        g.desired_total, g.desired_canaries
                    )
                } else {
                    format!("{n}: {} allocs", g.desired_total)
                }
            })
            .collect();
        lines.push(format!(
            "deployment {} created for {} version {} [{}]: \"{}\"",
            short(id),
            d.job_id,
            d.job_version,
            groups.join("; "),
            d.status_description
        ));
        return;
    };
    if old.status != d.status || old.status_description != d.status_description {
        lines.push(format!(
            "deployment {} ({} v{}) {}: \"{}\"",
            short(id),
            d.job_id,
            d.job_version,
            d.status,
            d.status_description
        ));
    }
    let promoted: Vec<&str> = d
        .task_groups
        .iter()
        .filter(|(n, g)| g.promoted && !old.task_groups.get(n).is_some_and(|o| o.promoted))
        .map(|(n, _)| n.as_str())
        .collect();
    if !promoted.is_empty() {
        lines.push(format!(
            "deployment {} promoted: {}",
            short(id),
            promoted.join(", ")
        ));
    }
}

fn alloc_lines(before: &State, after: &State, id: &Uuid, lines: &mut Vec<String>) {
    let Some(a) = after.alloc(id) else {
        return;
    };
    let canary = if a.is_canary() { " (canary)" } else { "" };
    let who = format!("{} v{}{canary}", a.name, a.job_version);
    let Some(old) = before.alloc(id) else {
        lines.push(format!("{who} placed on {}", a.node_name));
        return;
    };
    if old.desired_status != a.desired_status {
        lines.push(format!("{who} stopped: {}", a.desired_description));
    }
    if old.job_version != a.job_version {
        lines.push(format!("{who} updated in place from v{}", old.job_version));
    }
    if old.client_status != a.client_status {
        lines.push(format!("{who} is {}", a.client_status));
    }
    if old.health() != a.health() {
        match a.health() {
            Some(true) => lines.push(format!("{who} is healthy")),
            Some(false) => lines.push(format!("{who} is unhealthy")),
            None => {}
        }
    }
}
