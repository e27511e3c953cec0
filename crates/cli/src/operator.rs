//! What every operator command (`rollout deployment …`, `rollout job …`) shares: the
//! global flags, the client they resolve to, how results are printed (human or
//! `--json`), how failures are reported (one line on stderr) and the exit codes.
//!
//! Exit codes, as Nomad's `job run` documents them: 0 done (a monitored deployment
//! succeeded); 1 the command failed (the agent refused it, was unreachable, an ID
//! matched nothing or more than one object) or a monitored deployment ended failed or
//! cancelled — after following the rollback's deployment, when one was registered; 2 bad
//! usage (clap's code) or, for `job run` and `job scale`, an evaluation that could not
//! place every allocation (unless the deployment then succeeded).

use crate::client::{Client, ClientArgs, ClientError};
use crate::output::{self, Style};
use clap::Args;
use serde_json::Value;
use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

/// The exit code of a monitored deployment that failed or was cancelled (Nomad's: any
/// failure but a placement one is 1).
pub const EXIT_DEPLOYMENT_FAILED: u8 = 1;
/// The exit code of `job run` when the evaluation could not place every allocation
/// (Nomad's documented code), and of bad usage (clap's).
pub const EXIT_PLACEMENT_FAILED: u8 = 2;
pub const EXIT_USAGE: u8 = 2;

/// Flags every operator command takes, before or after its subcommand.
#[derive(Clone, Debug, Default, Args)]
pub struct OperatorArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Namespace of the jobs and deployments [env: NOMAD_NAMESPACE; default "default"]
    #[arg(long, value_name = "NS", global = true)]
    pub namespace: Option<String>,
    /// Print the API's JSON instead of tables
    #[arg(long, global = true)]
    pub json: bool,
    /// Show what a write would do (the agent's dry run) without doing it
    #[arg(long, global = true)]
    pub dry_run: bool,
}

/// A command's connection to the agent and its output settings.
pub struct Ctx {
    pub client: Client,
    pub json: bool,
    /// `--dry-run`: writes are sent with `dry_run=true` and their answer printed as
    /// what would change; the command ends there.
    pub dry_run: bool,
    pub style: Style,
    /// The namespace asked for (`default` unless set): for prefix lookups and messages.
    pub namespace: String,
    /// Whether `namespace` was asked for (`--namespace`, `NOMAD_NAMESPACE`) rather than
    /// the default: a job file's own namespace counts only when it was not.
    pub namespace_given: bool,
}

/// Why a command did not succeed: printed on one line to stderr (when there is a
/// message), and the process exits with `code`.
#[derive(Debug)]
pub struct Failure {
    pub message: Option<String>,
    pub code: u8,
}

impl Failure {
    /// A failed step: `Error <doing>: <why>`, exit 1.
    pub fn new(doing: &str, why: impl Display) -> Failure {
        Failure {
            message: Some(format!("Error {doing}: {why}")),
            code: 1,
        }
    }

    /// A plain message, exit 1.
    pub fn msg(message: impl Into<String>) -> Failure {
        Failure {
            message: Some(message.into()),
            code: 1,
        }
    }

    /// Bad usage that clap cannot see: the message, exit 2.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: Some(message.into()),
            code: EXIT_USAGE,
        }
    }

    /// Exit with `code`, having said everything on stdout already.
    pub fn quiet(code: u8) -> Failure {
        Failure {
            message: None,
            code,
        }
    }
}

/// Attaches what was being done to a client error.
pub trait Context<T> {
    fn doing(self, what: &str) -> Result<T, Failure>;
}

impl<T> Context<T> for Result<T, ClientError> {
    fn doing(self, what: &str) -> Result<T, Failure> {
        self.map_err(|e| Failure::new(what, e))
    }
}

pub type CmdResult = Result<(), Failure>;

impl OperatorArgs {
    fn ctx(&self) -> Result<Ctx, Failure> {
        let namespace = self.namespace.clone().or_else(|| {
            std::env::var("NOMAD_NAMESPACE")
                .ok()
                .filter(|n| !n.is_empty())
        });
        let client = self
            .client
            .client()
            .map_err(|e| Failure::new("creating the client", e))?
            .with_namespace(namespace.clone());
        Ok(Ctx {
            client,
            json: self.json,
            dry_run: self.dry_run,
            style: Style::for_stdout(),
            namespace_given: namespace.is_some(),
            namespace: namespace.unwrap_or_else(|| "default".into()),
        })
    }

    /// Runs an async command on a single-threaded runtime and maps its result to the
    /// process's exit code.
    pub fn run<'a, F, Fut>(&'a self, command: F) -> ExitCode
    where
        F: FnOnce(Ctx) -> Fut,
        Fut: Future<Output = CmdResult> + 'a,
    {
        let result = self.ctx().and_then(|ctx| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Failure::new("starting the async runtime", e))?
                .block_on(command(ctx))
        });
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => {
                if let Some(m) = failure.message {
                    eprintln!("{m}");
                }
                ExitCode::from(failure.code)
            }
        }
    }
}

impl Ctx {
    /// `--json` output: the value, indented.
    pub fn print_json(&self, value: &Value) {
        output::emit(serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()));
    }

    /// Prints `value` with `--json`, else the human text `human` makes of it.
    pub fn print(&self, value: &Value, human: impl FnOnce(&Value) -> String) {
        if self.json {
            self.print_json(value);
        } else {
            output::emit(human(value));
        }
    }

    /// GET `path` as JSON.
    pub async fn read(&self, path: &str, doing: &str) -> Result<Value, Failure> {
        self.client
            .get(path)
            .await
            .and_then(|r| r.json())
            .doing(doing)
    }

    /// PUT `body` to `path`, the answer as JSON. With `--dry-run`, the agent's dry run:
    /// what would change is printed and the command ends (exit 0) without writing.
    pub async fn write(&self, path: &str, body: &Value, doing: &str) -> Result<Value, Failure> {
        if self.dry_run {
            let r = self
                .client
                .put(&with_dry_run(path), body)
                .await
                .and_then(|r| r.json())
                .doing(doing)?;
            return Err(self.dry_run_done(&r));
        }
        self.client
            .put(path, body)
            .await
            .and_then(|r| r.json())
            .doing(doing)
    }

    /// DELETE `path`, the answer as JSON; `--dry-run` as for [`Ctx::write`].
    pub async fn remove(&self, path: &str, doing: &str) -> Result<Value, Failure> {
        let path = if self.dry_run {
            with_dry_run(path)
        } else {
            path.to_string()
        };
        let r = self
            .client
            .delete(&path)
            .await
            .and_then(|r| r.json())
            .doing(doing)?;
        if self.dry_run {
            return Err(self.dry_run_done(&r));
        }
        Ok(r)
    }

    /// Prints a dry run's answer and ends the command successfully.
    fn dry_run_done(&self, answer: &Value) -> Failure {
        self.print(answer, dry_run_text);
        Failure::quiet(0)
    }
}

/// A string field of an API object (empty when absent).
pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// An unsigned field of an API object (0 when absent).
pub fn u64_of(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

/// `path` with `dry_run=true` added to its query.
fn with_dry_run(path: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}dry_run=true")
}

/// A dry run's answer in words: the index it would be applied at, each object it would
/// change with the rule and reason, and a rollback it would make.
pub fn dry_run_text(answer: &Value) -> String {
    let dry = &answer["DryRun"];
    let mut lines = vec![format!(
        "Dry run: nothing was written; the write would be applied at index {}",
        u64_of(dry, "Index")
    )];
    for c in dry["Changes"].as_array().into_iter().flatten() {
        let key = str_of(c, "Key");
        let key = if key.len() == 36 { &key[..8] } else { key };
        lines.push(format!(
            "  {} {key} {}: {} ({})",
            str_of(c, "Topic"),
            str_of(c, "Change").to_lowercase(),
            str_of(c, "Reason"),
            str_of(c, "Rule")
        ));
    }
    for r in dry["Rollbacks"].as_array().into_iter().flatten() {
        let line = match str_of(r, "Decision") {
            "RolledBack" => format!(
                "  rollback: stable version {} would be registered again as version {}",
                u64_of(r, "StableVersion"),
                u64_of(r, "NewVersion")
            ),
            "SameSpecification" => format!(
                "  no rollback: stable version {} has the same specification",
                u64_of(r, "StableVersion")
            ),
            _ => "  no rollback: no version is stable".to_string(),
        };
        lines.push(line);
    }
    lines.join("\n")
}
