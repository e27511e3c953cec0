//! `?dry_run=true` on deployment writes: the real write's answer plus every change it
//! would make, and nothing applied.

use crate::common::client::job;
use crate::common::Server;
use serde_json::json;

#[tokio::test]
async fn a_dry_run_fail_shows_the_rollback_and_changes_nothing() {
    let s = Server::deterministic(71).await;
    let update = json!({"Canary": 1, "MaxParallel": 1, "AutoRevert": true});
    s.register(job("web", 2, "app:1", update.clone())).await;
    s.converge().await;
    s.register(job("web", 2, "app:2", update)).await;
    let d = s.latest_deployment_id("web").await;
    s.schedule().await;
    let before = s.applied_index().await;
    let deployments = s.get("/v1/deployments").await.text;

    let r = s
        .request(
            "PUT",
            &format!("/v1/deployment/fail/{d}?dry_run=true"),
            None,
        )
        .await;
    let body = r.ok();
    assert_eq!(r.index(), before, "X-Nomad-Index is the current index");
    assert_eq!(s.applied_index().await, before, "nothing applied");
    assert_eq!(s.get("/v1/deployments").await.text, deployments);
    assert_eq!(body["Index"], before + 1, "the index the write would get");
    assert_eq!(body["RevertedJobVersion"], 0);
    let dry = &body["DryRun"];
    assert_eq!(dry["Index"], before + 1);
    let failed = dry["Deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["ID"] == d.as_str())
        .expect("the deployment in the changes");
    assert_eq!(failed["Status"], "failed");
    assert_eq!(
        failed["StatusDescription"],
        "Deployment marked as failed - rolling back to job version 0"
    );
    assert_eq!(
        dry["Rollbacks"],
        json!([{"DeploymentID": d, "Decision": "RolledBack", "StableVersion": 0, "NewVersion": 2}])
    );
    assert!(dry["Changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["Topic"] == "Deployment" && c["Rule"] == "F2"));

    // The real write then answers the same, applied.
    let real = s.fail(&d).await.ok();
    assert_eq!(real["Index"], before + 1);
    assert_eq!(real["RevertedJobVersion"], body["RevertedJobVersion"]);
    assert_eq!(real["DeploymentModifyIndex"], body["DeploymentModifyIndex"]);
    assert_eq!(s.deployment(&d).await["Status"], "failed");
}

#[tokio::test]
async fn a_dry_run_is_refused_as_the_real_write_would_be() {
    let s = Server::deterministic(72).await;
    s.register(job("web", 1, "app:1", json!({"MaxParallel": 1})))
        .await;
    let d = s.latest_deployment_id("web").await;
    s.fail(&d).await.ok();
    let r = s
        .request(
            "PUT",
            &format!("/v1/deployment/fail/{d}?dry_run=true"),
            None,
        )
        .await;
    let real = s.fail(&d).await;
    assert_eq!((r.status, r.text.clone()), (real.status, real.text));
    assert_eq!(
        (r.status, r.text.as_str()),
        (409, "can't fail terminal deployment")
    );
    let r = s
        .put(
            &format!("/v1/deployment/pause/{d}?dry_run=maybe"),
            json!({"DeploymentID": d, "Pause": true}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[tokio::test]
async fn job_writes_run_dry_register_revert_stable_and_stop() {
    let s = Server::deterministic(73).await;
    let update = json!({"MaxParallel": 1});
    s.register(job("web", 2, "app:1", update.clone())).await;
    s.converge().await;
    s.register(job("web", 2, "app:2", update.clone())).await;
    let before = s.applied_index().await;
    let jobs = s.get("/v1/job/web/versions").await.text;

    let r = s
        .put("/v1/jobs?dry_run=true", job("web", 3, "app:3", update))
        .await;
    let body = r.ok();
    assert_eq!(r.index(), before);
    assert_eq!(body["JobModifyIndex"], before + 1);
    let newest = |b: &serde_json::Value| {
        b["DryRun"]["Jobs"]
            .as_array()
            .unwrap()
            .iter()
            .max_by_key(|j| j["Version"].as_u64())
            .cloned()
            .unwrap()
    };
    assert_eq!(newest(&body)["Version"], 2);
    assert_eq!(newest(&body)["TaskGroups"][0]["Count"], 3);
    // The new version's deployment, and the one it supersedes.
    let deployments = body["DryRun"]["Deployments"].as_array().unwrap();
    assert!(deployments
        .iter()
        .any(|d| d["JobVersion"] == 2 && d["Status"] == "running"));

    let r = s
        .put(
            "/v1/job/web/revert?dry_run=true",
            json!({"JobID": "web", "JobVersion": 0}),
        )
        .await;
    let body = r.ok();
    assert_eq!(newest(&body)["Version"], 2);
    assert_eq!(
        newest(&body)["TaskGroups"][0]["Tasks"][0]["Config"]["image"],
        "app:1"
    );

    let r = s
        .put(
            "/v1/job/web/stable?dry_run=true",
            json!({"JobID": "web", "JobVersion": 1, "Stable": true}),
        )
        .await;
    assert_eq!(r.ok()["Index"], before + 1);

    let r = s
        .request("DELETE", "/v1/job/web?purge=true&dry_run=true", None)
        .await;
    let body = r.ok();
    assert!(body["DryRun"]["Changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["Topic"] == "Job" && c["Change"] == "Deleted"));

    // Nothing of it happened.
    assert_eq!(s.applied_index().await, before);
    assert_eq!(s.get("/v1/job/web/versions").await.text, jobs);
}
