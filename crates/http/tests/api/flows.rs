//! Whole rollouts driven over HTTP: the test plays operator, scheduler and clients.

use crate::common::client::job;
use crate::common::Server;
use serde_json::{json, Value};

fn update(canary: i64, auto_revert: bool) -> Value {
    json!({"Canary": canary, "MaxParallel": 1, "AutoRevert": auto_revert})
}

#[tokio::test]
async fn canary_promote_success_through_the_ingest_endpoints() {
    let s = Server::start().await;
    let r = s.register(job("web", 2, "app:1", update(1, false))).await;
    assert_ne!(r["EvalID"], "");
    assert_eq!(r["Index"], r["JobModifyIndex"]);
    let d0 = s.latest_deployment_id("web").await;
    assert_eq!(s.converge().await.len(), 2);
    let d = s.deployment(&d0).await;
    assert_eq!(d["Status"], "successful");
    assert_eq!(d["StatusDescription"], "Deployment completed successfully");
    assert_eq!(s.job("web").await["Stable"], true);

    // A destructive change: one canary first.
    s.register(job("web", 2, "app:2", update(1, false))).await;
    let d1 = s.latest_deployment_id("web").await;
    assert_ne!(d1, d0);
    let canaries = s.schedule().await;
    assert_eq!(canaries.len(), 1);
    let d = s.deployment(&d1).await;
    assert_eq!(
        d["StatusDescription"],
        "Deployment is running but requires manual promotion"
    );
    assert_eq!(d["TaskGroups"]["web"]["PlacedCanaries"], json!(canaries));
    assert_eq!(d["TaskGroups"]["web"]["HealthyAllocs"], 0);

    s.report(&canaries, Some(true)).await;
    let d = s.deployment(&d1).await;
    assert_eq!(d["TaskGroups"]["web"]["HealthyAllocs"], 1);

    let r = s.promote(&d1).await;
    let body = r.ok();
    assert_ne!(body["EvalID"], "");
    assert_eq!(body["Index"], r.index());
    assert_eq!(body["EvalCreateIndex"], r.index());
    assert_eq!(body["DeploymentModifyIndex"], r.index());
    assert_eq!(body["RevertedJobVersion"], Value::Null);
    assert_eq!(
        s.deployment(&d1).await["TaskGroups"]["web"]["Promoted"],
        true
    );

    s.converge().await;
    let d = s.deployment(&d1).await;
    assert_eq!(d["Status"], "successful");
    assert_eq!(d["TaskGroups"]["web"]["HealthyAllocs"], 2);
    let job = s.job("web").await;
    assert_eq!(
        (job["Version"].clone(), job["Stable"].clone()),
        (json!(1), json!(true))
    );
    let allocs = s
        .get(&format!("/v1/deployment/allocations/{d1}"))
        .await
        .ok();
    assert_eq!(allocs.as_array().unwrap().len(), 2);
    s.stop().await;
}

#[tokio::test]
async fn manual_health() {
    let s = Server::start().await;
    let manual = json!({"HealthCheck": "manual", "MaxParallel": 2});
    s.register(job("web", 2, "app:1", manual)).await;
    let d = s.latest_deployment_id("web").await;
    let placed = s.schedule().await;
    assert_eq!(placed.len(), 2);
    s.report(&placed, None).await;
    assert_eq!(
        s.deployment(&d).await["TaskGroups"]["web"]["HealthyAllocs"],
        0
    );

    let r = s.set_health(&d, &placed[..1], &[]).await.ok();
    assert_ne!(r["EvalID"], "");
    assert_eq!(s.deployment(&d).await["Status"], "running");
    s.set_health(&d, &placed[1..], &[]).await.ok();
    let dep = s.deployment(&d).await;
    assert_eq!(dep["Status"], "successful");
    assert_eq!(dep["TaskGroups"]["web"]["HealthyAllocs"], 2);
    let alloc = s.get(&format!("/v1/allocation/{}", placed[0])).await.ok();
    assert_eq!(alloc["DeploymentStatus"]["Healthy"], true);
    assert_eq!(
        alloc["Job"]["Version"], 0,
        "the allocation embeds its job version"
    );
}

#[tokio::test]
async fn pause_and_resume() {
    let s = Server::start().await;
    s.register(job("web", 2, "app:1", update(0, false))).await;
    s.converge().await;
    s.register(job("web", 2, "app:2", update(0, false))).await;
    let d = s.latest_deployment_id("web").await;

    let r = s.pause(&d, true).await;
    let body = r.ok();
    assert_eq!(body["EvalID"], "", "pausing creates no evaluation");
    assert_eq!(body["EvalCreateIndex"], 0);
    assert_eq!(body["DeploymentModifyIndex"], r.index());
    let dep = s.deployment(&d).await;
    assert_eq!(
        (dep["Status"].clone(), dep["StatusDescription"].clone()),
        (json!("paused"), json!("Deployment is paused"))
    );

    let body = s.pause(&d, false).await.ok();
    assert_ne!(body["EvalID"], "", "resuming creates an evaluation");
    assert_eq!(s.deployment(&d).await["Status"], "running");
    s.converge().await;
    assert_eq!(s.deployment(&d).await["Status"], "successful");
}

#[tokio::test]
async fn fail_rolls_back_then_refuses_to_roll_back_to_the_same_spec() {
    let s = Server::start().await;
    s.register(job("web", 2, "app:1", update(0, true))).await;
    s.converge().await;
    s.register(job("web", 2, "app:2", update(0, true))).await;
    let d1 = s.latest_deployment_id("web").await;

    let body = s.fail(&d1).await.ok();
    assert_eq!(body["RevertedJobVersion"], 0);
    assert_ne!(body["EvalID"], "");
    let dep = s.deployment(&d1).await;
    assert_eq!(dep["Status"], "failed");
    assert_eq!(
        dep["StatusDescription"],
        "Deployment marked as failed - rolling back to job version 0"
    );
    let job = s.job("web").await;
    assert_eq!(job["Version"], 2, "the rollback is a new version");
    assert_eq!(job["TaskGroups"][0]["Tasks"][0]["Config"]["image"], "app:1");
    let versions = s.get("/v1/job/web/versions").await.ok();
    let numbers: Vec<&Value> = versions["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["Version"])
        .collect();
    assert_eq!(numbers, [&json!(2), &json!(1), &json!(0)]);
    let d2 = s.latest_deployment_id("web").await;
    assert_ne!(d2, d1);
    assert_eq!(s.deployment(&d2).await["JobVersion"], 2);

    // The rollback version is the latest stable one and has the same spec: failing it
    // does not roll back again.
    let body = s.fail(&d2).await.ok();
    assert_eq!(body["RevertedJobVersion"], Value::Null);
    assert_eq!(
        s.deployment(&d2).await["StatusDescription"],
        "Deployment marked as failed - not rolling back to stable job version 2 as current job has same specification"
    );
    assert_eq!(s.job("web").await["Version"], 2);
}

#[tokio::test]
async fn promote_is_refused_while_canaries_are_unhealthy() {
    let s = Server::start().await;
    s.register(job("web", 2, "app:1", update(1, false))).await;
    s.converge().await;
    s.register(job("web", 2, "app:2", update(1, false))).await;
    let d = s.latest_deployment_id("web").await;
    let canaries = s.schedule().await;
    s.report(&canaries, None).await;
    let r = s.promote(&d).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.text,
        "1 error occurred:\n\t* Task group \"web\" has 0/1 healthy allocations\n\n"
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        s.deployment(&d).await["TaskGroups"]["web"]["Promoted"],
        false
    );
}

#[tokio::test]
async fn job_revert_stable_and_deregister() {
    let s = Server::start().await;
    s.register(job("web", 1, "app:1", update(0, false))).await;
    s.converge().await;
    s.register(job("web", 1, "app:2", update(0, false))).await;
    s.converge().await;

    let r = s
        .put(
            "/v1/job/web/revert",
            json!({"JobID": "web", "JobVersion": 0}),
        )
        .await;
    let body = r.ok();
    assert_eq!(body["JobModifyIndex"], r.index());
    assert_eq!(body["KnownLeader"], false);
    assert_eq!(r.header("X-Nomad-KnownLeader").as_deref(), Some("false"));
    assert_eq!(r.header("X-Nomad-LastContact").as_deref(), Some("0"));
    let job = s.job("web").await;
    assert_eq!(job["Version"], 2);
    assert_eq!(job["TaskGroups"][0]["Tasks"][0]["Config"]["image"], "app:1");

    let r = s
        .put(
            "/v1/job/web/revert",
            json!({"JobID": "web", "JobVersion": 2}),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (409, "can't revert to current version")
    );

    let r = s
        .put(
            "/v1/job/web/stable",
            json!({"JobID": "web", "JobVersion": 0, "Stable": false}),
        )
        .await;
    assert_eq!(r.ok(), json!({"Index": r.index()}));
    let versions = s.get("/v1/job/web/versions").await.ok();
    assert_eq!(versions["Versions"][2]["Stable"], false);

    let deployments = s.get("/v1/job/web/deployments").await.ok();
    assert_eq!(deployments.as_array().unwrap().len(), 3);

    let r = s.delete("/v1/job/web").await;
    let body = r.ok();
    assert_ne!(body["EvalID"], "");
    assert_eq!(body["VolumeEvalID"], "");
    assert_eq!(s.job("web").await["Stop"], true);

    let r = s.delete("/v1/job/web?purge=true").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(s.get("/v1/job/web").await.status, 404);
    assert_eq!(s.get("/v1/job/web/deployments").await.ok(), json!([]));
    assert_eq!(s.get("/v1/job/web/deployment").await.text, "null");
}

#[tokio::test]
async fn lists_filter_and_paginate() {
    let s = Server::start().await;
    for id in ["a", "b", "c"] {
        s.register(job(id, 1, "app:1", update(0, false))).await;
    }
    let r = s.get("/v1/deployments?per_page=2").await;
    let page = r.ok();
    assert_eq!(page.as_array().unwrap().len(), 2);
    let token = r.header("X-Nomad-NextToken").expect("next token");
    let third = s
        .get(&format!("/v1/deployments?per_page=2&next_token={token}"))
        .await;
    let rest = third.ok();
    assert_eq!(rest.as_array().unwrap().len(), 1);
    assert!(third.header("X-Nomad-NextToken").is_none());
    assert_eq!(
        format!(
            "{}.{}",
            rest[0]["CreateIndex"],
            rest[0]["ID"].as_str().unwrap()
        ),
        token
    );

    let reversed = s.get("/v1/deployments?reverse=true").await.ok();
    assert_eq!(reversed[0]["JobID"], "c");

    let id = rest[0]["ID"].as_str().unwrap();
    let by_prefix = s
        .get(&format!("/v1/deployments?prefix={}", &id[..4]))
        .await
        .ok();
    assert!(by_prefix.as_array().unwrap().iter().any(|d| d["ID"] == id));

    assert_eq!(
        s.get("/v1/deployments?namespace=other").await.ok(),
        json!([])
    );
    assert_eq!(
        s.get("/v1/deployments?namespace=*")
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let jobs = s.get("/v1/jobs?prefix=b").await.ok();
    assert_eq!(jobs.as_array().unwrap().len(), 1);
    assert_eq!(jobs[0]["ID"], "b");
    assert_eq!(jobs[0]["JobSummary"]["Summary"]["web"]["Running"], 0);

    let evals = s.get("/v1/evaluations?job=a").await.ok();
    assert_eq!(evals.as_array().unwrap().len(), 1);
    assert_eq!(evals[0]["TriggeredBy"], "job-register");

    let pretty = s.get("/v1/job/a?pretty").await;
    assert!(pretty.text.starts_with("{\n    \"Affinities\""));
    assert!(pretty.text.ends_with("}\n"));
}
