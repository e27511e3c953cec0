//! `GET /v1/event/stream` (`http-api.md` §9) over a real socket: framing, topics and
//! types, index semantics, filters, ACLs, heartbeats and the slow-consumer rule.

use crate::common::client::job;
use crate::common::event_lines::Lines;
use crate::common::Server;
use rollout_engine::{SeededStamp, VirtualClock};
use rollout_http::{Config, MemoryBackend};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

fn update(canary: i64, auto_revert: bool) -> Value {
    json!({"Canary": canary, "MaxParallel": 1, "AutoRevert": auto_revert, "MinHealthyTime": 0})
}

/// A canary rollout that is promoted, a second that fails and rolls back, a pause and a
/// resume, manual health, a stability flip and a purge: every kind of write the stream
/// carries.
async fn every_kind_of_write(s: &Server) {
    s.register(job("web", 2, "app:1", update(0, true))).await;
    s.converge().await;
    s.register(job("web", 2, "app:2", update(1, true))).await;
    let d = s.latest_deployment_id("web").await;
    let canaries = s.schedule().await;
    s.report(&canaries, Some(true)).await;
    s.pause(&d, true).await.ok();
    s.pause(&d, false).await.ok();
    s.promote(&d).await.ok();
    s.converge().await;
    s.register(job("web", 2, "app:3", update(1, true))).await;
    let d = s.latest_deployment_id("web").await;
    let canaries = s.schedule().await;
    s.set_health(&d, &[], &canaries).await.ok();
    s.converge().await;
    let current = s.job("web").await["Version"].clone();
    s.put(
        "/v1/job/web/stable",
        json!({"JobID": "web", "JobVersion": current, "Stable": false}),
    )
    .await
    .ok();
    s.register(job("api", 1, "api:1", update(0, false))).await;
    s.converge().await;
    s.delete("/v1/job/api?purge=true").await.ok();
}

/// The event without its payload: what filters and clients key on.
fn head(e: &Value) -> Value {
    json!({
        "Topic": e["Topic"], "Type": e["Type"], "Key": e["Key"],
        "FilterKeys": e["FilterKeys"], "Namespace": e["Namespace"], "Index": e["Index"],
    })
}

#[tokio::test]
async fn every_topic_and_type_is_framed_as_nomad_frames_it() {
    let s = Server::deterministic(41).await;
    every_kind_of_write(&s).await;
    let last = s.applied_index().await;

    let mut stream = Lines::open(&s.addr(), "/v1/event/stream", None).await;
    assert_eq!(stream.status, 200);
    assert_eq!(
        stream.header("Content-Type").as_deref(),
        Some("application/json")
    );
    assert_eq!(stream.header("Cache-Control").as_deref(), Some("no-cache"));
    assert_eq!(
        stream.next().await,
        Some(json!({})),
        "the first line is {{}}"
    );
    let frames = stream.until_index(last).await;

    // Frames: one per write, in index order, each event carrying the frame's index.
    let mut previous = 0;
    let mut by_pair: BTreeMap<(String, String), Value> = BTreeMap::new();
    for f in &frames {
        let index = f["Index"].as_u64().unwrap();
        assert!(
            index > previous,
            "frames in index order: {index} after {previous}"
        );
        previous = index;
        let keys: Vec<&String> = f.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["Events", "Index"]);
        for e in f["Events"].as_array().unwrap() {
            assert_eq!(e["Index"], f["Index"]);
            let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
            // Nomad's keys, and rollout's own `Actor` (who made the write: issue 16).
            assert_eq!(
                keys,
                [
                    "Actor",
                    "FilterKeys",
                    "Index",
                    "Key",
                    "Namespace",
                    "Payload",
                    "Topic",
                    "Type"
                ]
            );
            let topic = e["Topic"].as_str().unwrap().to_string();
            assert!(
                e["Payload"].get(&topic).is_some(),
                "payload keyed by topic: {e}"
            );
            by_pair
                .entry((topic, e["Type"].as_str().unwrap().to_string()))
                .or_insert_with(|| e.clone());
        }
    }
    // Allocations come without their job, as Nomad strips it.
    let alloc = &by_pair[&("Allocation".into(), "PlanResult".into())];
    assert_eq!(alloc["Payload"]["Allocation"]["Job"], Value::Null);
    let pairs: Vec<String> = by_pair.keys().map(|(t, ty)| format!("{t} {ty}")).collect();
    insta::assert_json_snapshot!("event_stream_topic_type_pairs", pairs);
    let heads: Vec<Value> = by_pair.values().map(head).collect();
    insta::assert_json_snapshot!("event_stream_one_event_per_pair", heads);
    let deployment = &by_pair[&("Deployment".into(), "DeploymentPromotion".into())];
    insta::assert_json_snapshot!("event_stream_deployment_promotion", deployment);
}

#[tokio::test]
async fn an_allocation_health_write_types_every_event_it_causes_deployment_alloc_health() {
    let s = Server::deterministic(42).await;
    s.register(job("web", 1, "app:1", update(1, false))).await;
    let d = s.latest_deployment_id("web").await;
    let canaries = s.schedule().await;
    let at = s.applied_index().await + 1;
    s.set_health(&d, &canaries, &[]).await.ok();
    let mut stream = Lines::open(&s.addr(), &format!("/v1/event/stream?index={at}"), None).await;
    stream.next().await;
    let frame = stream.until_index(at).await.remove(0);
    assert_eq!(frame["Index"], at);
    let events = frame["Events"].as_array().unwrap();
    for e in events {
        assert_eq!(e["Type"], "DeploymentAllocHealth", "{e}");
    }
    let topics: Vec<&str> = events
        .iter()
        .map(|e| e["Topic"].as_str().unwrap())
        .collect();
    assert!(
        topics.contains(&"Allocation") && topics.contains(&"Deployment"),
        "{topics:?}"
    );
}

#[tokio::test]
async fn index_is_inclusive_after_index_is_exclusive_and_minus_one_waits_for_the_next_write() {
    let s = Server::deterministic(43).await;
    s.register(job("web", 1, "app:1", update(0, false))).await;
    s.converge().await;
    let last = s.applied_index().await;
    let first_index = |frames: &[Value]| frames[0]["Index"].as_u64().unwrap();

    let mut at = Lines::open(&s.addr(), "/v1/event/stream?index=2", None).await;
    at.next().await;
    assert_eq!(first_index(&at.until_index(last).await), 2);

    let mut after = Lines::open(&s.addr(), "/v1/event/stream?after_index=2", None).await;
    after.next().await;
    assert_eq!(first_index(&after.until_index(last).await), 3);

    let mut now = Lines::open(&s.addr(), "/v1/event/stream?index=-1", None).await;
    assert_eq!(now.next().await, Some(json!({})));
    s.register(job("api", 1, "api:1", update(0, false))).await;
    let frames = now.until_index(last + 1).await;
    assert_eq!(
        first_index(&frames),
        last + 1,
        "only writes after subscribing"
    );

    for bad in [
        "index=x",
        "after_index=-2",
        "index=1&after_index=1",
        "topic=Job:a:b",
    ] {
        let r = s.get(&format!("/v1/event/stream?{bad}")).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    let r = s.get("/v1/event/stream?index=x").await;
    assert_eq!(
        r.text,
        "Unable to parse index: strconv.Atoi: parsing \"x\": invalid syntax"
    );
}

#[tokio::test]
async fn a_topic_key_matches_the_event_key_or_one_of_its_filter_keys() {
    let s = Server::deterministic(44).await;
    s.register(job("web", 1, "app:1", update(0, false))).await;
    s.register(job("api", 1, "api:1", update(0, false))).await;
    s.converge().await;
    let last = s.applied_index().await;
    let web = s.latest_deployment_id("web").await;

    let mut by_job = Lines::open(&s.addr(), "/v1/event/stream?topic=Deployment:web", None).await;
    by_job.next().await;
    let frames = by_job.until_index(0).await;
    for e in frames.iter().flat_map(|f| f["Events"].as_array().unwrap()) {
        assert_eq!(e["Topic"], "Deployment");
        assert_eq!(e["FilterKeys"], json!(["web"]));
    }

    let path = format!("/v1/event/stream?topic=Allocation:{web}&topic=Job:api");
    let mut mixed = Lines::open(&s.addr(), &path, None).await;
    mixed.next().await;
    // A last write that matches (a new version of `api`) marks the end.
    s.register(job("api", 1, "api:2", update(0, false))).await;
    let marker = s.applied_index().await;
    assert!(marker > last);
    let events: Vec<Value> = mixed
        .until_index(marker)
        .await
        .iter()
        .flat_map(|f| f["Events"].as_array().unwrap().clone())
        .collect();
    assert!(events.iter().any(|e| e["Topic"] == "Allocation"));
    for e in &events {
        match e["Topic"].as_str().unwrap() {
            "Allocation" => assert_eq!(e["FilterKeys"][1], json!(web)),
            "Job" => assert_eq!(e["Key"], "api"),
            other => panic!("unexpected topic {other}: {e}"),
        }
    }
}

#[tokio::test]
async fn the_stream_keeps_the_namespace_it_was_asked_for() {
    let s = Server::deterministic(45).await;
    s.create_namespace("team").await;
    let mut other = job("web", 1, "app:1", update(0, false));
    other["Job"]["Namespace"] = json!("team");
    s.put("/v1/jobs?namespace=team", other).await.ok();
    let team = s.applied_index().await;
    s.register(job("web", 1, "app:1", update(0, false))).await;
    let last = s.applied_index().await;
    for (query, wanted, through) in [
        ("", vec!["default"], last),
        ("?namespace=team", vec!["team"], team),
        ("?namespace=*", vec!["default", "team"], last),
    ] {
        let mut stream = Lines::open(&s.addr(), &format!("/v1/event/stream{query}"), None).await;
        stream.next().await;
        let mut seen: Vec<String> = stream
            .until_index(through)
            .await
            .iter()
            .flat_map(|f| f["Events"].as_array().unwrap().clone())
            // The namespace's own creation is an event of no namespace (as ACL
            // objects), which every subscriber gets: not what this test is about.
            .filter(|e| e["Topic"] != "Namespace")
            .map(|e| e["Namespace"].as_str().unwrap().to_string())
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, wanted, "{query}");
    }
}

#[tokio::test]
async fn heartbeats_are_empty_objects_at_the_configured_interval() {
    let backend = MemoryBackend::with_stamp(SeededStamp::new(46, VirtualClock::new(1)));
    let config = Config {
        event_heartbeat: Duration::from_millis(50),
        ..Config::default()
    };
    let s = Server::with_config(Arc::new(backend), None, config).await;
    let mut stream = Lines::open(&s.addr(), "/v1/event/stream", None).await;
    for _ in 0..3 {
        assert_eq!(stream.next().await, Some(json!({})));
    }
}

#[tokio::test]
async fn a_subscriber_that_falls_a_ring_behind_is_told_its_last_index_and_resumes_without_loss() {
    let backend = MemoryBackend::new();
    let config = Config {
        event_buffer: 4,
        ..Config::default()
    };
    let s = Server::with_config(Arc::new(backend), None, config).await;
    s.register(job("seed", 1, "app:0", update(0, false))).await;
    // A reader that reads nothing: its socket buffers fill, then its ring.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(s.addr().parse().unwrap()).await.unwrap();
    let mut slow = {
        let mut stream = stream;
        stream
            .write_all(b"GET /v1/event/stream?index=-1 HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        stream
    };
    // Subscribed once the gauge says so.
    s.gauge_reaches("rollout_event_stream_subscribers", 1).await;
    let first = s.applied_index().await + 1;
    // Far more than the kernel buffers of both ends hold (frames of ~30 KB).
    let filler = "x".repeat(30_000);
    for v in 0..400 {
        s.register(job(
            "web",
            1,
            &format!("app:{v}:{filler}"),
            update(0, false),
        ))
        .await;
    }
    let last = s.applied_index().await;
    // Now read everything the server sent before it gave up on the reader.
    let mut text = String::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = tokio::time::timeout(
            Duration::from_secs(20),
            tokio::io::AsyncReadExt::read(&mut slow, &mut buf),
        )
        .await
        .expect("the server ends the stream")
        .unwrap();
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
        if text.contains("\"LastIndex\"") && text.ends_with("0\r\n\r\n") {
            break;
        }
    }
    let lines: Vec<Value> = text
        .split("\r\n")
        .flat_map(|chunk| chunk.lines())
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l.trim_end()).unwrap())
        .collect();
    let error = lines.last().unwrap();
    let resume = error["LastIndex"]
        .as_u64()
        .unwrap_or_else(|| panic!("{error}"));
    assert!(
        error["Error"]
            .as_str()
            .unwrap()
            .contains(&format!("reconnect with after_index={resume}")),
        "{error}"
    );
    let mut delivered: Vec<u64> = lines
        .iter()
        .filter_map(|l| l["Index"].as_u64())
        .filter(|i| *i > 0)
        .collect();
    assert!(
        resume < last,
        "it fell behind before the end: {resume} of {last}"
    );
    assert_eq!(delivered.last().copied().unwrap_or(first - 1), resume);

    // Resuming strictly after the last index gets the rest: every write once.
    let mut rest = Lines::open(
        &s.addr(),
        &format!("/v1/event/stream?after_index={resume}"),
        None,
    )
    .await;
    rest.next().await;
    delivered.extend(
        rest.until_index(last)
            .await
            .iter()
            .map(|f| f["Index"].as_u64().unwrap()),
    );
    assert_eq!(delivered, (first..=last).collect::<Vec<_>>());
    // Writes went on while it lagged; other subscribers were not held up.
    s.gauge_reaches("rollout_event_stream_subscribers", 1).await;
}

#[tokio::test]
async fn streams_end_with_a_resume_line_when_the_agent_shuts_down() {
    let s = Server::deterministic(47).await;
    s.register(job("web", 1, "app:1", update(0, false))).await;
    let last = s.applied_index().await;
    let mut stream = Lines::open(&s.addr(), "/v1/event/stream", None).await;
    stream.next().await;
    stream.until_index(last).await;
    s.api.shutdown();
    let line = stream.next().await.expect("a last line");
    assert_eq!(line["LastIndex"], last);
    assert_eq!(
        line["Error"],
        format!("the agent is shutting down; reconnect with after_index={last} to resume")
    );
    assert_eq!(stream.next().await, None);
}

/// A management token, and a token that may read jobs in `default` only.
async fn acl_fixture(s: &Server) -> (String, String, String) {
    let root = s.put("/v1/acl/bootstrap", json!({})).await.ok();
    let management = root["SecretID"].as_str().unwrap().to_owned();
    let m = s.with_token(&management);
    let rules = "namespace \"default\" {\n  policy = \"read\"\n}\n";
    m.put(
        "/v1/acl/policy/readers",
        json!({"Name": "readers", "Rules": rules}),
    )
    .await;
    let t = m
        .put(
            "/v1/acl/token",
            json!({"Name": "reader", "Type": "client", "Policies": ["readers"]}),
        )
        .await
        .ok();
    let reader = t["SecretID"].as_str().unwrap().to_owned();
    let accessor = t["AccessorID"].as_str().unwrap().to_owned();
    (management, reader, accessor)
}

#[tokio::test]
async fn acl_topics_need_management_job_topics_need_read_job_and_events_are_filtered() {
    let s = Server::with_acls().await;
    let (management, reader, _) = acl_fixture(&s).await;
    let m = s.with_token(&management);
    m.register(job("web", 1, "app:1", update(0, false))).await;
    m.create_namespace("team").await;
    let mut other = job("web", 1, "app:1", update(0, false));
    other["Job"]["Namespace"] = json!("team");
    m.put("/v1/jobs?namespace=team", other).await.ok();
    let last = m.applied_index().await;

    let status = |path: &'static str, token: Option<String>| {
        let addr = s.addr();
        async move { Lines::open(&addr, path, token.as_deref()).await.status }
    };
    // Denied before anything is streamed.
    for (path, token, want) in [
        ("/v1/event/stream?topic=Deployment", None, 403),
        (
            "/v1/event/stream?topic=Deployment",
            Some("garbage".to_string()),
            403,
        ),
        ("/v1/event/stream", Some(reader.clone()), 403),
        ("/v1/event/stream?topic=ACLToken", Some(reader.clone()), 403),
        ("/v1/event/stream?topic=Node", Some(reader.clone()), 403),
        (
            "/v1/event/stream?topic=Job&namespace=team",
            Some(reader.clone()),
            403,
        ),
        ("/v1/event/stream?topic=Job", Some(reader.clone()), 200),
        ("/v1/event/stream", Some(management.clone()), 200),
    ] {
        assert_eq!(status(path, token.clone()).await, want, "{path} {token:?}");
    }
    let r = s.get("/v1/event/stream?topic=Deployment").await;
    assert_eq!((r.status, r.text.as_str()), (403, "Permission denied"));

    // The management token sees ACL objects, without secrets.
    let mut all = Lines::open(&s.addr(), "/v1/event/stream?namespace=*", Some(&management)).await;
    all.next().await;
    let acl: Vec<Value> = all
        .until_index(last)
        .await
        .iter()
        .flat_map(|f| f["Events"].as_array().unwrap().clone())
        .filter(|e| e["Topic"].as_str().unwrap().starts_with("ACL"))
        .collect();
    let heads: Vec<Value> = acl
        .iter()
        .map(|e| json!({"Topic": e["Topic"], "Type": e["Type"], "Namespace": e["Namespace"], "FilterKeys": e["FilterKeys"]}))
        .collect();
    insta::assert_json_snapshot!("event_stream_acl_events", heads);
    for e in &acl {
        if e["Topic"] == "ACLToken" {
            assert_eq!(e["Payload"]["ACLToken"]["SecretID"], "", "{e}");
            assert_eq!(e["Key"], e["Payload"]["ACLToken"]["AccessorID"]);
        } else {
            assert_eq!(e["Key"], e["Payload"]["ACLPolicy"]["Name"]);
        }
    }

    // `namespace=*` with a token that reads `default` only: `team` is filtered out.
    let mut mine = Lines::open(
        &s.addr(),
        "/v1/event/stream?topic=Job&topic=Deployment&namespace=*",
        Some(&reader),
    )
    .await;
    assert_eq!(mine.status, 200);
    mine.next().await;
    m.register(job("web", 1, "app:2", update(0, false))).await;
    let marker = m.applied_index().await;
    for f in mine.until_index(marker).await {
        for e in f["Events"].as_array().unwrap() {
            assert_eq!(e["Namespace"], "default", "{e}");
        }
    }
}

#[tokio::test]
async fn a_token_deleted_while_streaming_ends_the_stream_with_the_index_to_resume_from() {
    let s = Server::with_acls().await;
    let (management, reader, accessor) = acl_fixture(&s).await;
    let m = s.with_token(&management);
    let mut stream = Lines::open(&s.addr(), "/v1/event/stream?topic=Job", Some(&reader)).await;
    assert_eq!(stream.status, 200);
    stream.next().await;
    m.register(job("web", 1, "app:1", update(0, false))).await;
    let before = m.applied_index().await;
    stream.until_index(before).await;
    let deleted = m.delete(&format!("/v1/acl/token/{accessor}")).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let line = loop {
        let line = stream.next().await.expect("an error line");
        if line.get("Error").is_some() {
            break line;
        }
    };
    let last = line["LastIndex"].as_u64().unwrap();
    assert!(last >= before, "{line}");
    assert_eq!(
        line["Error"],
        format!(
            "Permission denied: the token was deleted or has expired; reconnect with after_index={last} to resume"
        )
    );
    assert_eq!(stream.next().await, None);
}
