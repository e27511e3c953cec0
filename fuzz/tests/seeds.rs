//! Every committed seed runs cleanly through its target's harness: what `cargo fuzz run`
//! starts from, checked by `cargo test` without libFuzzer (a change that makes a seed
//! panic shows up here before any fuzzing).

use std::path::Path;

fn each_seed(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    let mut seeds = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("seed entry").path();
        let data = std::fs::read(&path).expect("read seed");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "seed {} panicked", path.display());
        seeds += 1;
    }
    assert!(seeds > 0, "no seeds in {}", dir.display());
}

#[test]
fn engine_commands_seeds_run_cleanly() {
    each_seed("engine_commands", rollout_fuzz::engine::run);
}

#[test]
fn json_bodies_seeds_run_cleanly() {
    each_seed("json_bodies", rollout_fuzz::bodies::run);
}

#[test]
fn query_params_seeds_run_cleanly() {
    each_seed("query_params", rollout_fuzz::queries::run);
}

#[test]
fn store_records_seeds_run_cleanly() {
    each_seed("store_records", rollout_fuzz::records::run);
}
