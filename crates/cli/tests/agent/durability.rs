//! `--data-dir`: what was acknowledged survives a restart (R5), and the agent says how
//! it recovered.

use crate::common::client::job;
use crate::common::{eventually, field, Agent};
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
    assert!(field(&line, "total_us").is_some(), "{line}");
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

/// `truncate -s 0` (or `rm`) of the log of a data directory that holds a store.
#[tokio::test]
async fn an_emptied_or_deleted_log_stops_the_agent_naming_the_file_and_the_remedy() {
    let dir = tempfile::tempdir().unwrap();
    let a = Agent::with_data_dir(dir.path()).await;
    a.register(job("web", 1, "app:1", json!({}))).await;
    a.stop().await;
    let db = dir.path().join("rollout.redb");
    for damage in ["emptied", "deleted"] {
        if damage == "emptied" {
            std::fs::File::create(&db).unwrap();
        } else {
            std::fs::remove_file(&db).unwrap();
        }
        let run = Command::new(crate::common::BIN)
            .arg("agent")
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--http-addr", "127.0.0.1:0"])
            .kill_on_drop(true)
            .output();
        // An agent that takes the directory for a new store keeps running: bounded.
        let out = tokio::time::timeout(std::time::Duration::from_secs(30), run)
            .await
            .unwrap_or_else(|_| panic!("{damage}: the agent started instead of refusing"))
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{damage}: started anyway: {stderr}");
        for needle in ["rollout.redb", "--recover-to-last-good", "through index 0"] {
            assert!(stderr.contains(needle), "{damage}: {needle}: {stderr}");
        }
        assert!(!stderr.contains("listening"), "{damage}: {stderr}");
    }
    // The explicit way to accept the loss, logged.
    let data_dir = dir.path().to_str().unwrap();
    let b = Agent::start(&["--data-dir", data_dir, "--recover-to-last-good"]).await;
    let repaired = b.log_line("store repaired").expect("a repair is logged");
    assert!(repaired.contains("WARN"), "{repaired}");
    assert!(repaired.contains("rollout.redb"), "{repaired}");
    assert_eq!(b.get("/v1/jobs").await.ok(), json!([]));
    b.stop().await;
    // From then on the directory opens as it is.
    let c = Agent::with_data_dir(dir.path()).await;
    c.stop().await;
}

/// The file size limit of the agent's process stands for a full disk: the write that
/// would grow the database fails (EFBIG), as it does when the disk is full.
#[tokio::test]
async fn a_disk_that_refuses_writes_makes_health_503_and_the_agent_recovers_by_itself() {
    use rlimit::{prlimit, Resource, INFINITY};
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let a = Agent::start(&["--dev", "--data-dir", data_dir]).await;
    let pid = a.child.id().expect("running") as i32;
    let update = json!({"MaxParallel": 1, "MinHealthyTime": 0});
    a.register(job("web", 2, "app:1", update.clone())).await;
    eventually(&a.client, "/v1/job/web/deployment", |d| {
        d["Status"] == "successful"
    })
    .await;

    // No more room: any growth of any file fails.
    let db = dir.path().join("rollout.redb");
    let size = std::fs::metadata(&db).unwrap().len();
    prlimit(pid, Resource::FSIZE, Some((size, INFINITY)), None).expect("prlimit");
    let mut acknowledged = Vec::new();
    let mut refused = None;
    'writes: for round in 0..500 {
        let mut writes = Vec::new();
        for i in 0..8 {
            let client = a.client.clone();
            let id = format!("job-{round}-{i}");
            writes.push(tokio::spawn(async move {
                let r = client
                    .put("/v1/jobs", job(&id, 1, "app:1", json!({})))
                    .await;
                (id, r)
            }));
        }
        for w in writes {
            let (id, r) = w.await.unwrap();
            match r.status {
                200 => acknowledged.push((id, r.json()["Index"].as_u64().unwrap())),
                500 | 503 => refused = Some(r.text),
                other => panic!("{other}: {}", r.text),
            }
        }
        if refused.is_some() {
            break 'writes;
        }
    }
    let refused = refused.expect("a write was refused once the file could not grow");
    assert!(
        refused.contains("File too large") || refused.contains("refuses writes"),
        "{refused}"
    );
    let health = a.get("/v1/agent/health").await;
    assert_eq!(health.status, 503, "{}", health.text);
    let message = health.json()["server"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("refuses writes"), "{message}");
    assert!(message.contains("File too large"), "{message}");
    let r = a
        .put("/v1/jobs", job("while-refusing", 1, "app:1", json!({})))
        .await;
    assert_eq!(r.status, 503, "{}", r.text);

    // Room again: the agent recovers without a restart.
    prlimit(pid, Resource::FSIZE, Some((INFINITY, INFINITY)), None).expect("prlimit");
    let mut healthy = false;
    for _ in 0..600 {
        if a.get("/v1/agent/health").await.status == 200 {
            healthy = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(healthy, "never healthy again: {:?}", a.log());
    let recovered = a
        .log_line("store recovered after a failed commit")
        .expect("the recovery is logged");
    let outage = field(&recovered, "outage_ms").expect("outage_ms");
    println!(
        "{} writes acknowledged before the file could not grow; recovered after {outage} ms",
        acknowledged.len()
    );
    // The dev cluster carried on: a new version rolls out.
    a.register(job("web", 2, "app:2", update)).await;
    eventually(&a.client, "/v1/job/web/deployment", |d| {
        d["Status"] == "successful" && d["JobVersion"] == 1
    })
    .await;
    assert!(
        a.log_line("dev cluster stopped:").is_none(),
        "{:?}",
        a.log()
    );
    for (id, index) in &acknowledged {
        assert_eq!(
            a.job(id).await["JobModifyIndex"].as_u64(),
            Some(*index),
            "{id}"
        );
    }
    a.stop().await;
    let b = Agent::with_data_dir(dir.path()).await;
    for (id, index) in &acknowledged {
        assert_eq!(
            b.job(id).await["JobModifyIndex"].as_u64(),
            Some(*index),
            "{id}"
        );
    }
    b.stop().await;
}
