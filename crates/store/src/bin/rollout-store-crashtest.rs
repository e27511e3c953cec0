//! Child process of the crash test (`tests/crash.rs`): opens a store and submits commands
//! from several threads until it is killed, printing `ack <index> <crc>` for each command
//! once `submit` has returned (so only after its fsync). `<crc>` is the CRC32 of the
//! command's MessagePack encoding, which lets the parent check that the command logged at
//! that index is the one acknowledged.
//!
//! Usage: rollout-store-crashtest <dir> <threads> <seed> [mode]
//!
//! Modes (what the kills should land in):
//! - `mixed` (default): commits, with a snapshot every 40 entries and the whole log kept.
//! - `snapshots`: a snapshot every 5 entries, so that kills often land mid-snapshot.
//! - `truncation`: a snapshot every 10 entries and a log tail of 5, so that the log is
//!   truncated (and old snapshots pruned) all the time.
//! - `create`: creates store after store in `<dir>/NNNNNN`, printing `begin N` before
//!   and `created N` once the store is open and one command in it acknowledged, so
//!   that kills land in store creation.

use rollout_engine::Command;
use rollout_store::{workload, Options, Store};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(threads), Some(seed)) = (
        args.get(1),
        args.get(2).and_then(|s| s.parse::<u64>().ok()),
        args.get(3).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: rollout-store-crashtest <dir> <threads> <seed> [mixed|snapshots|truncation|create]");
        std::process::exit(64);
    };
    let mode = args.get(4).map_or("mixed", String::as_str);
    if mode == "create" {
        create_forever(Path::new(dir));
    }
    let Some(options) = crash_options(mode) else {
        eprintln!("unknown mode {mode}");
        std::process::exit(64);
    };
    let store = match Store::open(dir, options) {
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
    report_background_work(&store);
    for h in handles {
        let _ = h.join();
    }
}

/// The options of each mode (see the module docs).
pub fn crash_options(mode: &str) -> Option<Options> {
    let (every, tail) = match mode {
        // The whole log is kept, so the parent can compare the recovered state with a
        // replay from index 1.
        "mixed" => (40, u64::MAX),
        "snapshots" => (5, u64::MAX),
        "truncation" => (10, 5),
        _ => return None,
    };
    Some(Options {
        snapshot_every_entries: every,
        log_retention: rollout_store::LogRetention::Entries(tail),
        snapshots_retained: 2,
        ..Options::default()
    })
}

/// Prints `snapshot <index>` and `truncated <index>` as the store's background work
/// progresses, so that the parent can tell what a kill interrupted.
fn report_background_work(store: &Store) {
    let (mut snapshots, mut truncated) = (0, 0);
    loop {
        let stats = store.stats();
        if stats.snapshots_written != snapshots {
            snapshots = stats.snapshots_written;
            let index = stats.last_snapshot.map_or(0, |s| s.index);
            line(&format!("snapshot {index}"));
        }
        if stats.truncated_through != truncated {
            truncated = stats.truncated_through;
            line(&format!("truncated {truncated}"));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

fn create_forever(parent: &Path) -> ! {
    for n in 0u64.. {
        let dir = parent.join(format!("{n:06}"));
        line(&format!("begin {n}"));
        let store = match Store::open(&dir, Options::default()) {
            Ok(s) => s,
            Err(e) => fail(&format!("creating {}: {e}", dir.display())),
        };
        if let Err(e) = store.submit(Command::Tick) {
            fail(&e.to_string());
        }
        drop(store);
        line(&format!("created {n}"));
    }
    unreachable!("u64 stores created")
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
    line(&format!("ack {index} {crc}"));
}

fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    // If the parent is gone there is nobody to tell; keep going until killed.
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

fn now_ns() -> i64 {
    rollout_store::system_now_ns()
}

fn fail(message: &str) -> ! {
    eprintln!("submit failed: {message}");
    std::process::exit(4);
}
