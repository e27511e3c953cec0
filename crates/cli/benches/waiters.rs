//! A write's latency with thousands of blocking queries waiting for it, against the same
//! write on an idle agent, and how long until every waiter has its answer. Prints a
//! Markdown table for BENCHMARKS.md; asserts no timings (only that every request succeeded
//! and every waiter was answered with the write it waited for).
//!
//! ```sh
//! cargo bench -p rollout --bench waiters   # ROLLOUT_BENCH_WAITERS=10000, ROLLOUT_BENCH_ROUNDS=20
//! ```
//!
//! The agent's API runs in-process over the durable store as `rollout agent --data-dir`
//! wires it (a write is answered after its fsync). The measured write is a real HTTP
//! request (reqwest on loopback, its own two-worker runtime): `PUT
//! /v1/deployment/pause/:id`, pausing and resuming one deployment alternately. The
//! waiters are blocking queries on that deployment (`GET /v1/deployment/:id?index=N` with
//! N its current modify index), sent through the API's router on the server's runtime,
//! without a socket each (10,000 sockets on both ends would exceed the file-descriptor
//! limit of one process): everything a blocking query does — query parsing, limits,
//! the wait, the re-read, JSON — except the socket. Each round alternates an idle write
//! and a write that wakes `ROLLOUT_BENCH_WAITERS` waiters; a waiter's wake time runs from
//! the moment the write was sent to its answer.

mod common;

use axum::body::Body;
use rollout_http::{serve, Config};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tower::ServiceExt;

fn main() {
    let waiters = common::knob("ROLLOUT_BENCH_WAITERS", 10_000) as usize;
    let rounds = common::knob("ROLLOUT_BENCH_ROUNDS", 20);
    let servers = common::runtime("servers");
    let clients = common::runtime("clients");
    let durable = common::durable_api(Config::default());
    let api = durable.api.clone();
    let router = api.router();
    let base = servers.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(serve(listener, api, std::future::pending()));
        format!("http://{addr}")
    });
    let http = reqwest::Client::new();
    let deployment = clients
        .block_on(common::setup(&http, &base, 1))
        .pop()
        .expect("one deployment");

    println!(
        "# A write with {waiters} blocking queries waiting: {rounds} rounds ({} cores)\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut idle = Vec::new();
    let mut loaded = Vec::new();
    let mut wake_all = Vec::new();
    let mut wakes = Vec::new();
    let mut paused = false;
    for round in 1..=rounds {
        paused = !paused;
        idle.push(clients.block_on(write(&http, &base, &deployment, paused)));

        let index = clients.block_on(modify_index(&http, &base, &deployment));
        let pending: Vec<_> = (0..waiters)
            .map(|_| servers.spawn(wait(router.clone(), deployment.clone(), index)))
            .collect();
        clients.block_on(until_waiting(&http, &base, waiters));
        paused = !paused;
        let sent = Instant::now();
        loaded.push(clients.block_on(write(&http, &base, &deployment, paused)));
        let mut last = Duration::ZERO;
        for p in pending {
            let (answered, woke_at) = servers.block_on(p).expect("waiter");
            assert!(woke_at > index, "a waiter answered without the write");
            let after = answered.saturating_duration_since(sent);
            wakes.push(after);
            last = last.max(after);
        }
        wake_all.push(last);
        eprintln!(
            "round {round}: idle write {:.2} ms, write with {waiters} waiters {:.2} ms, all woken after {:.1} ms",
            ms(idle[idle.len() - 1]),
            ms(loaded[loaded.len() - 1]),
            ms(last)
        );
    }
    println!("| case | p50 | p99 | max |");
    println!("|---|---:|---:|---:|");
    row("write, idle agent", &mut idle);
    row(&format!("write, {waiters} waiters"), &mut loaded);
    row(
        &format!("one waiter's answer after the write was sent ({waiters} × {rounds})"),
        &mut wakes,
    );
    row("all waiters answered, per round", &mut wake_all);
    let p50 = |v: &mut [Duration]| percentile(v, 0.5);
    println!(
        "\nwrite latency with waiters ÷ idle (p50): {:.2}×",
        ms(p50(&mut loaded)) / ms(p50(&mut idle))
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or_default()
}

fn row(case: &str, v: &mut [Duration]) {
    let max = v.iter().max().copied().unwrap_or_default();
    println!(
        "| {case} | {:.2} ms | {:.2} ms | {:.2} ms |",
        ms(percentile(v, 0.5)),
        ms(percentile(v, 0.99)),
        ms(max)
    );
}

/// Pauses (or resumes) the deployment over HTTP; the time until its answer.
async fn write(http: &reqwest::Client, base: &str, deployment: &str, pause: bool) -> Duration {
    let t = Instant::now();
    let r = http
        .put(format!("{base}/v1/deployment/pause/{deployment}"))
        .body(json!({"DeploymentID": deployment, "Pause": pause}).to_string())
        .send()
        .await
        .expect("write");
    assert!(r.status().is_success(), "write: {}", r.status());
    r.bytes().await.expect("write body");
    t.elapsed()
}

async fn modify_index(http: &reqwest::Client, base: &str, deployment: &str) -> u64 {
    let body = http
        .get(format!("{base}/v1/deployment/{deployment}"))
        .send()
        .await
        .expect("read")
        .bytes()
        .await
        .expect("body");
    let d: Value = serde_json::from_slice(&body).expect("JSON");
    d["ModifyIndex"].as_u64().expect("ModifyIndex")
}

/// One blocking query through the router: when it was answered, and the index it reports.
async fn wait(router: axum::Router, deployment: String, index: u64) -> (Instant, u64) {
    let request =
        axum::http::Request::get(format!("/v1/deployment/{deployment}?index={index}&wait=5m"))
            .body(Body::empty())
            .expect("request");
    let response = router.oneshot(request).await.expect("infallible");
    assert!(response.status().is_success(), "{}", response.status());
    let reported = response
        .headers()
        .get("x-nomad-index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("X-Nomad-Index");
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (Instant::now(), reported)
}

/// Until the agent reports `n` blocking queries waiting (its Prometheus gauge).
async fn until_waiting(http: &reqwest::Client, base: &str, n: usize) {
    let wanted = format!("rollout_blocking_queries_in_flight {n}\n");
    for _ in 0..6_000 {
        let text = http
            .get(format!("{base}/v1/metrics?format=prometheus"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics body");
        if text.contains(&wanted) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the waiters never all waited");
}
