//! `--dev` with the built-in simulated cluster (R7): it places, starts and reports on
//! its own; the test only operates, and watches with blocking queries.

use crate::cli::rollout;
use crate::common::client::job;
use crate::common::{eventually, Agent};
use serde_json::{json, Value};

const SECOND_NS: i64 = 1_000_000_000;

fn allocs_of(list: &Value) -> Vec<Value> {
    list.as_array().expect("list").clone()
}

#[tokio::test]
async fn automatic_health_after_min_healthy_time() {
    let a = Agent::dev().await;
    let update = json!({"MaxParallel": 1, "MinHealthyTime": SECOND_NS,
                        "HealthyDeadline": 20 * SECOND_NS, "ProgressDeadline": 30 * SECOND_NS});
    a.register(job("web", 3, "app:1", update)).await;
    let d = a.latest_deployment_id("web").await;
    let dep = eventually(&a, &format!("/v1/deployment/{d}"), |d| {
        d["Status"] == "successful"
    })
    .await;
    assert_eq!(
        dep["StatusDescription"],
        "Deployment completed successfully"
    );
    assert_eq!(dep["TaskGroups"]["web"]["HealthyAllocs"], 3);
    let allocs = allocs_of(&a.get("/v1/job/web/allocations").await.ok());
    assert_eq!(allocs.len(), 3);
    for alloc in &allocs {
        assert_eq!(alloc["ClientStatus"], "running");
        assert_eq!(alloc["DeploymentStatus"]["Healthy"], true);
        assert!(alloc["NodeID"].as_str().unwrap().starts_with("node-"));
    }
    // The last health report created a follow-up evaluation; the cluster finishes it.
    eventually(&a, "/v1/evaluations?status=pending", |l| {
        l.as_array().unwrap().is_empty()
    })
    .await;
    a.stop().await;
}

#[tokio::test]
async fn manual_health_waits_for_the_operator() {
    let a = Agent::dev().await;
    let update = json!({"HealthCheck": "manual", "MinHealthyTime": 0});
    a.register(job("web", 2, "app:1", update)).await;
    let d = a.latest_deployment_id("web").await;
    let allocs = eventually(&a, &format!("/v1/deployment/allocations/{d}"), |l| {
        let l = l.as_array().unwrap();
        l.len() == 2 && l.iter().all(|x| x["ClientStatus"] == "running")
    })
    .await;
    assert!(allocs_of(&allocs)
        .iter()
        .all(|x| x["DeploymentStatus"].is_null()));
    assert_eq!(a.deployment(&d).await["Status"], "running");
    let ids: Vec<String> = allocs_of(&allocs)
        .iter()
        .map(|x| x["ID"].as_str().unwrap().to_owned())
        .collect();
    a.set_health(&d, &ids, &[]).await.ok();
    eventually(&a, &format!("/v1/deployment/{d}"), |d| {
        d["Status"] == "successful"
    })
    .await;
    a.stop().await;
}

#[tokio::test]
async fn a_bad_version_from_a_knob_is_rolled_back_automatically() {
    let a = Agent::dev().await;
    // Without a progress deadline the deployment fails at the first unhealthy allocation.
    let update = json!({"Canary": 1, "MaxParallel": 1, "AutoRevert": true,
                        "MinHealthyTime": 0, "ProgressDeadline": 0});
    a.register(job("web", 2, "app:1", update.clone())).await;
    let d0 = a.latest_deployment_id("web").await;
    eventually(&a, &format!("/v1/deployment/{d0}"), |d| {
        d["Status"] == "successful"
    })
    .await;

    let mut bad = job("web", 2, "app:2", update);
    bad["Job"]["Meta"] = json!({"rollout.sim.fail_to_start": "true", "rollout.sim.typo": "x"});
    a.register(bad).await;
    let d1 = a.latest_deployment_id("web").await;
    let dep = eventually(&a, &format!("/v1/deployment/{d1}"), |d| {
        d["Status"] == "failed"
    })
    .await;
    assert_eq!(
        dep["StatusDescription"],
        "Failed due to unhealthy allocations - rolling back to job version 0"
    );
    let job = a.job("web").await;
    assert_eq!(job["Version"], 2);
    assert_eq!(job["Meta"], Value::Null);
    assert_eq!(job["TaskGroups"][0]["Tasks"][0]["Config"]["image"], "app:1");
    let warning = a
        .log_line("fault knob ignored")
        .expect("the typo is logged");
    assert!(warning.contains("rollout.sim.typo"), "{warning}");
    a.stop().await;
}

/// The IDs in a list of allocation stubs that run and have no health yet.
fn running_without_health(list: &Value) -> Vec<String> {
    allocs_of(list)
        .iter()
        .filter(|x| x["ClientStatus"] == "running" && x["DeploymentStatus"]["Healthy"].is_null())
        .map(|x| x["ID"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until `n` allocations of deployment `d` run without health, marks them healthy.
async fn mark_healthy(a: &Agent, d: &str, n: usize) {
    let list = eventually(a, &format!("/v1/deployment/allocations/{d}"), |l| {
        running_without_health(l).len() == n
    })
    .await;
    a.set_health(d, &running_without_health(&list), &[])
        .await
        .ok();
}

#[tokio::test]
async fn pause_resume_fail_with_rollback_then_no_op_on_the_same_spec() {
    let a = Agent::dev().await;
    let update = json!({"Canary": 1, "MaxParallel": 1, "HealthCheck": "manual",
                        "AutoRevert": true, "ProgressDeadline": 0});
    a.register(job("web", 2, "app:1", update.clone())).await;
    let d0 = a.latest_deployment_id("web").await;
    mark_healthy(&a, &d0, 2).await;
    eventually(&a, &format!("/v1/deployment/{d0}"), |d| {
        d["Status"] == "successful"
    })
    .await;

    a.register(job("web", 2, "app:2", update)).await;
    let d1 = a.latest_deployment_id("web").await;
    eventually(&a, &format!("/v1/deployment/{d1}"), |d| {
        d["TaskGroups"]["web"]["PlacedCanaries"]
            .as_array()
            .is_some_and(|c| c.len() == 1)
    })
    .await;
    a.pause(&d1, true).await.ok();
    let dep = a.deployment(&d1).await;
    assert_eq!(
        (dep["Status"].as_str(), dep["StatusDescription"].as_str()),
        (Some("paused"), Some("Deployment is paused"))
    );
    a.pause(&d1, false).await.ok();
    assert_eq!(a.deployment(&d1).await["Status"], "running");

    // Failing by hand rolls back to the stable version 0, as version 2.
    let r = a.fail(&d1).await.ok();
    assert_eq!(r["RevertedJobVersion"], 0);
    assert_eq!(
        a.deployment(&d1).await["StatusDescription"],
        "Deployment marked as failed - rolling back to job version 0"
    );
    let job = a.job("web").await;
    assert_eq!(job["Version"], 2);
    assert_eq!(job["TaskGroups"][0]["Tasks"][0]["Config"]["image"], "app:1");

    // Version 2 has the stable spec: failing its deployment rolls nothing back.
    let d2 = a.latest_deployment_id("web").await;
    assert_ne!(d2, d1);
    let r = a.fail(&d2).await.ok();
    assert_eq!(r["RevertedJobVersion"], Value::Null);
    assert_eq!(
        a.deployment(&d2).await["StatusDescription"],
        "Deployment marked as failed - not rolling back to stable job version 2 as current job has same specification"
    );
    assert_eq!(a.job("web").await["Version"], 2);
    a.stop().await;
}

/// The agent's periodic GC removes the superseded deployment, its finished allocations and
/// old evaluations once they pass their thresholds; live objects stay.
#[tokio::test]
async fn garbage_collection_removes_what_a_finished_rollout_left() {
    let a = Agent::start(&[
        "--dev",
        "--gc-interval",
        "1s",
        "--deployment-gc-threshold",
        "1s",
        "--eval-gc-threshold",
        "1s",
    ])
    .await;
    let update = json!({"MaxParallel": 2, "MinHealthyTime": 0});
    a.register(job("web", 2, "app:1", update.clone())).await;
    let d0 = a.latest_deployment_id("web").await;
    eventually(&a, &format!("/v1/deployment/{d0}"), |d| {
        d["Status"] == "successful"
    })
    .await;
    a.register(job("web", 2, "app:2", update)).await;
    let d1 = a.latest_deployment_id("web").await;
    assert_ne!(d0, d1);
    eventually(&a, &format!("/v1/deployment/{d1}"), |d| {
        d["Status"] == "successful"
    })
    .await;
    // The first deployment goes once its allocations are stopped and old enough.
    eventually(&a, "/v1/job/web/deployments", |l| {
        l.as_array().unwrap().iter().all(|d| d["ID"] != d0.as_str())
    })
    .await;
    let allocs = eventually(&a, "/v1/job/web/allocations", |l| {
        l.as_array().unwrap().len() == 2
    })
    .await;
    assert!(allocs
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["ClientStatus"] == "running"));
    assert_eq!(
        a.deployment(&d1).await["Status"],
        "successful",
        "the live deployment stays"
    );
    assert!(a.log_line("garbage collected").is_some());
    // Garbage collection writes as `gc` (issue 16), the dev cluster as the scheduler
    // and a client.
    let metrics = a.get("/v1/metrics?format=prometheus").await.text;
    for line in [
        r#"rollout_commands_applied_total{actor="gc",command="gc_deployments"}"#,
        r#"rollout_commands_applied_total{actor="scheduler",command="apply_plan_result"}"#,
        r#"rollout_commands_applied_total{actor="client",command="update_allocs_from_client"}"#,
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    a.stop().await;
}

// --- task states (issue 14): the simulated clients report them as Nomad's client does ---

/// `web` with a second task, `sidecar`, whose kill timeout is 2 s.
fn two_task_job(count: i64, image: &str, update: Value) -> Value {
    let mut j = job("web", count, image, update);
    let tasks = j["Job"]["TaskGroups"][0]["Tasks"]
        .as_array_mut()
        .expect("tasks");
    tasks.push(
        json!({"Name": "sidecar", "Driver": "docker", "KillTimeout": 2 * SECOND_NS,
                      "Config": {"image": "envoy:1"}}),
    );
    j
}

/// `(Type, DisplayMessage)` of each event of `task` in an allocation.
fn task_events(alloc: &Value, task: &str) -> Vec<(String, String)> {
    alloc["TaskStates"][task]["Events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events for {task}: {alloc}"))
        .iter()
        .map(|e| {
            (
                e["Type"].as_str().unwrap_or_default().to_owned(),
                e["DisplayMessage"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(t, m)| (t.to_string(), m.to_string()))
        .collect()
}

const STARTED: [(&str, &str); 3] = [
    ("Received", "Task received by client"),
    ("Task Setup", "Building Task Directory"),
    ("Started", "Task started by client"),
];

#[tokio::test]
async fn a_running_allocation_shows_its_tasks_running_with_the_clients_events() {
    let a = Agent::dev().await;
    let update = json!({"MaxParallel": 1, "MinHealthyTime": 0});
    a.register(two_task_job(1, "app:1", update)).await;
    let list = eventually(&a, "/v1/job/web/allocations", |l| {
        allocs_of(l).iter().any(|x| x["ClientStatus"] == "running")
    })
    .await;
    let id = allocs_of(&list)[0]["ID"].as_str().unwrap().to_owned();
    let alloc = a.get(&format!("/v1/allocation/{id}")).await.ok();
    let created = alloc["CreateTime"].as_i64().expect("CreateTime");
    for task in ["app", "sidecar"] {
        let state = &alloc["TaskStates"][task];
        assert_eq!(state["State"], "running", "{task}: {state}");
        assert_eq!(state["Failed"], false);
        assert_eq!(state["Restarts"], 0);
        assert!(state["StartedAt"].is_string(), "{state}");
        assert_eq!(state["FinishedAt"], Value::Null);
        assert_eq!(task_events(&alloc, task), pairs(&STARTED), "{task}");
        // `Time` is Unix nanoseconds, from placement on.
        let times: Vec<i64> = state["Events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Time"].as_i64().expect("integer Time"))
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        assert!(times[0] >= created, "{times:?} {created}");
    }
    // The lists carry the same task states.
    let list = a.get("/v1/allocations").await.ok();
    let stub = allocs_of(&list)
        .into_iter()
        .find(|x| x["ID"] == id.as_str())
        .expect("listed");
    assert_eq!(stub["TaskStates"], alloc["TaskStates"]);
    // And `alloc status` prints them as Nomad's does.
    let out = rollout(&a, &["alloc", "status", &id]).await;
    let text = out.ok();
    for want in [
        "Task \"app\" is \"running\"",
        "Task received by client",
        "Building Task Directory",
        "Task started by client",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    a.stop().await;
}

#[tokio::test]
async fn a_replaced_allocation_shows_its_tasks_killed_not_failed() {
    let a = Agent::dev().await;
    let update = json!({"MaxParallel": 1, "MinHealthyTime": 0});
    a.register(two_task_job(1, "app:1", update.clone())).await;
    let d0 = a.latest_deployment_id("web").await;
    eventually(&a, &format!("/v1/deployment/{d0}"), |d| {
        d["Status"] == "successful"
    })
    .await;
    a.register(two_task_job(1, "app:2", update)).await;
    let list = eventually(&a, "/v1/job/web/allocations", |l| {
        allocs_of(l).iter().any(|x| x["ClientStatus"] == "complete")
    })
    .await;
    let old = allocs_of(&list)
        .into_iter()
        .find(|x| x["ClientStatus"] == "complete")
        .expect("the replaced allocation");
    let old = a
        .get(&format!("/v1/allocation/{}", old["ID"].as_str().unwrap()))
        .await
        .ok();
    for (task, waiting) in [("app", "5s"), ("sidecar", "2s")] {
        let mut expected = STARTED.to_vec();
        let killing = format!("Sent interrupt. Waiting {waiting} before force killing");
        expected.push(("Killing", &killing));
        expected.push(("Killed", "Task successfully killed"));
        assert_eq!(task_events(&old, task), pairs(&expected), "{task}");
        let state = &old["TaskStates"][task];
        assert_eq!(
            (state["State"].as_str(), state["Failed"].as_bool()),
            (Some("dead"), Some(false))
        );
        assert!(state["FinishedAt"].is_string(), "{state}");
    }
    a.stop().await;
}

#[tokio::test]
async fn a_failed_allocation_shows_the_exit_code_the_restart_policy_and_the_killed_sibling() {
    let a = Agent::dev().await;
    let mut bad = two_task_job(1, "app:1", json!({"MaxParallel": 1, "MinHealthyTime": 0}));
    bad["Job"]["Meta"] = json!({"rollout.sim.fail_to_start": "true"});
    bad["Job"]["TaskGroups"][0]["RestartPolicy"] = json!({"Attempts": 0, "Mode": "fail"});
    a.register(bad).await;
    let list = eventually(&a, "/v1/job/web/allocations", |l| {
        allocs_of(l).iter().any(|x| x["ClientStatus"] == "failed")
    })
    .await;
    let failed = allocs_of(&list)
        .into_iter()
        .find(|x| x["ClientStatus"] == "failed")
        .expect("a failed allocation");
    let failed = a
        .get(&format!(
            "/v1/allocation/{}",
            failed["ID"].as_str().unwrap()
        ))
        .await
        .ok();
    let mut app = STARTED.to_vec();
    app.push(("Terminated", "Exit Code: 1"));
    app.push(("Not Restarting", "Policy allows no restarts"));
    assert_eq!(task_events(&failed, "app"), pairs(&app));
    let state = &failed["TaskStates"]["app"];
    assert_eq!(
        (state["State"].as_str(), state["Failed"].as_bool()),
        (Some("dead"), Some(true))
    );
    assert_eq!(state["Events"][3]["ExitCode"], 1);
    assert_eq!(state["Events"][4]["FailsTask"], true);

    let mut sidecar = STARTED.to_vec();
    sidecar.push(("Sibling Task Failed", "Task's sibling \"app\" failed"));
    sidecar.push(("Killing", "Sent interrupt. Waiting 2s before force killing"));
    sidecar.push(("Killed", "Task successfully killed"));
    assert_eq!(task_events(&failed, "sidecar"), pairs(&sidecar));
    let state = &failed["TaskStates"]["sidecar"];
    assert_eq!(
        (state["State"].as_str(), state["Failed"].as_bool()),
        (Some("dead"), Some(false))
    );
    a.stop().await;
}

/// `rollout what-if` continues the agent's state in the simulator: with canaries that
/// fail, the running canary deployment fails and rolls back there — while the agent's
/// own deployment is untouched. With healthy canaries it waits for the manual promotion.
#[tokio::test]
async fn what_if_tells_how_a_running_deployment_ends_without_touching_the_agent() {
    let a = Agent::dev().await;
    let update = json!({"Canary": 1, "MaxParallel": 1, "AutoRevert": true,
                        "MinHealthyTime": 1_000_000_000i64, "HealthyDeadline": 20_000_000_000i64,
                        "ProgressDeadline": 60_000_000_000i64});
    a.register(job("web", 2, "app:1", update.clone())).await;
    let d0 = a.latest_deployment_id("web").await;
    eventually(&a, &format!("/v1/deployment/{d0}"), |d| {
        d["Status"] == "successful"
    })
    .await;
    a.register(job("web", 2, "app:2", update)).await;
    let d1 = a.latest_deployment_id("web").await;
    let before = a.applied_index().await;
    let out = rollout(&a, &["what-if", &d1[..8], "--assume", "canary-fails"]).await;
    let text = out.ok();
    assert!(
        text.starts_with(&format!(
            "What if deployment {} (job \"web\" version 1",
            &d1[..8]
        )),
        "{text}"
    );
    assert!(text.contains("auto-revert"), "{text}");
    assert!(
        text.contains(&format!("Deployment {} failed after", &d1[..8])),
        "{text}"
    );
    let healthy = rollout(&a, &["what-if", &d1, "-json"]).await;
    let v: Value = serde_json::from_str(healthy.ok()).expect("json");
    assert_eq!(v["Assumption"], "healthy");
    assert_eq!(
        v["End"], "Quiet",
        "a manual promotion is never assumed: {v}"
    );
    assert_eq!(v["Deployment"]["Status"], "running");
    // The agent wrote nothing because of it: its deployment goes on as its own
    // (healthy) canary allows.
    let dep = a.deployment(&d1).await;
    assert_ne!(dep["Status"], "failed", "{dep}");
    assert!(a.applied_index().await >= before);
    let out = rollout(&a, &["what-if", "ffffffff"]).await;
    assert_eq!(
        out.error(1),
        "No deployment with prefix or ID \"ffffffff\" found"
    );
}

/// Issue 16: the dev cluster's writes are recorded as a real cluster's would be — plans
/// and acks by the scheduler, allocation updates by a client — and the operator's own
/// registration as the operator's.
#[tokio::test]
async fn history_shows_the_dev_clusters_scheduler_and_client_as_actors() {
    let a = Agent::dev().await;
    let update = json!({"MaxParallel": 1, "MinHealthyTime": 0,
                        "HealthyDeadline": 20 * SECOND_NS, "ProgressDeadline": 30 * SECOND_NS});
    a.register(job("web", 2, "app:1", update)).await;
    let d = a.latest_deployment_id("web").await;
    eventually(&a, &format!("/v1/deployment/{d}"), |d| {
        d["Status"] == "successful"
    })
    .await;
    let history = a.get(&format!("/v1/deployment/{d}/history")).await.ok();
    let by_type: Vec<(String, Value)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["Type"].as_str().unwrap_or("").to_string(),
                e["Actor"].clone(),
            )
        })
        .collect();
    let actor_of = |t: &str| {
        by_type
            .iter()
            .find(|(ty, _)| ty == t)
            .map(|(_, a)| a.clone())
            .unwrap_or_else(|| panic!("no {t} write: {by_type:?}"))
    };
    assert_eq!(actor_of("JobRegistered"), json!({"Kind": "operator"}));
    assert_eq!(actor_of("PlanResult"), json!({"Kind": "scheduler"}));
    assert_eq!(actor_of("AllocationUpdated"), json!({"Kind": "client"}));
    let why = rollout(&a, &["deployment", "why", &d]).await;
    let text = why.ok().to_string();
    assert!(text.contains("(JobRegistered) by operator:"), "{text}");
    a.stop().await;
}
