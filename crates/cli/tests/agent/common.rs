//! Starting and stopping the real binary, and reading its log.
#![allow(dead_code)]

#[path = "../../../http/tests/api/common/client.rs"]
pub mod client;
#[path = "../../../http/tests/api/common/event_lines.rs"]
pub mod event_lines;

use client::Client;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_rollout");

/// A running `rollout agent` and a client for it.
pub struct Agent {
    pub child: Child,
    pub client: Client,
    pub addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Agent {
    /// `rollout agent --dev` with the built-in simulated cluster.
    pub async fn dev() -> Agent {
        Agent::start(&["--dev"]).await
    }

    /// `rollout agent --dev --dev-scheduler external`: the test schedules (R6).
    pub async fn dev_external() -> Agent {
        Agent::start(&["--dev", "--dev-scheduler", "external"]).await
    }

    /// `rollout agent --data-dir DIR`.
    pub async fn with_data_dir(dir: &Path) -> Agent {
        let dir = dir.to_str().expect("UTF-8 path");
        Agent::start(&["--data-dir", dir]).await
    }

    /// Starts the agent on port 0 and reads the bound address from its log.
    pub async fn start(args: &[&str]) -> Agent {
        let mut command = Command::new(BIN);
        command.arg("agent").args(args);
        Agent::launch(command).await
    }

    /// `rollout agent ARGS` started with its open-file limit set to `soft` and `hard` by the
    /// shell's `ulimit`, as an operator's shell or service manager would.
    pub async fn start_with_nofile_limit(soft: u64, hard: u64, args: &[&str]) -> Agent {
        let script = format!(r#"ulimit -Sn {soft} && ulimit -Hn {hard} && exec "$0" "$@""#);
        let mut command = Command::new("sh");
        command.args(["-c", &script, BIN, "agent"]).args(args);
        Agent::launch(command).await
    }

    /// Spawns `command` (an agent command line) on port 0 and reads the bound address
    /// from its log.
    async fn launch(mut command: Command) -> Agent {
        // Port 0 unless the caller names an address (a restart on the same one).
        if !command.as_std().get_args().any(|a| a == "--http-addr") {
            command.args(["--http-addr", "127.0.0.1:0"]);
        }
        let mut child = command
            .args(["--log-level", "info"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn rollout");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let find_addr = {
            let log = log.clone();
            async move {
                while let Some(line) = lines.next_line().await.expect("log line") {
                    log.lock().unwrap().push(line.clone());
                    if line.contains("listening") {
                        return (
                            field(&line, "addr").expect("addr= in the listening line"),
                            lines,
                        );
                    }
                }
                panic!(
                    "the agent exited before listening: {:?}",
                    log.lock().unwrap()
                );
            }
        };
        let (addr, mut lines) = tokio::time::timeout(Duration::from_secs(30), find_addr)
            .await
            .expect("agent started");
        // Keep draining the log so that the agent never blocks on a full pipe.
        {
            let log = log.clone();
            tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    log.lock().unwrap().push(line);
                }
            });
        }
        Agent {
            child,
            client: Client::new(format!("http://{addr}")),
            addr,
            log,
        }
    }

    /// The log so far, one line per entry.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The first log line containing `needle`.
    pub fn log_line(&self, needle: &str) -> Option<String> {
        self.log().into_iter().find(|l| l.contains(needle))
    }

    /// The data directory the agent logged when it started listening.
    pub fn data_dir(&self) -> PathBuf {
        let line = self.log_line("listening").expect("listening line");
        PathBuf::from(field(&line, "data_dir").expect("data_dir="))
    }

    pub fn terminate(&self) {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn stop(mut self) -> Vec<String> {
        self.terminate();
        let status = self.wait().await;
        assert!(status.success(), "{status:?}: {:?}", self.log());
        // The drain task may still hold the last lines for a moment.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.log()
    }

    pub async fn wait(&mut self) -> ExitStatus {
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the agent exits")
            .expect("wait")
    }
}

impl std::ops::Deref for Agent {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

/// The value of `name=value` in a text log line (unquoted if quoted), or of key `name`
/// in a JSON one (`--log-format json`).
pub fn field(line: &str, name: &str) -> Option<String> {
    if line.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        return match &v[name] {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        };
    }
    let prefix = format!("{name}=");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(prefix.as_str()))
        .map(|v| v.trim_matches('"').to_owned())
}

/// Polls `check` with a blocking read of `path` until it holds (bounded).
pub async fn eventually<F>(client: &Client, path: &str, mut check: F) -> serde_json::Value
where
    F: FnMut(&serde_json::Value) -> bool,
{
    let mut index = 0;
    for _ in 0..200 {
        let sep = if path.contains('?') { '&' } else { '?' };
        let r = client
            .get(&format!("{path}{sep}index={index}&wait=5s"))
            .await;
        let body = r.ok();
        if check(&body) {
            return body;
        }
        index = r.index();
    }
    panic!("{path} never satisfied the check");
}
