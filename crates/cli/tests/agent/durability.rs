//! `--data-dir`: what was acknowledged survives a restart (R5), and the agent says how
//! it recovered.

use crate::common::client::job;
use crate::common::{field, Agent};
use serde_json::json;
use tokio::process::Command;

/// Every read a restart must give back byte for byte, with its index.
const READS: &[&str] = &[
    "/v1/jobs",
    "/v1/job/web",
    "/v1/job/web/versions",
    "/v1/job/web/deployments",
    "/v1/deployments",
    "/v1/allocations",
    "/v1/evaluations",
];

async fn snapshot(a: &Agent) -> Vec<(String, u64, String)> {
    let mut out = Vec::new();
    for path in READS {
        let r = a.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        out.push((path.to_string(), r.index(), r.text));
    }
    out
}

#[tokio::test]
async fn a_restart_on_the_same_data_dir_finds_everything_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let a = Agent::with_data_dir(dir.path()).await;
    let fresh = a.log_line("store recovered").expect("recovery line");
    assert_eq!(field(&fresh, "entries_replayed").as_deref(), Some("0"));

    // A canary rollout, driven through the ingest endpoints (no simulator without --dev).
    let update = json!({"Canary": 1, "MaxParallel": 1, "AutoRevert": true});
    a.register(job("web", 2, "app:1", update.clone())).await;
    a.converge().await;
    a.register(job("web", 2, "app:2", update)).await;
    let d = a.latest_deployment_id("web").await;
    let canaries = a.schedule().await;
    a.report(&canaries, Some(true)).await;
    a.promote(&d).await.ok();
    a.converge().await;
    assert_eq!(a.deployment(&d).await["Status"], "successful");
    let before = snapshot(&a).await;
    let last_index = a.get("/v1/deployments").await.index();

    let log = a.stop().await;
    assert!(log.iter().any(|l| l.contains("store closed")), "{log:?}");

    let b = Agent::with_data_dir(dir.path()).await;
    let line = b.log_line("store recovered").expect("recovery line");
    let replayed: u64 = field(&line, "entries_replayed")
        .and_then(|v| v.parse().ok())
        .expect("entries_replayed");
    let index: u64 = field(&line, "index")
        .and_then(|v| v.parse().ok())
        .expect("index");
    assert!(replayed > 0 && replayed == index, "{line}");
    assert!(index >= last_index, "{line}");
    assert!(field(&line, "total_ms").is_some(), "{line}");
    assert_eq!(snapshot(&b).await, before);

    // And it goes on from there.
    let r = b.fail(&d).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (409, "can't fail terminal deployment")
    );
    let registered = b
        .register(job("web", 2, "app:3", json!({"Canary": 1})))
        .await;
    assert_eq!(registered["Index"], index + 1);
    b.stop().await;
}

#[tokio::test]
async fn a_second_agent_cannot_open_a_data_dir_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let a = Agent::with_data_dir(dir.path()).await;
    let out = Command::new(crate::common::BIN)
        .arg("agent")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--http-addr", "127.0.0.1:0"])
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot open the store"), "{stderr}");
    a.stop().await;
}

#[tokio::test]
async fn a_dev_agent_deletes_its_temporary_data_dir_on_exit() {
    let a = Agent::dev().await;
    let dir = a.data_dir();
    assert!(dir.join("rollout.redb").exists(), "{dir:?}");
    a.stop().await;
    assert!(!dir.exists(), "{dir:?} still exists");
}
