//! End-to-end: the real `rollout agent --dev` binary on a free loopback port, driven by a
//! real HTTP client acting as operator, scheduler and clients.

#[path = "../../http/tests/api/common/client.rs"]
mod client;

use client::{job, Client};
use serde_json::json;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_rollout");

struct Agent {
    child: Child,
    client: Client,
}

impl Agent {
    /// Starts `rollout agent --dev` on port 0 and reads the bound address from its log.
    async fn start() -> Agent {
        let mut child = Command::new(BIN)
            .args([
                "agent",
                "--dev",
                "--dev-scheduler",
                "external",
                "--http-addr",
                "127.0.0.1:0",
                "--log-level",
                "info",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn rollout");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let find_addr = async {
            while let Some(line) = lines.next_line().await.expect("log line") {
                if line.contains("listening") {
                    let addr = line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("addr="))
                        .expect("addr= in the listening line");
                    return addr.to_owned();
                }
            }
            panic!("the agent exited before listening");
        };
        let addr = tokio::time::timeout(Duration::from_secs(30), find_addr)
            .await
            .expect("agent started");
        // Keep draining the log so that the agent never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Agent {
            child,
            client: Client::new(format!("http://{addr}")),
        }
    }

    fn terminate(&self) {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl std::ops::Deref for Agent {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

#[tokio::test]
async fn canary_promote_success_against_the_binary() {
    let a = Agent::start().await;
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

    let metrics = a.get("/v1/metrics").await;
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
    let a = Agent::start().await;
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
    let mut a = Agent::start().await;
    let client = a.client.clone();
    let waiter =
        tokio::spawn(async move { client.get("/v1/deployments?index=100&wait=60s").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    a.terminate();
    let r = waiter.await.unwrap();
    assert_eq!(r.status, 200);
    let status = tokio::time::timeout(Duration::from_secs(20), a.child.wait())
        .await
        .expect("the agent exits")
        .expect("wait");
    assert!(status.success(), "{status:?}");
    println!("graceful shutdown took {:?}", started.elapsed());
}

#[tokio::test]
async fn without_dev_the_agent_needs_a_data_dir_and_says_storage_is_not_wired() {
    let out = Command::new(BIN).arg("agent").output().await.expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--data-dir"), "{stderr}");

    let out = Command::new(BIN)
        .args([
            "agent",
            "--data-dir",
            "/nonexistent/rollout",
            "--http-addr",
            "127.0.0.1:0",
        ])
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("durable storage is not wired"), "{stderr}");
}
