//! Client nodes over HTTP (R12): registered through the ingest API, read with Nomad's
//! `/v1/nodes`, `/v1/node/:id` and `/v1/node/:id/allocations`, made (in)eligible, and
//! guarded by `node:read` / `node:write`. Shapes pinned with `insta`.

use crate::common::acl_matrix::{setup, Who};
use crate::common::client::job;
use crate::common::Server;
use serde_json::{json, Value};

fn node_1() -> Value {
    json!({"Node": {
        "ID": "node-1", "Name": "n1", "Datacenter": "dc1", "NodeClass": "web",
        "HTTPAddr": "10.0.0.1:4646", "Status": "ready",
        "Attributes": {"os.name": "debian", "kernel.name": "linux", "nomad.version": "1.9.0"},
        "Meta": {"rack": "r1"},
        "Drivers": {"docker": {"Detected": true, "Healthy": true}},
    }})
}

#[tokio::test]
async fn n1_n2_nodes_register_through_ingest_and_read_as_nomad_shapes_them() {
    let s = Server::deterministic(71).await;
    assert_eq!(s.get("/v1/nodes").await.ok(), json!([]));
    let r = s.put("/v1/engine/node/register", node_1()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let registered = r.index();
    insta::assert_json_snapshot!("node_register_response", r.json());
    let list = s.get("/v1/nodes").await;
    assert_eq!(list.index(), registered);
    insta::assert_json_snapshot!("nodes_list", list.json());
    let os = s.get("/v1/nodes?os=true").await.ok();
    assert_eq!(os[0]["Attributes"], json!({"os.name": "debian"}));
    let node = s.get("/v1/node/node-1").await;
    assert_eq!(node.index(), registered);
    insta::assert_json_snapshot!("node_full", node.json());
    // Prefixes select in ID order.
    s.put(
        "/v1/engine/node/register",
        json!({"Node": {"ID": "other-2", "Name": "o2", "Datacenter": "dc2"}}),
    )
    .await
    .ok();
    let ids: Vec<Value> = s
        .get("/v1/nodes?prefix=node")
        .await
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["ID"].clone())
        .collect();
    assert_eq!(ids, [json!("node-1")]);
    // A status change is dated and recorded.
    s.advance(30_000_000_000);
    let mut down = node_1();
    down["Node"]["Status"] = json!("down");
    s.put("/v1/engine/node/register", down).await.ok();
    let node = s.get("/v1/node/node-1").await.ok();
    assert_eq!(node["Status"], "down");
    assert_eq!(
        node["Events"][1]["Message"],
        json!("Node status changed to down")
    );
}

#[tokio::test]
async fn n1_invalid_registrations_and_unknown_nodes_have_nomads_texts() {
    let s = Server::start().await;
    let r = s
        .put("/v1/engine/node/register", json!({"Node": {"ID": "x"}}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text,
        "2 errors occurred:\n\t* missing node name for client registration\n\t* missing datacenter for client registration\n\n"
    );
    for path in ["/v1/node/nope", "/v1/node/nope/allocations"] {
        let r = s.get(path).await;
        assert_eq!(
            (r.status, r.text.as_str()),
            (404, "node not found"),
            "{path}"
        );
    }
    let r = s
        .put(
            "/v1/node/nope/eligibility",
            json!({"Eligibility": "eligible"}),
        )
        .await;
    assert_eq!((r.status, r.text.as_str()), (404, "node not found"));
    let r = s
        .put("/v1/engine/node/deregister", json!({"NodeIDs": ["nope"]}))
        .await;
    assert_eq!((r.status, r.text.as_str()), (404, "node not found"));
}

#[tokio::test]
async fn node_allocations_are_the_ones_placed_there_with_their_job() {
    let s = Server::start().await;
    s.put("/v1/engine/node/register", node_1()).await.ok();
    s.register(job("web", 2, "app:1", json!({}))).await;
    // The test scheduler binds everything to node-1.
    let placed = s.schedule().await;
    assert_eq!(placed.len(), 2);
    let allocs = s.get("/v1/node/node-1/allocations").await.ok();
    let mut ids: Vec<&str> = allocs
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ID"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut expected: Vec<&str> = placed.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(ids, expected);
    assert!(allocs
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["Job"]["ID"] == "web"));
    s.put(
        "/v1/engine/node/register",
        json!({"Node": {"ID": "node-2", "Name": "n2", "Datacenter": "dc1"}}),
    )
    .await
    .ok();
    assert_eq!(s.get("/v1/node/node-2/allocations").await.ok(), json!([]));
}

#[tokio::test]
async fn n3_eligibility_over_http_and_n4_deregistration() {
    let s = Server::deterministic(72).await;
    s.put("/v1/engine/node/register", node_1()).await.ok();
    let r = s
        .put(
            "/v1/node/node-1/eligibility",
            json!({"NodeID": "node-1", "Eligibility": "ineligible"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    insta::assert_json_snapshot!("node_eligibility_response", r.json());
    let node = s.get("/v1/node/node-1").await.ok();
    assert_eq!(node["SchedulingEligibility"], "ineligible");
    let r = s
        .put(
            "/v1/node/node-1/eligibility",
            json!({"NodeID": "node-2", "Eligibility": "eligible"}),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (400, "NodeID in request body does not match request path")
    );
    let r = s
        .put("/v1/engine/node/deregister", json!({"NodeIDs": ["node-1"]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(s.get("/v1/nodes").await.ok(), json!([]));
}

#[tokio::test]
async fn nodes_need_node_read_and_node_write_under_acls() {
    let s = Server::with_acls().await;
    let f = setup(&s).await;
    let m = s.with_token(&f.management);
    m.put("/v1/engine/node/register", node_1()).await.ok();
    let r = m
        .put(
            "/v1/acl/policy/nodes-read",
            json!({"Name": "nodes-read", "Rules": "node {\n  policy = \"read\"\n}\n"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t = m
        .put(
            "/v1/acl/token",
            json!({"Name": "ops", "Type": "client", "Policies": ["nodes-read"]}),
        )
        .await
        .ok();
    let reader = s.with_token(t["SecretID"].as_str().unwrap());
    assert_eq!(reader.get("/v1/nodes").await.status, 200);
    assert_eq!(reader.get("/v1/node/node-1").await.status, 200);
    let r = reader
        .put(
            "/v1/node/node-1/eligibility",
            json!({"Eligibility": "ineligible"}),
        )
        .await;
    assert_eq!((r.status, r.text.as_str()), (403, "Permission denied"));
    let r = reader.put("/v1/engine/node/register", node_1()).await;
    assert_eq!((r.status, r.text.as_str()), (403, "Permission denied"));
    // A namespace policy alone grants nothing about nodes.
    let job_reader = f.client(&s, Who::Read);
    let r = job_reader.get("/v1/nodes").await;
    assert_eq!((r.status, r.text.as_str()), (403, "Permission denied"));
}
