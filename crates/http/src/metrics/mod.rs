//! What `GET /v1/metrics` reports, on a `prometheus` registry (one per agent, so that
//! agents in one process — tests — never mix their numbers):
//! - requests by route and status, and their latency without the time blocking queries
//!   spend waiting, which has its own histogram;
//! - commands submitted through the API by kind and result, and every command the store
//!   applied by kind and actor (operator, scheduler, client, watcher, gc) — the dev
//!   cluster's writes included;
//! - allocation health transitions, rollbacks and promotions, from the commit feed;
//! - deployments by namespace and status and allocations by client status (read off
//!   the state when scraped);
//! - the store's commit latency and batch size, snapshot duration and age, log length;
//! - the process (RSS, CPU, open file descriptors, threads) from `/proc`.
//!
//! The Prometheus text is the `prometheus` crate's encoder; Nomad's JSON shape
//! (`nomad_json`) is built from the same gathered families. The request middleware also
//! writes the one access-log line per request, so that logs and metrics never disagree.

mod nomad_json;
mod samples;

pub use nomad_json::nomad_json;

use crate::server::Api;
use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use rollout_engine::{Actor, Change, Outcome, State as EngineState, Topic};
use samples::Samples;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Upper bounds of the latency histogram buckets, in seconds.
const LATENCY_BUCKETS_S: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Buckets of blocking-query waits: up to the 10-minute maximum.
const WAIT_BUCKETS_S: [f64; 10] = [0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0];

/// Buckets of commands per store batch.
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// The agent's metrics; shared by every request.
pub struct Metrics {
    registry: Registry,
    samples: Samples,
    requests: IntCounterVec,
    commands: IntCounterVec,
    applied: IntCounterVec,
    health_transitions: IntCounterVec,
    rollbacks: IntCounter,
    promotions: IntCounter,
    blocking_in_flight: IntGauge,
    event_subscribers: IntGauge,
    applied_index: IntGauge,
    deployments: IntGaugeVec,
    allocations: IntGaugeVec,
    requests_in_flight: IntGauge,
    connections_open: IntGauge,
    store: StoreGauges,
    started: Instant,
}

/// The store's numbers, copied from its statistics when scraped.
struct StoreGauges {
    accepting_writes: IntGauge,
    failed_commits: IntCounter,
    recoveries: IntCounter,
    snapshots: IntCounter,
    snapshot_failures: IntCounter,
    snapshot_age: IntGauge,
    log_entries: IntGauge,
}

/// Registers `collector` (every name here is unique, so registration cannot clash).
fn register<C: prometheus::core::Collector + Clone + 'static>(registry: &Registry, c: C) -> C {
    if let Err(e) = registry.register(Box::new(c.clone())) {
        tracing::error!(error = %e, "metric not registered");
    }
    c
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let vec = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable!("static metric {name}: {e}"));
    register(registry, vec)
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let vec = IntGaugeVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable!("static metric {name}: {e}"));
    register(registry, vec)
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c =
        IntCounter::new(name, help).unwrap_or_else(|e| unreachable!("static metric {name}: {e}"));
    register(registry, c)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).unwrap_or_else(|e| unreachable!("static metric {name}: {e}"));
    register(registry, g)
}

/// A histogram that is also summarised exactly for Nomad's JSON `Samples`.
fn sampled(
    registry: &Registry,
    samples: &Samples,
    name: &'static str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) {
    let vec = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .unwrap_or_else(|e| unreachable!("static metric {name}: {e}"));
    samples.add(name, register(registry, vec));
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        #[cfg(target_os = "linux")]
        if let Err(e) = r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        )) {
            tracing::error!(error = %e, "process metrics not registered");
        }
        let samples = Samples::default();
        sampled(
            &r,
            &samples,
            "rollout_http_request_duration_seconds",
            "Time to answer HTTP requests, without the time blocking queries wait.",
            &["method", "route"],
            &LATENCY_BUCKETS_S,
        );
        sampled(
            &r,
            &samples,
            "rollout_blocking_query_wait_seconds",
            "Time blocking queries waited for a change (or their wait to end).",
            &["route"],
            &WAIT_BUCKETS_S,
        );
        sampled(
            &r,
            &samples,
            "rollout_store_commit_duration_seconds",
            "Time to commit one store batch, its fsync included.",
            &[],
            &LATENCY_BUCKETS_S,
        );
        sampled(
            &r,
            &samples,
            "rollout_store_batch_commands",
            "Commands committed together in one store batch (one fsync).",
            &[],
            &BATCH_BUCKETS,
        );
        sampled(
            &r,
            &samples,
            "rollout_store_snapshot_duration_seconds",
            "Time to write one snapshot.",
            &[],
            &LATENCY_BUCKETS_S,
        );
        Metrics {
            requests: counter_vec(
                &r,
                "rollout_http_requests_total",
                "HTTP requests answered, by route and status.",
                &["method", "route", "status"],
            ),
            commands: counter_vec(
                &r,
                "rollout_commands_total",
                "Commands submitted through the API, by type and result.",
                &["command", "result"],
            ),
            applied: counter_vec(
                &r,
                "rollout_commands_applied_total",
                "Commands the store applied, by type and actor (operator, scheduler, client, watcher, gc).",
                &["command", "actor"],
            ),
            health_transitions: counter_vec(
                &r,
                "rollout_alloc_health_transitions_total",
                "Allocations whose deployment health was set, by the health they got.",
                &["health"],
            ),
            rollbacks: counter(
                &r,
                "rollout_rollbacks_total",
                "Failed deployments that re-registered the latest stable job version.",
            ),
            promotions: counter(
                &r,
                "rollout_promotions_total",
                "Deployment promotions applied (by hand or automatic).",
            ),
            blocking_in_flight: gauge(
                &r,
                "rollout_blocking_queries_in_flight",
                "Blocking queries currently waiting.",
            ),
            event_subscribers: gauge(
                &r,
                "rollout_event_stream_subscribers",
                "Event stream subscribers connected.",
            ),
            applied_index: gauge(
                &r,
                "rollout_applied_index",
                "Index of the last applied command.",
            ),
            deployments: gauge_vec(
                &r,
                "rollout_deployments",
                "Deployments, by namespace and status.",
                &["namespace", "status"],
            ),
            allocations: gauge_vec(
                &r,
                "rollout_allocations",
                "Allocations, by client status.",
                &["client_status"],
            ),
            requests_in_flight: gauge(
                &r,
                "rollout_http_requests_in_flight",
                "Requests being worked on (blocking queries not while they wait).",
            ),
            connections_open: gauge(&r, "rollout_http_connections_open", "Open HTTP connections."),
            store: StoreGauges {
                accepting_writes: gauge(
                    &r,
                    "rollout_store_accepting_writes",
                    "1 while the store accepts writes, 0 while it refuses them after a failed commit.",
                ),
                failed_commits: counter(
                    &r,
                    "rollout_store_failed_commits_total",
                    "Commits that failed (each makes the store reopen its database).",
                ),
                recoveries: counter(
                    &r,
                    "rollout_store_recoveries_total",
                    "In-process reopens after a failed commit that succeeded.",
                ),
                snapshots: counter(&r, "rollout_store_snapshots_total", "Snapshots written."),
                snapshot_failures: counter(
                    &r,
                    "rollout_store_snapshot_failures_total",
                    "Snapshot writes that failed (each is logged and retried).",
                ),
                snapshot_age: gauge(
                    &r,
                    "rollout_store_snapshot_age_entries",
                    "Log entries applied since the newest snapshot.",
                ),
                log_entries: gauge(
                    &r,
                    "rollout_store_log_entries",
                    "Log entries kept (not yet covered by a snapshot and truncated).",
                ),
            },
            samples,
            registry: r,
            started: Instant::now(),
        }
    }

    /// Counts one blocking query as in flight for as long as the guard lives.
    pub fn blocking_query(&self) -> BlockingGuard {
        self.blocking_in_flight.inc();
        BlockingGuard(self.blocking_in_flight.clone())
    }

    /// One event stream subscriber more (`+1`) or less (`-1`).
    pub fn event_subscriber(&self, delta: i64) {
        self.event_subscribers.add(delta);
    }

    /// A command submitted through the API: `ok`, `rejected` or `error`.
    pub fn command(&self, name: &'static str, result: &'static str) {
        self.commands.with_label_values(&[name, result]).inc();
    }

    /// How long a blocking query on `route` waited.
    pub fn blocking_waited(&self, route: &str, waited: Duration) {
        self.samples.observe(
            "rollout_blocking_query_wait_seconds",
            &[route],
            waited.as_secs_f64(),
        );
    }

    /// One store batch: how many commands, and how long its commit took.
    pub fn store_batch(&self, commands: usize, took: Duration) {
        self.samples.observe(
            "rollout_store_commit_duration_seconds",
            &[],
            took.as_secs_f64(),
        );
        self.samples
            .observe("rollout_store_batch_commands", &[], commands as f64);
    }

    /// One snapshot written, and how long it took.
    pub fn snapshot_written(&self, took: Duration) {
        self.samples.observe(
            "rollout_store_snapshot_duration_seconds",
            &[],
            took.as_secs_f64(),
        );
    }

    fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        self.requests
            .with_label_values(&[method, route, status.as_str()])
            .inc();
        self.samples.observe(
            "rollout_http_request_duration_seconds",
            &[method, route],
            seconds,
        );
    }

    /// What one committed write did that operators count: the command by actor (the
    /// kind its envelope records; for an unattributed write, the kind that usually
    /// sends that command), health transitions, rollbacks and promotions.
    pub fn committed(
        &self,
        command: &'static str,
        actor: Option<&Actor>,
        outcome: &Outcome,
        before: &EngineState,
        after: &EngineState,
    ) {
        self.applied
            .with_label_values(&[command, actor.map_or(actor_of(command), |a| &a.kind)])
            .inc();
        for e in &outcome.events {
            if e.topic == Topic::Allocation && e.change == Change::Updated {
                let health = |s: &EngineState| {
                    e.key
                        .parse()
                        .ok()
                        .and_then(|id| s.alloc(&id))
                        .and_then(|a| a.deployment_status.as_ref().and_then(|d| d.healthy))
                };
                let (was, now) = (health(before), health(after));
                if was != now {
                    let label = match now {
                        Some(true) => "healthy",
                        Some(false) => "unhealthy",
                        None => "unset",
                    };
                    self.health_transitions.with_label_values(&[label]).inc();
                }
            }
        }
        let rolled_back = outcome
            .rollbacks
            .iter()
            .filter(|r| {
                matches!(
                    r.outcome,
                    rollout_engine::RollbackOutcome::RolledBack { .. }
                )
            })
            .count();
        self.rollbacks.inc_by(rolled_back as u64);
        let promoted = outcome
            .events
            .iter()
            .filter(|e| e.topic == Topic::Deployment && e.event_type == "DeploymentPromotion")
            .count()
            + outcome
                .trace
                .iter()
                .filter(|d| d.topic == Topic::Deployment && is_auto_promotion(d.rule))
                .count();
        self.promotions.inc_by(promoted as u64);
    }

    /// Brings the gauges read off the state, the limiter and the store up to date.
    pub fn refresh(&self, api: &Api) {
        let state = api.state();
        self.applied_index
            .set(i64::try_from(state.index()).unwrap_or(i64::MAX));
        self.deployments.reset();
        let mut by_status: BTreeMap<(&str, &str), i64> = BTreeMap::new();
        for d in state.deployments_in_namespace(None) {
            *by_status.entry((&d.namespace, &d.status)).or_default() += 1;
        }
        for ((namespace, status), n) in by_status {
            self.deployments
                .with_label_values(&[namespace, status])
                .set(n);
        }
        self.allocations.reset();
        let mut by_client: BTreeMap<&str, i64> = BTreeMap::new();
        for a in state.allocs_in_namespace(None) {
            *by_client.entry(a.client_status.as_str()).or_default() += 1;
        }
        for (status, n) in by_client {
            self.allocations.with_label_values(&[status]).set(n);
        }
        let (in_flight, connections) = api.limiter().load();
        self.requests_in_flight.set(in_flight);
        self.connections_open.set(connections);
        let backend = api.backend();
        let s = &self.store;
        s.accepting_writes
            .set(i64::from(backend.refusing_writes().is_none()));
        if let Some(stats) = backend.store_stats() {
            catch_up(&s.failed_commits, stats.failed_commits);
            catch_up(&s.recoveries, stats.recoveries);
            catch_up(&s.snapshots, stats.snapshots_written);
            catch_up(&s.snapshot_failures, stats.snapshot_failures);
            let snapshot_index = stats.last_snapshot.as_ref().map_or(0, |s| s.index);
            s.snapshot_age
                .set(gauge_value(state.index().saturating_sub(snapshot_index)));
            s.log_entries.set(gauge_value(
                state.index().saturating_sub(stats.truncated_through),
            ));
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn prometheus_text(&self) -> String {
        use prometheus::Encoder;
        let mut out = Vec::new();
        if let Err(e) = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "metrics not encoded");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// Nomad's JSON shape (`Timestamp`, `Gauges`, `Counters`, `Samples`).
    pub fn json(&self, now_unix_ns: i64) -> serde_json::Value {
        nomad_json(
            &self.registry.gather(),
            &self.samples,
            now_unix_ns,
            self.started.elapsed(),
        )
    }
}

/// A store counter as the store counts it (the store's count only grows).
fn catch_up(counter: &IntCounter, total: u64) {
    let current = counter.get();
    if total > current {
        counter.inc_by(total - current);
    }
}

fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Rules under which the engine promotes on its own (auto-promotion, `docs/semantics.md`).
fn is_auto_promotion(rule: &str) -> bool {
    rule == "AP4"
}

/// Who usually writes a command, for writes whose envelope records no actor (logged
/// before actors were): an operator (API and CLI), a scheduler (plans, acks), a client
/// (allocation updates) or the agent's watcher (deadlines, garbage collection).
pub fn actor_of(command: &str) -> &'static str {
    match command {
        "apply_plan_result" | "update_eval_status" => "scheduler",
        "update_allocs_from_client" => "client",
        "tick" | "reap_deployments" | "gc_deployments" | "gc_evaluations" | "gc_allocations" => {
            "watcher"
        }
        _ => "operator",
    }
}

/// Counts one blocking query as in flight for as long as it lives.
pub struct BlockingGuard(IntGauge);

impl Drop for BlockingGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Time a request's blocking query spent waiting, shared by the middleware (which
/// leaves it out of the request's latency) and the query (which adds to it).
#[derive(Clone, Debug, Default)]
pub struct WaitClock(Arc<AtomicU64>);

impl WaitClock {
    /// Times a wait from now until the returned guard is dropped (however the wait
    /// ends: a change, its deadline, an error).
    pub fn start(&self) -> WaitTimer {
        WaitTimer {
            clock: self.clone(),
            since: Instant::now(),
        }
    }

    fn add(&self, waited: Duration) {
        let ns = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(ns, Ordering::Relaxed);
    }

    fn waited(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}

/// A wait being timed; adds its duration to its clock when dropped.
pub struct WaitTimer {
    clock: WaitClock,
    since: Instant,
}

impl Drop for WaitTimer {
    fn drop(&mut self) {
        self.clock.add(self.since.elapsed());
    }
}

/// The method as a label: the standard ones by name, anything else lumped together, so
/// that arbitrary request methods cannot grow the metrics without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

/// Admission step (`routes::admission`): times every request (minus blocking waits), counts it under its route
/// template (never the raw path, which would make one series per ID), and logs it.
pub async fn track<F: std::future::Future<Output = Response>>(
    api: &Api,
    mut request: Request,
    next: impl FnOnce(Request) -> F,
) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    // The matched route is shared (an `Arc` inside); the path is copied only for the
    // debug log line, which is off by default.
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let path = tracing::enabled!(tracing::Level::DEBUG).then(|| request.uri().path().to_owned());
    let clock = WaitClock::default();
    request.extensions_mut().insert(clock.clone());
    let response = next(request).await;
    let waited = clock.waited();
    let worked = started.elapsed().saturating_sub(waited);
    let status = response.status().as_u16();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    api.metrics()
        .request(method, route, status, worked.as_secs_f64());
    if !waited.is_zero() {
        api.metrics().blocking_waited(route, waited);
    }
    tracing::debug!(
        method = %method,
        path = path.as_deref().unwrap_or_default(),
        route = %route,
        status,
        latency_us = u64::try_from(worked.as_micros()).unwrap_or(u64::MAX),
        waited_us = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    response
}

impl rollout_store::StoreObserver for Metrics {
    fn batch_committed(&self, commands: usize, took: Duration) {
        self.store_batch(commands, took);
    }

    fn snapshot_written(&self, took: Duration) {
        Metrics::snapshot_written(self, took);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16: applied commands are counted under the actor their envelope records; a
    /// write logged without one under the kind that usually sends it.
    #[test]
    fn applied_commands_are_labelled_with_the_recorded_actor() {
        let m = Metrics::new();
        let (outcome, state) = (Outcome::default(), EngineState::default());
        m.committed(
            "gc_deployments",
            Some(&Actor::gc()),
            &outcome,
            &state,
            &state,
        );
        m.committed("gc_deployments", None, &outcome, &state, &state);
        let operator = Actor::operator(Some(uuid::Uuid::from_u128(7)), "ci-token");
        m.committed(
            "apply_plan_result",
            Some(&operator),
            &outcome,
            &state,
            &state,
        );
        let text = m.prometheus_text();
        for line in [
            r#"rollout_commands_applied_total{actor="gc",command="gc_deployments"} 1"#,
            r#"rollout_commands_applied_total{actor="watcher",command="gc_deployments"} 1"#,
            r#"rollout_commands_applied_total{actor="operator",command="apply_plan_result"} 1"#,
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        // The label is the kind alone: no accessor or name (unbounded cardinality).
        assert!(!text.contains("ci-token"), "{text}");
    }
}
