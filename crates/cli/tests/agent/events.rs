//! The event stream of a real `rollout agent --data-dir`: killed mid-stream and
//! restarted, a client that resumes with `after_index` gets every event exactly once,
//! byte for byte what a fresh stream over the whole log gives.

use crate::common::client::job;
use crate::common::event_lines::Lines;
use crate::common::Agent;
use serde_json::{json, Value};

const ALL: &str = "/v1/event/stream?namespace=*";

async fn register_versions(a: &Agent, from: usize, to: usize) -> u64 {
    for v in from..to {
        a.register(job(
            &format!("job-{}", v % 3),
            1,
            &format!("app:{v}"),
            json!({}),
        ))
        .await;
    }
    a.applied_index().await
}

#[tokio::test]
async fn a_stream_resumed_after_a_kill_and_restart_gets_every_event_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Agent::with_data_dir(dir.path()).await;
    let mut first = Lines::open(&a.addr, &format!("{ALL}&index=0"), None).await;
    assert_eq!(first.next().await, Some(json!({})));
    let acknowledged = register_versions(&a, 0, 30).await;
    // Read part of what happened, then the agent dies under the stream.
    let mut seen: Vec<Value> = first.until_index(acknowledged / 2).await;
    let resume = seen.last().unwrap()["Index"].as_u64().unwrap();
    a.child.start_kill().unwrap();
    a.wait().await;

    let b = Agent::with_data_dir(dir.path()).await;
    let mut rest = Lines::open(&b.addr, &format!("{ALL}&after_index={resume}"), None).await;
    assert_eq!(rest.next().await, Some(json!({})));
    let last = register_versions(&b, 30, 40).await;
    seen.extend(rest.until_index(last).await);

    // Every index once, in order, and the very frames a stream over the whole log gives.
    let indexes: Vec<u64> = seen.iter().map(|f| f["Index"].as_u64().unwrap()).collect();
    assert!(indexes.windows(2).all(|w| w[0] < w[1]), "{indexes:?}");
    let mut whole = Lines::open(&b.addr, &format!("{ALL}&index=0"), None).await;
    whole.next().await;
    let everything = whole.until_index(last).await;
    assert_eq!(seen.len(), everything.len());
    assert_eq!(seen, everything);
    b.stop().await;
}

/// `rollout events --json`, started before the writes, keeps following across an agent
/// restart on the same address: it reconnects by itself with `after_index`, so its
/// output holds every frame once.
#[tokio::test]
async fn rollout_events_reconnects_after_a_restart_and_prints_every_frame_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = Agent::with_data_dir(dir.path()).await;
    let addr = a.addr.clone();
    let mut events = tokio::process::Command::new(crate::common::BIN)
        .args(["events", "--address", &format!("http://{addr}"), "--json"])
        .args(["--namespace", "*"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("rollout events");
    let first = register_versions(&a, 0, 5).await;
    a.stop().await;
    // The same address again: the listener's port is free once the agent exited.
    let b = Agent::start(&[
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--http-addr",
        &addr,
    ])
    .await;
    let last = register_versions(&b, 5, 10).await;
    assert!(last > first);
    let stdout = events.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let mut indexes = Vec::new();
    while indexes.last().is_none_or(|i| *i < last) {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("a frame within 30 s")
            .unwrap()
            .expect("rollout events still running");
        let frame: Value = serde_json::from_str(&line).unwrap();
        indexes.push(frame["Index"].as_u64().unwrap());
    }
    assert!(indexes.windows(2).all(|w| w[0] < w[1]), "{indexes:?}");
    let mut whole = Lines::open(&b.addr, &format!("{ALL}&index=0"), None).await;
    whole.next().await;
    let everything: Vec<u64> = whole
        .until_index(last)
        .await
        .iter()
        .map(|f| f["Index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, everything);
    let _ = events.start_kill();
    b.stop().await;
}
