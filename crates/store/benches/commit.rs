//! Durable commit throughput with 1, 8 and 64 concurrent submitters, against the fsync
//! floor measured in the same run (a loop that appends one small record to a file and
//! fsyncs it).
//!
//! Also measures the record format: MessagePack (named fields) against JSON for a typical
//! log record and a snapshot.
//!
//! `cargo bench -p rollout-store --bench commit` (`ROLLOUT_BENCH_SECONDS`, default 3 per
//! case). Results go to stdout as Markdown tables; see BENCHMARKS.md.

use rollout_engine::{Entropy, Envelope, State};
use rollout_store::codec;
use rollout_store::{workload, Options, Store};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use uuid::Uuid;

fn main() {
    let seconds: u64 = std::env::var("ROLLOUT_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let run_for = Duration::from_secs(seconds);
    let tmp = tempfile::tempdir().unwrap();
    codec_speed(&tmp.path().join("codec"));

    let floor = fsync_floor(tmp.path(), run_for);
    println!(
        "| case | commands/s | fsyncs (batches)/s | mean batch | vs 1 submitter | vs fsync floor |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    println!("| fsync floor (append 64 B + fdatasync) | {floor:.0} | {floor:.0} | 1 | | 1.0× |");
    let mut single = None;
    for submitters in [1usize, 8, 64] {
        let dir = tmp.path().join(format!("s{submitters}"));
        let (rate, batches_per_s, mean_batch) = commit_rate(&dir, submitters, run_for);
        let base = *single.get_or_insert(rate);
        println!(
            "| {submitters} submitter{} | {rate:.0} | {batches_per_s:.0} | {mean_batch:.1} | {:.1}× | {:.1}× |",
            if submitters == 1 { "" } else { "s" },
            rate / base,
            rate / floor
        );
    }
}

/// Appends a 64-byte record and `fdatasync`s, as fast as possible: one durable write per
/// device round trip, the physical limit of a commit that waits for its own fsync.
fn fsync_floor(dir: &std::path::Path, run_for: Duration) -> f64 {
    let mut file = std::fs::File::create(dir.join("floor")).unwrap();
    let record = [0xabu8; 64];
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < run_for {
        file.write_all(&record).unwrap();
        file.sync_data().unwrap();
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Submitters loop for `run_for`, each reporting client updates for its own allocation
/// (the most frequent write of a live cluster). Returns commands/s, batches/s and the
/// mean batch size.
fn commit_rate(dir: &std::path::Path, submitters: usize, run_for: Duration) -> (f64, f64, f64) {
    let store = Arc::new(
        Store::open(
            dir,
            Options {
                // Steady state includes snapshots, as in production.
                snapshot_every_entries: 10_000,
                ..Options::default()
            },
        )
        .unwrap(),
    );
    let allocs = bootstrap(&store, submitters);
    let before = store.stats();
    let count = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(submitters + 1));
    let handles: Vec<_> = (0..submitters)
        .map(|t| {
            let (store, count, barrier) = (store.clone(), count.clone(), barrier.clone());
            let alloc = allocs[t % allocs.len()];
            std::thread::spawn(move || {
                barrier.wait();
                let started = Instant::now();
                let mut i = 0i64;
                while started.elapsed() < run_for {
                    i += 1;
                    let cmd = workload::client_running(alloc, 1_700_000_000_000_000_000 + i, true);
                    store.submit(cmd).unwrap();
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = store.stats();
    let n = count.load(Ordering::Relaxed) as f64;
    let batches = (after.batches - before.batches) as f64;
    (n / elapsed, batches / elapsed, n / batches.max(1.0))
}

/// Registers jobs and places their allocations: one allocation per submitter.
fn bootstrap(store: &Store, allocs: usize) -> Vec<Uuid> {
    let jobs = allocs.div_ceil(4);
    for j in 0..jobs {
        store
            .submit(workload::register(&format!("bench-{j}"), 4, "app:1"))
            .unwrap();
    }
    let placed = workload::schedule(store, 1_700_000_000_000_000_000, 20).unwrap();
    assert!(
        placed.len() >= allocs,
        "placed {} allocations",
        placed.len()
    );
    placed
}

/// Encode and decode times of a registration envelope and of a state with 100 jobs,
/// MessagePack (what the store writes) against JSON.
fn codec_speed(dir: &std::path::Path) {
    let env = Envelope::new(
        1,
        1_700_000_000_000_000_000,
        Entropy::from_u64(1),
        workload::register("web", 3, "app:1"),
    );
    let store = Store::open(dir, Options::default()).unwrap();
    for j in 0..100 {
        store
            .submit(workload::register(&format!("job-{j}"), 3, "app:1"))
            .unwrap();
    }
    workload::schedule(&store, 1_700_000_000_000_000_000, 20).unwrap();
    let state = store.state();
    println!("| payload | format | bytes | encode | decode |");
    println!("|---|---|---:|---:|---:|");
    row(
        "RegisterJob envelope",
        "MessagePack",
        20_000,
        || codec::encode_log_record(&env).unwrap(),
        |b| drop(codec::decode_log_record(b).unwrap()),
    );
    row(
        "RegisterJob envelope",
        "JSON",
        20_000,
        || serde_json::to_vec(&env).unwrap(),
        |b| drop(serde_json::from_slice::<Envelope>(b).unwrap()),
    );
    let title = format!("State, {} allocations", state.alloc_count());
    row(
        &title,
        "MessagePack",
        50,
        || codec::encode_snapshot(&state).unwrap(),
        |b| drop(codec::decode_snapshot(b).unwrap()),
    );
    row(
        &title,
        "JSON",
        50,
        || serde_json::to_vec(&*state).unwrap(),
        |b| drop(serde_json::from_slice::<State>(b).unwrap()),
    );
}

fn row(what: &str, format: &str, n: u32, encode: impl Fn() -> Vec<u8>, decode: impl Fn(&[u8])) {
    let bytes = encode();
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(encode());
    }
    let enc = started.elapsed() / n;
    let started = Instant::now();
    for _ in 0..n {
        decode(std::hint::black_box(&bytes));
    }
    let dec = started.elapsed() / n;
    println!(
        "| {what} | {format} | {} | {enc:.1?} | {dec:.1?} |",
        bytes.len()
    );
}
