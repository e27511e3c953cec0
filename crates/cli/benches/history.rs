//! What the past costs to ask for (issue 16's figures): a time-travel read 100,000
//! entries back with a snapshot every 10,000, and the history of a deployment of 1,000
//! allocations, through the agent's API over the durable store. Prints a Markdown table
//! for BENCHMARKS.md; asserts no timings (only that every answer is the one asked for).
//!
//! ```sh
//! cargo bench -p rollout --bench history   # ROLLOUT_BENCH_ROUNDS=10, ROLLOUT_BENCH_BACK=100000, ROLLOUT_BENCH_ALLOCS=1000
//! ```
//!
//! The store is the agent's (`rollout agent --data-dir`) with a snapshot every 10,000
//! entries (the default) and `--log-retention` long enough to keep the whole run. Setup
//! goes through the store directly: one job of ROLLOUT_BENCH_ALLOCS allocations placed
//! by one plan and reported healthy one allocation per client update (so its deployment's
//! history has one write per allocation), then ROLLOUT_BENCH_BACK + 10,000 writes that
//! pause and resume a second job's deployment. The measured requests go through the
//! API's router (query parsing, ACL, the rebuild, JSON), without a socket:
//!
//! - `GET /v1/deployment/:id?at_index=N`, N about ROLLOUT_BENCH_BACK entries back, a
//!   different N each round so that the cache of rebuilt states never answers;
//! - `GET /v1/deployment/:id/history` of the 1,000-allocation deployment, once just
//!   after it succeeded and once after the filler writes (its history then replays them
//!   too, from the snapshot before its creation).

mod common;

use axum::body::Body;
use rollout_engine::command::PauseDeployment;
use rollout_engine::{plan, Command};
use rollout_http::Config;
use rollout_store::workload::{client_running, register};
use rollout_store::{LogRetention, Options, Store};
use serde_json::Value;
use std::time::{Duration, Instant};
use tower::ServiceExt;
use uuid::Uuid;

fn main() {
    let rounds = common::knob("ROLLOUT_BENCH_ROUNDS", 10);
    let back = common::knob("ROLLOUT_BENCH_BACK", 100_000);
    let allocs = common::knob("ROLLOUT_BENCH_ALLOCS", 1_000);
    let servers = common::runtime("servers");
    let durable = common::durable_api_with(
        Options {
            log_retention: LogRetention::Entries(u64::MAX),
            ..Options::default()
        },
        Config::default(),
    );
    let store = durable.store.clone();
    let router = durable.api.router();

    let t = Instant::now();
    let big = big_deployment(&store, allocs);
    eprintln!(
        "deployment of {allocs} allocations succeeded at index {} ({:.1} s)",
        store.state().index(),
        t.elapsed().as_secs_f64()
    );
    let mut history_fresh = Vec::new();
    let mut writes_fresh = 0;
    for _ in 0..rounds {
        let (took, n) = servers.block_on(history(&router, big));
        history_fresh.push(took);
        writes_fresh = n;
    }

    let t = Instant::now();
    let filler = servers.block_on(fill(&store, back + 10_000));
    eprintln!(
        "{} filler writes, now at index {} ({:.1} s)",
        back + 10_000,
        store.state().index(),
        t.elapsed().as_secs_f64()
    );
    let now = store.state().index();
    let mut travel = Vec::new();
    for r in 0..rounds {
        let at = now - back - r * 997;
        travel.push(servers.block_on(at_index(&router, filler, at)));
    }
    let mut recent = Vec::new();
    for r in 0..rounds {
        let at = now - 1 - r * 7;
        recent.push(servers.block_on(at_index(&router, filler, at)));
    }
    let mut history_late = Vec::new();
    let mut writes_late = 0;
    for _ in 0..rounds {
        let (took, n) = servers.block_on(history(&router, big));
        history_late.push(took);
        writes_late = n;
    }
    assert_eq!(
        writes_late, writes_fresh,
        "the fillers changed the deployment's history"
    );

    println!(
        "# The past through the API: {rounds} rounds, log of {now} entries, snapshot every 10,000 ({} cores)\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("| request | p50 | max |");
    println!("|---|---:|---:|");
    row(&format!("`at_index` {back} entries back"), &mut travel);
    row("`at_index` 1–70 entries back", &mut recent);
    row(
        &format!("history of a {allocs}-allocation deployment ({writes_fresh} writes), just after it succeeded"),
        &mut history_fresh,
    );
    row(
        &format!("the same history after {} further writes", back + 10_000),
        &mut history_late,
    );
}

/// Registers job `big` with `allocs` allocations, places them all with one plan result
/// and reports them healthy one per client update, until its deployment succeeds.
fn big_deployment(store: &Store, allocs: u64) -> Uuid {
    let registered = store
        .submit(register("big", allocs as i64, "app:1"))
        .expect("register");
    let deployment = registered.outcome.deployments_created[0];
    let eval = registered.outcome.eval_id.expect("an evaluation");
    let state = store.state();
    let plan = plan(&state, &eval, store.now()).expect("plan");
    let placed = store
        .submit(Command::ApplyPlanResult(
            plan.accept_on_node("node-1", "n1"),
        ))
        .expect("plan result");
    assert_eq!(placed.outcome.allocs_created.len() as u64, allocs);
    for alloc in placed.outcome.allocs_created {
        store
            .submit(client_running(alloc, store.now(), true))
            .expect("client update");
    }
    let status = store
        .state()
        .deployment(&deployment)
        .map(|d| d.status.clone());
    assert_eq!(status.as_deref(), Some("successful"));
    deployment
}

/// Registers job `filler` (its deployment never placed, so it stays running) and pauses
/// and resumes its deployment `writes` times, up to 512 writes in flight.
async fn fill(store: &Store, writes: u64) -> Uuid {
    let registered = store
        .submit(register("filler", 1, "app:1"))
        .expect("register");
    let deployment = registered.outcome.deployments_created[0];
    let mut sent = 0;
    while sent < writes {
        let wave: Vec<_> = (sent..writes.min(sent + 512))
            .map(|i| {
                store.submit_async(Command::PauseDeployment(PauseDeployment {
                    deployment_id: deployment,
                    pause: i % 2 == 0,
                }))
            })
            .collect();
        sent += wave.len() as u64;
        for w in wave {
            w.await.expect("pause/resume");
        }
    }
    deployment
}

async fn get(router: &axum::Router, path: &str) -> (Duration, u64, Value) {
    let t = Instant::now();
    let request = axum::http::Request::get(path)
        .body(Body::empty())
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let index = response
        .headers()
        .get("x-nomad-index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("X-Nomad-Index");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let took = t.elapsed();
    assert!(
        status.is_success(),
        "{path}: {status}: {}",
        String::from_utf8_lossy(&body)
    );
    (took, index, serde_json::from_slice(&body).expect("JSON"))
}

async fn at_index(router: &axum::Router, deployment: Uuid, at: u64) -> Duration {
    let (took, index, d) = get(
        router,
        &format!("/v1/deployment/{deployment}?at_index={at}"),
    )
    .await;
    assert_eq!(index, at);
    assert!(d["ModifyIndex"].as_u64().expect("ModifyIndex") <= at);
    took
}

async fn history(router: &axum::Router, deployment: Uuid) -> (Duration, usize) {
    let (took, _, entries) = get(router, &format!("/v1/deployment/{deployment}/history")).await;
    (took, entries.as_array().expect("an array").len())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn row(case: &str, v: &mut [Duration]) {
    v.sort();
    let p50 = v.get(v.len() / 2).copied().unwrap_or_default();
    let max = v.last().copied().unwrap_or_default();
    println!("| {case} | {:.1} ms | {:.1} ms |", ms(p50), ms(max));
}
