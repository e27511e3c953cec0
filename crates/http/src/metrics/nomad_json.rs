//! Nomad's JSON metrics shape, from the gathered Prometheus families: what `GET
//! /v1/metrics` answers by default and python-nomad's `metrics.get_metrics()` reads.
//!
//! - `Timestamp`: when the numbers were read, in Go's `time.Time` string form
//!   (`2026-12-02 16:50:00 +0000 UTC`);
//! - `Gauges`: `{Name, Value, Labels}` — every gauge, and the process metrics;
//! - `Counters`: `{Name, Count, Rate, Sum, Min, Max, Mean, Stddev, Labels}` —
//!   every counter counts events one at a time, so `Count` = `Sum`, each observation is
//!   1 (`Min` = `Max` = `Mean` = 1, `Stddev` 0) and `Rate` is per second since the
//!   agent started;
//! - `Samples`: the same keys for every timing and size, from exact running summaries;
//! - `Points` and `PrecisionGauges`: empty (rollout has no such metrics).
//!
//! Nomad's in-memory sink reports 10-second intervals; rollout reports totals since the
//! agent started, which is what a scraper of cumulative numbers wants. Names are the
//! Prometheus names.

use super::samples::Samples;
use prometheus::proto::{MetricFamily, MetricType};
use serde_json::{json, Map, Value};
use std::time::Duration;

/// The document, for families gathered at `now` (Unix ns), `uptime` after start.
pub fn nomad_json(
    families: &[MetricFamily],
    samples: &Samples,
    now_unix_ns: i64,
    uptime: Duration,
) -> Value {
    let mut gauges = Vec::new();
    let mut counters = Vec::new();
    let mut sampled = Vec::new();
    let seconds = uptime.as_secs_f64().max(1e-9);
    for family in families {
        let name = family.name();
        for m in family.get_metric() {
            let label_values: Vec<String> = m
                .get_label()
                .iter()
                .map(|l| l.value().to_string())
                .collect();
            let labels: Map<String, Value> = m
                .get_label()
                .iter()
                .map(|l| (l.name().to_string(), json!(l.value())))
                .collect();
            match family.get_field_type() {
                MetricType::GAUGE => gauges.push(json!({
                    "Name": name,
                    "Value": m.get_gauge().get_value(),
                    "Labels": labels,
                })),
                MetricType::COUNTER => {
                    let total = m.get_counter().get_value();
                    let one = if total > 0.0 { 1.0 } else { 0.0 };
                    counters.push(json!({
                        "Name": name,
                        "Count": total as u64,
                        "Rate": total / seconds,
                        "Sum": total,
                        "Min": one,
                        "Max": one,
                        "Mean": one,
                        "Stddev": 0.0,
                        "Labels": labels,
                    }));
                }
                MetricType::HISTOGRAM => {
                    let Some(s) = samples.summary(name, &label_values) else {
                        continue;
                    };
                    sampled.push(json!({
                        "Name": name,
                        "Count": s.count,
                        "Rate": s.sum / seconds,
                        "Sum": s.sum,
                        "Min": s.min,
                        "Max": s.max,
                        "Mean": s.mean(),
                        "Stddev": s.stddev(),
                        "Labels": labels,
                    }));
                }
                _ => {}
            }
        }
    }
    json!({
        "Counters": counters,
        "Gauges": gauges,
        "Points": [],
        "PrecisionGauges": [],
        "Samples": sampled,
        "Timestamp": go_time(now_unix_ns),
    })
}

/// Go's default `time.Time` text for a UTC instant, to the second.
fn go_time(unix_ns: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] +0000 UTC"
    );
    time::OffsetDateTime::from_unix_timestamp(unix_ns.div_euclid(1_000_000_000))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}
