//! Recovery time and peak memory for a long log, with and without a recent snapshot.
//!
//! `cargo bench -p rollout-store --bench recovery` builds a store of
//! `ROLLOUT_BENCH_ENTRIES` commands (default 1,000,000; a steady-state workload of client
//! allocation updates over 100 jobs) with a snapshot 1,000 entries before the end, then
//! opens it in fresh child processes (so each peak RSS is its own):
//! - with the snapshot (replays ~1,000 entries),
//! - without it (the snapshot moved aside: replays the whole log),
//!
//! each with and without redb's whole-file verification. A second store of the same
//! length is built with the production defaults (snapshot every 10,000 entries, log
//! truncated to a 10,000-entry tail) and opened the same two ways. Results go to stdout;
//! see BENCHMARKS.md. Set `ROLLOUT_BENCH_DIR` to keep the built stores between runs.

use rollout_store::{workload, Options, Store};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

const CHILD: &str = "ROLLOUT_BENCH_CHILD";
const T0: i64 = 1_700_000_000_000_000_000;

fn main() {
    if let Ok(mode) = std::env::var(CHILD) {
        let dir = PathBuf::from(std::env::var("ROLLOUT_BENCH_STORE").unwrap());
        match mode.as_str() {
            "open-verify" => open(&dir, true),
            "open" => open(&dir, false),
            other => panic!("unknown child mode {other}"),
        }
        return;
    }
    let entries: u64 = std::env::var("ROLLOUT_BENCH_ENTRIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var("ROLLOUT_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| tmp.path().join("store"));
    if !dir.join(rollout_store::DB_FILE).exists() {
        let whole_log = Options {
            snapshot_every_entries: 0,
            snapshot_every_bytes: 0,
            log_retention: rollout_store::LogRetention::Entries(u64::MAX),
            ..Options::default()
        };
        build(&dir, entries, whole_log, Some(entries - 1000));
    }
    let db_bytes = std::fs::metadata(dir.join(rollout_store::DB_FILE))
        .unwrap()
        .len();
    let snapshot = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "rsnap"))
        .expect("a snapshot");
    let snap_bytes = std::fs::metadata(&snapshot).unwrap().len();
    println!(
        "store: {} (database {:.1} MiB, snapshot {:.1} MiB)",
        dir.display(),
        db_bytes as f64 / 1048576.0,
        snap_bytes as f64 / 1048576.0
    );
    println!("| case | open time | snapshot load | entries replayed | replay | peak RSS |");
    println!("|---|---:|---:|---:|---:|---:|");
    for mode in ["open", "open-verify"] {
        child(&dir, mode, "recent snapshot");
    }
    let aside = snapshot.with_extension("held");
    std::fs::rename(&snapshot, &aside).unwrap();
    for mode in ["open", "open-verify"] {
        child(&dir, mode, "no snapshot");
    }
    std::fs::rename(&aside, &snapshot).unwrap();

    let defaults = dir.with_extension("defaults");
    if !defaults.join(rollout_store::DB_FILE).exists() {
        build(&defaults, entries, Options::default(), None);
    }
    let db_bytes = std::fs::metadata(defaults.join(rollout_store::DB_FILE))
        .unwrap()
        .len();
    println!(
        "| production defaults ({:.1} MiB database file) | | | | | |",
        db_bytes as f64 / 1048576.0
    );
    for mode in ["open", "open-verify"] {
        child(&defaults, mode, "defaults");
    }
}

fn child(dir: &Path, mode: &str, label: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .env(CHILD, mode)
        .env("ROLLOUT_BENCH_STORE", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verify = if mode == "open-verify" {
        ", verify_file_on_open"
    } else {
        ""
    };
    print!("| {label}{verify} {}", String::from_utf8_lossy(&out.stdout));
}

fn open(dir: &Path, verify: bool) {
    let started = Instant::now();
    let store = Store::open(
        dir,
        Options {
            verify_file_on_open: verify,
            snapshot_every_entries: 0,
            snapshot_every_bytes: 0,
            ..Options::default()
        },
    )
    .unwrap();
    let elapsed = started.elapsed();
    let r = store.recovery_report();
    println!(
        "| {:.2} s | {:.2} s | {} | {:.2} s | {} MiB |",
        elapsed.as_secs_f64(),
        r.snapshot_load.as_secs_f64(),
        r.entries_replayed,
        r.replay.as_secs_f64(),
        peak_rss_kib() / 1024
    );
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Bootstraps 100 jobs of 3 allocations, then pipelines client updates through
/// `submit_async` so batches are large and building a million entries takes a minute or
/// two, not hours. With `snapshot_at`, a snapshot is taken at that index.
fn build(dir: &Path, entries: u64, options: Options, snapshot_at: Option<u64>) {
    let started = Instant::now();
    let store = Arc::new(Store::open(dir, options).unwrap());
    for j in 0..100 {
        store
            .submit(workload::register(&format!("job-{j}"), 3, "app:1"))
            .unwrap();
    }
    let allocs = workload::schedule(&store, T0, 20).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut i = 0u64;
    while store.state().index() < entries {
        let target = entries.min(store.state().index() + 4096);
        if let Some(at) = snapshot_at.filter(|at| (store.state().index()..=target).contains(at)) {
            rt.block_on(drain(&store, at, &mut i, &allocs));
            store.snapshot_now().unwrap();
        }
        rt.block_on(drain(&store, target, &mut i, &allocs));
    }
    eprintln!(
        "built {} entries in {:.1} s",
        store.state().index(),
        started.elapsed().as_secs_f64()
    );
}

/// Submits client updates until the state reaches `target`, up to 4096 in flight.
async fn drain(store: &Store, target: u64, i: &mut u64, allocs: &[uuid::Uuid]) {
    let missing = target.saturating_sub(store.state().index());
    let mut pending = Vec::new();
    for _ in 0..missing {
        *i += 1;
        let alloc = allocs[(*i % allocs.len() as u64) as usize];
        pending.push(store.submit_async(workload::client_running(alloc, T0 + *i as i64, true)));
    }
    for p in pending {
        p.await.unwrap();
    }
}
