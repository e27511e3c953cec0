//! Storage faults injected deterministically ([`rollout_store::faults`]): a full disk, a
//! failed fsync, short and torn writes, failed reads, power cuts. Whatever happens, every
//! acknowledged command is there after recovery — or the store refuses to open and
//! names the problem. Never silent loss.

mod common;

use common::*;
use rollout_engine::Command;
use rollout_store::faults::FaultPlan;
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
