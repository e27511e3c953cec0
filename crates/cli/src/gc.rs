//! The agent's periodic garbage collection (Nomad's core scheduler does the same on an
//! interval): terminal deployments, finished evaluations and finished allocations older
//! than their thresholds are removed through the engine's GC commands, so a long-running
//! agent's state — and every list endpoint — stays proportional to what is live.
//!
//! Eligibility is checked on the latest state first, so an idle agent writes nothing to
//! its log.

use rollout_engine::command::{GcAllocations, GcDeployments, GcEvaluations};
use rollout_engine::{alloc_gc_eligible, eval_gc_eligible, gc_eligible, Actor, Command};
use rollout_http::Backend;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// When and what to collect.
#[derive(Clone, Copy, Debug)]
pub struct GcSettings {
    pub interval: Duration,
    pub deployment_threshold: Duration,
    pub eval_threshold: Duration,
}

/// Starts the collector; it stops when `stop` turns true.
pub fn spawn(
    backend: Arc<dyn Backend>,
    settings: GcSettings,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(settings.interval) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            // Once per cluster: the leader collects (a single agent always leads).
            if !backend.is_leader() {
                continue;
            }
            collect(backend.as_ref(), &settings).await;
        }
    })
}

/// One pass: each kind of object whose GC has work.
pub async fn collect(backend: &dyn Backend, settings: &GcSettings) {
    let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    let (deployments, evals) = (
        nanos(settings.deployment_threshold),
        nanos(settings.eval_threshold),
    );
    let now = backend.now_ns();
    let state = backend.state();
    let mut commands = Vec::new();
    if !gc_eligible(&state, now, deployments).is_empty() {
        commands.push(Command::GcDeployments(GcDeployments {
            threshold_ns: deployments,
        }));
    }
    if !eval_gc_eligible(&state, now, evals).is_empty() {
        commands.push(Command::GcEvaluations(GcEvaluations {
            threshold_ns: evals,
        }));
    }
    if !alloc_gc_eligible(&state, now, evals).is_empty() {
        commands.push(Command::GcAllocations(GcAllocations {
            threshold_ns: evals,
        }));
    }
    for command in commands {
        let name = command.name();
        match backend.submit_as(command, Some(Actor::gc())).await {
            Ok(outcome) => tracing::info!(
                kind = name,
                index = outcome.index,
                removed = outcome.events.len(),
                "garbage collected"
            ),
            Err(e) => tracing::warn!(kind = name, error = %e, "garbage collection failed"),
        }
    }
}
