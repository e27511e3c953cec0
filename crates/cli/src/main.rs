//! `rollout`: the command-line entry point. Today it runs the agent; operator commands
//! (`rollout deployment …`, `rollout job …`) will join it.

mod agent;
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Agent(args) => agent::main(args),
    }
}
