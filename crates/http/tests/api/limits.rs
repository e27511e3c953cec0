//! Every limit answers a clear 4xx (plain text, like the rest of the API), changes
//! nothing, and leaves requests within the limit alone.

use crate::common::client::{job, Resp};
use crate::common::Server;
use rollout_http::{Config, MemoryBackend, RequestLimits};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn server(config: Config) -> Server {
    Server::with_config(Arc::new(MemoryBackend::new()), None, config).await
}

fn limited(limits: RequestLimits) -> Config {
    Config {
        limits,
        ..Config::default()
    }
}

/// A refusal: the status, a plain-text body, and nothing applied.
async fn assert_refused(s: &Server, r: &Resp, status: u16, text: &str, index_before: u64) {
    assert_eq!((r.status, r.text.as_str()), (status, text));
    assert_eq!(
        r.header("Content-Type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        s.applied_index().await,
        index_before,
        "a refusal applied something"
    );
}

/// Distinct UUIDs that name nothing.
fn uuids(n: usize) -> Vec<String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    (0..n)
        .map(|_| {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            uuid::Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 | u128::from(n))
                .to_string()
        })
        .collect()
}

fn uuid() -> String {
    uuids(1).remove(0)
}

#[tokio::test]
async fn request_bodies_are_bounded() {
    let s = server(Config {
        max_body_bytes: 1024,
        ..Config::default()
    })
    .await;
    let d = uuid();
    let body = format!(
        r#"{{"DeploymentID":"{d}","Pause":true,"Pad":"{}"}}"#,
        "x".repeat(2000)
    );
    let r = s.put_raw(&format!("/v1/deployment/pause/{d}"), &body).await;
    assert_refused(&s, &r, 413, "Request body too large", 0).await;
    // Within the limit the request goes on to its own answer.
    let r = s
        .put_raw(
            &format!("/v1/deployment/pause/{d}"),
            &format!(r#"{{"DeploymentID":"{d}","Pause":true}}"#),
        )
        .await;
    assert_eq!((r.status, r.text.as_str()), (404, "deployment not found"));
}

#[tokio::test]
async fn job_specs_are_bounded_in_bytes_groups_tasks_and_counts() {
    let s = server(limited(RequestLimits {
        max_job_spec_bytes: 4096,
        max_job_groups: 2,
        max_job_tasks: 3,
        max_group_count: 100,
        ..RequestLimits::default()
    }))
    .await;
    let mut big = job("web", 1, "app:1", json!({}));
    big["Job"]["Meta"] = json!({"pad": "x".repeat(5000)});
    let r = s.put("/v1/jobs", big).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(
        r.text.starts_with("job specification is ")
            && r.text.ends_with(" bytes, at most 4096 are allowed"),
        "{}",
        r.text
    );
    assert_eq!(s.applied_index().await, 0);

    let group = |name: &str, tasks: usize, count: i64| {
        json!({
            "Name": name,
            "Count": count,
            "Tasks": (0..tasks)
                .map(|t| json!({"Name": format!("t{t}"), "Driver": "docker"}))
                .collect::<Vec<_>>(),
        })
    };
    let spec = |groups: Vec<Value>| json!({"Job": {"ID": "web", "TaskGroups": groups}});
    let r = s
        .put(
            "/v1/jobs",
            spec(vec![group("a", 1, 1), group("b", 1, 1), group("c", 1, 1)]),
        )
        .await;
    assert_refused(
        &s,
        &r,
        400,
        "job has 3 task groups, at most 2 are allowed",
        0,
    )
    .await;
    let r = s
        .put("/v1/jobs", spec(vec![group("a", 2, 1), group("b", 2, 1)]))
        .await;
    assert_refused(&s, &r, 400, "job has 4 tasks, at most 3 are allowed", 0).await;
    let r = s.put("/v1/jobs", spec(vec![group("a", 1, 101)])).await;
    assert_refused(
        &s,
        &r,
        400,
        "task group \"a\" count is 101, at most 100 is allowed",
        0,
    )
    .await;
    let r = s
        .put("/v1/jobs", job("web", 1, "app:1", json!({"Canary": 1000})))
        .await;
    assert_refused(
        &s,
        &r,
        400,
        "task group \"web\" update canary is 1000, at most 100 is allowed",
        0,
    )
    .await;
    // At the limits exactly: accepted.
    let r = s
        .put("/v1/jobs", spec(vec![group("a", 2, 100), group("b", 1, 1)]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn job_ids_group_and_task_names_are_bounded_and_printable() {
    let s = server(Config::default()).await;
    let long = "j".repeat(129);
    let r = s.put("/v1/jobs", job(&long, 1, "app:1", json!({}))).await;
    assert_refused(
        &s,
        &r,
        400,
        "job ID is 129 bytes long, at most 128 are allowed",
        0,
    )
    .await;
    let r = s
        .put("/v1/jobs", job("we\u{1b}b", 1, "app:1", json!({})))
        .await;
    assert_refused(
        &s,
        &r,
        400,
        "job ID \"we\\u{1b}b\" contains a control character",
        0,
    )
    .await;
    let mut spec = job("web", 1, "app:1", json!({}));
    spec["Job"]["TaskGroups"][0]["Name"] = json!("g".repeat(200));
    let r = s.put("/v1/jobs", spec).await;
    assert_refused(
        &s,
        &r,
        400,
        "task group name is 200 bytes long, at most 128 are allowed",
        0,
    )
    .await;
    let mut spec = job("web", 1, "app:1", json!({}));
    spec["Job"]["TaskGroups"][0]["Tasks"][0]["Name"] = json!("a\tb");
    let r = s.put("/v1/jobs", spec).await;
    assert_refused(
        &s,
        &r,
        400,
        "task name \"a\\tb\" contains a control character",
        0,
    )
    .await;
    // Nomad's own rules stay the engine's, with Nomad's texts.
    let r = s.put("/v1/jobs", job("we b", 1, "app:1", json!({}))).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("Job ID contains a space"), "{}", r.text);
    // 128 bytes of a multi-byte ID is fine.
    let id = "é".repeat(64);
    let r = s.put("/v1/jobs", job(&id, 1, "app:1", json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn namespaces_follow_nomads_rule_on_reads_and_writes() {
    let s = server(Config::default()).await;
    let rule = "must match ^[a-zA-Z0-9-]{1,128}$";
    let r = s
        .put(
            "/v1/jobs?namespace=no_underscores",
            job("web", 1, "app:1", json!({})),
        )
        .await;
    assert_refused(
        &s,
        &r,
        400,
        &format!("invalid namespace \"no_underscores\": {rule}"),
        0,
    )
    .await;
    let mut spec = job("web", 1, "app:1", json!({}));
    spec["Namespace"] = json!("a/b");
    let r = s.put("/v1/jobs", spec).await;
    assert_refused(
        &s,
        &r,
        400,
        &format!("invalid namespace \"a/b\": {rule}"),
        0,
    )
    .await;
    let mut spec = job("web", 1, "app:1", json!({}));
    spec["Job"]["Namespace"] = json!("n".repeat(129));
    let r = s.put("/v1/jobs", spec).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.ends_with(rule), "{}", r.text);
    let r = s.get("/v1/jobs?namespace=%00").await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = s.delete("/v1/job/web?namespace=*").await;
    assert_refused(&s, &r, 400, &format!("invalid namespace \"*\": {rule}"), 0).await;
    // `*` selects all namespaces on lists; valid names work once the namespace exists.
    assert_eq!(s.get("/v1/jobs?namespace=*").await.ok(), json!([]));
    s.create_namespace("prod-eu-1").await;
    let r = s
        .put(
            "/v1/jobs?namespace=prod-eu-1",
            job("web", 1, "app:1", json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(s.get("/v1/job/web?namespace=prod-eu-1").await.status, 200);
}

#[tokio::test]
async fn allocation_health_requests_are_bounded_in_ids() {
    let s = server(limited(RequestLimits {
        max_ids_per_request: 4,
        ..RequestLimits::default()
    }))
    .await;
    let d = uuid();
    let body = |healthy: usize, unhealthy: usize| json!({"DeploymentID": d, "HealthyAllocationIDs": uuids(healthy), "UnhealthyAllocationIDs": uuids(unhealthy)});
    let path = format!("/v1/deployment/allocation-health/{d}");
    let r = s.put(&path, body(3, 2)).await;
    assert_refused(
        &s,
        &r,
        400,
        "request names 5 allocation IDs, at most 4 are allowed",
        0,
    )
    .await;
    // Within the limit, the request reaches the engine (which knows no such deployment).
    let r = s.put(&path, body(2, 2)).await;
    assert_eq!((r.status, r.text.as_str()), (404, "deployment not found"));
}

#[tokio::test]
async fn plans_and_client_updates_are_bounded() {
    let s = server(limited(RequestLimits {
        max_plan_allocations: 3,
        max_plan_groups: 1,
        ..RequestLimits::default()
    }))
    .await;
    let eval = uuid();
    let placed = |group: &str| json!({"Name": "web.web[0]", "TaskGroup": group, "NodeID": "n1"});
    let r = s
        .post(
            "/v1/engine/plan",
            json!({"EvalID": eval, "Allocations": [placed("a"), placed("a")], "Stops": [{"AllocID": uuid()}, {"AllocID": uuid()}]}),
        )
        .await;
    assert_refused(
        &s,
        &r,
        400,
        "request names 4 allocations, at most 3 are allowed",
        0,
    )
    .await;
    let r = s
        .post(
            "/v1/engine/plan",
            json!({"EvalID": eval, "Allocations": [placed("a"), placed("b")]}),
        )
        .await;
    assert_refused(
        &s,
        &r,
        400,
        "plan names 2 task groups, at most 1 are allowed",
        0,
    )
    .await;
    let updates: Vec<Value> = uuids(4)
        .into_iter()
        .map(|id| json!({"ID": id, "ClientStatus": "running"}))
        .collect();
    let r = s
        .post(
            "/v1/engine/allocations/update",
            json!({ "Allocations": updates }),
        )
        .await;
    assert_refused(
        &s,
        &r,
        400,
        "request names 4 allocations, at most 3 are allowed",
        0,
    )
    .await;
    // Within the limits the engine answers (no such evaluation).
    let r = s
        .post(
            "/v1/engine/plan",
            json!({"EvalID": eval, "Allocations": [placed("a")]}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[tokio::test]
async fn query_wait_is_clamped_to_the_configured_maximum() {
    let s = server(Config {
        max_query_wait: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    s.register(job("web", 1, "app:1", json!({}))).await;
    let index = s.get("/v1/jobs").await.index();
    for wait in ["1h", "", "10m"] {
        let started = Instant::now();
        let r = s.get(&format!("/v1/jobs?index={index}&wait={wait}")).await;
        let elapsed = started.elapsed();
        assert_eq!(r.status, 200);
        assert_eq!(r.index(), index);
        // At least the maximum, at most the maximum plus 1/16 jitter plus slack.
        assert!(
            elapsed >= Duration::from_millis(300),
            "wait={wait}: {elapsed:?}"
        );
        assert!(
            elapsed < Duration::from_secs(10),
            "wait={wait}: {elapsed:?}"
        );
    }
    let r = s.get(&format!("/v1/jobs?index={index}&wait=5")).await;
    assert_eq!((r.status, r.text.as_str()), (400, "Invalid wait time"));
}

#[tokio::test]
async fn one_client_may_hold_only_its_share_of_blocking_queries() {
    let s = server(Config {
        max_blocking_queries_per_client: 2,
        ..Config::default()
    })
    .await;
    s.register(job("web", 1, "app:1", json!({}))).await;
    let index = s.get("/v1/jobs").await.index();
    let path = format!("/v1/jobs?index={index}&wait=30s");
    let mut waiters = Vec::new();
    for _ in 0..2 {
        let client = s.client.clone();
        let path = path.clone();
        waiters.push(tokio::spawn(async move { client.get(&path).await }));
    }
    s.gauge_reaches("rollout_blocking_queries_in_flight", 2)
        .await;
    let r = s.get(&path).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(
        r.text,
        "too many blocking queries from this client (at most 2); retry later"
    );
    assert_eq!(r.header("Retry-After").as_deref(), Some("1"));
    assert_eq!(r.index(), index, "a refusal still reports the index");
    // Non-blocking reads and writes of the same client are not affected.
    assert_eq!(s.get("/v1/jobs").await.status, 200);
    s.register(job("other", 1, "app:1", json!({}))).await;
    for w in waiters {
        assert_eq!(w.await.unwrap().status, 200);
    }
    // The slots came back with the answers.
    s.gauge_reaches("rollout_blocking_queries_in_flight", 0)
        .await;
    let index = s.get("/v1/jobs").await.index();
    let r = s.get(&format!("/v1/jobs?index={index}&wait=50ms")).await;
    assert_eq!(r.status, 200);
}
