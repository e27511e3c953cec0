//! `POST /v1/allocation/:id/stop` (AS1, AS2): Nomad's `AllocStopResponse`, the
//! replacement placed by the next plan, `alloc-lifecycle` under ACLs, and a dry run
//! that changes nothing.

use crate::common::acl_matrix::{setup, Who};
use crate::common::client::job;
use crate::common::Server;
use serde_json::json;

#[tokio::test]
async fn as1_as2_a_stopped_allocation_is_replaced_by_the_next_plan() {
    let s = Server::start().await;
    s.register(job("web", 2, "app:1", json!({}))).await;
    let placed = s.converge().await;
    assert_eq!(placed.len(), 2);
    let r = s
        .post(&format!("/v1/allocation/{}/stop", placed[0]), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["Index"], json!(r.index()));
    let eval = s
        .get(&format!(
            "/v1/evaluation/{}",
            body["EvalID"].as_str().unwrap()
        ))
        .await
        .ok();
    assert_eq!(eval["TriggeredBy"], "alloc-stop");
    let marked = s.get(&format!("/v1/allocation/{}", placed[0])).await.ok();
    assert_eq!(marked["DesiredTransition"]["Migrate"], json!(true));
    let replacement = s.schedule().await;
    assert_eq!(replacement.len(), 1);
    let old = s.get(&format!("/v1/allocation/{}", placed[0])).await.ok();
    assert_eq!(old["DesiredStatus"], "stop");
    assert_eq!(old["DesiredDescription"], "alloc is being migrated");
    let new = s
        .get(&format!("/v1/allocation/{}", replacement[0]))
        .await
        .ok();
    assert_eq!(new["PreviousAllocation"], json!(placed[0]));
    assert_eq!(new["Name"], old["Name"]);
}

#[tokio::test]
async fn as1_unknown_allocations_dry_runs_and_acls() {
    let s = Server::with_acls().await;
    let f = setup(&s).await;
    let m = s.with_token(&f.management);
    let r = m
        .post(
            "/v1/allocation/9d5e3c1e-0000-4000-8000-000000000000/stop",
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.text.as_str()), (404, "alloc not found"));
    let allocs = m.get("/v1/allocations").await.ok();
    let id = allocs[0]["ID"].as_str().unwrap().to_string();
    let before = m.applied_index().await;
    let r = m
        .post(&format!("/v1/allocation/{id}/stop?dry_run=true"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json()["DryRun"].is_object(), "{}", r.text);
    assert_eq!(m.applied_index().await, before, "a dry run applies nothing");
    let reader = f.client(&s, Who::Read);
    let r = reader
        .post(&format!("/v1/allocation/{id}/stop"), json!({}))
        .await;
    assert_eq!((r.status, r.text.as_str()), (403, "Permission denied"));
    let other = f.client(&s, Who::Other);
    let r = other
        .post(&format!("/v1/allocation/{id}/stop"), json!({}))
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (404, "alloc not found"),
        "not yours is not there"
    );
    let writer = f.client(&s, Who::Write);
    let r = writer
        .post(&format!("/v1/allocation/{id}/stop"), json!({}))
        .await;
    assert_eq!(r.status, 200, "write implies alloc-lifecycle: {}", r.text);
}
