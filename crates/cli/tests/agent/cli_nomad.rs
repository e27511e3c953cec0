//! The Nomad commands added for issue 13: `job scale`, `alloc status`, `eval status` and
//! `namespace list|status|apply|delete`, against the real agent, and `job run`'s exit 2
//! (placement failed) against a stand-in agent, since rollout's own engine leaves
//! placement to the embedder's scheduler and never reports a placement failure.

use crate::cli::{command, job_file, output, rollout, Normalizer};
use crate::common::client::job;
use crate::common::Agent;
use insta::assert_snapshot;
use serde_json::{json, Value};

/// Two groups, `web` and `api`, for the group checks of `job scale`.
fn two_groups(id: &str) -> Value {
    let mut body = job(id, 1, "app:1", json!({}));
    let mut api = body["Job"]["TaskGroups"][0].clone();
    api["Name"] = json!("api");
    if let Some(groups) = body["Job"]["TaskGroups"].as_array_mut() {
        groups.push(api);
    }
    body
}

#[tokio::test]
async fn job_scale_registers_the_count_as_a_new_version_and_checks_the_group() {
    let a = Agent::dev_external().await;
    let mut n = Normalizer::default();
    a.register(job("web", 2, "app:1", json!({"MaxParallel": 1})))
        .await;
    a.converge().await;

    // The only group may be left out; -detach prints the evaluation's ID.
    let out = rollout(&a, &["job", "scale", "-detach", "we", "3"]).await;
    assert_snapshot!("job_scale_detach", n.text(out.ok()));
    let job_now = a.job("web").await;
    assert_eq!(
        (
            job_now["Version"].as_u64(),
            job_now["TaskGroups"][0]["Count"].as_u64()
        ),
        (Some(1), Some(3))
    );
    let eval = out.ok().trim().trim_start_matches("Evaluation ID: ");
    let e = a.get(&format!("/v1/evaluation/{eval}")).await.ok();
    assert_eq!(e["JobID"], "web", "{e}");
    a.converge().await;

    // The group named, --json: the registration's answer.
    let out = rollout(&a, &["job", "scale", "web", "web", "1", "-detach", "-json"]).await;
    assert_snapshot!("job_scale_detach_json", n.json(out.ok()));
    assert_eq!(a.job("web").await["TaskGroups"][0]["Count"], 1);

    // -check-index: only while the job's modify index is still N.
    let index = a.job("web").await["JobModifyIndex"].as_u64().unwrap_or(0);
    let out = rollout(
        &a,
        &[
            "job",
            "scale",
            "-detach",
            "-check-index",
            &(index - 1).to_string(),
            "web",
            "2",
        ],
    )
    .await;
    assert_eq!(
        out.error(1),
        format!("Error submitting scaling request: Unexpected response code: 409 (Enforcing job modify index {}: job exists with conflicting job modify index: {index})", index - 1)
    );
    let out = rollout(
        &a,
        &[
            "job",
            "scale",
            "-detach",
            "-check-index",
            &index.to_string(),
            "web",
            "2",
        ],
    )
    .await;
    assert!(out.ok().starts_with("Evaluation ID: "), "{out:?}");

    // --dry-run: the agent's dry run of the scaling, nothing written.
    let before = a.job("web").await["Version"].clone();
    let out = rollout(&a, &["job", "scale", "--dry-run", "web", "5"]).await;
    assert!(
        out.ok().starts_with("Dry run: nothing was written"),
        "{out:?}"
    );
    assert_eq!(a.job("web").await["Version"], before);

    // Nomad's refusals: a group is needed, and must exist; the count is the agent's to
    // refuse, a count that is no number is bad usage (exit 2).
    a.register(two_groups("two")).await;
    let out = rollout(&a, &["job", "scale", "two", "2"]).await;
    assert_eq!(out.error(1), "Group name required");
    let out = rollout(&a, &["job", "scale", "two", "db", "2"]).await;
    assert_eq!(out.error(1), "Group db not found within job");
    let out = rollout(&a, &["job", "scale", "two", "api", "-detach", "--", "-1"]).await;
    assert_eq!(
        out.error(1),
        "Error submitting scaling request: Unexpected response code: 400 (scaling action count can't be negative)"
    );
    let out = rollout(&a, &["job", "scale", "two", "api", "many"]).await;
    assert_eq!(
        out.error(2),
        "Failed to convert count string to int: invalid digit found in string"
    );
    let out = rollout(&a, &["job", "scale", "two"]).await;
    assert_eq!(out.code, 2, "{out:?}");
    let out = rollout(&a, &["job", "scale", "nope", "2"]).await;
    assert_eq!(
        out.error(1),
        "No job with prefix or ID \"nope\" found in namespace \"default\""
    );
    a.stop().await;
}

#[tokio::test]
async fn job_scale_follows_the_deployment_like_job_run_and_exits_0_when_it_succeeds() {
    let a = Agent::dev().await;
    let update = json!({"MaxParallel": 1, "MinHealthyTime": 0});
    let (_dir, v0) = job_file(&job("web", 1, "app:1", update));
    rollout(&a, &["job", "run", &v0]).await.ok();

    let out = rollout(&a, &["job", "scale", "web", "2"]).await;
    let lines: Vec<&str> = out.ok().lines().collect();
    let d = a.latest_deployment("web").await;
    assert_eq!(d["JobVersion"], 1);
    let short = &d["ID"].as_str().unwrap_or_default()[..8];
    assert!(
        lines[0].starts_with("==> Monitoring evaluation \""),
        "{out:?}"
    );
    assert!(
        lines[1].ends_with("finished with status \"complete\""),
        "{out:?}"
    );
    assert_eq!(
        lines[2],
        format!("==> Monitoring deployment \"{short}\" (job \"web\", version 1)")
    );
    assert_eq!(
        lines.last().copied(),
        Some(
            format!("==> Deployment \"{short}\" successful: Deployment completed successfully")
                .as_str()
        ),
        "{out:?}"
    );
    assert_eq!(a.job("web").await["TaskGroups"][0]["Count"], 2);
    a.stop().await;
}

#[tokio::test]
async fn alloc_status_shows_nomads_layout_with_each_tasks_recent_events() {
    let a = Agent::dev_external().await;
    let mut n = Normalizer::default();
    let update = json!({"MaxParallel": 1, "Canary": 1});
    a.register(job("web", 1, "app:1", update.clone())).await;
    a.converge().await;
    a.register(job("web", 1, "app:2", update)).await;
    let canary = a.schedule().await.pop().expect("a canary");
    // The client reports the task's state and events (fixed times: stable dates).
    let t0: i64 = 1_800_000_000_000_000_000;
    let update = json!({"Allocations": [{
        "ID": canary, "ClientStatus": "running", "ClientDescription": "Tasks are running",
        "DeploymentStatus": {"Healthy": true, "Timestamp": "2027-01-15T08:00:10Z"},
        "TaskStates": {"app": {
            "State": "running", "Failed": false, "Restarts": 1,
            "StartedAt": "2027-01-15T08:00:05Z", "LastRestart": "2027-01-15T08:00:04Z",
            "Events": [
                {"Type": "Received", "Time": t0, "DisplayMessage": "Task received by client"},
                {"Type": "Restarting", "Time": t0 + 2_000_000_000, "Message": "Restart within policy"},
                {"Type": "Started", "Time": t0 + 5_000_000_000, "DisplayMessage": "Task started by client"}
            ]
        }}
    }]});
    a.post("/v1/engine/allocations/update", update).await.ok();

    let out = rollout(&a, &["alloc", "status", &canary[..7]]).await;
    assert_snapshot!("alloc_status_canary_with_task_events", n.text(out.ok()));
    let out = rollout(&a, &["alloc", "status", &canary, "-json"]).await;
    let v = out.json();
    assert_eq!(
        (v["ID"].as_str(), v["Job"]["Version"].as_u64()),
        (Some(canary.as_str()), Some(1))
    );
    // -verbose: whole IDs and dates.
    let out = rollout(&a, &["alloc", "status", "-verbose", &canary[..8]]).await;
    let text = out.ok();
    let alloc = a.get(&format!("/v1/allocation/{canary}")).await.ok();
    let eval = alloc["EvalID"].as_str().unwrap_or_default();
    assert!(
        text.contains(&format!("Eval ID             = {eval}\n")),
        "{text}"
    );
    let created = text
        .lines()
        .find(|l| l.starts_with("Created "))
        .unwrap_or_default();
    assert!(created.ends_with(" UTC") && created.contains('/'), "{text}");
    // `rollout status` shows an allocation the same way.
    let out = rollout(&a, &["status", &canary[..8]]).await;
    assert_eq!(
        n.text(out.ok()),
        n.text(rollout(&a, &["alloc", "status", &canary[..8]]).await.ok())
    );

    // An allocation whose tasks reported nothing: no task section; no deployment rows
    // for one outside any deployment.
    let out = rollout(&a, &["alloc", "status", "zz"]).await;
    assert_eq!(
        out.error(1),
        "Invalid allocation ID or prefix \"zz\": use hex digits and hyphens, as in a UUID"
    );
    let out = rollout(
        &a,
        &["alloc", "status", "5c0f0a8e-1234-4abc-9def-0123456789ab"],
    )
    .await;
    assert_eq!(
        out.error(1),
        "Error retrieving allocation: Unexpected response code: 404 (alloc not found)"
    );
    a.stop().await;
}

#[tokio::test]
async fn alloc_and_eval_status_refuse_an_ambiguous_prefix_listing_the_candidates() {
    let a = Agent::dev_external().await;
    // 17 allocations and 17 evaluations: at least two of each share a first hex digit.
    a.register(job("web", 17, "app:1", json!({}))).await;
    let allocs = a.schedule().await;
    for i in 0..16 {
        a.register(job(&format!("job-{i:02}"), 1, "app:1", json!({})))
            .await;
    }
    let evals: Vec<String> = a
        .get("/v1/evaluations")
        .await
        .ok()
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["ID"].as_str().map(str::to_owned))
        .collect();
    for (kind, ids) in [("alloc", &allocs), ("eval", &evals)] {
        assert!(ids.len() >= 17, "{kind}: {ids:?}");
        let first = (0..16)
            .map(|c| format!("{c:x}"))
            .find(|c| ids.iter().filter(|id| id.starts_with(c.as_str())).count() >= 2)
            .expect("two IDs share a first digit");
        let out = rollout(&a, &[kind, "status", &first]).await;
        assert_eq!(out.code, 1, "{out:?}");
        let what = if kind == "alloc" {
            "allocations"
        } else {
            "evaluations"
        };
        assert_eq!(
            out.stderr.lines().next(),
            Some(format!("Prefix {first:?} matched multiple {what}; use more of the ID:").as_str()),
            "{out:?}"
        );
        let mut listed: Vec<&str> = out
            .stderr
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| w.len() == 36)
            .collect();
        listed.sort_unstable();
        let mut expected: Vec<&str> = ids
            .iter()
            .map(String::as_str)
            .filter(|id| id.starts_with(first.as_str()))
            .collect();
        expected.sort_unstable();
        assert_eq!(listed, expected, "{kind}");
    }
    a.stop().await;
}

#[tokio::test]
async fn eval_status_shows_nomads_layout() {
    let a = Agent::dev_external().await;
    let mut n = Normalizer::default();
    a.register(job("web", 1, "app:1", json!({}))).await;
    a.schedule().await;
    let evals = a.get("/v1/job/web/evaluations").await.ok();
    let eval = evals[0]["ID"].as_str().unwrap_or_default().to_owned();

    let out = rollout(&a, &["eval", "status", &eval[..8]]).await;
    assert_snapshot!("eval_status_complete", n.text(out.ok()));
    let out = rollout(&a, &["eval", "status", &eval, "--json"]).await;
    assert_eq!(out.json()["ID"], eval.as_str());
    let out = rollout(&a, &["eval", "status", "-verbose", &eval[..5]]).await;
    let text = out.ok();
    assert!(
        text.starts_with(&format!("ID                 = {eval}\n")),
        "{text}"
    );
    assert!(
        text.ends_with("Previous Eval      = <none>\nNext Eval          = <none>\nBlocked Eval       = <none>\n"),
        "{text}"
    );
    // A pending evaluation (nothing has scheduled it yet).
    a.register(job("web", 2, "app:1", json!({}))).await;
    let pending = a
        .get("/v1/evaluations?status=pending")
        .await
        .ok()
        .as_array()
        .and_then(|l| l.first().cloned())
        .expect("a pending evaluation");
    let id = pending["ID"].as_str().unwrap_or_default();
    let out = rollout(&a, &["eval", "status", id]).await;
    assert_snapshot!("eval_status_pending", n.text(out.ok()));

    let out = rollout(
        &a,
        &["eval", "status", "5c0f0a8e-1234-4abc-9def-0123456789ab"],
    )
    .await;
    assert_eq!(
        out.error(1),
        "Error retrieving evaluation: Unexpected response code: 404 (eval not found)"
    );
    a.stop().await;
}

#[tokio::test]
async fn namespace_commands_apply_list_status_and_delete_with_nomads_texts() {
    let a = Agent::dev_external().await;
    let none = rollout(&a, &["namespace", "list"]).await;
    assert_snapshot!("namespace_list_default", none.ok());

    let out = rollout(
        &a,
        &["namespace", "apply", "-description", "The team", "team"],
    )
    .await;
    assert_eq!(out.ok(), "Successfully applied namespace \"team\"!\n");
    // An update keeps what it does not set.
    let out = rollout(&a, &["namespace", "apply", "-quota", "q1", "team"]).await;
    assert_eq!(out.ok(), "Successfully applied namespace \"team\"!\n");
    let ns = a.get("/v1/namespace/team").await.ok();
    assert_eq!(
        (ns["Description"].as_str(), ns["Quota"].as_str()),
        (Some("The team"), Some("q1"))
    );
    // From a specification file: Nomad's HCL, or its JSON.
    let dir = tempfile::tempdir().expect("tempdir");
    let hcl = dir.path().join("ops.hcl");
    std::fs::write(
        &hcl,
        "name = \"ops\"\ndescription = \"Operations\"\n\nmeta {\n  owner = \"sre\"\n}\n\ncapabilities {\n  enabled_task_drivers = [\"docker\", \"exec\"]\n}\n",
    )
    .expect("write");
    let hcl = hcl.to_str().unwrap_or_default();
    let out = rollout(&a, &["namespace", "apply", hcl]).await;
    assert_eq!(out.ok(), "Successfully applied namespace \"ops\"!\n");
    let js = dir.path().join("team-b.json");
    std::fs::write(&js, r#"{"Name": "team-b", "Description": "JSON"}"#).expect("write");
    let js = js.to_str().unwrap_or_default();
    let out = rollout(&a, &["namespace", "apply", "-description", "ignored", js]).await;
    assert_eq!(out.ok(), "Successfully applied namespace \"team-b\"!\n");
    assert_eq!(out.stderr, "Flags are ignored when a file is specified!\n");

    // `-` reads the specification from stdin.
    let mut cmd = command(&a.client.base, &["namespace", "apply", "-"]);
    cmd.stdin(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn rollout");
    if let Some(mut stdin) = child.stdin.take() {
        use tokio::io::AsyncWriteExt;
        stdin
            .write_all(b"name = \"piped\"\ndescription = \"From stdin\"\n")
            .await
            .expect("write stdin");
    }
    let piped = child.wait_with_output().await.expect("rollout ends");
    assert_eq!(
        (
            piped.status.code(),
            String::from_utf8_lossy(&piped.stdout).as_ref()
        ),
        (Some(0), "Successfully applied namespace \"piped\"!\n")
    );
    let out = rollout(&a, &["namespace", "delete", "piped"]).await;
    assert_eq!(out.ok(), "Successfully deleted namespace \"piped\"!\n");

    let list = rollout(&a, &["namespace", "list"]).await;
    assert_snapshot!("namespace_list", list.ok());
    let list = rollout(&a, &["namespace", "list", "-json"]).await;
    let names: Vec<Value> = list
        .json()
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| n["Name"].clone())
        .collect();
    assert_eq!(
        names,
        [
            json!("default"),
            json!("ops"),
            json!("team"),
            json!("team-b")
        ]
    );
    let status = rollout(&a, &["namespace", "status", "op"]).await;
    assert_snapshot!("namespace_status_from_hcl", status.ok());
    // An exact name wins over the longer names it starts.
    let status = rollout(&a, &["namespace", "status", "team"]).await;
    assert_snapshot!("namespace_status", status.ok());
    let out = rollout(&a, &["namespace", "status", "te"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_snapshot!("namespace_status_ambiguous", out.stderr);
    let out = rollout(&a, &["namespace", "status", "zz"]).await;
    assert_eq!(
        out.error(1),
        "Error retrieving namespaces: Namespace \"zz\" matched no namespaces"
    );

    // The agent's refusals, as Nomad prints them.
    let out = rollout(&a, &["namespace", "apply", "bad name"]).await;
    assert_eq!(
        out.error(1),
        "Error applying namespace: Unexpected response code: 400 (invalid name \"bad name\". Must match regex ^[a-zA-Z0-9-]{1,128}$)"
    );
    let out = rollout(&a, &["namespace", "delete", "default"]).await;
    assert_eq!(
        out.error(1),
        "Error deleting namespace: Unexpected response code: 400 (can not delete default namespace)"
    );
    let out = rollout(&a, &["namespace", "delete", "nope"]).await;
    assert_eq!(
        out.error(1),
        "Error deleting namespace: Unexpected response code: 404 (namespace not found)"
    );
    let mut in_team = job("web", 1, "app:1", json!({}));
    in_team["Job"]["Namespace"] = json!("team");
    a.register(in_team).await;
    let out = rollout(&a, &["namespace", "delete", "team"]).await;
    assert_eq!(
        out.error(1),
        "Error deleting namespace: Unexpected response code: 409 (namespace \"team\" has non-terminal jobs in regions: [global])"
    );
    // The agent has no dry run of namespace writes: refused, nothing written.
    let out = rollout(&a, &["namespace", "delete", "--dry-run", "team-b"]).await;
    assert_eq!(
        out.error(2),
        "--dry-run is not supported for namespace writes (the agent has no dry run of them)"
    );
    let out = rollout(&a, &["namespace", "delete", "team-b"]).await;
    assert_eq!(out.ok(), "Successfully deleted namespace \"team-b\"!\n");
    assert_eq!(a.get("/v1/namespace/team-b").await.status, 404);
    a.stop().await;
}

/// A stand-in agent that answers what `job run` and `job scale` ask: a registration
/// whose evaluation `eval` ended as given and, when `deployment` is an object, the
/// deployment the registration started. Serves until the test ends.
async fn stand_in_agent(eval: Value, deployment: Value) -> String {
    use axum::http::{header, StatusCode};
    use axum::routing::{get, put};
    const EVAL: &str = "e0000000-0000-4000-8000-000000000001";
    let answer = |v: Value| {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            v.to_string(),
        )
    };
    let registered = json!({"EvalID": EVAL, "EvalCreateIndex": 5, "JobModifyIndex": 5, "Index": 5});
    let job = json!({"ID": "web", "Namespace": "default", "Version": 0,
                     "TaskGroups": [{"Name": "web", "Count": 3}]});
    let scale =
        json!({"JobID": "web", "Namespace": "default", "TaskGroups": {"web": {"Desired": 1}}});
    let mut eval = eval;
    eval["ID"] = json!(EVAL);
    let app = axum::Router::new()
        .route("/v1/jobs", put(move || async move { answer(registered) }))
        .route("/v1/job/web", get(move || async move { answer(job) }))
        .route(
            "/v1/job/web/scale",
            get(move || async move { answer(scale) }).put(move || async move {
                answer(
                    json!({"EvalID": EVAL, "EvalCreateIndex": 5, "JobModifyIndex": 5, "Index": 5}),
                )
            }),
        )
        .route(
            "/v1/job/web/deployment",
            get(move || async move { answer(deployment) }),
        )
        .route(
            &format!("/v1/evaluation/{EVAL}"),
            get(move || async move { answer(eval) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn job_run_exits_2_when_the_evaluation_cannot_place_every_allocation() {
    // Nomad's documented codes for `job run`: 2 when allocations could not be placed.
    let unplaced = json!({"Status": "complete", "TriggeredBy": "job-register",
        "BlockedEval": "b0000000-0000-4000-8000-000000000002",
        "FailedTGAllocs": {"web": {"CoalescedFailures": 2, "NodesEvaluated": 0}}});
    let agent = stand_in_agent(unplaced.clone(), Value::Null).await;
    let (_dir, file) = job_file(&job("web", 3, "app:1", json!({})));
    let out = output(command(&agent, &["job", "run", &file])).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");
    assert_snapshot!("job_run_placement_failed", out.stdout);
    // -detach does not wait for the evaluation: 0.
    let out = output(command(&agent, &["job", "run", "-detach", &file])).await;
    assert_eq!(out.code, 0, "{out:?}");
    // `job scale` follows its evaluation the same way.
    let out = output(command(&agent, &["job", "scale", "web", "3"])).await;
    assert_eq!(out.code, 2, "{out:?}");

    // A blocked evaluation (still waiting for capacity) is a placement failure too.
    let blocked = json!({"Status": "blocked", "TriggeredBy": "queued-allocs"});
    let agent = stand_in_agent(blocked, Value::Null).await;
    let out = output(command(&agent, &["job", "run", &file])).await;
    assert_eq!(out.code, 2, "{out:?}");

    // Everything placed: 0.
    let placed = json!({"Status": "complete", "TriggeredBy": "job-register"});
    let agent = stand_in_agent(placed, Value::Null).await;
    let out = output(command(&agent, &["job", "run", &file])).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.ends_with("No deployment to monitor\n"),
        "{out:?}"
    );

    // A deployment that ends successful once capacity came: 0; one that fails: 1.
    let deployment = |status: &str, description: &str| {
        json!({"ID": "d0000000-0000-4000-8000-000000000003", "JobID": "web",
               "Namespace": "default", "JobVersion": 0, "Status": status,
               "StatusDescription": description, "CreateIndex": 5, "ModifyIndex": 9,
               "TaskGroups": {"web": {"DesiredTotal": 3, "PlacedAllocs": 3,
                                      "HealthyAllocs": 3, "UnhealthyAllocs": 0}}})
    };
    let agent = stand_in_agent(
        unplaced.clone(),
        deployment("successful", "Deployment completed successfully"),
    )
    .await;
    let out = output(command(&agent, &["job", "run", &file])).await;
    assert_eq!(out.code, 0, "{out:?}");
    let agent = stand_in_agent(
        unplaced,
        deployment("failed", "Failed due to progress deadline"),
    )
    .await;
    let out = output(command(&agent, &["job", "run", &file])).await;
    assert_eq!(out.code, 1, "{out:?}");
}

#[tokio::test]
async fn job_run_follows_a_job_into_the_namespace_its_file_names() {
    let a = Agent::dev().await;
    let update = json!({"MaxParallel": 1, "MinHealthyTime": 0});
    // The same job ID in `default`, at another version, must not be mistaken for it.
    let (_dir, in_default) = job_file(&job("web", 1, "app:1", update.clone()));
    rollout(&a, &["job", "run", &in_default]).await.ok();
    rollout(&a, &["job", "scale", "web", "2"]).await.ok();
    rollout(&a, &["namespace", "apply", "team"]).await.ok();
    let mut in_team = job("web", 1, "app:1", update);
    in_team["Job"]["Namespace"] = json!("team");
    let (_dir1, in_team) = job_file(&in_team);

    let out = rollout(&a, &["job", "run", &in_team]).await;
    let d = a.get("/v1/job/web/deployment?namespace=team").await.ok();
    let short = &d["ID"].as_str().unwrap_or_default()[..8];
    let lines: Vec<&str> = out.ok().lines().collect();
    assert!(
        lines[0].starts_with("Job \"web\" registered as version 0; evaluation \"")
            && lines[0].ends_with(&format!(", deployment \"{short}\"")),
        "{out:?}"
    );
    assert_eq!(
        lines.last().copied(),
        Some(
            format!("==> Deployment \"{short}\" successful: Deployment completed successfully")
                .as_str()
        ),
        "{out:?}"
    );
    a.stop().await;
}

/// `node status` lists the dev cluster's three nodes as Nomad's table, shows one by
/// prefix with its events and allocations, and `node eligibility -disable` marks it.
#[tokio::test]
async fn node_status_and_eligibility_against_the_dev_clusters_nodes() {
    let a = Agent::dev().await;
    let mut nodes = Value::Null;
    for _ in 0..100 {
        nodes = a.get("/v1/nodes").await.ok();
        if nodes.as_array().is_some_and(|n| n.len() == 3) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(nodes.as_array().map(Vec::len), Some(3), "{nodes}");
    let out = rollout(&a, &["node", "status"]).await;
    assert_snapshot!("node_status_list", out.ok());
    let out = rollout(&a, &["node", "status", "-verbose", "node-00"]).await;
    assert_eq!((out.code, out.stdout.as_str()), (1, ""));
    assert_eq!(
        out.stderr.trim_end(),
        "Prefix \"node-00\" matched multiple nodes; use more of the ID:\n\nID        Node Pool  DC   Name  Class   Address  Version  Drain  Eligibility  Status\nnode-000  default    dc1  n0    <none>           0.1.0    false  eligible     ready\nnode-001  default    dc1  n1    <none>           0.1.0    false  eligible     ready\nnode-002  default    dc1  n2    <none>           0.1.0    false  eligible     ready"
    );
    let out = rollout(&a, &["node", "eligibility", "-disable", "node-001"]).await;
    assert_eq!(
        out.ok().trim(),
        "Node \"node-001\" scheduling eligibility set: ineligible for scheduling"
    );
    let out = rollout(&a, &["node", "status", "node-001"]).await;
    let text = out.ok();
    assert!(text.contains("Eligibility   = ineligible"), "{text}");
    assert!(
        text.contains("Node marked as ineligible for scheduling"),
        "{text}"
    );
    assert!(text.contains("Allocations\n"), "{text}");
    let out = rollout(&a, &["node", "status", "-json", "node-001"]).await;
    let node: Value = serde_json::from_str(out.ok()).expect("json");
    assert_eq!(node["SchedulingEligibility"], "ineligible");
    let out = rollout(&a, &["node", "status", "nope"]).await;
    assert_eq!(out.error(1), "No node(s) with prefix \"nope\" found");
}
