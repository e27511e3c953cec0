//! Child process of the crash test (`tests/crash.rs`): opens a store and submits commands
//! from several threads until it is killed, printing `ack <index> <crc>` for each command
//! once `submit` has returned (so only after its fsync). `<crc>` is the CRC32 of the
//! command's MessagePack encoding, which lets the parent check that the command logged at
//! that index is the one acknowledged.
//!
//! Usage: rollout-store-crashtest <dir> <threads> <seed>

use rollout_engine::Command;
use rollout_store::{workload, Options, Store};
use std::io::Write;
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(threads), Some(seed)) = (
        args.get(1),
        args.get(2).and_then(|s| s.parse::<u64>().ok()),
        args.get(3).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: rollout-store-crashtest <dir> <threads> <seed>");
        std::process::exit(64);
    };
    let store = match Store::open(dir, crash_options()) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("open failed: {e}");
            std::process::exit(3);
        }
    };
    println!(
        "open {} {}",
        store.state().index(),
        store.recovery_report().entries_replayed
    );
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || submit_forever(&store, seed, t))
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
}

/// Frequent snapshots, so kills land during snapshot writes too; the whole log is kept,
/// so the parent can compare the recovered state with a replay from index 1.
pub fn crash_options() -> Options {
    Options {
        snapshot_every_entries: 40,
        log_tail_entries: u64::MAX,
        snapshots_retained: 2,
        ..Options::default()
    }
}

fn submit_forever(store: &Store, seed: u64, thread: u64) {
    let mut n = seed.wrapping_mul(1_000_003).wrapping_add(thread * 7919);
    loop {
        n = n.wrapping_add(1);
        if thread == 0 && n.is_multiple_of(25) {
            // Scheduler and clients: plan results, eval updates, allocation health.
            if let Err(e) = workload::schedule(store, now_ns(), 2) {
                fail(&e.to_string());
            }
            continue;
        }
        let command = workload::mixed(n, 6);
        match store.submit(command.clone()) {
            Ok(c) => ack(c.outcome.index, &command),
            Err(e) if e.rejection().is_some() => {}
            Err(e) => fail(&e.to_string()),
        }
    }
}

fn ack(index: u64, command: &Command) {
    let crc = rmp_serde::to_vec_named(command).map_or(0, |b| crc32fast::hash(&b));
    let mut out = std::io::stdout().lock();
    // If the parent is gone there is nobody to tell; keep going until killed.
    let _ = writeln!(out, "ack {index} {crc}");
    let _ = out.flush();
}

fn now_ns() -> i64 {
    rollout_store::system_now_ns()
}

fn fail(message: &str) -> ! {
    eprintln!("submit failed: {message}");
    std::process::exit(4);
}
