//! The audit trail (issue 16): every write records who made it — the ACL token's
//! `AccessorID` and `Name`, never its secret — and the deployment history and the event
//! stream show it.

use crate::common::client::job;
use crate::common::event_lines::Lines;
use crate::common::Server;
use serde_json::{json, Value};

fn update() -> Value {
    json!({"MaxParallel": 1, "MinHealthyTime": 0, "ProgressDeadline": 0})
}

/// The history entry whose status went to `to`.
fn entry_to<'a>(history: &'a [Value], to: &str) -> &'a Value {
    history
        .iter()
        .find(|e| e["Status"]["To"] == to)
        .unwrap_or_else(|| panic!("no entry to {to}: {history:?}"))
}

#[tokio::test]
async fn a_write_with_an_acl_token_records_its_accessor_and_name_in_history_and_on_the_event_stream(
) {
    let s = Server::with_acls().await;
    let root = s.put("/v1/acl/bootstrap", json!({})).await.ok();
    let management = root["SecretID"].as_str().unwrap().to_owned();
    let m = s.with_token(&management);
    let t = m
        .put(
            "/v1/acl/token",
            json!({"Name": "ci-token", "Type": "management"}),
        )
        .await
        .ok();
    let secret = t["SecretID"].as_str().unwrap().to_owned();
    let accessor = t["AccessorID"].as_str().unwrap().to_owned();
    let ci = s.with_token(&secret);
    let operator = json!({"Kind": "operator", "AccessorID": accessor, "Name": "ci-token"});

    ci.register(job("web", 1, "app:1", update())).await;
    ci.converge().await;
    let mut stream = Lines::open(
        &s.addr(),
        "/v1/event/stream?topic=Deployment",
        Some(&management),
    )
    .await;
    assert_eq!(stream.status, 200);
    stream.next().await;
    ci.register(job("web", 1, "app:2", update())).await;
    let d = ci.latest_deployment_id("web").await;
    let paused = ci.pause(&d, true).await;
    assert_eq!(paused.status, 200, "{}", paused.text);
    let pause_index = paused.index();

    // History: who registered (and so created the deployment), who paused it.
    let r = m.get(&format!("/v1/deployment/{d}/history")).await;
    assert!(!r.text.contains(&secret), "the secret is never recorded");
    let history = r.ok();
    let history = history.as_array().unwrap();
    assert_eq!(entry_to(history, "running")["Actor"], operator);
    assert_eq!(entry_to(history, "paused")["Actor"], operator);

    // The event stream: the pause's deployment event carries the same actor.
    let frames = stream.until_index(pause_index).await;
    let text = serde_json::to_string(&frames).unwrap();
    assert!(!text.contains(&secret), "the secret is never streamed");
    let events: Vec<&Value> = frames
        .iter()
        .filter(|f| f["Index"] == pause_index)
        .flat_map(|f| f["Events"].as_array().unwrap())
        .collect();
    assert!(!events.is_empty(), "{frames:?}");
    for e in events {
        assert_eq!(e["Type"], "DeploymentStatusUpdate", "{e}");
        assert_eq!(e["Actor"], operator, "{e}");
    }

    // The ingest routes are the scheduler's and the clients': recorded as theirs, with
    // the token they presented.
    ci.pause(&d, false).await.ok();
    let placed = ci.schedule().await;
    ci.report(&placed, Some(true)).await;
    let r = m.get(&format!("/v1/deployment/{d}/history")).await;
    let history = r.ok();
    let history = history.as_array().unwrap();
    let kinds: Vec<&str> = history
        .iter()
        .map(|e| e["Actor"]["Kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"scheduler"), "{kinds:?}");
    let healthy = entry_to(history, "successful");
    assert_eq!(
        healthy["Actor"],
        json!({"Kind": "client", "AccessorID": accessor, "Name": "ci-token"})
    );
}

#[tokio::test]
async fn with_acls_off_api_writes_are_recorded_as_an_operator_without_a_token() {
    let s = Server::start().await;
    s.register(job("web", 1, "app:1", update())).await;
    s.converge().await;
    s.register(job("web", 1, "app:2", update())).await;
    let d = s.latest_deployment_id("web").await;
    s.pause(&d, true).await.ok();
    let history = s.get(&format!("/v1/deployment/{d}/history")).await.ok();
    let history = history.as_array().unwrap().clone();
    assert_eq!(
        entry_to(&history, "running")["Actor"],
        json!({"Kind": "operator"})
    );
    assert_eq!(
        entry_to(&history, "paused")["Actor"],
        json!({"Kind": "operator"})
    );
}

/// The deadline timer's `Tick` is the watcher's: a progress deadline that fails a
/// deployment is recorded as the watcher's write.
#[tokio::test]
async fn the_deadline_timer_writes_as_the_watcher() {
    let s = Server::deterministic(16).await;
    let deadline = json!({"MaxParallel": 1, "MinHealthyTime": 0,
        "HealthyDeadline": 30_000_000_000i64, "ProgressDeadline": 60_000_000_000i64});
    s.register(job("web", 1, "app:1", deadline.clone())).await;
    s.converge().await;
    s.register(job("web", 1, "app:2", deadline)).await;
    let d = s.latest_deployment_id("web").await;
    s.schedule().await;
    s.advance(120_000_000_000);
    let ticker = s.api.spawn_ticker();
    let history = {
        let mut tries = 0;
        loop {
            let h = s.get(&format!("/v1/deployment/{d}/history")).await.ok();
            if h.as_array()
                .unwrap()
                .iter()
                .any(|e| e["Status"]["To"] == "failed")
            {
                break h;
            }
            tries += 1;
            assert!(tries < 200, "the deadline never fired: {h}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    ticker.abort();
    let history = history.as_array().unwrap().clone();
    assert_eq!(
        entry_to(&history, "failed")["Actor"],
        json!({"Kind": "watcher"})
    );
}
