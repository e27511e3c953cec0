//! What `GET /v1/metrics` reports, in the Prometheus text format: requests by route and
//! status with latency histograms, commands applied by type and result, blocking queries
//! in flight, and the applied index.
//!
//! A handful of counters behind two mutexes is all this needs; a metrics framework would
//! cost more to build than the numbers are worth. The request middleware also writes the
//! one access-log line per request, so that logs and metrics can never disagree.

use crate::server::Api;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Upper bounds of the latency histogram buckets, in seconds.
const LATENCY_BUCKETS_S: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Default)]
struct Histogram {
    /// Per bucket (not cumulative; summed when rendered), plus the +Inf overflow.
    buckets: [u64; LATENCY_BUCKETS_S.len() + 1],
    sum_s: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let i = LATENCY_BUCKETS_S
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(LATENCY_BUCKETS_S.len());
        self.buckets[i] += 1;
        self.sum_s += seconds;
        self.count += 1;
    }
}

/// What is known about one (method, route): answers by status, and their latency.
#[derive(Clone, Debug, Default)]
struct RouteStats {
    statuses: BTreeMap<u16, u64>,
    latency: Histogram,
}

/// The agent's metrics; shared by every request.
#[derive(Debug, Default)]
pub struct Metrics {
    /// By (method, route template).
    requests: Mutex<BTreeMap<(String, String), RouteStats>>,
    /// (command, result) → count; result is `ok`, `rejected` or `error`.
    commands: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    blocking_in_flight: AtomicI64,
    event_subscribers: AtomicI64,
}

/// Counts one blocking query as in flight for as long as it lives.
pub struct BlockingGuard<'a>(&'a AtomicI64);

impl Drop for BlockingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Locks a metrics table; counters stay usable even if a panic poisoned the lock.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    pub fn blocking_query(&self) -> BlockingGuard<'_> {
        self.blocking_in_flight.fetch_add(1, Ordering::Relaxed);
        BlockingGuard(&self.blocking_in_flight)
    }

    pub fn blocking_in_flight(&self) -> i64 {
        self.blocking_in_flight.load(Ordering::Relaxed)
    }

    /// One event stream subscriber more (`+1`) or less (`-1`).
    pub fn event_subscriber(&self, delta: i64) {
        self.event_subscribers.fetch_add(delta, Ordering::Relaxed);
    }

    pub fn command(&self, name: &'static str, result: &'static str) {
        *lock(&self.commands).entry((name, result)).or_default() += 1;
    }

    fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut requests = lock(&self.requests);
        let stats = requests
            .entry((method.to_owned(), route.to_owned()))
            .or_default();
        *stats.statuses.entry(status).or_default() += 1;
        stats.latency.observe(seconds);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, applied_index: u64) -> String {
        let mut out = String::new();
        let requests = lock(&self.requests).clone();
        out.push_str(
            "# HELP rollout_http_requests_total HTTP requests answered, by route and status.\n",
        );
        out.push_str("# TYPE rollout_http_requests_total counter\n");
        for ((method, route), stats) in &requests {
            for (status, count) in &stats.statuses {
                let _ = writeln!(
                    out,
                    "rollout_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {count}",
                    escape(method),
                    escape(route)
                );
            }
        }
        out.push_str("# HELP rollout_http_request_duration_seconds Time to answer HTTP requests (blocking queries included).\n");
        out.push_str("# TYPE rollout_http_request_duration_seconds histogram\n");
        for ((method, route), stats) in &requests {
            let h = &stats.latency;
            let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
            let mut cumulative = 0;
            for (i, bound) in LATENCY_BUCKETS_S.iter().enumerate() {
                cumulative += h.buckets[i];
                let _ = writeln!(
                    out,
                    "rollout_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "rollout_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "rollout_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum_s
            );
            let _ = writeln!(
                out,
                "rollout_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out.push_str(
            "# HELP rollout_commands_total Commands submitted to the engine, by type and result.\n",
        );
        out.push_str("# TYPE rollout_commands_total counter\n");
        for ((command, result), count) in lock(&self.commands).iter() {
            let _ = writeln!(
                out,
                "rollout_commands_total{{command=\"{command}\",result=\"{result}\"}} {count}"
            );
        }
        out.push_str(
            "# HELP rollout_blocking_queries_in_flight Blocking queries currently waiting.\n",
        );
        out.push_str("# TYPE rollout_blocking_queries_in_flight gauge\n");
        let _ = writeln!(
            out,
            "rollout_blocking_queries_in_flight {}",
            self.blocking_in_flight()
        );
        out.push_str(
            "# HELP rollout_event_stream_subscribers Event stream subscribers connected.\n",
        );
        out.push_str("# TYPE rollout_event_stream_subscribers gauge\n");
        let _ = writeln!(
            out,
            "rollout_event_stream_subscribers {}",
            self.event_subscribers.load(Ordering::Relaxed)
        );
        out.push_str("# HELP rollout_applied_index Index of the last applied command.\n");
        out.push_str("# TYPE rollout_applied_index gauge\n");
        let _ = writeln!(out, "rollout_applied_index {applied_index}");
        out
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

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: times every request, counts it under its route template (never the raw
/// path, which would make one series per ID), and logs it.
pub async fn track(State(api): State<Api>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    api.metrics()
        .request(method, &route, status, elapsed.as_secs_f64());
    tracing::debug!(
        method = %method,
        path = %path,
        route = %route,
        status,
        latency_us = elapsed.as_micros() as u64,
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.request("GET", "/v1/deployment/{*id}", 200, 0.002);
        m.request("GET", "/v1/deployment/{*id}", 404, 20.0);
        m.command("promote_deployment", "ok");
        let _g = m.blocking_query();
        let text = m.render(42);
        assert!(text.contains(
            "rollout_http_requests_total{method=\"GET\",route=\"/v1/deployment/{*id}\",status=\"404\"} 1"
        ));
        assert!(text.contains(
            "rollout_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/deployment/{*id}\",le=\"0.0025\"} 1"
        ));
        assert!(text.contains(
            "rollout_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/deployment/{*id}\",le=\"+Inf\"} 2"
        ));
        assert!(
            text.contains("rollout_commands_total{command=\"promote_deployment\",result=\"ok\"} 1")
        );
        assert!(text.contains("rollout_blocking_queries_in_flight 1"));
        assert!(text.contains("rollout_applied_index 42"));
    }
}
