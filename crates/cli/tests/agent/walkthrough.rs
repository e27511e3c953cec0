//! The README's walkthrough, run verbatim: every ```sh block between the
//! `<!-- walkthrough -->` markers, in order, with bash against a real `rollout agent
//! --dev`. If the README and the agent drift apart, this fails.

use crate::common::{Agent, BIN};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

const README: &str = include_str!("../../../../README.md");

/// The shell the README shows, in order.
fn walkthrough_script() -> String {
    let start = README
        .find("<!-- walkthrough -->")
        .expect("walkthrough start marker");
    let end = README
        .find("<!-- /walkthrough -->")
        .expect("walkthrough end marker");
    let mut script = String::new();
    let mut in_block = false;
    for line in README[start..end].lines() {
        match (in_block, line.trim_end()) {
            (false, "```sh") => in_block = true,
            (true, "```") => in_block = false,
            (true, l) => {
                script.push_str(l);
                script.push('\n');
            }
            (false, _) => {}
        }
    }
    assert!(!in_block, "unterminated code block in the walkthrough");
    script
}

fn require(tool: &str) {
    let found = std::process::Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "the README walkthrough needs `{tool}` (apt-get install {tool}); .ci/run installs it"
    );
}

#[tokio::test]
async fn the_readme_walkthrough_works_verbatim() {
    for tool in ["bash", "curl", "jq"] {
        require(tool);
    }
    let script = walkthrough_script();
    assert!(script.contains("rollout.sim.fail_to_start"));
    let a = Agent::dev().await;
    // The CLI steps run the binary under test, and write their job files in a scratch
    // directory.
    let bin_dir = std::path::Path::new(BIN)
        .parent()
        .expect("the binary's directory");
    let path = std::env::join_paths(std::iter::once(bin_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH");
    let scratch = tempfile::tempdir().expect("tempdir");
    let run = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(scratch.path())
        .env("PATH", path)
        .env("NOMAD_ADDR", format!("http://{}", a.addr))
        .env_remove("ROLLOUT_ADDR")
        .env_remove("NOMAD_NAMESPACE")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("the walkthrough finishes within 90 s")
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);

    // What the README's comments promise.
    let completed = stdout
        .matches("\"Deployment completed successfully\"")
        .count();
    assert_eq!(completed, 3, "{stdout}");
    for expected in [
        "\"Deployment is running but requires manual promotion\"",
        "\"Failed due to unhealthy allocations - rolling back to job version 1\"",
        "{\"Version\":3,\"Stable\":true,\"Meta\":null,\"image\":\"app:2\"}",
        "{\"Version\":2,\"Stable\":false,\"Meta\":{\"rollout.sim.fail_to_start\":\"true\"},\"image\":\"app:3\"}",
        "\"RevertedJobVersion\":3}",
        "{\"Version\":5,\"image\":\"app:2\"}",
    ] {
        assert!(stdout.contains(expected), "missing {expected} in\n{stdout}");
    }
    // What the CLI steps promise.
    for expected in [
        "Job Version = 5\nStatus      = successful",
        "+/- Task Group: \"web\" (1 canary, 2 ignore)",
        "      +/- image: \"app:2\" => \"app:6\"",
        "rollout job run -check-index ",
        "exit status 1\nJob \"web\" registered as version 6; evaluation",
        "1 allocation(s) marked healthy, 0 unhealthy",
        "(job \"web\", version 6)",
        "running: Deployment is running but requires manual promotion",
        "successful: Deployment completed successfully",
        "==> Deployment \"",
        "failed: Failed due to unhealthy allocations - rolling back to job version 6",
        "exit status 1\nJob \"web\" registered as version 7; evaluation",
        "==> Job \"web\" rolled back to version 6, registered as version 8\n==> Monitoring deployment \"",
        "(job \"web\", version 8)",
        "Version  Stable  Deployment  Submitted\n8        true    successful  ",
        "auto_revert true → failed: Failed due to unhealthy allocations - rolling back to job version 6 (W2)",
        "  rollback: stable version 8 would be registered again as version 10",
        "failed after 5m0s: \"Failed due to unhealthy allocations - rolling back to job version 8\"",
        "Then deployment ",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    a.stop().await;
}
