//! The agent's limit flags reach the HTTP layer and the store, and bad values are
//! refused at start.

use crate::common::client::job;
use crate::common::{Agent, BIN};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::process::Command;

#[tokio::test]
async fn limit_flags_set_the_agents_limits() {
    let a = Agent::start(&[
        "--dev",
        "--dev-scheduler",
        "external",
        "--max-body-bytes",
        "2048",
        "--max-ids-per-request",
        "2",
        "--max-query-wait",
        "300ms",
        "--max-job-groups",
        "1",
        "--job-tracked-versions",
        "2",
    ])
    .await;
    let mut big = job("web", 1, "app:1", json!({}));
    big["Job"]["Meta"] = json!({"pad": "x".repeat(4096)});
    let r = a.put("/v1/jobs", big).await;
    assert_eq!((r.status, r.text.as_str()), (413, "Request body too large"));

    let d = "6b4d1ab6-1bbf-4bd6-9bc5-3f7f42f6b2a1";
    let ids = [
        "0b4d1ab6-1bbf-4bd6-9bc5-3f7f42f6b2a1",
        "1b4d1ab6-1bbf-4bd6-9bc5-3f7f42f6b2a1",
        "2b4d1ab6-1bbf-4bd6-9bc5-3f7f42f6b2a1",
    ];
    let r = a
        .put(
            &format!("/v1/deployment/allocation-health/{d}"),
            json!({"DeploymentID": d, "HealthyAllocationIDs": ids}),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (400, "request names 3 allocation IDs, at most 2 are allowed")
    );

    let mut two_groups = job("web", 1, "app:1", json!({}));
    let group = two_groups["Job"]["TaskGroups"][0].clone();
    let mut other = group.clone();
    other["Name"] = json!("other");
    two_groups["Job"]["TaskGroups"] = json!([group, other]);
    let r = a.put("/v1/jobs", two_groups).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (400, "job has 2 task groups, at most 1 are allowed")
    );

    for v in 1..=4 {
        a.register(job("web", 1, &format!("app:{v}"), json!({})))
            .await;
    }
    let versions = a.get("/v1/job/web/versions").await.ok();
    let kept: Vec<u64> = versions["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Version"].as_u64().unwrap())
        .collect();
    assert_eq!(kept, vec![3, 2]);

    let index = a.get("/v1/jobs").await.index();
    let started = Instant::now();
    let r = a.get(&format!("/v1/jobs?index={index}&wait=1h")).await;
    assert_eq!(r.status, 200);
    assert!(started.elapsed() < Duration::from_secs(10));
    a.stop().await;
}

#[tokio::test]
async fn versions_kept_are_fixed_when_the_data_dir_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let a = Agent::start(&["--data-dir", path, "--job-tracked-versions", "2"]).await;
    a.stop().await;
    let b = Agent::start(&["--data-dir", path, "--job-tracked-versions", "3"]).await;
    let line = b
        .log_line("job_tracked_versions is fixed")
        .expect("a warning");
    assert!(
        line.contains("kept=2") && line.contains("requested=3"),
        "{line}"
    );
    b.stop().await;
}

#[tokio::test]
async fn bad_limit_values_are_refused_at_start() {
    for args in [
        ["--max-connections", "0"],
        ["--max-query-wait", "10"],
        ["--body-read-timeout", "0s"],
        ["--job-tracked-versions", "many"],
    ] {
        let out = Command::new(BIN)
            .args(["agent", "--dev", "--http-addr", "127.0.0.1:0"])
            .args(args)
            .output()
            .await
            .expect("run");
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(args[0]), "{args:?}: {stderr}");
    }
}

/// The soft and hard open-file limits of a running process, from `/proc/PID/limits`.
fn nofile_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files line");
    let fields: Vec<u64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    (fields[0], fields[1])
}

#[tokio::test]
async fn a_low_soft_open_file_limit_is_raised_to_cover_max_connections() {
    let a = Agent::start_with_nofile_limit(128, 1024, &["--dev", "--max-connections", "500"]).await;
    // 500 connections plus the 64 descriptors reserved for the store and runtime.
    assert_eq!(nofile_limits(a.child.id().expect("pid")), (564, 1024));
    let line = a
        .log_line("raised the open-file limit")
        .expect("the raise is logged");
    assert!(
        line.contains("from=128") && line.contains("to=564"),
        "{line}"
    );
    assert_eq!(a.get("/v1/agent/health").await.status, 200);
    a.stop().await;
}

#[tokio::test]
async fn a_hard_open_file_limit_below_max_connections_is_reported_not_fatal() {
    let a = Agent::start_with_nofile_limit(512, 512, &["--dev"]).await;
    assert_eq!(nofile_limits(a.child.id().expect("pid")), (512, 512));
    let line = a
        .log_line("the open-file limit is 512")
        .expect("the low limit is reported");
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("(4160)"), "{line}");
    assert!(line.contains("lower --max-connections"), "{line}");
    assert_eq!(a.get("/v1/agent/health").await.status, 200);
    a.stop().await;
}
