//! `/v1/metrics` in both formats: Nomad's JSON shape by default (what python-nomad's
//! `metrics.get_metrics()` reads), the Prometheus text with `?format=prometheus`, parsed
//! by a Prometheus parser; and the numbers a rollout moves.

use crate::common::client::job;
use crate::common::Server;
use serde_json::{json, Value};

/// The entries of `section` named `name`.
fn named<'a>(doc: &'a Value, section: &str, name: &str) -> Vec<&'a Value> {
    doc[section]
        .as_array()
        .unwrap_or_else(|| panic!("{section} is a list: {doc}"))
        .iter()
        .filter(|e| e["Name"] == name)
        .collect()
}

/// A failed deployment that rolls back, a promotion-free success before it, and one
/// blocking query that waits out its `wait`.
async fn rollout_with_a_rollback(s: &Server) {
    let update = json!({"MaxParallel": 1, "AutoRevert": true, "ProgressDeadline": 0});
    s.register(job("web", 1, "app:1", update.clone())).await;
    s.converge().await;
    s.register(job("web", 1, "app:2", update)).await;
    let placed = s.schedule().await;
    s.report(&placed, Some(false)).await;
    let index = s.applied_index().await;
    let r = s.get(&format!("/v1/jobs?index={index}&wait=200ms")).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn metrics_answer_nomads_json_shape_by_default() {
    let s = Server::start().await;
    rollout_with_a_rollback(&s).await;
    let r = s.get("/v1/metrics").await;
    assert_eq!(
        r.header("Content-Type").as_deref(),
        Some("application/json")
    );
    let doc = r.ok();
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "Counters",
            "Gauges",
            "Points",
            "PrecisionGauges",
            "Samples",
            "Timestamp"
        ]
    );
    // Go's time.Time text, to the second.
    let ts = doc["Timestamp"].as_str().unwrap();
    assert!(ts.ends_with(" +0000 UTC") && ts.len() == 29, "{ts}");
    for g in doc["Gauges"].as_array().unwrap() {
        let k: Vec<&String> = g.as_object().unwrap().keys().collect();
        assert_eq!(k, ["Labels", "Name", "Value"], "{g}");
    }
    let sample_keys = [
        "Count", "Labels", "Max", "Mean", "Min", "Name", "Rate", "Stddev", "Sum",
    ];
    for section in ["Counters", "Samples"] {
        for e in doc[section].as_array().unwrap() {
            let k: Vec<&String> = e.as_object().unwrap().keys().collect();
            assert_eq!(k, sample_keys, "{section}: {e}");
        }
    }
    // What the rollout did.
    let deployments = named(&doc, "Gauges", "rollout_deployments");
    let statuses: Vec<(&str, f64)> = deployments
        .iter()
        .map(|g| {
            (
                g["Labels"]["status"].as_str().unwrap(),
                g["Value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert!(statuses.contains(&("failed", 1.0)), "{statuses:?}");
    assert!(statuses.contains(&("successful", 1.0)), "{statuses:?}");
    assert!(deployments
        .iter()
        .all(|g| g["Labels"]["namespace"] == "default"));
    let rollbacks = named(&doc, "Counters", "rollout_rollbacks_total");
    assert_eq!(rollbacks[0]["Count"], 1);
    let unhealthy = named(&doc, "Counters", "rollout_alloc_health_transitions_total");
    assert!(
        unhealthy
            .iter()
            .any(|c| c["Labels"]["health"] == "unhealthy" && c["Count"] == 1),
        "{unhealthy:?}"
    );
    let by_actor = named(&doc, "Counters", "rollout_commands_applied_total");
    for (command, actor) in [
        ("register_job", "operator"),
        ("apply_plan_result", "scheduler"),
        ("update_allocs_from_client", "client"),
    ] {
        assert!(
            by_actor
                .iter()
                .any(|c| c["Labels"]["command"] == command && c["Labels"]["actor"] == actor),
            "{command} by {actor}: {by_actor:?}"
        );
    }
    let allocs = named(&doc, "Gauges", "rollout_allocations");
    assert!(!allocs.is_empty());
    // The blocking query's wait is its own sample, at least its deadline long.
    let waits = named(&doc, "Samples", "rollout_blocking_query_wait_seconds");
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0]["Labels"]["route"], "/v1/jobs");
    assert!(waits[0]["Min"].as_f64().unwrap() >= 0.2, "{:?}", waits[0]);
    let latency = named(&doc, "Samples", "rollout_http_request_duration_seconds");
    assert!(latency.iter().any(|l| l["Labels"]["route"] == "/v1/jobs"));
    for l in &latency {
        let (min, mean, max) = (
            l["Min"].as_f64().unwrap(),
            l["Mean"].as_f64().unwrap(),
            l["Max"].as_f64().unwrap(),
        );
        assert!(min <= mean && mean <= max, "{l}");
    }
    // The process, from /proc.
    if cfg!(target_os = "linux") {
        for name in ["process_resident_memory_bytes", "process_open_fds"] {
            assert_eq!(named(&doc, "Gauges", name).len(), 1, "{name}");
        }
        assert_eq!(
            named(&doc, "Counters", "process_cpu_seconds_total").len(),
            1
        );
    }
}

#[tokio::test]
async fn metrics_in_the_prometheus_text_format_parse() {
    let s = Server::start().await;
    rollout_with_a_rollback(&s).await;
    let r = s.get("/v1/metrics?format=prometheus").await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("Content-Type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let lines = r.text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
    let value = |name: &str, label: Option<(&str, &str)>| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .map(|s| s.value.clone())
    };
    assert!(matches!(
        value("rollout_rollbacks_total", None),
        Some(prometheus_parse::Value::Counter(n)) if n == 1.0
    ));
    assert!(matches!(
        value("rollout_deployments", Some(("status", "failed"))),
        Some(prometheus_parse::Value::Gauge(n)) if n == 1.0
    ));
    assert!(matches!(
        value(
            "rollout_blocking_query_wait_seconds",
            Some(("route", "/v1/jobs"))
        ),
        Some(prometheus_parse::Value::Histogram(_))
    ));
    assert!(matches!(
        value("rollout_applied_index", None),
        Some(prometheus_parse::Value::Gauge(n)) if n >= 5.0
    ));
    // Every family has its HELP text.
    for name in [
        "rollout_commands_applied_total",
        "rollout_http_requests_total",
    ] {
        assert!(scrape.docs.contains_key(name), "{name}");
    }
}
