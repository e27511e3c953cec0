//! Replays an `engine_commands` input step by step, printing each action, the command it
//! became and what the engine answered, then the final deployments and allocations: the
//! first thing to run on a crash artifact.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example explain -- fuzz/artifacts/engine_commands/crash-…`
//! (set `QUIET=1` to leave out the actions).

use rollout_engine::{apply, Entropy, Envelope, State};
use rollout_fuzz::engine::*;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: explain <engine_commands input file>");
        std::process::exit(2);
    };
    let data = std::fs::read(&path).expect("read input");
    let quiet = std::env::var_os("QUIET").is_some();
    let mut state = State::new();
    let mut now = T0;
    for (i, s) in decode(&data).iter().enumerate() {
        if !quiet {
            println!("{i}: {:?}", s.action);
        }
        now = advance(now, &s.action);
        let Some(cmd) = command(&state, now, s) else {
            println!("{i}:   (no command)");
            continue;
        };
        let env = Envelope::new(state.index() + 1, now, Entropy::from_u64(i as u64), cmd);
        match apply(&state, &env) {
            Ok((next, o)) => {
                println!(
                    "{i}:   {} at {} → ok, {} evals, {} allocs, {} rollbacks",
                    env.command.name(),
                    env.index,
                    o.evals_created.len(),
                    o.allocs_created.len(),
                    o.rollbacks.len()
                );
                state = next;
            }
            Err(e) => println!("{i}:   {} → {e}", env.command.name()),
        }
    }
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
