//! The JSON of every endpoint for one fixed scenario, pinned with `insta`. The server
//! runs with a manual clock and seeded IDs, so the bytes are the same on every run; a
//! changed snapshot is a changed wire shape and must be reviewed as one.

use crate::common::client::{bind, job};
use crate::common::Server;
use serde_json::{json, Value};

const SECOND: i64 = 1_000_000_000;

fn update() -> Value {
    json!({"Canary": 1, "MaxParallel": 1, "AutoRevert": true})
}

fn id(v: &Value) -> String {
    v.as_str().expect("an ID").to_owned()
}

#[tokio::test]
async fn every_endpoint_for_a_canary_rollout() {
    let s = Server::deterministic(1).await;
    let snap = |name: &str, v: Value| insta::assert_json_snapshot!(name.to_owned(), v);

    snap(
        "register",
        s.register(job("web", 2, "app:1", update())).await,
    );
    s.advance(SECOND);
    s.converge().await;
    s.advance(SECOND);
    s.register(job("web", 2, "app:2", update())).await;
    s.advance(SECOND);
    let canaries = s.schedule().await;
    s.advance(SECOND);
    s.report(&canaries, Some(true)).await;
    s.advance(SECOND);

    let d = s.latest_deployment_id("web").await;
    let canary = &canaries[0];
    let evals = s.get("/v1/job/web/evaluations").await.ok();
    let eval = id(&evals[0]["ID"]);
    for (name, path) in [
        ("deployments", "/v1/deployments".to_owned()),
        ("deployment", format!("/v1/deployment/{d}")),
        (
            "deployment_allocations",
            format!("/v1/deployment/allocations/{d}"),
        ),
        ("jobs", "/v1/jobs".to_owned()),
        ("job", "/v1/job/web".to_owned()),
        ("job_versions", "/v1/job/web/versions".to_owned()),
        ("job_deployments", "/v1/job/web/deployments".to_owned()),
        ("job_deployment", "/v1/job/web/deployment".to_owned()),
        ("job_evaluations", "/v1/job/web/evaluations".to_owned()),
        ("job_allocations", "/v1/job/web/allocations".to_owned()),
        ("evaluations", "/v1/evaluations".to_owned()),
        ("evaluation", format!("/v1/evaluation/{eval}")),
        (
            "evaluation_allocations",
            format!("/v1/evaluation/{eval}/allocations"),
        ),
        ("allocations", "/v1/allocations".to_owned()),
        ("allocation", format!("/v1/allocation/{canary}")),
        ("agent_health", "/v1/agent/health".to_owned()),
    ] {
        snap(name, s.get(&path).await.ok());
    }

    // Operator writes and the scheduler loop around them.
    snap("promote", s.promote(&d).await.ok());
    s.advance(SECOND);
    let pending = s.get("/v1/evaluations?status=pending").await.ok();
    let eval = id(&pending[0]["ID"]);
    let plan = s.get(&format!("/v1/engine/plan/{eval}")).await.ok();
    snap("engine_plan", plan.clone());
    let result = s.post("/v1/engine/plan", bind(&plan)).await.ok();
    snap("engine_plan_result", result.clone());
    snap(
        "evaluation_ack",
        s.post(
            &format!("/v1/evaluation/{eval}/ack"),
            json!({"Status": "complete"}),
        )
        .await
        .ok(),
    );
    let placed: Vec<String> = result["AllocIDs"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    snap(
        "engine_allocations_update",
        s.report(&placed, Some(true)).await,
    );
    s.advance(SECOND);
    s.converge().await;
    assert_eq!(s.deployment(&d).await["Status"], "successful");

    // A third version to pause, resume and fail (rolling back to the second).
    s.register(job("web", 2, "app:3", update())).await;
    s.advance(SECOND);
    let d3 = s.latest_deployment_id("web").await;
    snap("pause", s.pause(&d3, true).await.ok());
    snap("resume", s.pause(&d3, false).await.ok());
    let placed = s.schedule().await;
    snap(
        "allocation_health",
        s.set_health(&d3, &placed[..1], &[]).await.ok(),
    );
    s.advance(SECOND);
    snap("fail", s.fail(&d3).await.ok());
    snap("deployment_failed", s.deployment(&d3).await);
    s.advance(SECOND);
    snap(
        "revert",
        s.put(
            "/v1/job/web/revert",
            json!({"JobID": "web", "JobVersion": 0}),
        )
        .await
        .ok(),
    );
    snap(
        "stable",
        s.put(
            "/v1/job/web/stable",
            json!({"JobID": "web", "JobVersion": 0, "Stable": true}),
        )
        .await
        .ok(),
    );
    snap("deregister", s.delete("/v1/job/web").await.ok());
}
