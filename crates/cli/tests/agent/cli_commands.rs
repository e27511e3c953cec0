//! The operator commands against `rollout agent --dev --dev-scheduler external`: the
//! test schedules and reports (R6), so every state the commands print is the same on
//! every run; snapshots hold their human and `--json` output with IDs, indexes and
//! times normalized.

use crate::cli::{command, job_file, output, rollout, Normalizer};
use crate::common::client::job;
use crate::common::Agent;
use insta::assert_snapshot;
use serde_json::{json, Value};

#[tokio::test]
async fn deployment_commands() {
    let a = Agent::dev_external().await;
    let mut n = Normalizer::default();
    let update = json!({"Canary": 1, "MaxParallel": 1, "AutoRevert": true});
    a.register(job("web", 2, "app:1", update.clone())).await;
    a.converge().await;
    a.register(job("web", 2, "app:2", update.clone())).await;
    let d = a.latest_deployment_id("web").await;
    let short = &d[..8];
    let canaries = a.schedule().await;
    assert_eq!(canaries.len(), 1);
    a.report(&canaries, None).await;

    let list = rollout(&a, &["deployment", "list"]).await;
    assert_snapshot!("deployment_list", n.text(list.ok()));
    let list = rollout(&a, &["deployment", "list", "--json"]).await;
    assert_eq!(list.json().as_array().map(Vec::len), Some(2));
    assert_snapshot!("deployment_list_json", n.json(list.ok()));
    let status = rollout(&a, &["deployment", "status", short]).await;
    assert_snapshot!("deployment_status_canary_placed", n.text(status.ok()));
    let status = rollout(&a, &["deployment", "status", &d, "--json"]).await;
    assert_eq!(status.json()["ID"], d.as_str());
    assert_snapshot!("deployment_status_json", n.json(status.ok()));

    // Refused by the engine: one line with the server's message, exit 1.
    let refused = rollout(&a, &["deployment", "promote", short]).await;
    assert_eq!(
        refused.error(1),
        "Error promoting deployment: Unexpected response code: 409 (Task group \"web\" has 0/1 healthy allocations)"
    );

    // Allocations by prefix too.
    let health = rollout(
        &a,
        &[
            "deployment",
            "health",
            short,
            "--healthy",
            &canaries[0][..6],
        ],
    )
    .await;
    assert_snapshot!("deployment_health", n.text(health.ok()));
    let pause = rollout(&a, &["deployment", "pause", short]).await;
    assert_snapshot!("deployment_pause", n.text(pause.ok()));
    assert_eq!(a.deployment(&d).await["Status"], "paused");
    let resume = rollout(&a, &["deployment", "resume", short, "--json"]).await;
    assert_snapshot!("deployment_resume_json", n.json(resume.ok()));
    let promote = rollout(&a, &["deployment", "promote", short, "--group", "web"]).await;
    assert_snapshot!("deployment_promote", n.text(promote.ok()));
    a.converge().await;
    let status = rollout(&a, &["deployment", "status", short]).await;
    assert_snapshot!("deployment_status_successful", n.text(status.ok()));
    let refused = rollout(&a, &["deployment", "fail", short]).await;
    assert_eq!(
        refused.error(1),
        "Error failing deployment: Unexpected response code: 409 (can't fail terminal deployment)"
    );

    // A third version with an unhealthy canary: marking it so fails the deployment at
    // once (Nomad's rule) and rolls back to version 1, as version 3.
    a.register(job("web", 2, "app:3", update.clone())).await;
    let d2 = a.latest_deployment_id("web").await;
    let canaries = a.schedule().await;
    a.report(&canaries, None).await;
    let health = rollout(
        &a,
        &[
            "deployment",
            "health",
            &d2,
            "--unhealthy",
            &canaries[0],
            "--json",
        ],
    )
    .await;
    assert_eq!(health.json()["RevertedJobVersion"], 1);
    assert_snapshot!("deployment_health_unhealthy_json", n.json(health.ok()));
    let refused = rollout(&a, &["deployment", "fail", &d2[..8]]).await;
    assert_eq!(
        refused.error(1),
        "Error failing deployment: Unexpected response code: 409 (can't fail terminal deployment)"
    );
    a.converge().await;

    // Version 4, failed by hand: rolled back to the stable version 3, as version 5.
    a.register(job("web", 2, "app:4", update)).await;
    let d4 = a.latest_deployment_id("web").await;
    let fail = rollout(&a, &["deployment", "fail", &d4[..7]]).await;
    assert_snapshot!("deployment_fail_with_rollback", n.text(fail.ok()));
    let job = a.job("web").await;
    assert_eq!(
        (
            job["Version"].as_u64(),
            &job["TaskGroups"][0]["Tasks"][0]["Config"]["image"]
        ),
        (Some(5), &json!("app:2"))
    );
    let list = rollout(&a, &["deployment", "list"]).await;
    assert_snapshot!("deployment_list_after_rollback", n.text(list.ok()));
    a.stop().await;
}

#[tokio::test]
async fn job_commands() {
    let a = Agent::dev_external().await;
    let mut n = Normalizer::default();
    let update = json!({"MaxParallel": 1, "AutoRevert": true});
    let (_dir, v0) = job_file(&job("web", 2, "app:1", update.clone()));
    // The test schedules here: `-detach` returns without waiting for it.
    let run = rollout(&a, &["job", "run", "-detach", &v0]).await;
    assert_snapshot!("job_run", n.text(run.ok()));
    a.converge().await;
    let again = rollout(&a, &["job", "run", &v0, "-detach"]).await;
    assert_snapshot!("job_run_unchanged", n.text(again.ok()));
    let conflict = rollout(&a, &["job", "run", &v0, "--check-index", "0"]).await;
    assert_eq!(
        conflict.error(1),
        "Error registering job: Unexpected response code: 409 (Enforcing job modify index 0: job already exists)"
    );

    // The bare job object is accepted too, and --check-index with the current index.
    let index = a.job("web").await["JobModifyIndex"].to_string();
    let bare = job("web", 2, "app:2", update)["Job"].clone();
    let (_dir1, v1) = job_file(&bare);
    let run = rollout(
        &a,
        &[
            "job",
            "run",
            &v1,
            "--check-index",
            &index,
            "--json",
            "--detach",
        ],
    )
    .await;
    assert_snapshot!("job_run_json", n.json(run.ok()));
    a.converge().await;

    let status = rollout(&a, &["job", "status", "web"]).await;
    assert_snapshot!("job_status", n.text(status.ok()));
    let status = rollout(&a, &["job", "status", "we", "--json"]).await;
    let value = status.json();
    assert_eq!(value["Job"]["Version"], 1);
    assert_eq!(value["LatestDeployment"]["Status"], "successful");
    assert_eq!(value["Allocations"].as_array().map(Vec::len), Some(4));
    assert_snapshot!("job_status_json", n.json(status.ok()));
    let history = rollout(&a, &["job", "history", "web"]).await;
    assert_snapshot!("job_history", n.text(history.ok()));
    let history = rollout(&a, &["job", "history", "web", "--json"]).await;
    assert_eq!(history.json()[0]["Version"], 1);

    let unstable = rollout(&a, &["job", "stable", "web", "0", "--unstable"]).await;
    assert_eq!(
        unstable.ok().trim(),
        "Job \"web\" version 0 marked unstable"
    );
    assert_eq!(
        a.get("/v1/job/web/versions").await.ok()["Versions"][1]["Stable"],
        false
    );
    let stable = rollout(&a, &["job", "stable", "web", "0", "--json"]).await;
    assert_snapshot!("job_stable_json", n.json(stable.ok()));
    let revert = rollout(&a, &["job", "revert", "web", "0"]).await;
    assert_snapshot!("job_revert", n.text(revert.ok()));
    let job = a.job("web").await;
    assert_eq!(
        (
            job["Version"].as_u64(),
            &job["TaskGroups"][0]["Tasks"][0]["Config"]["image"]
        ),
        (Some(2), &json!("app:1"))
    );
    let refused = rollout(&a, &["job", "revert", "web", "2"]).await;
    assert_eq!(
        refused.error(1),
        "Error reverting job: Unexpected response code: 409 (can't revert to current version)"
    );

    let stop = rollout(&a, &["job", "stop", "web"]).await;
    assert_snapshot!("job_stop", n.text(stop.ok()));
    assert_eq!(a.job("web").await["Stop"], true);
    let purge = rollout(&a, &["job", "stop", "web", "--purge", "--json"]).await;
    assert_snapshot!("job_stop_purge_json", n.json(purge.ok()));
    let gone = rollout(&a, &["job", "status", "web"]).await;
    assert_eq!(
        gone.error(1),
        "No job with prefix or ID \"web\" found in namespace \"default\""
    );
    a.stop().await;
}

#[tokio::test]
async fn nomads_job_commands_and_top_level_status() {
    let a = Agent::dev_external().await;
    let mut n = Normalizer::default();
    let none = rollout(&a, &["job", "status"]).await;
    assert_eq!(none.ok().trim(), "No running jobs");
    let update = json!({"Canary": 1, "MaxParallel": 1});
    a.register(job("web", 2, "app:1", update.clone())).await;
    a.converge().await;
    a.register(job("api", 1, "api:1", json!({}))).await;
    a.converge().await;

    // `job status` without an ID: Nomad's table of jobs.
    let list = rollout(&a, &["job", "status"]).await;
    assert_snapshot!("job_status_list", n.text(list.ok()));
    let list = rollout(&a, &["job", "status", "--json"]).await;
    assert_eq!(list.json().as_array().map(Vec::len), Some(2));
    // `rollout status` without a prefix lists them too.
    assert_eq!(
        n.text(rollout(&a, &["status"]).await.ok()),
        n.text(rollout(&a, &["job", "status"]).await.ok())
    );

    let inspect = rollout(&a, &["job", "inspect", "we"]).await;
    let value = inspect.json();
    assert_eq!(
        (
            value["Job"]["ID"].as_str(),
            value.as_object().map(|o| o.len())
        ),
        (Some("web"), Some(1)),
        "{inspect:?}"
    );

    // A canary deployment for version 1, promoted through the job.
    a.register(job("web", 2, "app:2", update)).await;
    let d = a.latest_deployment_id("web").await;
    let canaries = a.schedule().await;
    a.report(&canaries, Some(true)).await;
    let deployments = rollout(&a, &["job", "deployments", "web"]).await;
    assert_snapshot!("job_deployments", n.text(deployments.ok()));
    let allocs = rollout(&a, &["job", "allocs", "web"]).await;
    assert_snapshot!("job_allocs", n.text(allocs.ok()));
    let allocs = rollout(&a, &["job", "allocs", "web", "--json"]).await;
    assert_eq!(allocs.json().as_array().map(Vec::len), Some(3));
    let promote = rollout(&a, &["job", "promote", "web"]).await;
    assert_snapshot!("job_promote", n.text(promote.ok()));
    assert_eq!(
        a.deployment(&d).await["TaskGroups"]["web"]["Promoted"],
        true
    );
    let refused = rollout(&a, &["job", "promote", "api"]).await;
    assert_eq!(
        refused.error(1),
        "Error promoting deployment: Unexpected response code: 409 (can't promote terminal deployment)"
    );
    let refused = rollout(&a, &["deployment", "unblock", &d[..8]]).await;
    assert_eq!(
        refused.error(1),
        "Error unblocking deployment: Unexpected response code: 400 (multiregion deployments are not supported)"
    );

    // `rollout status PREFIX`: an exact job ID, then a deployment, an allocation and an
    // evaluation by prefix.
    let out = rollout(&a, &["status", "web", "--json"]).await;
    assert_eq!(out.json()["Job"]["ID"], "web");
    let out = rollout(&a, &["status", &d[..8]]).await;
    assert_snapshot!("status_deployment", n.text(out.ok()));
    let out = rollout(&a, &["status", &canaries[0][..7]]).await;
    assert_snapshot!("status_allocation", n.text(out.ok()));
    // The registration's evaluation (the deployment watcher's follows it).
    let evals = a.get("/v1/job/api/evaluations").await.ok();
    let eval = evals
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["TriggeredBy"] == "job-register")
        .and_then(|e| e["ID"].as_str())
        .expect("the registration's evaluation")
        .to_owned();
    let out = rollout(&a, &["status", &eval, "--json"]).await;
    assert_eq!(out.json()["ID"], eval.as_str());
    let out = rollout(&a, &["status", &eval[..8]]).await;
    assert_snapshot!("status_evaluation", n.text(out.ok()));
    let out = rollout(&a, &["status", "zz"]).await;
    assert_eq!(
        out.error(1),
        "No job, deployment, allocation or evaluation with prefix or ID \"zz\" found in namespace \"default\""
    );
    // "ap" starts two job IDs (and no UUID: "p" is not hex): both listed, exit 1.
    a.register(job("app", 1, "app:1", json!({}))).await;
    let out = rollout(&a, &["status", "ap"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_snapshot!("status_ambiguous", out.stderr);
    a.stop().await;
}

#[tokio::test]
async fn global_flags_addresses_and_unknown_flags_as_nomad_takes_them() {
    let a = Agent::dev_external().await;
    a.register(job("web", 1, "app:1", json!({}))).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = format!("http://127.0.0.1:{port}");
    // Global flags before the noun, Nomad-style or not.
    let out = rollout(&a, &["-namespace", "prod", "job", "status", "web"]).await;
    assert_eq!(
        out.error(1),
        "No job with prefix or ID \"web\" found in namespace \"prod\""
    );
    let out = output(command(
        &nowhere,
        &[
            "--address",
            &a.client.base,
            "job",
            "status",
            "web",
            "--json",
        ],
    ))
    .await;
    assert_eq!(out.json()["Job"]["ID"], "web");
    let out = output(command(
        &nowhere,
        &[
            "-address=".to_owned() + &a.client.base,
            "-json".into(),
            "status".into(),
        ]
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    ))
    .await;
    assert_eq!(out.json()[0]["ID"], "web");
    // NOMAD_ADDR without a scheme means http.
    let out = output(command(&a.addr, &["job", "status", "--json"])).await;
    assert_eq!(out.json()[0]["ID"], "web");

    // Unknown single-dash flags are named as typed; usage errors exit 2.
    let out = rollout(&a, &["job", "run", "-bogus", "web.nomad.hcl"]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .starts_with("error: unexpected argument '-bogus' found"),
        "{out:?}"
    );
    let out = rollout(&a, &["job", "status", "-detach", "web"]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .starts_with("error: unexpected argument '-detach' found")
            && !out.stderr.contains("--detach"),
        "{out:?}"
    );
    a.stop().await;
}

/// The hex digits of an ID.
fn digits(id: &str) -> String {
    id.replace('-', "")
}

#[tokio::test]
async fn ids_by_unique_prefix() {
    let a = Agent::dev_external().await;
    // 17 deployments: at least two share their first hex digit (pigeonhole).
    for i in 0..17 {
        a.register(job(&format!("job-{i:02}"), 1, "app:1", json!({})))
            .await;
    }
    let all: Vec<String> = a
        .get("/v1/deployments")
        .await
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["ID"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(all.len(), 17);
    let matching = |p: &str| -> Vec<String> {
        let mut m: Vec<String> = all
            .iter()
            .filter(|id| digits(id).starts_with(&digits(p).to_lowercase()))
            .cloned()
            .collect();
        m.sort();
        m
    };
    let ids_of = |v: &Value| -> Vec<String> {
        let mut ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["ID"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };

    // Ambiguous (and odd-length): the candidates are listed, exit 1.
    let first = (0..16)
        .map(|c| format!("{c:x}"))
        .find(|c| matching(c).len() >= 2)
        .expect("two deployments share a first digit");
    let out = rollout(&a, &["deployment", "status", &first]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr.lines().next(),
        Some(
            format!("Prefix {first:?} matched multiple deployments; use more of the ID:").as_str()
        )
    );
    let listed: Vec<String> = out
        .stderr
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.len() == 36)
        .map(str::to_owned)
        .collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, matching(&first), "{}", out.stderr);
    // `list --prefix` with the same odd-length prefix: exactly those.
    let list = rollout(&a, &["deployment", "list", "--prefix", &first, "--json"]).await;
    assert_eq!(ids_of(&list.json()), matching(&first));

    // Unique prefixes of every length and form resolve to the one deployment.
    let d = &all[0];
    for p in [
        d[..7].to_owned(),
        d[..8].to_owned(),
        d[..9].to_owned(),
        d[..10].to_owned(),
        d[..11].to_uppercase(),
        d.clone(),
    ] {
        assert_eq!(matching(&p), vec![d.clone()], "{p} is not unique");
        let out = rollout(&a, &["deployment", "status", &p, "--json"]).await;
        assert_eq!(out.json()["ID"], d.as_str(), "{p}");
    }
    let list = rollout(&a, &["deployment", "list", "--prefix", &d[..5], "--json"]).await;
    assert_eq!(ids_of(&list.json()), matching(&d[..5]));

    // Nothing matches: said so, exit 1.
    let unmatched = |len: usize| {
        (0..16usize.pow(len as u32))
            .map(|c| format!("{c:0len$x}"))
            .find(|p| matching(p).is_empty())
            .unwrap()
    };
    for none in [unmatched(3), unmatched(4)] {
        let out = rollout(&a, &["deployment", "pause", &none]).await;
        assert_eq!(
            out.error(1),
            format!("No deployment with prefix or ID {none:?} found in namespace \"default\"")
        );
    }
    let out = rollout(
        &a,
        &["deployment", "status", d, "--namespace", "prod", "--json"],
    )
    .await;
    assert_eq!(
        out.json()["ID"],
        d.as_str(),
        "a full ID is found in any namespace"
    );
    let out = rollout(
        &a,
        &["deployment", "status", &d[..8], "--namespace", "prod"],
    )
    .await;
    assert_eq!(
        out.error(1),
        format!(
            "No deployment with prefix or ID {:?} found in namespace \"prod\"",
            &d[..8]
        )
    );
    let out = rollout(
        &a,
        &[
            "deployment",
            "status",
            "5c0f0a8e-1234-4abc-9def-0123456789ab",
        ],
    )
    .await;
    assert_eq!(
        out.error(1),
        "Error retrieving deployment: Unexpected response code: 404 (deployment not found)"
    );
    let out = rollout(&a, &["deployment", "status", "web"]).await;
    assert_eq!(
        out.error(1),
        "Invalid deployment ID or prefix \"web\": use hex digits and hyphens, as in a UUID"
    );

    // Jobs: an exact ID wins, a unique prefix resolves, an ambiguous one lists.
    let out = rollout(&a, &["job", "status", "job-16", "--json"]).await;
    assert_eq!(out.json()["Job"]["ID"], "job-16");
    let out = rollout(&a, &["job", "history", "job-0"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_snapshot!("job_prefix_ambiguous", out.stderr);
    a.stop().await;
}

#[tokio::test]
async fn addresses_errors_and_usage() {
    let a = Agent::dev_external().await;
    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = format!("http://127.0.0.1:{port}");
    let out = rollout(&a, &["deployment", "list", "--address", &nowhere]).await;
    assert_eq!(
        out.error(1),
        format!("Error retrieving deployments: no agent at {nowhere} (connection refused); set --address, ROLLOUT_ADDR or NOMAD_ADDR")
    );
    // ROLLOUT_ADDR before NOMAD_ADDR; --address (Nomad's single dash too) before both.
    let mut cmd = command(&nowhere, &["deployment", "list", "--json"]);
    cmd.env("ROLLOUT_ADDR", &a.client.base);
    assert_eq!(output(cmd).await.json(), json!([]));
    let mut cmd = command(
        &nowhere,
        &["job", "-address", &a.client.base, "status", "x"],
    );
    cmd.env("ROLLOUT_ADDR", &nowhere);
    assert_eq!(
        output(cmd).await.error(1),
        "No job with prefix or ID \"x\" found in namespace \"default\""
    );
    // NOMAD_NAMESPACE selects the namespace.
    let mut cmd = command(&a.client.base, &["job", "status", "x"]);
    cmd.env("NOMAD_NAMESPACE", "prod");
    assert_eq!(
        output(cmd).await.error(1),
        "No job with prefix or ID \"x\" found in namespace \"prod\""
    );

    // Job files that do not parse, and one the agent refuses.
    let (_dir, hcl) = job_file(&json!("job \"web\" {}"));
    std::fs::write(&hcl, "job \"web\" {\n  gruop \"web\" {}\n}\n").unwrap();
    let out = rollout(&a, &["job", "run", &hcl]).await;
    assert_eq!(
        out.error(1),
        format!("Error parsing the job file: {hcl}:2,3: Unsupported block type; Blocks of type \"gruop\" are not expected here. Did you mean \"group\"?")
    );
    let out = rollout(&a, &["job", "run", "/nonexistent/job.json"]).await;
    assert!(out
        .error(1)
        .starts_with("Error reading the job file: /nonexistent/job.json: "));
    let bad = job(
        "web",
        1,
        "app:1",
        json!({"ProgressDeadline": 60_000_000_000i64, "HealthyDeadline": 300_000_000_000i64}),
    );
    let (_dir2, bad) = job_file(&bad);
    let out = rollout(&a, &["job", "run", &bad]).await;
    assert_snapshot!("job_run_invalid", out.error(1));

    // Usage errors are clap's (exit 2); a health call needs allocations (usage too).
    let out = rollout(&a, &["deployment"]).await;
    assert_eq!(out.code, 2, "{out:?}");
    let out = rollout(&a, &["deployment", "health", "abcd"]).await;
    assert_eq!(
        out.error(2),
        "Error setting allocation health: give --healthy and/or --unhealthy allocation IDs"
    );
    a.stop().await;
}
