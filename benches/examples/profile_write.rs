//! Runs one write workload in a loop, for profilers and instruction counts:
//! `valgrind --tool=callgrind --toggle-collect='*profile_write*write_once*' target/release/examples/profile_write health 1000 1 100 100 dry_run`
//! Arguments: workload (`health`, `promote`, `fail`), size, k, iterations, background
//! jobs, and how the write is made: `dry_run` (the default: the engine applies to the
//! prepared state and keeps nothing, so every iteration measures the same write),
//! `submit` (stamp, apply, keep, on an O(1) clone of the prepared engine) or `apply`
//! (the raw function under both, on a prepared envelope).

use rollout_benches::fixture::*;
use rollout_engine::{apply, Command, DeploymentEngine, State};

/// How a measured write is made.
#[derive(Clone, Copy)]
enum Mode {
    DryRun,
    Submit,
    Apply,
}

/// One measured write: the only function callgrind needs to count.
#[inline(never)]
fn write_once(mode: Mode, engine: &DeploymentEngine, state: &State, cmd: Command) -> u64 {
    match mode {
        Mode::DryRun => {
            let applied = engine.dry_run(cmd).expect("apply");
            applied.outcome.index + applied.state.index()
        }
        Mode::Submit => {
            let mut e = engine.clone();
            let applied = e.submit(cmd).expect("apply");
            applied.outcome.index + applied.state.index()
        }
        Mode::Apply => {
            let (next, outcome) = apply(state, &envelope(state, cmd)).expect("apply");
            outcome.index + next.index()
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let workload = args.get(1).cloned().unwrap_or_else(|| "health".into());
    let size = arg(2, 1000);
    let k = arg(3, 1);
    let iterations = arg(4, 200);
    let jobs = arg(5, 100);
    let mode = match args.get(6).map(String::as_str) {
        Some("submit") => Mode::Submit,
        Some("apply") => Mode::Apply,
        _ => Mode::DryRun,
    };
    let store = bench_store(jobs);
    let engine = engine(&store.state);
    let mut sum = 0u64;
    for i in 0..iterations {
        let cmd = match workload.as_str() {
            "promote" => promote_command(store.canary[&size]),
            "fail" => fail_command(store.revert[&(size as u64)]),
            _ => set_health_command(&store.health[&size], i, k),
        };
        sum += write_once(mode, &engine, &store.state, cmd);
    }
    println!("{sum}");
}
