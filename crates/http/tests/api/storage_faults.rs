//! The agent when its disk fails (faults injected into the durable store, served on a
//! real socket): health says so, writes are refused with the reason, and once space is
//! back the store recovers by itself and loses nothing acknowledged.

use crate::common::client::job;
use crate::common::Server;
use rollout_http::{Config, StoreBackend};
use rollout_store::faults::FaultPlan;
use rollout_store::{Options, Store};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

async fn store_server(dir: &std::path::Path, plan: &Arc<FaultPlan>) -> Server {
    let options = Options {
        faults: Some(plan.clone()),
        ..Options::default()
    };
    let store = Store::open(dir, options).expect("open");
    let backend = StoreBackend::new(Arc::new(store));
    Server::with_config(Arc::new(backend), None, Config::default()).await
}

#[tokio::test]
async fn a_failed_commit_makes_health_503_until_the_store_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let plan = FaultPlan::new(12);
    let s = store_server(dir.path(), &plan).await;
    let mut acknowledged = Vec::new();
    for i in 0..5 {
        let id = format!("before-{i}");
        let r = s.register(job(&id, 1, "app:1", json!({}))).await;
        acknowledged.push((id, r["Index"].as_u64().unwrap()));
    }
    let health = s.get("/v1/agent/health").await;
    assert_eq!(health.status, 200, "{}", health.text);

    plan.set_disk_full(true);
    let r = s.put("/v1/jobs", job("lost", 1, "app:1", json!({}))).await;
    assert_eq!(r.status, 500, "{}", r.text);
    assert!(r.text.contains("No space left on device"), "{}", r.text);
    let health = s.get("/v1/agent/health").await;
    assert_eq!(health.status, 503, "{}", health.text);
    let body = health.json();
    assert_eq!(body["server"]["ok"], false, "{body}");
    let message = body["server"]["message"].as_str().unwrap();
    assert!(
        message.contains("refuses writes") && message.contains("No space left on device"),
        "{message}"
    );
    // Every further write is refused as unavailable while the store recovers.
    let r = s
        .put("/v1/jobs", job("refused", 1, "app:1", json!({})))
        .await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.header("Retry-After").as_deref(), Some("1"));
    // Reads go on.
    assert_eq!(s.get("/v1/jobs").await.status, 200);
    let metrics = s.get("/v1/metrics?format=prometheus").await.text;
    assert!(
        metrics.contains("rollout_store_accepting_writes 0"),
        "{metrics}"
    );

    plan.set_disk_full(false);
    let mut healthy = false;
    for _ in 0..600 {
        if s.get("/v1/agent/health").await.status == 200 {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(healthy, "the store never recovered");
    for i in 0..5 {
        let id = format!("after-{i}");
        let r = s.register(job(&id, 1, "app:1", json!({}))).await;
        acknowledged.push((id, r["Index"].as_u64().unwrap()));
    }
    let metrics = s.get("/v1/metrics?format=prometheus").await.text;
    for line in [
        "rollout_store_accepting_writes 1",
        "rollout_store_failed_commits_total 1",
        "rollout_store_recoveries_total 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    for (id, index) in &acknowledged {
        assert_eq!(
            s.job(id).await["JobModifyIndex"].as_u64(),
            Some(*index),
            "{id}"
        );
    }
    s.stop().await;
    // And after a restart too.
    let plan = FaultPlan::new(13);
    let s = store_server(dir.path(), &plan).await;
    for (id, index) in &acknowledged {
        assert_eq!(
            s.job(id).await["JobModifyIndex"].as_u64(),
            Some(*index),
            "{id}"
        );
    }
}
