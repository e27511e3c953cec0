//! Runs one write workload in a loop, for profilers:
//! `valgrind --tool=callgrind --toggle-collect='*rollout_engine*apply*' target/release/examples/profile_write health 1000 1`
//! Arguments: workload (`health`, `promote`, `fail`), size, k, iterations, background jobs.

use rollout_benches::fixture::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let workload = args.get(1).cloned().unwrap_or_else(|| "health".into());
    let size = arg(2, 1000);
    let k = arg(3, 1);
    let iterations = arg(4, 200);
    let jobs = arg(5, 100);
    let store = bench_store(jobs);
    let engine = engine(&store.state);
    let mut sum = 0u64;
    for i in 0..iterations {
        let cmd = match workload.as_str() {
            "promote" => promote_command(store.canary[&size]),
            "fail" => fail_command(store.revert[&(size as u64)]),
            _ => set_health_command(&store.health[&size], i, k),
        };
        // A dry run applies to the prepared state and keeps nothing: every iteration
        // measures the same write.
        let applied = engine.dry_run(cmd).expect("apply");
        sum += applied.outcome.index + applied.state.index();
    }
    println!("{sum}");
}
