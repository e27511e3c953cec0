//! `at_index=N` on reads: the state as of index N, re-derived from history.

use crate::common::client::job;
use crate::common::Server;
use rollout_engine::{SeededStamp, VirtualClock};
use rollout_http::{Config, StoreBackend};
use rollout_store::{Options, Store};
use serde_json::json;
use std::sync::Arc;

fn update() -> serde_json::Value {
    json!({"Canary": 1, "MaxParallel": 1, "MinHealthyTime": 0})
}

#[tokio::test]
async fn every_read_answers_as_of_at_index_with_that_index() {
    let s = Server::deterministic(61).await;
    s.register(job("web", 2, "app:1", update())).await;
    s.converge().await;
    let v0 = s.applied_index().await;
    let d0 = s.latest_deployment_id("web").await;
    s.register(job("web", 2, "app:2", update())).await;
    let d1 = s.latest_deployment_id("web").await;
    s.schedule().await;
    let now = s.applied_index().await;
    assert!(now > v0);

    let r = s.get(&format!("/v1/job/web?at_index={v0}")).await;
    assert_eq!(r.index(), v0);
    assert_eq!(r.ok()["Version"], 0);
    assert_eq!(s.job("web").await["Version"], 1);

    // The second deployment did not exist yet; the first was already successful.
    let r = s.get(&format!("/v1/deployment/{d1}?at_index={v0}")).await;
    assert_eq!((r.status, r.text.as_str()), (404, "deployment not found"));
    assert_eq!(r.index(), v0);
    let r = s.get(&format!("/v1/deployment/{d0}?at_index={v0}")).await;
    assert_eq!(r.ok()["Status"], "successful");

    for path in [
        "/v1/deployments",
        "/v1/jobs",
        "/v1/job/web/versions",
        "/v1/job/web/deployments",
        "/v1/allocations",
        "/v1/evaluations",
    ] {
        let past = s.get(&format!("{path}?at_index={v0}")).await;
        assert_eq!(past.status, 200, "{path}: {}", past.text);
        assert_eq!(past.index(), v0, "{path}");
        let live = s.get(path).await;
        assert_ne!(past.text, live.text, "{path} changed since {v0}");
        // The same bytes every time (the second read is served from the cache).
        assert_eq!(
            s.get(&format!("{path}?at_index={v0}")).await.text,
            past.text
        );
    }
    // The current index is the current state.
    let at_now = s.get(&format!("/v1/deployments?at_index={now}")).await;
    assert_eq!(at_now.text, s.get("/v1/deployments").await.text);

    let r = s.get(&format!("/v1/jobs?at_index={}", now + 1)).await;
    assert_eq!(
        (r.status, r.text),
        (
            400,
            format!("at_index {} is past the current index {now}", now + 1)
        )
    );
    let r = s.get("/v1/jobs?at_index=x").await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (
            400,
            "Invalid at_index \"x\": expected a non-negative integer"
        )
    );
}

#[tokio::test]
async fn at_index_before_the_retained_history_is_410_naming_the_oldest_index() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        stamp: Arc::new(SeededStamp::stepping(
            62,
            VirtualClock::new(1_700_000_000_000_000_000),
            1_000_000,
        )),
        snapshot_every_entries: 10,
        snapshots_retained: 1,
        log_retention: rollout_store::LogRetention::Entries(0),
        ..Options::default()
    };
    let store = Arc::new(Store::open(dir.path(), options).unwrap());
    let backend = Arc::new(StoreBackend::new(store.clone()));
    let s = Server::with_config(backend, None, Config::default()).await;
    for v in 0..30 {
        s.register(job("web", 1, &format!("app:{v}"), json!({})))
            .await;
    }
    // The cancelled deployments' history is kept while they are in the state: collect
    // them, as the agent's GC does, so that the log may be truncated.
    store
        .submit(rollout_engine::Command::GcDeployments(
            rollout_engine::command::GcDeployments { threshold_ns: 0 },
        ))
        .unwrap();
    // Push index 2 out of the recent states the store keeps in memory (those answer
    // even below the retained log).
    let writes: Vec<_> = (0..rollout_store::RECENT_STATES_KEPT as u64 + 10)
        .map(|i| {
            store.submit_async(rollout_store::workload::register_without_deployment(
                "batch",
                1,
                &format!("app:{i}"),
            ))
        })
        .collect();
    for w in writes {
        w.await.unwrap();
    }
    store.snapshot_now().unwrap();
    s.register(job("web", 1, "app:last", json!({}))).await;
    let truncated = store.stats().truncated_through;
    assert!(truncated > 0, "{:?}", store.stats());

    let r = s.get("/v1/job/web?at_index=2").await;
    assert_eq!(r.status, 410, "{}", r.text);
    let oldest: u64 = r
        .text
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", r.text));
    assert_eq!(
        r.text,
        format!(
            "at_index 2 is older than the retained history: the oldest index available is {oldest}"
        )
    );
    let ok = s.get(&format!("/v1/job/web?at_index={oldest}")).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.index(), oldest);
}

#[tokio::test]
async fn a_deployments_history_lists_every_write_that_changed_it_with_its_rules() {
    let s = Server::deterministic(63).await;
    s.register(job("web", 2, "app:1", update())).await;
    s.converge().await;
    s.register(job(
        "web",
        2,
        "app:2",
        json!({"Canary": 1, "MaxParallel": 1, "AutoRevert": true, "ProgressDeadline": 0}),
    ))
    .await;
    let d = s.latest_deployment_id("web").await;
    let canaries = s.schedule().await;
    s.pause(&d, true).await.ok();
    s.pause(&d, false).await.ok();
    s.report(&canaries, Some(false)).await;

    let r = s.get(&format!("/v1/deployment/{d}/history")).await;
    let entries = r.ok();
    assert_eq!(r.index(), s.applied_index().await);
    let entries = entries.as_array().unwrap();
    let statuses: Vec<(String, String)> = entries
        .iter()
        .filter(|e| !e["Status"].is_null())
        .map(|e| {
            (
                e["Status"]["From"].as_str().unwrap().to_string(),
                e["Status"]["To"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("".to_string(), "running".to_string()),
            ("running".to_string(), "paused".to_string()),
            ("paused".to_string(), "running".to_string()),
            ("running".to_string(), "failed".to_string()),
        ]
    );
    let last = entries.last().unwrap();
    assert_eq!(last["Type"], "AllocationUpdated");
    assert_eq!(
        last["StatusDescription"],
        "Failed due to unhealthy allocations - rolling back to job version 0"
    );
    assert_eq!(
        last["Groups"]["web"]["UnhealthyAllocs"],
        json!({"From": 0, "To": 1})
    );
    let rules: Vec<&str> = last["Decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["Rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"A9") && rules.contains(&"A5"), "{rules:?}");
    insta::assert_json_snapshot!("deployment_history_failed_canary", entries);

    let r = s
        .get("/v1/deployment/00000000-0000-4000-8000-000000000000/history")
        .await;
    assert_eq!((r.status, r.text.as_str()), (404, "deployment not found"));
}
