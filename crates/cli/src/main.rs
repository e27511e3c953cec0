//! `rollout`: the command-line entry point. `rollout agent` runs the service; the
//! operator commands (`rollout deployment …`, `rollout job …`, `rollout alloc …`,
//! `rollout eval …`, `rollout namespace …`, `rollout acl …`) talk
//! HTTP to a running agent, as Nomad's CLI does.

mod acl;
mod agent;
mod alloc;
mod client;
mod cluster_member;
mod deployment;
mod dev_cluster;
mod eval;
mod events;
mod fd_limit;
mod gc;
mod job;
mod monitor;
mod namespace;
mod node;
mod operator;
mod output;
mod plan;
mod raft;
mod replay;
mod resolve;
mod status;
mod storage;
mod what_if;

/// The process's allocator. A wake-up storm (10,000 blocking queries answered at once) is
/// a burst of small allocations and frees on every runtime thread; glibc's malloc spent
/// most of it contending for its arena locks, and the last answer came 2.4× later than
/// with mimalloc's per-thread heaps (BENCHMARKS.md). The engine itself does not pick an
/// allocator: embedders keep theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "rollout",
    version,
    about = "Nomad-style progressive deployments"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// The agent's flags make its variant far larger than the others; the command line is
// parsed once per process, so boxing it would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent: the Nomad-compatible HTTP API over the rollout engine.
    Agent(agent::AgentArgs),
    /// Deployments: list, status (--monitor follows one live), promote, pause, resume,
    /// fail, allocation health.
    Deployment(deployment::DeploymentArgs),
    /// Jobs: run, plan and validate a jobspec (HCL2 or JSON), status, history, scale,
    /// revert, stop, mark stable.
    Job(job::JobArgs),
    /// Allocations: `alloc status` shows one and its tasks, as Nomad's.
    Alloc(alloc::AllocArgs),
    /// Evaluations: `eval status` shows one and its placement failures, as Nomad's.
    Eval(eval::EvalArgs),
    /// Namespaces: list, status, apply (create or update), delete.
    Namespace(namespace::NamespaceArgs),
    /// Client nodes: status (list, or one with its events and allocations), eligibility.
    Node(node::NodeArgs),
    /// ACL bootstrap, policies and tokens of an agent run with `--acl-enabled`.
    Acl(acl::AclArgs),
    /// Follow the event stream: one line per event; reconnects without missing or
    /// repeating one.
    Events(events::EventsArgs),
    /// Find jobs, deployments, allocations and evaluations by ID prefix and show the
    /// one found (no prefix: list the jobs), as `nomad status` does.
    Status(status::StatusArgs),
    /// The command log: `log export` writes a stopped agent's log as NDJSON.
    Log(replay::LogArgs),
    /// Rebuild the exact state from a log export (its fingerprint; `--to N` stops at N).
    Replay(replay::ReplayArgs),
    /// The cluster's Raft configuration: `operator raft list-peers|remove-peer`.
    Operator(raft::OperatorArgs),
    /// What a deployment will do from here if its allocations behave as assumed: the
    /// agent's state continued in the simulator (the agent is not touched).
    WhatIf(what_if::WhatIfArgs),
}

/// The long flags that may be written Nomad-style, with one dash (`-address=…`).
const NOMAD_STYLE_FLAGS: &[&str] = &[
    "namespace",
    "json",
    "prefix",
    "monitor",
    "verbose",
    "group",
    "healthy",
    "unhealthy",
    "check-index",
    "purge",
    "var",
    "var-file",
    "detach",
    "diff",
    "topic",
    "index",
    "after-index",
    "at-index",
    "dry-run",
    "data-dir",
    "from",
    "to",
    "output",
    "print-deployment",
    "now",
    "peer-id",
    "peer-address",
    "quota",
    "enable",
    "assume",
    "seed",
    "horizon",
    "disable",
];

fn main() -> ExitCode {
    let flags: Vec<&str> = acl::NOMAD_STYLE_FLAGS
        .iter()
        .chain(NOMAD_STYLE_FLAGS)
        .copied()
        .collect();
    let typed: Vec<String> = std::env::args().collect();
    let args = client::normalize_flags(typed.clone(), &flags);
    if let Some(flag) = client::unknown_single_dash_flag(&args) {
        Cli::command()
            .error(
                ErrorKind::UnknownArgument,
                format!("unexpected argument '{flag}' found"),
            )
            .exit();
    }
    let cli = match Cli::try_parse_from(client::hoist_global_flags(args)) {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // Name the flags as typed: `-detach`, not the `--detach` clap was given.
            let mut text = e.render().to_string();
            for arg in typed.iter().filter(|a| !a.starts_with("--")) {
                let name = arg.split('=').next().unwrap_or(arg);
                text = text
                    .replace(&format!("'-{name}'"), &format!("'{name}'"))
                    .replace(&format!("'-- -{name}'"), &format!("'-- {name}'"));
            }
            eprint!("{text}");
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
        Err(e) => e.exit(),
    };
    match cli.command {
        Command::Agent(args) => agent::main(args),
        Command::Deployment(args) => deployment::main(args),
        Command::Job(args) => job::main(args),
        Command::Alloc(args) => alloc::main(args),
        Command::Eval(args) => eval::main(args),
        Command::Namespace(args) => namespace::main(args),
        Command::Node(args) => node::main(args),
        Command::WhatIf(args) => what_if::main(args),
        Command::Acl(args) => acl::main(args),
        Command::Events(args) => events::main(args),
        Command::Log(args) => replay::log_main(args),
        Command::Replay(args) => replay::replay_main(args),
        Command::Status(args) => status::main(args),
        Command::Operator(args) => raft::main(args),
    }
}
