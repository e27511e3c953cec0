//! The endpoints Nomad tooling calls first (R11): status, agent, regions, namespaces,
//! and what an unknown route answers. Shapes pinned with `insta`; the server's port is
//! replaced by `PORT` so that the snapshots do not depend on it.

use crate::common::acl_matrix::{setup, Who};
use crate::common::client::job;
use crate::common::Server;
use serde_json::{json, Value};

/// The body with this server's port (in strings and as a number) made `PORT`.
fn portless(s: &Server, v: &Value) -> Value {
    let port = s.addr().rsplit(':').next().unwrap().to_string();
    match v {
        Value::String(text) => json!(text.replace(&port, "PORT")),
        Value::Number(n) if n.to_string() == port => json!("PORT"),
        Value::Array(items) => items.iter().map(|i| portless(s, i)).collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, i)| (k.clone(), portless(s, i)))
            .collect(),
        other => other.clone(),
    }
}

#[tokio::test]
async fn status_leader_peers_and_regions_name_this_server() {
    let s = Server::start().await;
    let host = s.addr().trim_start_matches("http://").to_string();
    let leader = s.get("/v1/status/leader").await;
    assert_eq!(leader.json(), json!(host));
    assert_eq!(
        leader.header("Content-Type").as_deref(),
        Some("application/json")
    );
    assert_eq!(s.get("/v1/status/peers").await.ok(), json!([host]));
    assert_eq!(s.get("/v1/regions").await.ok(), json!(["global"]));
    assert_eq!(s.get("/v1/agent/servers").await.ok(), json!([host]));
}

/// A single agent is a Raft configuration of one: itself, voting and leading, in
/// Nomad's RaftConfigurationResponse shape; `operator:read` is required under ACLs.
#[tokio::test]
async fn raft_configuration_of_a_single_agent_is_itself() {
    let s = Server::start().await;
    let host = s.addr().trim_start_matches("http://").to_string();
    let c = s.get("/v1/operator/raft/configuration").await.ok();
    assert_eq!(
        c,
        json!({"Index": 0, "Servers": [{
            "Address": host, "ID": host, "Leader": true, "Node": c["Servers"][0]["Node"],
            "RaftProtocol": "3", "Voter": true,
        }]})
    );
    let s = Server::with_acls().await;
    let f = setup(&s).await;
    let reader = f.client(&s, Who::Read);
    let r = reader.get("/v1/operator/raft/configuration").await;
    assert_eq!((r.status, r.text.as_str()), (403, "Permission denied"));
    let r = reader.delete("/v1/operator/raft/peer?id=x").await;
    assert_eq!((r.status, r.text.as_str()), (403, "Permission denied"));
    let m = s.with_token(&f.management);
    assert_eq!(m.get("/v1/operator/raft/configuration").await.status, 200);
    // A single agent has no peer to remove.
    let r = m.delete("/v1/operator/raft/peer?id=x").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("there is no peer to remove"), "{}", r.text);
}

#[tokio::test]
async fn agent_self_and_members_have_the_keys_nomad_clients_read() {
    let s = Server::start().await;
    let mut me = s.get("/v1/agent/self").await.ok();
    // Values that vary with the machine.
    me["stats"]["runtime"]["cpu_count"] = json!("N");
    me["stats"]["runtime"]["arch"] = json!("ARCH");
    insta::assert_json_snapshot!("agent_self", portless(&s, &me));
    let members = s.get("/v1/agent/members").await.ok();
    insta::assert_json_snapshot!("agent_members", portless(&s, &members));
}

#[tokio::test]
async fn another_region_is_500_no_path_to_region() {
    let s = Server::start().await;
    let r = s.get("/v1/jobs?region=mars").await;
    assert_eq!((r.status, r.text.as_str()), (500, "No path to region"));
    assert_eq!(s.get("/v1/jobs?region=global").await.status, 200);
    assert_eq!(s.get("/v1/jobs?region=").await.status, 200);
}

#[tokio::test]
async fn unknown_routes_say_what_rollout_does_not_implement() {
    let s = Server::start().await;
    let r = s.get("/v1/client/fs/logs/abc").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.text,
        "rollout does not implement GET /v1/client/fs/logs/abc"
    );
    let r = s
        .request("POST", "/v1/nothing-here", Some("{}".into()))
        .await;
    assert_eq!(r.text, "rollout does not implement POST /v1/nothing-here");
}

#[tokio::test]
async fn ns1_to_ns3_namespaces_over_http() {
    let s = Server::deterministic(61).await;
    // default is always there.
    let list = s.get("/v1/namespaces").await;
    insta::assert_json_snapshot!("namespaces_default_only", list.json());
    // Registering into a namespace that does not exist is refused, naming it.
    let mut web = job("web", 1, "app:1", json!({}));
    web["Job"]["Namespace"] = json!("team");
    let r = s.put("/v1/jobs", web.clone()).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (400, "job \"web\" is in nonexistent namespace \"team\"")
    );
    // Created, read, listed.
    let r = s
        .put(
            "/v1/namespace/team",
            json!({"Name": "team", "Description": "the team", "Meta": {"owner": "ops"}}),
        )
        .await;
    assert_eq!((r.status, r.text.as_str()), (200, ""));
    let created = r.index();
    let team = s.get("/v1/namespace/team").await;
    assert_eq!(team.index(), created);
    insta::assert_json_snapshot!("namespace_team", team.json());
    let names: Vec<Value> = s
        .get("/v1/namespaces")
        .await
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["Name"].clone())
        .collect();
    assert_eq!(names, [json!("default"), json!("team")]);
    let prefixed = s.get("/v1/namespaces?prefix=te").await.ok();
    assert_eq!(prefixed.as_array().unwrap().len(), 1);
    // A body naming another namespace than the path.
    let r = s.put("/v1/namespace/team", json!({"Name": "other"})).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (400, "Namespace name does not match request path")
    );
    let r = s.put("/v1/namespace/bad%20name", json!({})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("invalid name \"bad name\""), "{}", r.text);
    // A live job keeps its namespace; default is never deleted.
    assert_eq!(s.put("/v1/jobs", web).await.status, 200);
    let r = s.delete("/v1/namespace/team").await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (
            409,
            "namespace \"team\" has non-terminal jobs in regions: [global]"
        )
    );
    let r = s.delete("/v1/namespace/default").await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (400, "can not delete default namespace")
    );
    let r = s.get("/v1/namespace/nope").await;
    assert_eq!((r.status, r.text.as_str()), (404, "Namespace not found"));
    // Purged, the namespace can go.
    assert_eq!(
        s.delete("/v1/job/web?namespace=team&purge=true")
            .await
            .status,
        200
    );
    assert_eq!(s.delete("/v1/namespace/team").await.status, 200);
    assert_eq!(s.get("/v1/namespace/team").await.status, 404);
}

#[tokio::test]
async fn namespace_and_agent_acls_as_nomad_enforces_them() {
    let s = Server::with_acls().await;
    let f = setup(&s).await;
    let m = s.with_token(&f.management);
    let reader = f.client(&s, Who::Read);
    // Writes are management only.
    assert_eq!(reader.put("/v1/namespace/x", json!({})).await.status, 403);
    assert_eq!(reader.delete("/v1/namespace/other").await.status, 403);
    // A token sees the namespaces it may do something in.
    let names = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|n| n["Name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(reader.get("/v1/namespaces").await.ok()), ["default"]);
    assert_eq!(
        names(m.get("/v1/namespaces").await.ok()),
        ["default", "other"]
    );
    assert_eq!(reader.get("/v1/namespace/other").await.status, 403);
    // agent:read and node:read come from the policies' agent and node blocks.
    assert_eq!(reader.get("/v1/agent/self").await.status, 403);
    assert_eq!(reader.get("/v1/agent/members").await.status, 403);
    let rules = "agent {\n  policy = \"read\"\n}\nnode {\n  policy = \"read\"\n}\n";
    let r = m
        .put("/v1/acl/policy/ops", json!({"Name": "ops", "Rules": rules}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t = m
        .put(
            "/v1/acl/token",
            json!({"Name": "ops", "Type": "client", "Policies": ["ops"]}),
        )
        .await
        .ok();
    let ops = s.with_token(t["SecretID"].as_str().unwrap());
    assert_eq!(ops.get("/v1/agent/self").await.status, 200);
    assert_eq!(ops.get("/v1/agent/members").await.status, 200);
    // Status endpoints need no token, as in Nomad.
    assert_eq!(s.get("/v1/status/leader").await.status, 200);
    assert_eq!(s.get("/v1/regions").await.status, 200);
}

#[tokio::test]
async fn job_summary_counts_allocations_by_client_status() {
    let s = Server::deterministic(62).await;
    s.register(job("web", 2, "app:1", json!({}))).await;
    let placed = s.schedule().await;
    s.report(&placed[..1], Some(true)).await;
    let summary = s.get("/v1/job/web/summary").await;
    insta::assert_json_snapshot!("job_summary", summary.json());
    assert_eq!(s.get("/v1/job/nope/summary").await.status, 404);
}

#[tokio::test]
async fn scaling_a_group_registers_a_new_version_and_a_deployment() {
    let s = Server::deterministic(63).await;
    let update = json!({"MaxParallel": 1});
    s.register(job("web", 1, "app:1", update)).await;
    s.converge().await;
    let status = s.get("/v1/job/web/scale").await.ok();
    insta::assert_json_snapshot!("job_scale_status", status);
    let before = s.job("web").await;
    let r = s
        .post(
            "/v1/job/web/scale",
            json!({"Count": 3, "Target": {"Group": "web"}}),
        )
        .await
        .ok();
    assert!(r["EvalID"].is_string(), "{r}");
    let after = s.job("web").await;
    assert_eq!(after["Version"], 1);
    assert_eq!(after["TaskGroups"][0]["Count"], 3);
    assert_ne!(after["JobModifyIndex"], before["JobModifyIndex"]);
    let d = s.latest_deployment("web").await;
    assert_eq!(d["JobVersion"], 1);
    assert_eq!(d["TaskGroups"]["web"]["DesiredTotal"], 3);
    // Refusals, with Nomad's texts; none changes the job.
    for (body, text) in [
        (
            json!({"Count": 2}),
            "missing task group name for scaling action",
        ),
        (
            json!({"Count": -1, "Target": {"Group": "web"}}),
            "scaling action count can't be negative",
        ),
        (
            json!({"Count": 2, "Target": {"Group": "db"}}),
            "task group \"db\" specified for scaling does not exist in job",
        ),
    ] {
        let r = s.post("/v1/job/web/scale", body).await;
        assert_eq!((r.status, r.text.as_str()), (400, text));
    }
    // A stale EnforceIndex is refused as a registration's is (409, R1).
    let r = s
        .post(
            "/v1/job/web/scale",
            json!({"Count": 2, "Target": {"Group": "web"}, "EnforceIndex": true, "JobModifyIndex": 1}),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (
            409,
            "Enforcing job modify index 1: job exists with conflicting job modify index: 6"
        )
    );
    assert_eq!(s.job("web").await["Version"], 1);
    // A scaling event without a count changes nothing.
    let r = s
        .post(
            "/v1/job/web/scale",
            json!({"Target": {"Group": "web"}, "Message": "hi"}),
        )
        .await
        .ok();
    assert_eq!(r["EvalID"], "", "{r}");
    assert_eq!(s.job("web").await["Version"], 1);
    let r = s
        .post(
            "/v1/job/nope/scale",
            json!({"Count": 1, "Target": {"Group": "web"}}),
        )
        .await;
    assert_eq!((r.status, r.text.as_str()), (404, "job \"nope\" not found"));
}

#[tokio::test]
async fn ev1_evaluate_creates_an_evaluation_and_launches_are_400() {
    let s = Server::deterministic(64).await;
    s.register(job("web", 1, "app:1", json!({}))).await;
    s.converge().await;
    let r = s.post("/v1/job/web/evaluate", json!({})).await.ok();
    let eval = r["EvalID"].as_str().expect("an evaluation").to_string();
    let e = s.get(&format!("/v1/evaluation/{eval}")).await.ok();
    assert_eq!(
        (e["TriggeredBy"].as_str(), e["Status"].as_str()),
        (Some("job-eval"), Some("pending"))
    );
    let r = s.post("/v1/job/nope/evaluate", json!({})).await;
    assert_eq!((r.status, r.text.as_str()), (404, "job \"nope\" not found"));
    let r = s.post("/v1/job/web/periodic/force", json!({})).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (400, "job \"web\" is not periodic")
    );
    let r = s.post("/v1/job/web/dispatch", json!({})).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (400, "Specified job \"web\" is not a parameterized job")
    );
    let r = s.post("/v1/job/nope/dispatch", json!({})).await;
    assert_eq!(r.status, 404);
}
