//! `TaskStates` as clients report them through the ingest API and as readers get them
//! back (`http-api.md` §7.4, §7.6): stored whole, replaced whole by each report (Nomad's
//! client always sends the full map), and shown with Nomad's display messages.

use crate::common::client::job;
use crate::common::{Server, T0};
use serde_json::{json, Value};

const SECOND: i64 = 1_000_000_000;

fn update() -> Value {
    json!({"MaxParallel": 1})
}

/// A running task as Nomad's client reports it: `Received`, `Task Setup`, `Started`.
/// `Started` comes without a display message, for the HTTP layer to fill in.
fn running_app(received: i64) -> Value {
    json!({
        "State": "running", "Failed": false, "Restarts": 0,
        "StartedAt": "2023-11-14T22:13:23Z", "FinishedAt": null, "LastRestart": null,
        "Events": [
            {"Type": "Received", "Time": received, "DisplayMessage": "Task received by client",
             "Details": {}},
            {"Type": "Task Setup", "Time": received + 1_000, "Message": "Building Task Directory",
             "DisplayMessage": "Building Task Directory",
             "Details": {"message": "Building Task Directory"}},
            {"Type": "Started", "Time": received + 2 * SECOND, "Details": {}}
        ]
    })
}

async fn one_alloc(s: &Server) -> String {
    s.register(job("web", 1, "app:1", update())).await;
    s.advance(SECOND);
    s.schedule().await.pop().expect("one placement")
}

async fn report(s: &Server, alloc: &str, status: &str, task_states: Option<Value>) {
    let mut u = json!({"ID": alloc, "ClientStatus": status, "ModifyTime": T0 + 3 * SECOND});
    if let Some(ts) = task_states {
        u["TaskStates"] = ts;
    }
    s.post("/v1/engine/allocations/update", json!({"Allocations": [u]}))
        .await
        .ok();
}

/// The TaskStates of `alloc` in a list of allocation stubs.
fn states_in(list: &Value, alloc: &str) -> Value {
    list.as_array()
        .expect("a list")
        .iter()
        .find(|a| a["ID"] == alloc)
        .map(|a| a["TaskStates"].clone())
        .expect("the allocation is listed")
}

#[tokio::test]
async fn reported_task_states_show_on_the_allocation_and_in_every_list() {
    let s = Server::deterministic(14).await;
    let alloc = one_alloc(&s).await;
    report(&s, &alloc, "running", Some(json!({"app": running_app(T0)}))).await;

    let read = s.get(&format!("/v1/allocation/{alloc}")).await.ok();
    insta::assert_json_snapshot!("task_states_of_a_running_alloc", read["TaskStates"]);
    let app = &read["TaskStates"]["app"];
    assert_eq!(app["StartedAt"], "2023-11-14T22:13:23Z");
    assert_eq!(app["FinishedAt"], Value::Null);
    assert_eq!(
        app["Events"][2]["Time"].as_i64(),
        Some(T0 + 2 * SECOND),
        "TaskEvent.Time is Unix nanoseconds"
    );
    assert_eq!(
        app["Events"][2]["DisplayMessage"], "Task started by client",
        "filled in on the way out, as Nomad's HTTP agent does"
    );

    let d = s.latest_deployment_id("web").await;
    for path in [
        "/v1/allocations".to_owned(),
        "/v1/allocations?task_states=true".to_owned(),
        "/v1/job/web/allocations".to_owned(),
        format!("/v1/deployment/allocations/{d}"),
    ] {
        let list = s.get(&path).await.ok();
        assert_eq!(states_in(&list, &alloc), read["TaskStates"], "{path}");
    }
    let list = s.get("/v1/allocations?task_states=false").await.ok();
    assert_eq!(states_in(&list, &alloc), Value::Null);
}

#[tokio::test]
async fn the_evaluation_allocations_list_shows_task_events_as_stored() {
    let s = Server::deterministic(14).await;
    let alloc = one_alloc(&s).await;
    report(&s, &alloc, "running", Some(json!({"app": running_app(T0)}))).await;
    let eval = s.get(&format!("/v1/allocation/{alloc}")).await.ok()["EvalID"].clone();
    let eval = eval.as_str().expect("EvalID");
    let list = s
        .get(&format!("/v1/evaluation/{eval}/allocations"))
        .await
        .ok();
    assert_eq!(
        states_in(&list, &alloc)["app"]["Events"][2]["DisplayMessage"],
        "",
        "Nomad's evaluation endpoint does not fill in display messages"
    );
}

#[tokio::test]
async fn each_report_replaces_the_whole_task_states_map() {
    let s = Server::deterministic(14).await;
    let alloc = one_alloc(&s).await;
    let sidecar = json!({"State": "pending", "Events": [
        {"Type": "Received", "Time": T0, "DisplayMessage": "Task received by client"}
    ]});
    report(
        &s,
        &alloc,
        "pending",
        Some(json!({"app": running_app(T0), "sidecar": sidecar})),
    )
    .await;
    let read = s.get(&format!("/v1/allocation/{alloc}")).await.ok();
    assert_eq!(read["TaskStates"]["sidecar"]["State"], "pending");

    // The next report is the client's whole view: the task it no longer lists is gone,
    // the events are the ones it sent now (not appended to the stored ones).
    let dead = json!({"State": "dead", "Failed": true, "FinishedAt": "2023-11-14T22:13:25Z",
        "Events": [{"Type": "Terminated", "Time": T0 + 5 * SECOND, "ExitCode": 1,
                    "Details": {"exit_code": "1", "oom_killed": "false", "signal": "0"}}]});
    report(&s, &alloc, "failed", Some(json!({"app": dead}))).await;
    let read = s.get(&format!("/v1/allocation/{alloc}")).await.ok();
    let states = read["TaskStates"].as_object().expect("task states");
    assert_eq!(states.keys().collect::<Vec<_>>(), ["app"]);
    let app = &states["app"];
    assert_eq!(
        (app["State"].as_str(), app["Failed"].as_bool()),
        (Some("dead"), Some(true))
    );
    assert_eq!(app["FinishedAt"], "2023-11-14T22:13:25Z");
    let events = app["Events"].as_array().expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["DisplayMessage"], "Exit Code: 1");
}

/// Nomad's client always sends `TaskStates`; rollout's ingest API also takes status-only
/// reports (external schedulers, test kits), which leave the stored task states alone.
#[tokio::test]
async fn a_report_without_task_states_keeps_the_stored_ones() {
    let s = Server::deterministic(14).await;
    let alloc = one_alloc(&s).await;
    report(&s, &alloc, "running", Some(json!({"app": running_app(T0)}))).await;
    report(&s, &alloc, "running", None).await;
    let read = s.get(&format!("/v1/allocation/{alloc}")).await.ok();
    assert_eq!(read["TaskStates"]["app"]["State"], "running");
    assert_eq!(
        read["TaskStates"]["app"]["Events"].as_array().map(Vec::len),
        Some(3)
    );
}
