//! ACLs end to end on a real socket: the matrix, bootstrap, policy and token round
//! trips, the anonymous policy, and ACLs switched off.

use crate::common::client::job;
use crate::common::{acl_matrix, Server, T0};
use rollout_engine::{SeededStamp, VirtualClock};
use rollout_http::{Config, MemoryBackend};
use serde_json::json;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_of_endpoints_and_tokens() {
    acl_matrix::run(Server::with_acls).await;
}

#[tokio::test]
async fn bootstrap_once_then_again_with_the_reset_file() {
    let dir = std::env::temp_dir().join(format!("rollout-acl-reset-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let reset = dir.join("acl-bootstrap-reset");
    let _ = std::fs::remove_file(&reset);
    let config = Config {
        acl_enabled: true,
        acl_bootstrap_reset_file: Some(reset.clone()),
        ..Config::default()
    };
    let s = Server::with_config(Arc::new(MemoryBackend::new()), None, config).await;

    let first = s.put("/v1/acl/bootstrap", json!({})).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let index = first.index();
    let token = first.json();
    assert_eq!(token["Name"], "Bootstrap Token");
    assert_eq!(token["Type"], "management");
    assert_eq!(token["Global"], true);
    assert_eq!(token["ExpirationTTL"], "");
    assert!(token.get("ExpirationTime").is_none(), "omitted when unset");
    let secret = token["SecretID"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 36);
    // Declaration order, as Nomad's `ACLToken.MarshalJSON`.
    let keys: Vec<&str> = first
        .text
        .split("\":")
        .filter_map(|s| s.rsplit('"').next())
        .collect();
    assert_eq!(
        keys[..12],
        [
            "ExpirationTTL",
            "AccessorID",
            "SecretID",
            "Name",
            "Type",
            "Policies",
            "Roles",
            "Global",
            "Hash",
            "CreateTime",
            "CreateIndex",
            "ModifyIndex"
        ]
    );

    let again = s.request("POST", "/v1/acl/bootstrap", None).await;
    assert_eq!(
        (again.status, again.text.as_str()),
        (
            400,
            format!("ACL bootstrap already done (reset index: {index})").as_str()
        )
    );
    std::fs::write(&reset, "999\n").unwrap();
    let wrong = s.request("POST", "/v1/acl/bootstrap", None).await;
    assert_eq!(
        wrong.text,
        format!("Invalid bootstrap reset index (specified 999, reset index: {index})")
    );
    std::fs::write(&reset, format!("{index}\n")).unwrap();
    let reset_ok = s
        .put(
            "/v1/acl/bootstrap",
            json!({"BootstrapSecret": "3a5b9c3e-7f00-4e2c-9d3a-0c1e2d3f4a5b"}),
        )
        .await;
    assert_eq!(reset_ok.status, 200, "{}", reset_ok.text);
    assert_eq!(
        reset_ok.json()["SecretID"],
        "3a5b9c3e-7f00-4e2c-9d3a-0c1e2d3f4a5b"
    );
    // Both management tokens work.
    let m1 = s.with_token(&secret);
    let m2 = s.with_token("3a5b9c3e-7f00-4e2c-9d3a-0c1e2d3f4a5b");
    assert_eq!(
        m1.get("/v1/acl/tokens")
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        m2.get("/v1/acl/token/self").await.ok()["Type"],
        "management"
    );
    let bad = s
        .put("/v1/acl/bootstrap", json!({"BootstrapSecret": "nope"}))
        .await;
    assert_eq!((bad.status, bad.text.as_str()), (400, "invalid acl token"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn policy_round_trip_with_hcl() {
    let s = Server::with_acls().await;
    let secret = s.put("/v1/acl/bootstrap", json!({})).await.ok()["SecretID"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = s.with_token(&secret);
    let rules = "# operators of prod\nnamespace \"prod-*\" {\n  policy       = \"read\"\n  capabilities = [\"promote-deployment\"]\n}\nnamespace \"default\" { policy = \"deny\" }\n";
    let put = m
        .put(
            "/v1/acl/policy/prod-ops",
            json!({"Name": "prod-ops", "Description": "prod operators", "Rules": rules}),
        )
        .await;
    assert_eq!((put.status, put.text.as_str()), (200, ""));
    assert!(put.header("Content-Type").is_none());
    let created = put.index();

    let got = m.get("/v1/acl/policy/prod-ops").await;
    let p = got.ok();
    assert_eq!(got.index(), created);
    assert_eq!(p["Name"], "prod-ops");
    assert_eq!(p["Description"], "prod operators");
    assert_eq!(p["Rules"], rules);
    assert_eq!(p["CreateIndex"], created);
    assert_eq!(p["ModifyIndex"], created);
    assert_eq!(p["JobACL"], json!(null));
    assert_eq!(p["Hash"].as_str().unwrap().len(), 44, "base64 of 32 bytes");
    let ns = &p["RulesJSON"]["Namespaces"];
    assert_eq!(ns[0]["Name"], "prod-*");
    assert_eq!(ns[0]["Policy"], "read");
    let caps: Vec<&str> = ns[0]["Capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        caps[..4],
        ["promote-deployment", "list-jobs", "parse-job", "read-job"]
    );
    assert_eq!(ns[1]["Capabilities"], json!(["deny"]));
    assert_eq!(p["RulesJSON"]["Raw"], rules);

    let list = m.get("/v1/acl/policies").await.ok();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["Name"], "prod-ops");
    assert!(list[0].get("Rules").is_none());

    // Update (JSON rules this time): CreateIndex stays.
    let json_rules = r#"{"namespace": {"prod-*": {"policy": "write"}}}"#;
    let upd = m
        .put(
            "/v1/acl/policy/prod-ops",
            json!({"Name": "prod-ops", "Rules": json_rules}),
        )
        .await;
    assert_eq!(upd.status, 200, "{}", upd.text);
    let p = m.get("/v1/acl/policy/prod-ops").await.ok();
    assert_eq!(p["CreateIndex"], created);
    assert_eq!(p["ModifyIndex"], upd.index());
    assert_eq!(p["Rules"], json_rules);

    // A token holding it may read it and act on it.
    let t = m
        .put(
            "/v1/acl/token",
            json!({"Name": "ops", "Type": "client", "Policies": ["prod-ops"]}),
        )
        .await
        .ok();
    let ops = s.with_token(t["SecretID"].as_str().unwrap());
    assert_eq!(ops.get("/v1/acl/policy/prod-ops").await.status, 200);
    assert_eq!(ops.get("/v1/jobs?namespace=prod-eu").await.status, 200);
    assert_eq!(ops.get("/v1/jobs?namespace=dev").await.status, 403);

    // Refusals.
    let e = m
        .put(
            "/v1/acl/policy/other",
            json!({"Name": "prod-ops", "Rules": rules}),
        )
        .await;
    assert_eq!(
        (e.status, e.text.as_str()),
        (400, "ACL policy name does not match request path")
    );
    let e = m
        .put(
            "/v1/acl/policy/typo",
            json!({"Name": "typo", "Rules": "namespace \"default\" { polcy = \"read\" }"}),
        )
        .await;
    assert_eq!(
        (e.status, e.text.as_str()),
        (400, "policy 0 invalid: 1 error occurred:\n\t* failed to parse rules: Invalid or duplicate policy keys: polcy\n\n")
    );
    let e = m
        .put(
            "/v1/acl/policy/lister",
            json!({"Name": "lister", "Rules": "namespace \"default\" { policy = \"list\" }"}),
        )
        .await;
    assert_eq!(e.status, 400);
    assert!(
        e.text.starts_with("policy 0 invalid: 1 error occurred:\n\t* failed to parse rules: Invalid namespace policy: &acl.NamespacePolicy{Name:\"default\", Policy:\"list\""),
        "{}",
        e.text
    );
    let e = m
        .put(
            "/v1/acl/policy/empty",
            json!({"Name": "empty", "Rules": "# nothing here"}),
        )
        .await;
    assert_eq!(
        e.text,
        "policy 0 invalid: 1 error occurred:\n\t* failed to parse rules: Invalid policy: # nothing here\n\n"
    );

    // Delete, then it is gone.
    let del = m.delete("/v1/acl/policy/prod-ops").await;
    assert_eq!((del.status, del.text.as_str()), (200, ""));
    let gone = m.get("/v1/acl/policy/prod-ops").await;
    assert_eq!(
        (gone.status, gone.text.as_str()),
        (404, "ACL policy not found")
    );
    let again = m.delete("/v1/acl/policy/prod-ops").await;
    assert_eq!(
        (again.status, again.text.as_str()),
        (404, "ACL policy not found")
    );
    // The token lost what the policy granted.
    assert_eq!(ops.get("/v1/jobs?namespace=prod-eu").await.status, 403);
}

/// Nomad reads policy rules as HCL1: a block's items may share a line.
#[tokio::test]
async fn policy_rules_on_one_line_as_hcl1_reads_them() {
    let s = Server::with_acls().await;
    let secret = s.put("/v1/acl/bootstrap", json!({})).await.ok()["SecretID"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = s.with_token(&secret);
    let rules = r#"namespace "default" { policy = "read" capabilities = ["list-jobs"] } agent { policy = "read" }"#;
    let put = m
        .put(
            "/v1/acl/policy/one-line",
            json!({"Name": "one-line", "Rules": rules}),
        )
        .await;
    assert_eq!((put.status, put.text.as_str()), (200, ""));
    let p = m.get("/v1/acl/policy/one-line").await.ok();
    assert_eq!(p["Rules"], rules, "stored as written");
    let ns = &p["RulesJSON"]["Namespaces"][0];
    assert_eq!(ns["Name"], "default");
    assert_eq!(ns["Policy"], "read");
    assert_eq!(ns["Capabilities"][0], "list-jobs");
    assert_eq!(p["RulesJSON"]["Agent"]["Policy"], "read");

    let e = m
        .put(
            "/v1/acl/policy/broken",
            json!({"Name": "broken", "Rules": "agent { policy = \"read\" }\nnode { policy = }"}),
        )
        .await;
    assert_eq!(e.status, 400);
    assert!(
        e.text
            .contains("failed to parse rules: Failed to parse ACL Policy: At 2:17: "),
        "{}",
        e.text
    );
}

#[tokio::test]
async fn tokens_self_update_delete_and_secrets() {
    let s = Server::with_acls().await;
    let root = s.put("/v1/acl/bootstrap", json!({})).await.ok();
    let m = s.with_token(root["SecretID"].as_str().unwrap());
    let created = m
        .put(
            "/v1/acl/token",
            json!({"Name": "ci", "Type": "client", "Policies": ["a"], "ExpirationTTL": "1h"}),
        )
        .await;
    let t = created.ok();
    let (accessor, secret) = (
        t["AccessorID"].as_str().unwrap().to_owned(),
        t["SecretID"].as_str().unwrap().to_owned(),
    );
    assert_eq!(t["ExpirationTTL"], "1h0m0s");
    assert!(t["ExpirationTime"].is_string());
    assert_eq!(t["Policies"], json!(["a"]));

    // Self, by either header.
    let me = s.with_token(&secret).get("/v1/acl/token/self").await.ok();
    assert_eq!(me["AccessorID"], accessor.as_str());
    assert_eq!(me["SecretID"], secret.as_str());
    let bearer = reqwest::Client::new()
        .get(format!("{}/v1/acl/token/self", s.base))
        .header("Authorization", format!("Bearer {secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    let nobody = s.get("/v1/acl/token/self").await;
    assert_eq!(
        (nobody.status, nobody.text.as_str()),
        (404, "ACL token not found")
    );

    // Management reads it, but the secret is shown only to its owner.
    let read = m.get(&format!("/v1/acl/token/{accessor}")).await.ok();
    assert_eq!(read["SecretID"], "");
    assert_eq!(read["Name"], "ci");
    let listed = m.get("/v1/acl/tokens").await.ok();
    assert!(listed[1].get("SecretID").is_none());
    let unknown = m
        .get("/v1/acl/token/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(
        (unknown.status, unknown.text.as_str()),
        (404, "ACL token not found")
    );

    // Update: same secret, new name; immutable fields refused.
    let upd = m
        .put(
            &format!("/v1/acl/token/{accessor}"),
            json!({"AccessorID": accessor, "Name": "ci-2", "Type": "client", "Policies": ["a", "b"],
                   "ExpirationTTL": "1h", "ExpirationTime": t["ExpirationTime"]}),
        )
        .await;
    assert_eq!(upd.status, 200, "{}", upd.text);
    assert_eq!(upd.json()["SecretID"], "");
    assert_eq!(
        s.with_token(&secret).get("/v1/acl/token/self").await.ok()["Name"],
        "ci-2"
    );
    let e = m
        .put(
            &format!("/v1/acl/token/{accessor}"),
            json!({"AccessorID": "x", "Name": "n"}),
        )
        .await;
    assert_eq!(
        (e.status, e.text.as_str()),
        (400, "ACL token accessor does not match request path")
    );
    let e = m
        .put(
            "/v1/acl/token",
            json!({"Name": "bad", "Type": "management", "Policies": ["a"]}),
        )
        .await;
    assert_eq!(
        (e.status, e.text.as_str()),
        (400, "token 0 invalid: 1 error occurred:\n\t* management token cannot be associated with policies or roles\n\n")
    );

    // Delete: the secret stops working at once.
    let del = m.delete(&format!("/v1/acl/token/{accessor}")).await;
    assert_eq!((del.status, del.text.as_str()), (200, ""));
    let after = s.with_token(&secret).get("/v1/acl/token/self").await;
    assert_eq!(
        (after.status, after.text.as_str()),
        (403, "Permission denied")
    );
    let again = m.delete(&format!("/v1/acl/token/{accessor}")).await;
    assert_eq!(
        (again.status, again.text),
        (400, format!("Cannot delete nonexistent tokens: {accessor}"))
    );
}

#[tokio::test]
async fn the_anonymous_policy_applies_to_requests_without_a_token() {
    let s = Server::with_acls().await;
    let root = s.put("/v1/acl/bootstrap", json!({})).await.ok();
    let m = s.with_token(root["SecretID"].as_str().unwrap());
    assert_eq!(s.get("/v1/jobs").await.status, 403);
    m.put(
        "/v1/acl/policy/anonymous",
        json!({"Name": "anonymous", "Rules": "namespace \"default\" { policy = \"read\" }"}),
    )
    .await;
    assert_eq!(s.get("/v1/jobs").await.ok(), json!([]));
    assert_eq!(s.get("/v1/acl/policy/anonymous").await.status, 200);
    assert_eq!(
        s.put(
            "/v1/jobs",
            crate::common::client::job("web", 1, "x", json!({}))
        )
        .await
        .status,
        403
    );
    // A garbage token is not anonymous.
    assert_eq!(s.with_token("garbage").get("/v1/jobs").await.status, 403);
}

#[tokio::test]
async fn acls_off_means_everything_allowed_and_no_acl_endpoints() {
    let s = Server::start().await;
    assert_eq!(s.get("/v1/jobs").await.status, 200);
    assert_eq!(s.with_token("garbage").get("/v1/jobs").await.status, 200);
    for (method, path) in [
        ("PUT", "/v1/acl/bootstrap"),
        ("GET", "/v1/acl/policies"),
        ("GET", "/v1/acl/policy/x"),
        ("DELETE", "/v1/acl/policy/x"),
        ("GET", "/v1/acl/tokens"),
        ("GET", "/v1/acl/token/self"),
        ("GET", "/v1/acl/token/00000000-0000-4000-8000-000000000000"),
        (
            "DELETE",
            "/v1/acl/token/00000000-0000-4000-8000-000000000000",
        ),
    ] {
        let r = s.request(method, path, None).await;
        assert_eq!(
            (r.status, r.text.as_str()),
            (400, "ACL support disabled"),
            "{method} {path}"
        );
    }
    let r = s
        .put("/v1/acl/token", json!({"Name": "n", "Type": "management"}))
        .await;
    assert_eq!((r.status, r.text.as_str()), (400, "ACL support disabled"));
    assert_eq!(s.applied_index().await, 0);
}

#[tokio::test]
async fn not_there_and_not_yours_get_the_same_answer_on_every_endpoint_with_an_id() {
    let s = Server::with_acls().await;
    let compared = acl_matrix::not_there_equals_not_yours(&s).await;
    println!("{compared} pairs of answers compared");
}

/// A blocking query started with a token that is then revoked, loses its policy or
/// expires must not return data when it wakes: the token is checked again.
#[tokio::test]
async fn a_blocking_query_checks_its_token_again_when_it_wakes() {
    let clock = VirtualClock::new(T0);
    let backend = MemoryBackend::with_stamp(SeededStamp::new(8, clock.clone()));
    let config = Config {
        acl_enabled: true,
        ..Config::default()
    };
    let s = Server::with_config(Arc::new(backend), Some(clock.clone()), config).await;
    let boot = s.put("/v1/acl/bootstrap", json!({})).await.ok();
    let m = s.with_token(boot["SecretID"].as_str().unwrap());
    let rules = "namespace \"default\" {\n  policy = \"read\"\n}\n";
    for name in ["reader", "reader-2"] {
        let r = m
            .put(
                &format!("/v1/acl/policy/{name}"),
                json!({"Name": name, "Rules": rules}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    m.put("/v1/jobs", job("web", 1, "app:1", json!({})))
        .await
        .ok();
    let mut n = 0;
    for revoke in ["token deleted", "policy deleted", "token expired"] {
        let policy = if revoke == "policy deleted" {
            "reader-2"
        } else {
            "reader"
        };
        let t = m
            .put(
                "/v1/acl/token",
                json!({"Name": revoke, "Type": "client", "Policies": [policy], "ExpirationTTL": "1h"}),
            )
            .await
            .ok();
        let reader = s.with_token(t["SecretID"].as_str().unwrap());
        let index = reader.get("/v1/jobs").await.index();
        assert_eq!(reader.get("/v1/jobs").await.status, 200);
        let waiting = {
            let reader = reader.clone();
            tokio::spawn(async move {
                reader
                    .get(&format!("/v1/jobs?index={index}&wait=60s"))
                    .await
            })
        };
        s.gauge_reaches("rollout_blocking_queries_in_flight", 1)
            .await;
        match revoke {
            "token deleted" => {
                let accessor = t["AccessorID"].as_str().unwrap();
                let r = m.delete(&format!("/v1/acl/token/{accessor}")).await;
                assert_eq!(r.status, 200, "{}", r.text);
            }
            "policy deleted" => {
                let r = m.delete(&format!("/v1/acl/policy/{policy}")).await;
                assert_eq!(r.status, 200, "{}", r.text);
            }
            _ => {
                clock.advance(2 * 3_600_000_000_000);
            }
        }
        // A write wakes the query.
        n += 1;
        m.put("/v1/jobs", job(&format!("wake-{n}"), 1, "app:1", json!({})))
            .await
            .ok();
        let r = waiting.await.unwrap();
        assert_eq!(
            (r.status, r.text.as_str()),
            (403, "Permission denied"),
            "{revoke}: the woken query answered with data"
        );
    }
}
