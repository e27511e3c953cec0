//! The agent's log as operators and log shippers read it: `--log-format json` writes one
//! object per line, and a deployment's status change is one INFO line naming the job,
//! the version, the statuses, the rollback and the rule that decided it.

use crate::common::client::job;
use crate::common::Agent;
use serde_json::{json, Value};
use std::time::Duration;

/// The JSON log lines whose message is `message`.
fn lines_with(a: &Agent, message: &str) -> Vec<Value> {
    a.log()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == message)
        .collect()
}

#[tokio::test]
async fn a_failed_rolled_back_deployment_is_one_info_line_with_its_rule() {
    let a = Agent::start(&[
        "--dev",
        "--dev-scheduler",
        "external",
        "--log-format",
        "json",
    ])
    .await;
    assert!(
        a.log()
            .iter()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "every line is a JSON object: {:?}",
        a.log()
    );
    // No progress deadline: an unhealthy allocation fails the deployment at once (D8).
    let update = json!({"MaxParallel": 1, "AutoRevert": true, "ProgressDeadline": 0});
    a.register(job("web", 1, "app:1", update.clone())).await;
    a.converge().await;
    a.register(job("web", 1, "app:2", update)).await;
    let placed = a.schedule().await;
    a.report(&placed, Some(false)).await;
    let failed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let found = lines_with(&a, "deployment status changed")
                .into_iter()
                .find(|l| l["to"] == "failed");
            if let Some(line) = found {
                return line;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("a status line for the failure: {:#?}", a.log()));
    assert_eq!(failed["level"], "INFO");
    assert!(
        failed["reason"].as_str().unwrap().contains("unhealthy"),
        "{failed}"
    );
    let d = a.latest_deployment_id("web").await;
    assert_ne!(
        failed["deployment"],
        json!(d),
        "the rollback has its own deployment"
    );
    // What varies from run to run: time, IDs, the reason's allocation ID, the index.
    let mut pinned = failed.clone();
    for key in ["timestamp", "deployment", "reason", "index"] {
        assert!(pinned.get(key).is_some(), "{key} in {failed}");
        pinned[key] = json!(format!("<{key}>"));
    }
    insta::assert_json_snapshot!("deployment_failed_and_rolled_back", pinned);
    // Its creation and the first deployment's success were logged too.
    let statuses: Vec<(String, String)> = lines_with(&a, "deployment status changed")
        .iter()
        .map(|l| {
            (
                l["from"].as_str().unwrap().into(),
                l["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&("none".into(), "running".into())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("running".into(), "successful".into())),
        "{statuses:?}"
    );
    // Writes name what they touched, and no field uses Rust's debug formatting.
    let applied = lines_with(&a, "applied");
    assert!(
        applied.iter().any(|l| l["jobs"] == "default/web"),
        "{applied:?}"
    );
    for line in a.log() {
        assert!(!line.contains("Some("), "debug formatting in {line}");
    }
}
