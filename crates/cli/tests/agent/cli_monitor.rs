//! `--monitor` (and `job run`, which monitors by default) against `rollout agent --dev`
//! and its simulated cluster, with stdout a pipe (the plain, line-per-change view): a
//! canary rollout followed to success while the test operates it with the CLI, reacting
//! to what the monitor prints; a bad version followed to its failure, its automatic
//! rollback and the rollback's deployment; a deployment cancelled by a newer version.

use crate::cli::{command, job_file, output, rollout, Out};
use crate::common::client::job;
use crate::common::{eventually, Agent};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

/// A command running in the background, its stdout read line by line.
struct Running {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    seen: Vec<String>,
}

impl Running {
    fn start(a: &Agent, args: &[&str]) -> Running {
        let mut child = command(&a.client.base, args)
            .spawn()
            .expect("spawn rollout");
        let stdout = child.stdout.take().expect("stdout");
        Running {
            child,
            lines: BufReader::new(stdout).lines(),
            seen: Vec::new(),
        }
    }

    /// Reads until a line containing `needle` (bounded: 30 s); returns it.
    async fn until(&mut self, needle: &str) -> String {
        let read = async {
            while let Some(line) = self.lines.next_line().await.expect("read stdout") {
                self.seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
            panic!(
                "the command ended without printing {needle:?}: {:?}",
                self.seen
            );
        };
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} within 30 s: {:?}", self.seen))
    }

    /// Waits for the end (bounded: 30 s): exit code and every line printed.
    async fn finish(mut self) -> (i32, Vec<String>) {
        let rest = async {
            while let Some(line) = self.lines.next_line().await.expect("read stdout") {
                self.seen.push(line);
            }
            self.child.wait().await.expect("wait")
        };
        let status = tokio::time::timeout(Duration::from_secs(30), rest)
            .await
            .unwrap_or_else(|_| panic!("still running after 30 s: {:?}", self.seen));
        (status.code().unwrap_or(-1), self.seen)
    }
}

/// The IDs of `n` allocations of deployment `d` that run without health yet (waits).
async fn running_without_health(a: &Agent, d: &str, n: usize) -> Vec<String> {
    let pick = |list: &Value| -> Vec<String> {
        list.as_array()
            .expect("list")
            .iter()
            .filter(|x| {
                x["ClientStatus"] == "running" && x["DeploymentStatus"]["Healthy"].is_null()
            })
            .map(|x| x["ID"].as_str().expect("ID").to_owned())
            .collect()
    };
    let list = eventually(a, &format!("/v1/deployment/allocations/{d}"), |l| {
        pick(l).len() == n
    })
    .await;
    pick(&list)
}

/// Marks allocations healthy with the CLI, by short IDs.
async fn mark_healthy(a: &Agent, d: &str, allocs: &[String]) {
    let mut args = vec!["deployment", "health", &d[..8], "--healthy"];
    args.extend(allocs.iter().map(|id| &id[..8]));
    let out = rollout(a, &args).await;
    assert!(out.ok().contains("marked healthy"), "{out:?}");
}

#[tokio::test]
async fn monitor_follows_a_canary_rollout_to_success() {
    let a = Agent::dev().await;
    let update = json!({"Canary": 1, "MaxParallel": 1, "HealthCheck": "manual",
                        "AutoRevert": true, "ProgressDeadline": 0});
    let (_dir, v0) = job_file(&job("web", 2, "app:1", update.clone()));
    let (_dir1, v1) = job_file(&job("web", 2, "app:2", update));

    // Version 0, followed with `deployment status --monitor`.
    rollout(&a, &["job", "run", &v0, "-detach"]).await.ok();
    let d0 = a.latest_deployment_id("web").await;
    let mut monitor = Running::start(&a, &["deployment", "status", &d0[..5], "--monitor"]);
    let first = monitor.until("==>").await;
    assert_eq!(
        first,
        format!(
            "==> Monitoring deployment \"{}\" (job \"web\", version 0)",
            &d0[..8]
        )
    );
    mark_healthy(&a, &d0, &running_without_health(&a, &d0, 2).await).await;
    let (code, lines) = monitor.finish().await;
    assert_eq!(code, 0, "{lines:?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some(
            format!(
                "==> Deployment \"{}\" successful: Deployment completed successfully",
                &d0[..8]
            )
            .as_str()
        )
    );
    assert!(
        lines.contains(&"web: desired 2, placed 2, healthy 2, unhealthy 0, canaries -".to_owned()),
        "{lines:?}"
    );

    // Version 1 with `job run --monitor`: the test acts on what the monitor prints.
    let mut run = Running::start(&a, &["job", "run", &v1, "--monitor"]);
    let registered = run.until("registered as version 1").await;
    let d1 = a.latest_deployment_id("web").await;
    assert!(
        registered.contains(&format!("deployment \"{}\"", &d1[..8])),
        "{registered}"
    );
    // First the evaluation, processed by the dev cluster's scheduler.
    let eval = run.until("==> Evaluation").await;
    assert!(
        eval.ends_with("finished with status \"complete\""),
        "{eval}"
    );
    run.until("canaries 1/1").await;
    let canary = running_without_health(&a, &d1, 1).await;
    mark_healthy(&a, &d1, &canary).await;
    // The canary is healthy once the monitor says so; the deployment waits for promotion.
    run.until("healthy 1, unhealthy 0, canaries 1/1").await;
    assert!(
        run.seen
            .contains(&"running: Deployment is running but requires manual promotion".to_owned()),
        "{:?}",
        run.seen
    );
    let promote = rollout(&a, &["deployment", "promote", &d1[..8]]).await;
    assert!(promote
        .ok()
        .starts_with(&format!("Deployment \"{}\" promoted", &d1[..8])));
    let rest = running_without_health(&a, &d1, 1).await;
    mark_healthy(&a, &d1, &rest).await;
    let (code, lines) = run.finish().await;
    assert_eq!(code, 0, "{lines:?}");
    let tail: Vec<&str> = lines
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "web: desired 2, placed 2, healthy 2, unhealthy 0, canaries 1/1",
            "successful: Deployment completed successfully",
            &format!(
                "==> Deployment \"{}\" successful: Deployment completed successfully",
                &d1[..8]
            ),
        ],
        "{lines:?}"
    );
    a.stop().await;
}

#[tokio::test]
async fn job_run_follows_a_bad_version_to_failure_then_the_rollbacks_deployment_and_exits_1() {
    let a = Agent::dev().await;
    // Automatic health; without a progress deadline the first unhealthy allocation
    // fails the deployment.
    let update = json!({"Canary": 1, "MaxParallel": 1, "AutoRevert": true,
                        "MinHealthyTime": 0, "ProgressDeadline": 0});
    let (_dir, v0) = job_file(&job("web", 2, "app:1", update.clone()));
    let mut bad = job("web", 2, "app:2", update);
    bad["Job"]["Meta"] = json!({"rollout.sim.fail_to_start": "true"});
    let (_dir1, v1) = job_file(&bad);

    let good = rollout(&a, &["job", "run", &v0, "--monitor"]).await;
    assert!(
        good.ok()
            .trim_end()
            .ends_with("successful: Deployment completed successfully"),
        "{good:?}"
    );

    // Monitored by default: the failure, the rollback, then the rollback's deployment
    // to its end; exit 1 (Nomad's code for a failed deployment).
    let failed = rollout(&a, &["job", "run", &v1]).await;
    assert_eq!(failed.code, 1, "{failed:?}");
    let lines: Vec<&str> = failed.stdout.lines().collect();
    let deployments = a.get("/v1/job/web/deployments").await.ok();
    let of_version = |v: u64| {
        deployments
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["JobVersion"] == v)
            .map(|d| d["ID"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("the deployment of version {v}"))
    };
    let (d1, d2) = (of_version(1), of_version(2));
    let (short, short2) = (&d1[..8], &d2[..8]);
    assert!(
        lines[0].starts_with("Job \"web\" registered as version 1; evaluation \"")
            && lines[0].ends_with(&format!(", deployment \"{short}\"")),
        "{failed:?}"
    );
    assert!(
        lines[1].starts_with("==> Monitoring evaluation \""),
        "{failed:?}"
    );
    assert!(
        lines[2].ends_with("finished with status \"complete\""),
        "{failed:?}"
    );
    assert_eq!(
        lines[3],
        format!("==> Monitoring deployment \"{short}\" (job \"web\", version 1)")
    );
    let end = lines
        .iter()
        .position(|l| l.starts_with("==> Job \"web\" rolled back"))
        .expect("the rollback is named");
    assert_eq!(
        lines[end - 2..=end + 1],
        [
            "failed: Failed due to unhealthy allocations - rolling back to job version 0",
            &format!("==> Deployment \"{short}\" failed: Failed due to unhealthy allocations - rolling back to job version 0"),
            "==> Job \"web\" rolled back to version 0, registered as version 2",
            &format!("==> Monitoring deployment \"{short2}\" (job \"web\", version 2)"),
        ],
        "{failed:?}"
    );
    assert!(
        failed.stdout[..failed.stdout.find("rolled back").unwrap()]
            .contains("unhealthy 1, canaries 1/1"),
        "{failed:?}"
    );
    check_ends_successful(&failed, &d2);
    let job = a.job("web").await;
    assert_eq!(
        (job["Version"].as_u64(), job["Meta"].is_null()),
        (Some(2), true)
    );

    // A deployment that has ended failed: its state, then the rollback's deployment's
    // (ended too); the verdict of the first is the exit code.
    let ended = rollout(&a, &["deployment", "status", short, "--monitor", "--json"]).await;
    assert_eq!(ended.code, 1, "{ended:?}");
    let states: Vec<Value> = ended
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(
        states
            .iter()
            .map(|s| (s["ID"].as_str().unwrap(), s["Status"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [(d1.as_str(), "failed"), (d2.as_str(), "successful")],
        "{ended:?}"
    );
    // The rollback's own deployment, followed alone, succeeded.
    let rollback = output(command(
        &a.client.base,
        &["deployment", "status", &d2, "--monitor"],
    ))
    .await;
    assert_eq!(rollback.code, 0, "{rollback:?}");
    check_ends_successful(&rollback, &d2);
    a.stop().await;
}

fn check_ends_successful(out: &Out, d: &str) {
    assert_eq!(
        out.stdout.lines().last(),
        Some(
            format!(
                "==> Deployment \"{}\" successful: Deployment completed successfully",
                &d[..8]
            )
            .as_str()
        ),
        "{out:?}"
    );
}

#[tokio::test]
async fn monitor_exits_1_when_the_deployment_is_cancelled() {
    let a = Agent::dev().await;
    let update = json!({"HealthCheck": "manual", "ProgressDeadline": 0});
    a.register(job("web", 1, "app:1", update.clone())).await;
    let d0 = a.latest_deployment_id("web").await;
    let mut monitor = Running::start(&a, &["deployment", "status", &d0, "--monitor"]);
    monitor.until("==> Monitoring deployment").await;
    // A newer version cancels the deployment being followed.
    a.register(job("web", 1, "app:2", update)).await;
    let (code, lines) = monitor.finish().await;
    assert_eq!(code, 1, "{lines:?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some(
            format!(
                "==> Deployment \"{}\" cancelled: Cancelled due to newer version of job",
                &d0[..8]
            )
            .as_str()
        ),
        "{lines:?}"
    );
    a.stop().await;
}
