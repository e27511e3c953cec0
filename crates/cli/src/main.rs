//! `rollout`: the command-line entry point. Today it runs the agent; operator commands
//! (`rollout deployment …`, `rollout job …`) will join it.

mod acl;
mod agent;
mod client;
mod dev_cluster;
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
    /// ACL bootstrap, policies and tokens of an agent run with `--acl-enabled`.
    Acl(acl::AclArgs),
}

fn main() -> ExitCode {
    let args = client::normalize_flags(std::env::args().collect(), acl::NOMAD_STYLE_FLAGS);
    let cli = Cli::parse_from(args);
    match cli.command {
        Command::Agent(args) => agent::main(args),
        Command::Acl(args) => acl::main(args),
    }
}
