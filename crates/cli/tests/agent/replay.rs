//! `rollout log export` and `rollout replay` on a real agent's data directory: the
//! replayed state is byte for byte the agent's (same fingerprint), and stopping the
//! replay at an index shows what the agent showed at that index.

use crate::common::client::job;
use crate::common::{Agent, BIN};
use serde_json::{json, Value};
use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().expect("rollout runs")
}

fn fingerprint_in(text: &str) -> String {
    text.split("fingerprint ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no fingerprint in {text:?}"))
        .to_string()
}

#[tokio::test]
async fn a_replayed_export_rebuilds_the_agents_exact_state_at_any_index() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let a = Agent::with_data_dir(&data).await;
    let update = json!({"Canary": 1, "MaxParallel": 1, "AutoRevert": true, "ProgressDeadline": 0});
    a.register(job("web", 2, "app:1", update.clone())).await;
    a.converge().await;
    a.register(job("web", 2, "app:2", update)).await;
    let d = a.latest_deployment_id("web").await;
    let canaries = a.schedule().await;
    let k = a.applied_index().await;
    let at_k: Value = a
        .get(&format!("/v1/deployment/{d}?at_index={k}"))
        .await
        .ok();
    a.report(&canaries, Some(false)).await;
    a.converge().await;

    // Not while the agent holds the store.
    let busy = run(&["log", "export", "--data-dir", data_s]);
    assert!(!busy.status.success());
    let err = String::from_utf8_lossy(&busy.stderr).to_string();
    assert!(err.contains("is the agent still running?"), "{err}");
    a.stop().await;

    let file = dir.path().join("log.ndjson");
    let export = run(&[
        "log",
        "export",
        "--data-dir",
        data_s,
        "--output",
        file.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&export.stderr).to_string();
    assert!(export.status.success(), "{err}");
    let agents = fingerprint_in(&err);
    let text = std::fs::read_to_string(&file).unwrap();
    let header: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(header["Format"], "rollout-log-export");
    assert_eq!(header["Version"], 1);
    assert_eq!(header["FirstIndex"], 1);
    // Every line records who wrote it (issue 16): the operator's registrations, the
    // external scheduler's plans, the clients' reports.
    let lines: Vec<Value> = text
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actor_of = |kind: &str| {
        lines
            .iter()
            .find(|l| l["command"].get(kind).is_some())
            .map(|l| l["actor"]["Kind"].clone())
            .unwrap_or_else(|| panic!("no {kind} in the export"))
    };
    assert_eq!(actor_of("RegisterJob"), "operator");
    assert_eq!(actor_of("ApplyPlanResult"), "scheduler");
    assert_eq!(actor_of("UpdateAllocsFromClient"), "client");

    let replay = run(&["replay", file.to_str().unwrap()]);
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let out = String::from_utf8_lossy(&replay.stdout).to_string();
    assert_eq!(
        fingerprint_in(&out),
        agents,
        "replay gives the agent's state, byte for byte"
    );

    // --simulate continues the replayed state with the simulated cluster.
    let simulated = run(&[
        "replay",
        file.to_str().unwrap(),
        "--simulate",
        "--seed",
        "3",
    ]);
    assert!(
        simulated.status.success(),
        "{}",
        String::from_utf8_lossy(&simulated.stderr)
    );
    let out = String::from_utf8_lossy(&simulated.stdout).to_string();
    let mut lines = out.lines();
    assert_eq!(fingerprint_in(lines.next().unwrap()), agents);
    assert!(
        lines.next().unwrap().starts_with("simulated from index "),
        "{out}"
    );
    assert!(out.contains("simulation ended ("), "{out}");
    let again = run(&[
        "replay",
        file.to_str().unwrap(),
        "--simulate",
        "--seed",
        "3",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        out,
        "deterministic for a seed"
    );

    let at = run(&[
        "replay",
        file.to_str().unwrap(),
        "--to",
        &k.to_string(),
        "--print-deployment",
        &d,
    ]);
    assert!(
        at.status.success(),
        "{}",
        String::from_utf8_lossy(&at.stderr)
    );
    let out = String::from_utf8_lossy(&at.stdout).to_string();
    let (first, json_text) = out.split_once('\n').unwrap();
    assert!(
        first.starts_with(&format!("index {k} fingerprint ")),
        "{first}"
    );
    let replayed: Value = serde_json::from_str(json_text).unwrap();
    assert_eq!(
        replayed, at_k,
        "the replay stopped at {k} shows what at_index={k} showed"
    );

    let missing = run(&["log", "export", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("holds no rollout store"));
}
