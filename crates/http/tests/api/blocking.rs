//! Blocking queries: they return after a change, not before; at `wait` expiry otherwise;
//! at shutdown; and many can wait at once.

use crate::common::client::job;
use crate::common::Server;
use rollout_http::{Config, MemoryBackend};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_blocked_read_returns_after_the_write_not_before() {
    let s = Server::start().await;
    s.register(job("web", 1, "app:1", json!({}))).await;
    let d = s.latest_deployment_id("web").await;
    let first = s.get(&format!("/v1/deployment/{d}")).await;
    let index = first.index();

    let client = s.client.clone();
    let path = format!("/v1/deployment/{d}?index={index}&wait=30s");
    let waiter = tokio::spawn(async move {
        let started = Instant::now();
        let r = client.get(&path).await;
        (started.elapsed(), r)
    });
    // An unrelated write wakes the query, which runs again and keeps waiting: the
    // deployment did not change.
    s.register(job("other", 1, "app:1", json!({}))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiter.is_finished(),
        "returned before the deployment changed"
    );

    let paused = s.pause(&d, true).await;
    let written = paused.index();
    let (elapsed, r) = waiter.await.unwrap();
    let body = r.ok();
    assert_eq!(body["Status"], "paused");
    assert_eq!(r.index(), written);
    assert!(elapsed < Duration::from_secs(20), "woke late: {elapsed:?}");
    println!("blocked read woke {elapsed:?} after it started (300 ms of it on purpose)");
}

#[tokio::test]
async fn a_blocked_read_returns_at_wait_expiry_with_the_same_index() {
    let s = Server::start().await;
    s.register(job("web", 1, "app:1", json!({}))).await;
    let r = s.get("/v1/deployments").await;
    let index = r.index();
    let started = Instant::now();
    let r = s
        .get(&format!("/v1/deployments?index={index}&wait=400ms"))
        .await;
    let elapsed = started.elapsed();
    assert_eq!(r.status, 200);
    assert_eq!(r.index(), index);
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[tokio::test]
async fn a_fresh_agent_reports_index_one_so_echoing_clients_block() {
    let s = Server::start().await;
    let r = s.get("/v1/deployments").await;
    assert_eq!(r.ok(), json!([]));
    assert_eq!(r.header("X-Nomad-Index").as_deref(), Some("1"));
    assert_eq!(r.header("X-Nomad-KnownLeader").as_deref(), Some("true"));
    assert_eq!(r.header("X-Nomad-LastContact").as_deref(), Some("0"));
    let started = Instant::now();
    let r = s.get("/v1/deployments?index=1&wait=200ms").await;
    assert_eq!(r.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn a_thousand_blocked_queries_wake_on_one_write() {
    const WAITERS: usize = 1000;
    // One client (this test) over its default share of blocking queries, and of
    // connections: a connection per waiter, plus those its pool opens for the metrics
    // polls while the waiters take every idle one (the default cap, 1024, is too close).
    let config = Config {
        max_blocking_queries_per_client: WAITERS,
        max_connections_per_client: 2 * WAITERS,
        ..Config::default()
    };
    let s = Server::with_config(Arc::new(MemoryBackend::new()), None, config).await;
    s.register(job("web", 1, "app:1", json!({}))).await;
    let d = s.latest_deployment_id("web").await;
    let index = s.get(&format!("/v1/deployment/{d}")).await.index();
    let mut waiters = Vec::with_capacity(WAITERS);
    for _ in 0..WAITERS {
        let client = s.client.clone();
        let path = format!("/v1/deployment/{d}?index={index}&wait=60s");
        waiters.push(tokio::spawn(async move { client.get(&path).await }));
    }
    // Wait until they are all parked (the metric counts them).
    let parked = async {
        loop {
            let metrics = s.get("/v1/metrics?format=prometheus").await.text;
            if metrics.contains(&format!("rollout_blocking_queries_in_flight {WAITERS}")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), parked)
        .await
        .expect("all queries parked");
    let started = Instant::now();
    let written = s.pause(&d, true).await.index();
    for w in waiters {
        let r = w.await.unwrap();
        assert_eq!(r.index(), written);
    }
    println!(
        "{WAITERS} blocked queries answered {:?} after the write",
        started.elapsed()
    );
}

#[tokio::test]
async fn shutdown_releases_blocked_queries() {
    let s = Server::start().await;
    let client = s.client.clone();
    let waiter = tokio::spawn(async move { client.get("/v1/deployments?index=5&wait=60s").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    s.stop().await;
    let r = waiter.await.unwrap();
    assert_eq!(r.status, 200);
    assert!(started.elapsed() < Duration::from_secs(10));
}
