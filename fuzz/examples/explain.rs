//! Replays an `engine_commands` input step by step, printing each action, the command it
//! became and what the engine answered, then the final deployments and allocations: the
//! first thing to run on a crash artifact.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example explain -- fuzz/artifacts/engine_commands/crash-…`
//! (set `QUIET=1` to leave out the actions).

use rollout_fuzz::engine::*;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: explain <engine_commands input file>");
        std::process::exit(2);
    };
    let data = std::fs::read(&path).expect("read input");
    let quiet = std::env::var_os("QUIET").is_some();
    let (engine, _) = drive(&decode(&data), |i, step, _, stepped, _| {
        if !quiet {
            println!("{i}: {:?}", step.action);
        }
        match stepped {
            Stepped::NoCommand => println!("{i}:   (no command)"),
            Stepped::Applied(a) => println!(
                "{i}:   {} at {} → ok, {} evals, {} allocs, {} rollbacks",
                a.envelope.command.name(),
                a.envelope.index,
                a.outcome.evals_created.len(),
                a.outcome.allocs_created.len(),
                a.outcome.rollbacks.len()
            ),
            Stepped::Rejected { command, error } => {
                println!("{i}:   {} → {error}", command.name())
            }
        }
    });
    let state = engine.state();
    for d in state.deployments_in_namespace(None) {
        println!(
            "deployment {} {} v{} {:?}",
            d.id, d.status, d.job_version, d.task_groups
        );
    }
    for a in state.allocs_in_namespace(None) {
        println!(
            "alloc {} {} {} {:?} {:?}",
            a.id, a.name, a.client_status, a.deployment_id, a.deployment_status
        );
    }
}
