//! Storage faults injected deterministically ([`rollout_store::faults`]): a full disk, a
//! failed fsync, short and torn writes, failed reads, power cuts. Whatever happens, every
//! acknowledged command is there after recovery — or the store refuses to open and
//! names the problem. Never silent loss.

mod common;

use common::*;
use rollout_engine::Command;
use rollout_store::faults::{FaultPlan, Rates};
use rollout_store::{workload, Options, Store, SubmitError};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Polls `check` (bounded: a minute) and panics with `what` if it never holds.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..6000 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("never happened: {what}");
}

fn faulty(seed: u64, plan: &Arc<FaultPlan>) -> Options {
    Options {
        faults: Some(plan.clone()),
        ..options(seed)
    }
}

/// Each acknowledged (index, job ID) is in the reopened store's log.
fn assert_all_present(dir: &Path, acked: &[(u64, String)]) {
    let store = open(dir, options(0));
    let log = store.read_log(1, usize::MAX).unwrap();
    assert_log_contiguous(&store, store.state().index());
    for (index, id) in acked {
        let env = log
            .get((*index - 1) as usize)
            .unwrap_or_else(|| panic!("acknowledged index {index} lost"));
        match &env.command {
            Command::RegisterJob(r) => assert_eq!(&r.job.id, id, "index {index}"),
            other => panic!("index {index} holds {}", other.name()),
        }
    }
    assert_eq!(bytes(&store.state()), bytes(&replay_log(&store)));
}

#[test]
fn after_a_failed_commit_the_store_recovers_by_itself_once_space_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let plan = FaultPlan::new(4);
    let store = open(dir.path(), faulty(4, &plan));
    let mut acked = Vec::new();
    let mut register = |store: &Store, n: u64| {
        let id = format!("job-{n}");
        store
            .submit(workload::register(&id, 1, "app:1"))
            .map(|c| acked.push((c.outcome.index, id)))
    };
    for n in 0..10 {
        register(&store, n).unwrap();
    }
    plan.set_disk_full(true);
    let e = register(&store, 10).unwrap_err();
    assert!(matches!(e, SubmitError::Storage(_)), "{e}");
    let e = register(&store, 11).unwrap_err();
    assert!(matches!(e, SubmitError::Failed(_)), "{e}");
    let why = store.refusing_writes().expect("refusing writes");
    assert!(why.contains("No space left on device"), "{why}");

    plan.set_disk_full(false);
    let mut n = 12;
    eventually("writes are accepted again", || {
        n += 1;
        register(&store, n).is_ok()
    });
    for _ in 0..5 {
        n += 1;
        register(&store, n).unwrap();
    }
    assert_eq!(store.refusing_writes(), None);
    let stats = store.stats();
    assert!(
        stats.failed_commits >= 1 && stats.recoveries >= 1,
        "{stats:?}"
    );
    drop(store);
    assert_all_present(dir.path(), &acked);
}

/// Faults of one seed: one to three kinds, each at 0.1% to 2% of operations.
fn rates(rng: &mut Rng) -> Rates {
    let mut r = Rates::default();
    for _ in 0..=rng.below(3) {
        let rate = 1_000 + rng.below(19_000) as u32;
        match rng.below(7) {
            0 => r.write_enospc = rate,
            1 => r.short_write = rate,
            2 => r.write_eio = rate,
            3 => r.sync_eio = rate,
            4 => r.read_eio = rate,
            5 => r.torn_write = rate / 4,
            _ => r.file_enospc = rate * 10,
        }
    }
    r
}

/// Storage faults driven by a seed, with the crash test's checks: after the run (which
/// ends with a power cut or a clean close) the store reopens with every acknowledged
/// command at its index and a state equal to a replay of its log — or refuses to open
/// naming the file. Never silent loss. `ROLLOUT_FAULT_SEEDS` (default 40) seeds from
/// `ROLLOUT_FAULT_SEED` (default 1).
#[test]
fn seeded_storage_faults_never_lose_an_acknowledged_command() {
    let seeds = env_u64("ROLLOUT_FAULT_SEEDS", 40);
    let first = env_u64("ROLLOUT_FAULT_SEED", 1);
    let started = std::time::Instant::now();
    let (mut acked_total, mut injected, mut cuts, mut refusals, mut recoveries) = (0, 0, 0, 0, 0);
    for seed in first..first + seeds {
        let mut rng = Rng::seeded(seed);
        let dir = tempfile::tempdir().unwrap();
        let plan = FaultPlan::new(seed);
        let snapshots = [0, 5, 20][rng.below(3) as usize];
        let options = Options {
            snapshot_every_entries: snapshots,
            log_retention: rollout_store::LogRetention::Entries(u64::MAX),
            faults: Some(plan.clone()),
            ..options(seed)
        };
        let store = open(dir.path(), options);
        let rates = rates(&mut rng);
        plan.set_rates(rates);
        let commands = 40 + rng.below(60);
        let cut_at = (rng.below(2) == 0).then(|| rng.below(commands));
        let mut acked = Vec::new();
        for n in 0..commands {
            if cut_at == Some(n) {
                plan.cut_power();
            }
            if plan.injected().power_cuts > 0 {
                break; // the process would be gone
            }
            let id = format!("job-{seed}-{n}");
            match store.submit(workload::register(&id, 1, "app:1")) {
                Ok(c) => acked.push((c.outcome.index, id)),
                Err(SubmitError::Storage(_) | SubmitError::Failed(_)) => {
                    // Give the store its chance to recover (bounded).
                    for _ in 0..100 {
                        if plan.injected().power_cuts > 0 {
                            break;
                        }
                        if store.refusing_writes().is_none() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                Err(e) => panic!("seed {seed}: {e}"),
            }
        }
        if plan.injected().power_cuts == 0 && rng.below(2) == 0 {
            plan.cut_power();
        }
        let inj = plan.injected();
        recoveries += store.stats().recoveries;
        drop(store);
        injected += inj.total();
        cuts += inj.power_cuts;
        acked_total += acked.len();
        match Store::open(dir.path(), options_for_reopen(seed)) {
            Ok(store) => {
                drop(store);
                assert_all_present(dir.path(), &acked);
            }
            Err(e) => {
                // Allowed only as a refusal that names the problem and its file.
                let text = e.to_string();
                assert!(
                    text.contains(&dir.path().display().to_string()),
                    "seed {seed} ({rates:?}, {inj:?}): {text}"
                );
                eprintln!("seed {seed}: refused to open: {text}");
                refusals += 1;
            }
        }
    }
    eprintln!(
        "{seeds} seeds: {acked_total} acknowledged commands, {injected} faults injected ({cuts} power cuts), {recoveries} in-process recoveries, {refusals} refusals to open, 0 lost, {:?}",
        started.elapsed()
    );
}

fn options_for_reopen(seed: u64) -> Options {
    options(seed)
}
