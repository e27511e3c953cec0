//! A small, bounded load test on loopback: 64 concurrent clients mixing reads and
//! operator writes. It asserts that nothing fails and prints the latency distribution;
//! it never asserts timings (they belong to benchmarks).

use crate::common::client::job;
use crate::common::Server;
use serde_json::json;
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 64;
const REQUESTS_PER_CLIENT: usize = 100;
/// One request in this many is a write (pause/resume of the client's own deployment).
const WRITE_EVERY: usize = 10;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_writes_at_concurrency_64() {
    let s = Server::start().await;
    let mut deployments = Vec::new();
    for i in 0..CONCURRENCY {
        let id = format!("job-{i}");
        s.register(job(&id, 2, "app:1", json!({}))).await;
        deployments.push(s.latest_deployment_id(&id).await);
    }
    let started = Instant::now();
    let mut workers = Vec::new();
    for d in deployments {
        let client = s.client.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(REQUESTS_PER_CLIENT);
            let mut errors = Vec::new();
            let mut paused = false;
            for i in 0..REQUESTS_PER_CLIENT {
                let t = Instant::now();
                let r = if i % WRITE_EVERY == WRITE_EVERY - 1 {
                    paused = !paused;
                    client.pause(&d, paused).await
                } else if i % 2 == 0 {
                    client.get(&format!("/v1/deployment/{d}")).await
                } else {
                    client.get("/v1/deployments?per_page=20").await
                };
                latencies.push(t.elapsed());
                if r.status != 200 {
                    errors.push(format!("{} {}", r.status, r.text));
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    for w in workers {
        let (l, e) = w.await.unwrap();
        latencies.extend(l);
        errors.extend(e);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    println!(
        "load: {} requests ({} writes) at concurrency {CONCURRENCY} in {elapsed:?} = {:.0} req/s; p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        latencies.len() / WRITE_EVERY,
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    let metrics = s.get("/v1/metrics?format=prometheus").await.text;
    assert!(
        metrics.contains("rollout_commands_total{command=\"pause_deployment\",result=\"ok\"} 640")
    );
}
