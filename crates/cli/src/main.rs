//! `rollout`: the command-line entry point. `rollout agent` runs the service; the
//! operator commands (`rollout deployment …`, `rollout job …`, `rollout acl …`) talk
//! HTTP to a running agent, as Nomad's CLI does.

mod acl;
mod agent;
mod client;
mod deployment;
mod dev_cluster;
mod events;
mod fd_limit;
mod gc;
mod job;
mod monitor;
mod operator;
mod output;
mod plan;
mod resolve;
mod storage;

use clap::{Parser, Subcommand};
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent: the Nomad-compatible HTTP API over the rollout engine.
    Agent(agent::AgentArgs),
    /// Deployments: list, status (--monitor follows one live), promote, pause, resume,
    /// fail, allocation health.
    Deployment(deployment::DeploymentArgs),
    /// Jobs: run, plan and validate a jobspec (HCL2 or JSON), status, history, revert,
    /// stop, mark stable.
    Job(job::JobArgs),
    /// ACL bootstrap, policies and tokens of an agent run with `--acl-enabled`.
    Acl(acl::AclArgs),
    /// Follow the event stream: one line per event; reconnects without missing or
    /// repeating one.
    Events(events::EventsArgs),
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
    "now",
];

fn main() -> ExitCode {
    let flags: Vec<&str> = acl::NOMAD_STYLE_FLAGS
        .iter()
        .chain(NOMAD_STYLE_FLAGS)
        .copied()
        .collect();
    let args = client::normalize_flags(std::env::args().collect(), &flags);
    let cli = Cli::parse_from(args);
    match cli.command {
        Command::Agent(args) => agent::main(args),
        Command::Deployment(args) => deployment::main(args),
        Command::Job(args) => job::main(args),
        Command::Acl(args) => acl::main(args),
        Command::Events(args) => events::main(args),
    }
}
