//! Jobspecs before registration: `/v1/jobs/parse`, `/v1/validate/job`,
//! `/v1/job/:id/plan` and `versions?diffs=true`, with their shapes pinned.

use crate::common::client::job;
use crate::common::Server;
use serde_json::{json, Value};

const SECOND: i64 = 1_000_000_000;

const WEB: &str = r#"
variable "image" {
  default = "app:1"
}

job "web" {
  group "web" {
    count = 2

    update {
      canary       = 1
      max_parallel = 1
    }

    task "app" {
      driver = "docker"

      config {
        image = var.image
      }

      env {
        ALLOC = "${NOMAD_ALLOC_ID}"
      }
    }
  }
}
"#;

fn update() -> Value {
    json!({"Canary": 1, "MaxParallel": 1})
}

#[tokio::test]
async fn jobs_parse_answers_the_api_job_with_defaults_only_when_canonicalized() {
    let s = Server::deterministic(1).await;
    let body = json!({"JobHCL": WEB, "Variables": "image = \"app:7\"\n"});
    let parsed = s.post("/v1/jobs/parse", body.clone()).await.ok();
    insta::assert_json_snapshot!("parse", parsed);
    // Nomad answers its `api.Job` as decoded: what the jobspec leaves unset is `null`
    // (pointers, lists, maps) or a Go zero value (non-pointers), never a default.
    assert_eq!(parsed.get("Priority"), Some(&Value::Null));
    assert_eq!(parsed.get("Type"), Some(&Value::Null));
    assert_eq!(parsed.get("Datacenters"), Some(&Value::Null));
    assert_eq!(parsed["Dispatched"], false);
    assert_eq!(
        parsed["TaskGroups"][0]["Update"]["MinHealthyTime"],
        Value::Null
    );
    assert_eq!(parsed["TaskGroups"][0]["RestartPolicy"], Value::Null);
    let task = &parsed["TaskGroups"][0]["Tasks"][0];
    assert_eq!(task["KillTimeout"], Value::Null);
    assert_eq!(task["Leader"], false);
    assert_eq!(task["User"], "");
    // `omitempty` fields stay out, as in Nomad.
    assert!(task.get("CSIPluginConfig").is_none());
    let mut canonical = body;
    canonical["Canonicalize"] = json!(true);
    let canonical = s.put("/v1/jobs/parse", canonical).await.ok();
    assert_eq!(canonical["Priority"], 50);
    assert_eq!(
        canonical["TaskGroups"][0]["Update"]["MinHealthyTime"],
        10 * SECOND
    );
    insta::assert_json_snapshot!("parse_canonicalized", canonical);
}

/// Nomad's JSON-jobs page shows `nomad job run -output` of the `nomad init` example (the
/// `api.Job` the parse endpoint answers): these are its values, nulls and zero values.
#[tokio::test]
async fn jobs_parse_of_the_init_example_is_the_json_nomad_documents() {
    let s = Server::deterministic(1).await;
    let hcl = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../jobspec/tests/corpus/example.nomad.hcl"),
    )
    .unwrap();
    let job = s.post("/v1/jobs/parse", json!({"JobHCL": hcl})).await.ok();
    for (key, value) in [
        ("Region", Value::Null),
        ("Namespace", Value::Null),
        ("ID", json!("example")),
        ("Name", json!("example")),
        ("Type", json!("service")),
        ("Priority", Value::Null),
        ("AllAtOnce", Value::Null),
        ("Datacenters", json!(["dc1"])),
        ("NodePool", json!("prod")),
        ("Constraints", Value::Null),
        ("Affinities", Value::Null),
    ] {
        assert_eq!(job.get(key), Some(&value), "{key}");
    }
    let group = &job["TaskGroups"][0];
    for (key, value) in [
        ("Name", json!("cache")),
        ("Count", json!(1)),
        ("Constraints", Value::Null),
        ("Disconnect", Value::Null),
        ("Affinities", Value::Null),
    ] {
        assert_eq!(group.get(key), Some(&value), "group {key}");
    }
    let task = &group["Tasks"][0];
    for (key, value) in [
        ("Name", json!("redis")),
        ("Driver", json!("docker")),
        ("User", json!("")),
        ("Lifecycle", Value::Null),
        (
            "Config",
            json!({"auth_soft_fail": true, "image": "redis:7", "ports": ["db"]}),
        ),
        ("Constraints", Value::Null),
        ("Affinities", Value::Null),
        ("Env", Value::Null),
        ("Services", Value::Null),
        ("RestartPolicy", Value::Null),
    ] {
        assert_eq!(task.get(key), Some(&value), "task {key}");
    }
    let resources = &task["Resources"];
    for (key, value) in [
        ("CPU", json!(500)),
        ("Cores", Value::Null),
        ("MemoryMB", json!(256)),
        ("MemoryMaxMB", Value::Null),
        ("DiskMB", Value::Null),
        ("Networks", Value::Null),
        ("Devices", Value::Null),
        ("IOPS", Value::Null),
    ] {
        assert_eq!(resources.get(key), Some(&value), "resources {key}");
    }
}

#[tokio::test]
async fn jobs_parse_refuses_hclv1_and_names_the_line_of_an_error() {
    let s = Server::deterministic(1).await;
    let v1 = s
        .post("/v1/jobs/parse", json!({"JobHCL": WEB, "HCLv1": true}))
        .await;
    assert_eq!(
        (v1.status, v1.text.as_str()),
        (400, "HCLv1 is not supported")
    );
    let bad = s
        .post(
            "/v1/jobs/parse",
            json!({"JobHCL": "job \"web\" {\n  group \"web\" {\n    cont = 2\n  }\n}\n"}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.text,
        "input.hcl:3,5: Unsupported argument; An argument named \"cont\" is not expected here. Did you mean \"count\"?"
    );
    let empty = s.post("/v1/jobs/parse", json!({})).await;
    assert_eq!(
        (empty.status, empty.text.as_str()),
        (400, "Job HCL must be specified")
    );
}

#[tokio::test]
async fn validate_job_lists_the_errors_registration_would_give() {
    let s = Server::deterministic(1).await;
    let ok = s
        .post("/v1/validate/job", job("web", 2, "app:1", update()))
        .await
        .ok();
    insta::assert_json_snapshot!("validate_ok", ok);
    let bad =
        json!({"Job": {"ID": "web", "TaskGroups": [{"Name": "web", "Count": -1, "Tasks": []}]}});
    let bad = s.post("/v1/validate/job", bad).await.ok();
    insta::assert_json_snapshot!("validate_errors", bad);
}

#[tokio::test]
async fn plan_is_a_dry_run_the_applied_index_does_not_move() {
    let s = Server::deterministic(1).await;
    s.register(job("web", 2, "app:1", update())).await;
    s.advance(SECOND);
    s.converge().await;
    s.advance(SECOND);
    let before = s.applied_index().await;
    let versions = s.get("/v1/job/web/versions").await.ok();
    let evals = s.get("/v1/job/web/evaluations").await.ok();

    let mut changed = job("web", 2, "app:2", update());
    changed["Diff"] = json!(true);
    let plan = s.put("/v1/job/web/plan", changed).await.ok();
    insta::assert_json_snapshot!("plan_destructive", plan);
    // Nothing failed: Nomad's nil map, `null`, not `{}`.
    assert_eq!(plan.get("FailedTGAllocs"), Some(&Value::Null));
    assert_eq!(plan["Annotations"]["DesiredTGUpdates"]["web"]["Canary"], 1);
    assert_eq!(plan["Annotations"]["DesiredTGUpdates"]["web"]["Ignore"], 2);

    let mut same = job("web", 2, "app:1", update());
    same["Diff"] = json!(true);
    let unchanged = s.put("/v1/job/web/plan", same).await.ok();
    assert_eq!(unchanged["Diff"]["Type"], "None");
    assert_eq!(
        unchanged["Diff"]["TaskGroups"][0]["Updates"],
        json!({"ignore": 2})
    );

    let mut new_job = job("api", 3, "api:1", update());
    new_job["Diff"] = json!(true);
    let added = s.put("/v1/job/api/plan", new_job).await.ok();
    insta::assert_json_snapshot!("plan_new_job", added);
    assert_eq!(added["JobModifyIndex"], 0);

    // Nothing was written: the same index, versions, evaluations; no job "api".
    assert_eq!(s.applied_index().await, before);
    assert_eq!(s.get("/v1/job/web/versions").await.ok(), versions);
    assert_eq!(s.get("/v1/job/web/evaluations").await.ok(), evals);
    assert_eq!(s.get("/v1/job/api").await.status, 404);

    let mismatch = s
        .put("/v1/job/other/plan", job("web", 1, "x", update()))
        .await;
    assert_eq!(
        (mismatch.status, mismatch.text.as_str()),
        (400, "Job ID does not match")
    );
}

#[tokio::test]
async fn versions_with_diffs_say_what_each_version_changed() {
    let s = Server::deterministic(1).await;
    s.register(job("web", 2, "app:1", update())).await;
    s.advance(SECOND);
    s.register(job("web", 3, "app:2", update())).await;
    let plain = s.get("/v1/job/web/versions").await.ok();
    assert_eq!(plain["Diffs"], Value::Null);
    let with = s.get("/v1/job/web/versions?diffs=true").await.ok();
    insta::assert_json_snapshot!("versions_diffs", with["Diffs"]);
}
