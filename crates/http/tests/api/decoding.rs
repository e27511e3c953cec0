//! Request bodies over HTTP decode like Go's `encoding/json` (R3): any key casing,
//! nested job fields included.

use crate::common::Server;
use serde_json::json;

#[tokio::test]
async fn a_job_with_differently_cased_keys_registers() {
    let s = Server::start().await;
    let body = json!({
        "job": {
            "id": "web",
            "TYPE": "service",
            "Meta": {"Owner": "team-a"},
            "taskgroups": [{
                "name": "web",
                "COUNT": 2,
                "update": {"canary": 1, "MaxParallel": 1, "autorevert": true},
                "tasks": [{"NAME": "app", "driver": "docker", "config": {"image": "app:1"}}]
            }]
        }
    });
    s.put("/v1/jobs", body).await.ok();
    let job = s.job("web").await;
    assert_eq!(job["Type"], "service");
    assert_eq!(job["Meta"], json!({"Owner": "team-a"}));
    let group = &job["TaskGroups"][0];
    assert_eq!(group["Count"], 2);
    assert_eq!(group["Update"]["Canary"], 1);
    assert_eq!(group["Update"]["AutoRevert"], true);
    assert_eq!(group["Tasks"][0]["Name"], "app");
    assert_eq!(group["Tasks"][0]["Config"], json!({"image": "app:1"}));
    let d = s.latest_deployment("web").await;
    assert_eq!(d["TaskGroups"]["web"]["DesiredTotal"], 2);
    assert_eq!(d["TaskGroups"]["web"]["AutoRevert"], true);
}

#[tokio::test]
async fn operator_bodies_accept_any_casing_and_trailing_bytes() {
    let s = Server::start().await;
    s.put(
        "/v1/jobs",
        crate::common::client::job("web", 1, "app:1", json!({})),
    )
    .await
    .ok();
    let d = s.latest_deployment_id("web").await;
    let body = format!(r#"{{"deploymentid":"{d}","PAUSE":true}} trailing garbage"#);
    s.put_raw(&format!("/v1/deployment/pause/{d}"), &body)
        .await
        .ok();
    assert_eq!(s.deployment(&d).await["Status"], "paused");
    // The later of two keys for one field wins.
    let body = format!(r#"{{"DeploymentID":"{d}","Pause":true,"pause":false}}"#);
    s.put_raw(&format!("/v1/deployment/pause/{d}"), &body)
        .await
        .ok();
    assert_eq!(s.deployment(&d).await["Status"], "running");
    let body = json!({"DEPLOYMENTID": d, "all": true, "Unknown": [1, 2, 3]});
    let r = s.put(&format!("/v1/deployment/promote/{d}"), body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s
        .put(
            "/v1/job/web/stable",
            json!({"jobid": "web", "jobversion": 0, "STABLE": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(s.job("web").await["Stable"], true);
}
