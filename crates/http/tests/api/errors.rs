//! Every error status of R1, with Nomad's texts as plain-text bodies.

use crate::common::client::{job, Resp};
use crate::common::Server;
use serde_json::json;

const UNKNOWN: &str = "5c0f0a8e-1234-4abc-9def-0123456789ab";

#[track_caller]
fn expect(r: &Resp, status: u16, text: &str) {
    assert_eq!((r.status, r.text.as_str()), (status, text), "{r:?}");
    if !text.is_empty() {
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("text/plain; charset=utf-8")
        );
    }
}

/// M1, P1, S1, F1 (moved from the engine's tests, whose commands can no longer lack a
/// deployment ID): every deployment write without a `DeploymentID`, absent, empty or
/// `null`, is refused with 400 before anything is applied.
#[tokio::test]
async fn deployment_writes_need_a_deployment_id() {
    let s = Server::start().await;
    s.register(job("web", 2, "app:1", json!({"MaxParallel": 1})))
        .await;
    let d = s.latest_deployment_id("web").await;
    let allocs = s.schedule().await;
    let before = s.applied_index().await;
    let bodies = [
        ("allocation-health", json!({"HealthyAllocationIDs": allocs})),
        ("promote", json!({"All": true})),
        ("pause", json!({"Pause": true})),
        ("unblock", json!({})),
    ];
    for (endpoint, body) in bodies {
        let path = format!("/v1/deployment/{endpoint}/{d}");
        for id in [None, Some(json!("")), Some(json!(null))] {
            let mut body = body.clone();
            if let Some(id) = id {
                body["DeploymentID"] = id;
            }
            expect(
                &s.put(&path, body).await,
                400,
                "DeploymentID must be specified",
            );
        }
        expect(
            &s.put_raw(&path, "null").await,
            400,
            "DeploymentID must be specified",
        );
    }
    // Fail reads the ID from the path only: without one, no route takes the write.
    let r = s.request("PUT", "/v1/deployment/fail/", None).await;
    assert_eq!(r.status, 405, "{r:?}");
    assert_eq!(s.applied_index().await, before);
    assert_eq!(s.deployment(&d).await["Status"], "running");
}

#[tokio::test]
async fn bad_requests_are_400() {
    let s = Server::start().await;
    s.register(job("web", 1, "app:1", json!({}))).await;
    let d = s.latest_deployment_id("web").await;

    let cases = [
        (
            "/v1/deployments?prefix=abc",
            "index error: Input (without hyphens) must be even length",
        ),
        (
            "/v1/deployments?prefix=zz",
            "index error: Invalid UUID: encoding/hex: invalid byte: U+007A 'z'",
        ),
        (
            "/v1/evaluations?prefix=1",
            "index error: Input (without hyphens) must be even length",
        ),
        (
            "/v1/allocations?prefix=1",
            "index error: Input (without hyphens) must be even length",
        ),
        (
            "/v1/deployment/not-a-uuid",
            "deployment lookup failed: index error: UUID must be 36 characters",
        ),
        (
            "/v1/evaluation/nope",
            "eval lookup failed: index error: UUID must be 36 characters",
        ),
        (
            "/v1/allocation/nope",
            "alloc lookup failed: index error: UUID must be 36 characters",
        ),
        ("/v1/deployments?index=x", "Invalid index"),
        ("/v1/deployments?wait=10", "Invalid wait time"),
        (
            "/v1/deployments?per_page=x",
            "Expect a number for `per_page` query string parameter",
        ),
        (
            "/v1/deployments?stale=maybe",
            "Expect `true` or `false` for `stale` query string parameter",
        ),
    ];
    for (path, text) in cases {
        expect(&s.get(path).await, 400, text);
    }

    let pause = format!("/v1/deployment/pause/{d}");
    expect(&s.put_raw(&pause, "").await, 400, "Request body is empty");
    expect(
        &s.put_raw(&pause, "null").await,
        400,
        "DeploymentID must be specified",
    );
    expect(
        &s.put(&pause, json!({"Pause": true})).await,
        400,
        "DeploymentID must be specified",
    );
    expect(
        &s.put(&pause, json!({"DeploymentID": UNKNOWN, "Pause": true}))
            .await,
        400,
        "Deployment ID does not match",
    );
    let r = s.put_raw(&pause, "{").await;
    assert_eq!(r.status, 400, "{r:?}");
    let r = s
        .put(&pause, json!({"DeploymentID": d, "Pause": "true"}))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("Pause"), "{}", r.text);
    expect(
        &s.put(
            &format!("/v1/deployment/allocation-health/{d}"),
            json!({"DeploymentID": d}),
        )
        .await,
        400,
        "must specify at least one healthy/unhealthy allocation ID",
    );
    expect(
        &s.put(
            &format!("/v1/deployment/allocation-health/{d}"),
            json!({"DeploymentID": d, "HealthyAllocationIDs": ["nope"]}),
        )
        .await,
        400,
        "unknown alloc \"nope\"",
    );
    expect(
        &s.put(
            &format!("/v1/deployment/unblock/{d}"),
            json!({"DeploymentID": d}),
        )
        .await,
        400,
        "multiregion deployments are not supported",
    );

    expect(
        &s.put("/v1/jobs", json!({})).await,
        400,
        "Job must be specified",
    );
    expect(
        &s.put("/v1/jobs", json!({"Job": {}})).await,
        400,
        "Job ID hasn't been provided",
    );
    expect(
        &s.put("/v1/job/other", job("web", 1, "x", json!({}))).await,
        400,
        "Job ID does not match name",
    );
    let mut prioritized = job("web", 1, "x", json!({}));
    prioritized["EvalPriority"] = json!(500);
    expect(
        &s.put("/v1/jobs", prioritized).await,
        400,
        "Eval priority must be between 1 and 100 inclusively",
    );
    let r = s
        .put("/v1/jobs", json!({"Job": {"ID": "bad", "TaskGroups": []}}))
        .await;
    assert_eq!(r.status, 400, "job validation: {r:?}");
    assert!(r.text.ends_with("\n\n"), "go-multierror text: {:?}", r.text);
    expect(
        &s.put("/v1/job/web/revert", json!({"JobVersion": 0})).await,
        400,
        "JobID must be specified",
    );
    expect(
        &s.put("/v1/job/web/stable", json!({"JobID": "x"})).await,
        400,
        "Job ID does not match",
    );
    let r = s.delete("/v1/job/web?purge=maybe").await;
    assert_eq!(r.status, 400);
    assert!(r
        .text
        .starts_with("Failed to parse value of \"purge\" (maybe) as a bool"));

    expect(
        &s.post("/v1/engine/plan", json!({})).await,
        400,
        "EvalID must be specified",
    );
    expect(
        &s.post("/v1/engine/allocations/update", json!({"Allocations": []}))
            .await,
        400,
        "must specify at least one allocation update",
    );

    // Nothing above changed anything.
    assert_eq!(s.deployment(&d).await["Status"], "running");
    assert!(s.get("/v1/job/other").await.status == 404);
}

#[tokio::test]
async fn unknown_objects_are_404_on_reads_and_writes() {
    let s = Server::start().await;
    let r = s.get(&format!("/v1/deployment/{UNKNOWN}")).await;
    expect(&r, 404, "deployment not found");
    assert_eq!(
        r.header("X-Nomad-Index").as_deref(),
        Some("1"),
        "R4: never 0"
    );
    assert_eq!(r.header("X-Nomad-KnownLeader").as_deref(), Some("true"));

    expect(&s.fail(UNKNOWN).await, 404, "deployment not found");
    expect(&s.pause(UNKNOWN, true).await, 404, "deployment not found");
    expect(&s.promote(UNKNOWN).await, 404, "deployment not found");
    expect(&s.get("/v1/job/nope").await, 404, "job not found");
    expect(
        &s.get("/v1/job/nope/versions").await,
        404,
        "job versions not found",
    );
    expect(
        &s.get(&format!("/v1/evaluation/{UNKNOWN}")).await,
        404,
        "eval not found",
    );
    expect(
        &s.get(&format!("/v1/allocation/{UNKNOWN}")).await,
        404,
        "alloc not found",
    );
    expect(
        &s.get(&format!("/v1/engine/plan/{UNKNOWN}")).await,
        404,
        "eval not found",
    );
    expect(
        &s.delete("/v1/job/nope").await,
        404,
        "job \"nope\" not found",
    );
    expect(
        &s.put(
            "/v1/job/nope/revert",
            json!({"JobID": "nope", "JobVersion": 0}),
        )
        .await,
        404,
        "job \"nope\" not found",
    );
    expect(
        &s.get("/v1/nothing/here").await,
        404,
        "rollout does not implement GET /v1/nothing/here",
    );
    // Lists and job sub-resources of unknown objects are empty, not 404 (as in Nomad).
    assert_eq!(
        s.get(&format!("/v1/deployment/allocations/{UNKNOWN}"))
            .await
            .ok(),
        json!([])
    );
    assert_eq!(s.get("/v1/job/nope/deployment").await.text, "null");
}

#[tokio::test]
async fn wrong_methods_are_405() {
    let s = Server::start().await;
    let d = UNKNOWN;
    for (method, path) in [
        ("POST", format!("/v1/deployment/{d}")),
        ("DELETE", "/v1/deployments".to_string()),
        ("GET", format!("/v1/deployment/fail/{d}")),
        ("GET", format!("/v1/deployment/promote/{d}")),
        ("DELETE", "/v1/jobs".to_string()),
        ("POST", "/v1/job/web/deployments".to_string()),
        ("GET", "/v1/engine/plan".to_string()),
        ("PUT", "/v1/agent/health".to_string()),
    ] {
        let r = s.request(method, &path, None).await;
        expect(&r, 405, "Invalid method");
    }
}

#[tokio::test]
async fn refusals_by_the_state_are_409() {
    let s = Server::start().await;
    s.register(job("web", 1, "app:1", json!({}))).await;
    let d = s.latest_deployment_id("web").await;
    s.fail(&d).await.ok();
    expect(&s.fail(&d).await, 409, "can't fail terminal deployment");
    expect(
        &s.pause(&d, true).await,
        409,
        "can't pause terminal deployment",
    );
    expect(
        &s.pause(&d, false).await,
        409,
        "can't resume terminal deployment",
    );
    expect(
        &s.promote(&d).await,
        409,
        "can't promote terminal deployment",
    );

    let mut enforced = job("web", 1, "app:2", json!({}));
    enforced["EnforceIndex"] = json!(true);
    enforced["JobModifyIndex"] = json!(999);
    let r = s.put("/v1/jobs", enforced).await;
    assert_eq!(r.status, 409);
    assert!(r.text.starts_with(
        "Enforcing job modify index 999: job exists with conflicting job modify index:"
    ));

    // A plan for an evaluation that was already acknowledged is stale.
    let evals = s.get("/v1/evaluations?status=pending").await.ok();
    let eval = evals[0]["ID"].as_str().unwrap().to_owned();
    let plan = s.get(&format!("/v1/engine/plan/{eval}")).await.ok();
    s.post(
        &format!("/v1/evaluation/{eval}/ack"),
        json!({"Status": "complete"}),
    )
    .await
    .ok();
    let r = s
        .post(
            &format!("/v1/evaluation/{eval}/ack"),
            json!({"Status": "complete"}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert!(r.text.contains("not pending"), "{}", r.text);
    let r = s.get(&format!("/v1/engine/plan/{eval}")).await;
    assert_eq!(r.status, 409, "{r:?}");
    let r = s
        .post("/v1/engine/plan", crate::common::client::bind(&plan))
        .await;
    assert!(r.status == 409 || r.status == 404, "{r:?}");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let s = Server::start().await;
    let big = format!(
        "{{\"Job\":{{\"ID\":\"web\",\"Meta\":{{\"pad\":\"{}\"}}}}}}",
        "x".repeat(9 << 20)
    );
    let r = s.put_raw("/v1/jobs", &big).await;
    assert_eq!((r.status, r.text.as_str()), (413, "Request body too large"));
}
