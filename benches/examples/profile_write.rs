//! Runs one anchor workload in a loop, for profilers and instruction counts:
//! `valgrind --tool=callgrind --toggle-collect='*profile_write*write_once*' target/release/examples/profile_write health 1000 1 100 100 dry_run`
//! Arguments: workload, size, k, iterations, background jobs, and how a write is made.
//!
//! Writes (`health`, `promote`, `fail`; counted in `write_once`): the mode is `dry_run`
//! (the default: the engine applies to the prepared state and keeps nothing, so every
//! iteration measures the same write), `submit` (stamp, apply, keep, on an O(1) clone of
//! the prepared engine) or `apply` (the raw function under both, on a prepared envelope).
//!
//! Reads (counted in `read_once`): `by_id` (a deployment by ID among `size`
//! deployments), `prefix` (deployments by a `k`-character hex ID prefix among `size`
//! deployments, namespace `default`) and `allocs` (the allocations of the set-health
//! target deployment with `size` allocations). The read stores hold only deployments, as
//! in the criterion bench; prefixes are prepared before the loop.
//!
//! `benches/check-instructions.sh` runs every workload of the CI guard through this.

use rollout_benches::fixture::*;
use rollout_engine::state::Prefix;
use rollout_engine::{apply, Command, DeploymentEngine, State};
use uuid::Uuid;

/// How a measured write is made.
#[derive(Clone, Copy)]
enum Mode {
    DryRun,
    Submit,
    Apply,
}

/// One measured write: the only function callgrind needs to count for writes.
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

/// A read workload's one operation.
enum Read<'a> {
    ById(&'a Uuid),
    Prefix(&'a Prefix),
    Allocs(&'a Uuid),
}

/// One measured read: what callgrind counts for reads. Every result is consumed (its
/// rows counted and an index summed) so that nothing is optimised away.
#[inline(never)]
fn read_once(state: &State, read: Read<'_>) -> u64 {
    match read {
        Read::ById(id) => state.deployment(id).map_or(0, |d| d.modify_index),
        Read::Prefix(p) => state
            .deployments_by_prefix(Some("default"), p)
            .map(|d| d.modify_index)
            .sum(),
        Read::Allocs(id) => state.deployment_allocs(id).map(|a| a.modify_index).sum(),
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
    let mut sum = 0u64;
    match workload.as_str() {
        "by_id" | "prefix" => {
            let (state, ids) = deployments_only(size);
            let pick = |i: usize| &ids[(i * 7919) % ids.len()];
            let prefixes: Vec<Prefix> = (0..iterations)
                .map(|i| Prefix::parse(&pick(i).simple().to_string()[..k]).expect("prefix"))
                .collect();
            for (i, p) in prefixes.iter().enumerate() {
                let read = if workload == "by_id" {
                    Read::ById(pick(i))
                } else {
                    Read::Prefix(p)
                };
                sum += read_once(&state, read);
            }
        }
        "allocs" => {
            let store = bench_store(jobs);
            let target = &store.health[&size].deployment;
            for _ in 0..iterations {
                sum += read_once(&store.state, Read::Allocs(target));
            }
        }
        _ => {
            let store = bench_store(jobs);
            let engine = engine(&store.state);
            for i in 0..iterations {
                let cmd = match workload.as_str() {
                    "promote" => promote_command(store.canary[&size]),
                    "fail" => fail_command(store.revert[&(size as u64)]),
                    _ => set_health_command(&store.health[&size], i, k),
                };
                sum += write_once(mode, &engine, &store.state, cmd);
            }
        }
    }
    println!("{sum}");
}
