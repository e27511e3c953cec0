//! `rollout deployment why` and `deployment status --at-index`: the history the agent
//! re-derives from its log, in words.

use crate::cli::{rollout, Normalizer};
use crate::common::client::job;
use crate::common::Agent;
use insta::assert_snapshot;
use serde_json::json;

#[tokio::test]
async fn why_tells_a_failed_deployments_story_and_status_travels_back_in_time() {
    let a = Agent::dev_external().await;
    let mut n = Normalizer::default();
    let update = json!({"Canary": 1, "MaxParallel": 1, "AutoRevert": true, "ProgressDeadline": 0});
    a.register(job("web", 2, "app:1", update.clone())).await;
    a.converge().await;
    a.register(job("web", 2, "app:2", update)).await;
    let d = a.latest_deployment_id("web").await;
    let canaries = a.schedule().await;
    let running_at = a.applied_index().await;
    a.report(&canaries, Some(false)).await;

    let why = rollout(&a, &["deployment", "why", &d[..8]]).await;
    let text = why.ok().to_string();
    assert!(text.contains("running → failed"), "{text}");
    assert!(text.contains("rolling back to job version 0"), "{text}");
    assert!(text.contains("(A9)"), "{text}");
    assert_snapshot!("deployment_why_failed", without_times(&n.text(&text)));

    let past = rollout(
        &a,
        &[
            "deployment",
            "status",
            &d,
            "-at-index",
            &running_at.to_string(),
        ],
    )
    .await;
    let text = past.ok().to_string();
    assert!(text.contains("running"), "{text}");
    assert!(!text.contains("failed"), "{text}");

    // A running deployment says what it waits for.
    let update = json!({"Canary": 1, "MaxParallel": 1});
    a.register(job("api", 2, "api:1", update.clone())).await;
    a.converge().await;
    a.register(job("api", 2, "api:2", update)).await;
    let d = a.latest_deployment_id("api").await;
    a.schedule().await;
    let why = rollout(&a, &["deployment", "why", &d]).await;
    let text = why.ok().to_string();
    assert!(text.contains("waiting:"), "{text}");
    assert!(
        text.contains(
            "group web: 1 of 1 canaries placed, 0 allocations healthy; then it needs a promotion"
        ),
        "{text}"
    );
}

/// The text with RFC 3339 times (`2026-12-02T14:12:41.5375Z`, from the engine's reasons,
/// which quote the wall clock of the dev agent) replaced by `[time]`.
fn without_times(text: &str) -> String {
    let times = regex::Regex::new(r"\d{4}-\d{2}-\d{2}T[0-9:.]+Z").unwrap();
    times.replace_all(text, "[time]").into_owned()
}

#[tokio::test]
async fn dry_run_says_what_a_write_would_do_and_writes_nothing() {
    let a = Agent::dev_external().await;
    let update = json!({"Canary": 1, "MaxParallel": 1, "AutoRevert": true});
    a.register(job("web", 2, "app:1", update.clone())).await;
    a.converge().await;
    a.register(job("web", 2, "app:2", update)).await;
    let d = a.latest_deployment_id("web").await;
    a.schedule().await;
    let before = a.applied_index().await;

    let out = rollout(&a, &["deployment", "fail", &d[..8], "--dry-run"]).await;
    let text = out.ok().to_string();
    assert!(
        text.starts_with(&format!(
            "Dry run: nothing was written; the write would be applied at index {}",
            before + 1
        )),
        "{text}"
    );
    assert!(text.contains("(F2)"), "{text}");
    assert!(
        text.contains("rollback: stable version 0 would be registered again as version 2"),
        "{text}"
    );
    // Before the noun too, as Nomad's global flags.
    let out = rollout(&a, &["-dry-run", "job", "stop", "web", "-purge"]).await;
    assert!(out.ok().contains("Job web deleted"), "{}", out.ok());
    assert_eq!(a.applied_index().await, before, "nothing was written");
    assert_eq!(a.deployment(&d).await["Status"], "running");
}
