//! ACLs against the real binaries: the whole matrix against `rollout agent --dev
//! --acl-enabled`, and the `rollout acl` commands an operator types.

#[path = "../../http/tests/api/common/client.rs"]
mod client;

#[path = "../../http/tests/api/common/acl_matrix.rs"]
mod acl_matrix;

use client::Client;
use serde_json::json;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_rollout");

struct Agent {
    _child: Child,
    client: Client,
}

impl Agent {
    /// `rollout agent --dev --acl-enabled` on a free port; the address from its log. The
    /// matrix drives evaluations itself, so the dev cluster stays out of the way.
    async fn start() -> Agent {
        let mut child = Command::new(BIN)
            .args([
                "agent",
                "--dev",
                "--dev-scheduler",
                "external",
                "--acl-enabled",
                "--http-addr",
                "127.0.0.1:0",
                "--log-level",
                "info",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn rollout");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let find_addr = async {
            while let Some(line) = lines.next_line().await.expect("log line") {
                if line.contains("listening") {
                    assert!(line.contains("acl=true"), "{line}");
                    let addr = line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("addr="))
                        .expect("addr= in the listening line");
                    return addr.to_owned();
                }
            }
            panic!("the agent exited before listening");
        };
        let addr = tokio::time::timeout(Duration::from_secs(30), find_addr)
            .await
            .expect("agent started");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Agent {
            _child: child,
            client: Client::new(format!("http://{addr}")),
        }
    }

    /// Runs `rollout <args>` against this agent (`NOMAD_ADDR`, optional `NOMAD_TOKEN`).
    async fn cli(&self, args: &[&str], token: Option<&str>) -> (bool, String, String) {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("NOMAD_ADDR", &self.client.base)
            .env_remove("ROLLOUT_ADDR")
            .env_remove("ROLLOUT_TOKEN")
            .env_remove("NOMAD_TOKEN");
        if let Some(t) = token {
            cmd.env("NOMAD_TOKEN", t);
        }
        let out = cmd.output().await.expect("run rollout");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl std::ops::Deref for Agent {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

fn field(output: &str, name: &str) -> String {
    output
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no {name} in {output}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_against_the_binary() {
    acl_matrix::run(Agent::start).await;
}

#[tokio::test]
async fn not_there_and_not_yours_get_the_same_answer_from_the_binary() {
    let a = Agent::start().await;
    let compared = acl_matrix::not_there_equals_not_yours(&a).await;
    println!("{compared} pairs of answers compared");
}

#[tokio::test]
async fn acl_commands_against_the_binary() {
    let a = Agent::start().await;
    let (ok, out, err) = a.cli(&["acl", "bootstrap"], None).await;
    assert!(ok, "{err}");
    assert_eq!(field(&out, "Name"), "Bootstrap Token");
    assert_eq!(field(&out, "Type"), "management");
    let root = field(&out, "Secret ID");

    let (ok, _, err) = a.cli(&["acl", "bootstrap"], None).await;
    assert!(!ok);
    assert!(
        err.contains("Unexpected response code: 400 (ACL bootstrap already done (reset index: 1))"),
        "{err}"
    );

    let dir = std::env::temp_dir().join(format!("rollout-acl-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("readers.hcl");
    std::fs::write(&file, "namespace \"default\" {\n  policy = \"read\"\n}\n").unwrap();
    let file = file.to_str().unwrap();

    // Without a token: refused, nothing written.
    let (ok, _, err) = a
        .cli(&["acl", "policy", "apply", "readers", file], None)
        .await;
    assert!(!ok);
    assert!(err.contains("403 (Permission denied)"), "{err}");
    // Nomad-style single-dash flags work too.
    let (ok, out, err) = a
        .cli(
            &[
                "acl",
                "policy",
                "apply",
                "-description",
                "read default",
                "readers",
                file,
            ],
            Some(&root),
        )
        .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "Successfully wrote \"readers\" ACL policy!");

    let (ok, out, err) = a
        .cli(
            &[
                "acl", "token", "create", "-name=ci", "-policy", "readers", "-ttl", "1h",
            ],
            Some(&root),
        )
        .await;
    assert!(ok, "{err}");
    assert_eq!(field(&out, "Policies"), "readers");
    assert_eq!(field(&out, "Type"), "client");
    let ci = field(&out, "Secret ID");

    // The new token reads `default` and nothing more.
    let reader = a.with_token(&ci);
    assert_eq!(reader.get("/v1/jobs").await.status, 200);
    assert_eq!(reader.get("/v1/jobs?namespace=prod").await.status, 403);
    let r = reader
        .put("/v1/jobs", client::job("web", 1, "x", json!({})))
        .await;
    assert_eq!((r.status, r.text.as_str()), (403, "Permission denied"));
    let me = reader.get("/v1/acl/token/self").await.ok();
    assert_eq!(me["Name"], "ci");
    assert_eq!(me["ExpirationTTL"], "1h0m0s");

    // --address and --token override the environment.
    let (ok, out, err) = a
        .cli(
            &[
                "acl",
                "token",
                "create",
                "--address",
                &a.base,
                "--token",
                &root,
                "--type",
                "management",
                "--name",
                "ops",
            ],
            Some("not-the-right-token"),
        )
        .await;
    assert!(ok, "{err}");
    assert_eq!(field(&out, "Type"), "management");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn namespace_commands_need_a_management_token_to_write_and_list_what_a_token_may_use() {
    let a = Agent::start().await;
    let (ok, out, err) = a.cli(&["acl", "bootstrap"], None).await;
    assert!(ok, "{err}");
    let root = field(&out, "Secret ID");

    // Without a token: Nomad's apply looks the namespace up first, and is refused there.
    let (ok, out, err) = a.cli(&["namespace", "apply", "team"], None).await;
    assert_eq!(
        (ok, out.as_str(), err.as_str()),
        (
            false,
            "",
            "Error looking up namespace: Unexpected response code: 403 (Permission denied)\n"
        )
    );
    let (ok, _, err) = a.cli(&["namespace", "delete", "default"], None).await;
    assert!(!ok);
    assert_eq!(
        err,
        "Error deleting namespace: Unexpected response code: 403 (Permission denied)\n"
    );
    let (ok, out, err) = a
        .cli(
            &["namespace", "apply", "-description", "T", "team"],
            Some(&root),
        )
        .await;
    assert!(ok, "{err}");
    assert_eq!(out, "Successfully applied namespace \"team\"!\n");

    // A token that reads `default` lists only `default`.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("readers.hcl");
    std::fs::write(&file, "namespace \"default\" {\n  policy = \"read\"\n}\n").expect("write");
    let file = file.to_str().unwrap_or_default();
    let (ok, _, err) = a
        .cli(&["acl", "policy", "apply", "readers", file], Some(&root))
        .await;
    assert!(ok, "{err}");
    let (ok, out, err) = a
        .cli(
            &["acl", "token", "create", "-name=ci", "-policy", "readers"],
            Some(&root),
        )
        .await;
    assert!(ok, "{err}");
    let ci = field(&out, "Secret ID");
    let (ok, out, err) = a.cli(&["namespace", "list"], Some(&ci)).await;
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "Name     Description\ndefault  Default shared namespace\n"
    );
    let (ok, out, err) = a.cli(&["namespace", "list"], Some(&root)).await;
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "Name     Description\ndefault  Default shared namespace\nteam     T\n"
    );
}
