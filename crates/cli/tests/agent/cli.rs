//! Running the operator commands (`rollout deployment …`, `rollout job …`) against a
//! test's agent, and making their output comparable across runs: IDs, indexes and times
//! are replaced by stable placeholders before a snapshot is taken.
#![allow(dead_code)]

use crate::common::{Agent, BIN};
use regex::Regex;
use serde_json::Value;
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::LazyLock;
use std::time::Duration;
use tokio::process::Command;

/// What one command did.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Asserts exit 0 and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "{self:?}");
        &self.stdout
    }

    /// Asserts exit `code` with nothing on stdout and one line on stderr; returns it.
    pub fn error(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "{self:?}");
        assert_eq!(self.stdout, "", "{self:?}");
        assert_eq!(self.stderr.lines().count(), 1, "{self:?}");
        self.stderr.trim_end()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// `rollout <args>` against the agent at `addr` (through `NOMAD_ADDR`, with every other
/// setting of the environment, `NOMAD_VAR_*` included, removed), stdin closed, stdout a pipe.
pub fn command(addr: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("NOMAD_ADDR", addr)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for var in [
        "ROLLOUT_ADDR",
        "ROLLOUT_TOKEN",
        "NOMAD_TOKEN",
        "NOMAD_NAMESPACE",
        "NO_COLOR",
    ] {
        cmd.env_remove(var);
    }
    // Jobspec variables from the environment (`NOMAD_VAR_<name>`) only where a test sets them.
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("NOMAD_VAR_") {
            cmd.env_remove(var);
        }
    }
    cmd
}

/// Runs a command to its end (bounded: 60 s).
pub async fn output(mut cmd: Command) -> Out {
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("the command ends within 60 s")
        .expect("run rollout");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `rollout <args>` against agent `a`.
pub async fn rollout(a: &Agent, args: &[&str]) -> Out {
    output(command(&a.client.base, args)).await
}

/// A full UUID or the eight-character short form of one, matched in one pass (so that
/// a placeholder is never matched again).
static ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[0-9a-f]{8}(-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?\b").unwrap()
});
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$").unwrap()
});
static AGO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d+[smhd](\d+[smh])? ago\b").unwrap());
static IN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bin \d+[smhd](\d+[smh])?\b").unwrap());
/// A date as `job status` lists them (RFC 3339, to the second, UTC).
static DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").unwrap());
static RFC3339: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$").unwrap()
});

/// Replaces what differs between runs with placeholders. IDs get one number each, in
/// order of first appearance across everything this normalizer has seen, keeping their
/// length (a full UUID `00000001-0000-0000-0000-000000000000`, a short one `00000001`),
/// so that tables keep their alignment.
#[derive(Default)]
pub struct Normalizer {
    ids: HashMap<String, usize>,
}

impl Normalizer {
    fn number(&mut self, id: &str) -> usize {
        let key = id[..8].to_owned();
        let next = self.ids.len() + 1;
        *self.ids.entry(key).or_insert(next)
    }

    /// Human output: IDs, relative times, dates.
    pub fn text(&mut self, text: &str) -> String {
        let text = ID
            .replace_all(text, |c: &regex::Captures| {
                let n = self.number(&c[0]);
                if c[0].len() == 36 {
                    format!("{n:08}-0000-0000-0000-000000000000")
                } else {
                    format!("{n:08}")
                }
            })
            .into_owned();
        let text = DATE.replace_all(&text, "[date]");
        let text = AGO.replace_all(&text, "[ago]");
        IN.replace_all(&text, "in [time]").into_owned()
    }

    /// `--json` output: the same JSON with IDs mapped, every `…Index` and `…Time` field
    /// and every RFC 3339 time replaced; pretty-printed with sorted keys.
    pub fn json(&mut self, text: &str) -> String {
        let mut values = Vec::new();
        // One value, or one per line (the monitor's NDJSON).
        match serde_json::from_str::<Value>(text) {
            Ok(v) => values.push(v),
            Err(_) => {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    values.push(
                        serde_json::from_str(line)
                            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}")),
                    );
                }
            }
        }
        values
            .into_iter()
            .map(|mut v| {
                self.value(&mut v);
                serde_json::to_string_pretty(&v).unwrap()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn value(&mut self, v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, item) in map.iter_mut() {
                    let zero = item.is_null() || item.as_u64() == Some(0) || item == "";
                    if (k.ends_with("Index") || k.ends_with("Time")) && !zero && !item.is_object() {
                        *item = Value::from(if k.ends_with("Index") {
                            "[index]"
                        } else {
                            "[time]"
                        });
                    } else {
                        self.value(item);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.value(i)),
            Value::String(s) if RFC3339.is_match(s) => *s = "[time]".into(),
            Value::String(s) if UUID.is_match(s) => *s = self.text(s),
            _ => {}
        }
    }
}

/// A job file (the API's register body) in a fresh directory that lives as long as the
/// returned guard.
pub fn job_file(body: &Value) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("job.json");
    std::fs::write(&path, serde_json::to_string_pretty(body).unwrap()).expect("write job file");
    let path = path.to_str().expect("UTF-8 path").to_owned();
    (dir, path)
}
