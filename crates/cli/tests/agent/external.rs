//! `--dev --dev-scheduler external`: the test plays operator, scheduler and clients
//! through the ingest endpoints (R6), as any external scheduler would.

use crate::common::client::job;
use crate::common::{Agent, BIN};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::process::Command;

#[tokio::test]
async fn canary_promote_success_against_the_binary() {
    let a = Agent::dev_external().await;
    let update = json!({"Canary": 1, "MaxParallel": 1, "AutoRevert": true});
    a.register(job("web", 2, "app:1", update.clone())).await;
    a.converge().await;
    assert_eq!(a.latest_deployment("web").await["Status"], "successful");

    a.register(job("web", 2, "app:2", update)).await;
    let d = a.latest_deployment_id("web").await;
    let canaries = a.schedule().await;
    assert_eq!(canaries.len(), 1);
    // Promotion is refused until the canary is healthy.
    let r = a.promote(&d).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r
        .text
        .contains("Task group \"web\" has 0/1 healthy allocations"));
    a.report(&canaries, Some(true)).await;
    a.promote(&d).await.ok();
    a.converge().await;
    let dep = a.deployment(&d).await;
    assert_eq!(dep["Status"], "successful");
    assert_eq!(
        dep["StatusDescription"],
        "Deployment completed successfully"
    );
    assert_eq!(a.job("web").await["Stable"], true);

    let metrics = a.get("/v1/metrics?format=prometheus").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .text
        .contains("rollout_commands_total{command=\"promote_deployment\",result=\"ok\"} 1"));
    assert!(metrics
        .text
        .contains("rollout_commands_total{command=\"promote_deployment\",result=\"rejected\"} 1"));
}

#[tokio::test]
async fn errors_and_blocking_against_the_binary() {
    let a = Agent::dev_external().await;
    assert_eq!(a.get("/v1/deployments?prefix=abc").await.status, 400);
    let r = a
        .get("/v1/deployment/5c0f0a8e-1234-4abc-9def-0123456789ab")
        .await;
    assert_eq!((r.status, r.text.as_str()), (404, "deployment not found"));
    let r = a.post("/v1/deployments", json!({})).await;
    assert_eq!((r.status, r.text.as_str()), (405, "Invalid method"));

    a.register(job("web", 1, "app:1", json!({}))).await;
    let d = a.latest_deployment_id("web").await;
    let index = a.get(&format!("/v1/deployment/{d}")).await.index();
    let client = a.client.clone();
    let path = format!("/v1/deployment/{d}?index={index}&wait=30s");
    let waiter = tokio::spawn(async move { client.get(&path).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiter.is_finished());
    a.fail(&d).await.ok();
    let r = waiter.await.unwrap();
    assert_eq!(r.ok()["Status"], "failed");
    let r = a.fail(&d).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (409, "can't fail terminal deployment")
    );
}

#[tokio::test]
async fn sigterm_answers_blocked_queries_and_exits_cleanly() {
    let mut a = Agent::dev_external().await;
    let client = a.client.clone();
    let waiter =
        tokio::spawn(async move { client.get("/v1/deployments?index=100&wait=60s").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    a.terminate();
    let r = waiter.await.unwrap();
    assert_eq!(r.status, 200);
    let status = a.wait().await;
    assert!(status.success(), "{status:?}");
    println!("graceful shutdown took {:?}", started.elapsed());
}

#[tokio::test]
async fn without_dev_the_agent_needs_a_data_dir() {
    let out = Command::new(BIN).arg("agent").output().await.expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--data-dir"), "{stderr}");
}
