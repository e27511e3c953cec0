//! Log retention (`Options::log_retention`): how far back time travel, history and
//! replay reach — and the history of every deployment still in the state, kept whatever
//! the retention says.

mod common;

use common::*;
use rollout_engine::command::{FailDeployment, GcDeployments};
use rollout_engine::Command;
use rollout_store::workload::{register, register_without_deployment};
use rollout_store::{HistoryError, LogRetention, Options, Store};
use std::time::Duration;

fn retention_options(retention: LogRetention) -> Options {
    Options {
        log_retention: retention,
        snapshots_retained: 2,
        ..options(41)
    }
}

/// Commits `n` batch-job registrations (no deployments), a snapshot after every ten
/// indexes, then one more write in which the writer truncates.
fn fill_with_snapshots(store: &Store, n: u64) {
    for i in 1..=n {
        store
            .submit(register_without_deployment(
                &format!("j{}", i % 4),
                1,
                &format!("app:{i}"),
            ))
            .unwrap();
        if store.state().index().is_multiple_of(10) {
            store.snapshot_now().unwrap();
        }
    }
    store.submit(Command::Tick).unwrap();
}

fn too_old(store: &Store, from: u64) -> u64 {
    match store.history(from) {
        Err(HistoryError::TooOld { oldest, .. }) => oldest,
        Err(e) => panic!("history from {from}: {e}"),
        Ok(h) => panic!(
            "history from {from} is still there (starts at {})",
            h.start()
        ),
    }
}

#[test]
fn retention_by_entries_keeps_that_many_entries_below_the_newest_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), retention_options(LogRetention::Entries(30)));
    fill_with_snapshots(&store, 100);
    // The newest snapshot is at 100: 30 entries below it reach back to 71, and the
    // newest snapshot at or below 70 is the base the replay of 71 starts from.
    assert_eq!(store.stats().truncated_through, 70);
    assert_eq!(snapshot_indexes(store.dir()), vec![70, 80, 90, 100]);
    assert_eq!(store.history(71).unwrap().start(), 71);
    assert_eq!(too_old(&store, 70), 71);
    // Time travel inside the window replays from the nearest snapshot, not from the base.
    assert_eq!(store.history(95).unwrap().count(), 7);
}

#[test]
fn retention_by_age_keeps_the_entries_stamped_within_it() {
    // Each command is stamped 1 ms after the one before it.
    let dir = tempfile::tempdir().unwrap();
    let age = Duration::from_millis(35);
    let store = open(dir.path(), retention_options(LogRetention::Age(age)));
    fill_with_snapshots(&store, 100);
    let truncated = store.stats().truncated_through;
    let log = store.read_log(1, usize::MAX).unwrap();
    let newest_snapshot_time = log.iter().find(|e| e.index == 100).unwrap().now;
    let cutoff = newest_snapshot_time - age.as_nanos() as i64;
    // Everything stamped within the age is still there, and the window starts at most
    // one snapshot interval before it.
    let first_kept = &log[0];
    assert_eq!(first_kept.index, truncated + 1);
    assert!(first_kept.now < cutoff, "{} !< {cutoff}", first_kept.now);
    let first_inside = log.iter().find(|e| e.now >= cutoff).unwrap().index;
    assert!(
        first_inside - first_kept.index <= 10,
        "kept {} entries before the window",
        first_inside - first_kept.index
    );
    assert!(truncated.is_multiple_of(10), "truncated through a snapshot");
    assert!(truncated > 0);
    assert_eq!(too_old(&store, truncated), truncated + 1);
}

#[test]
fn the_history_of_a_deployment_in_the_state_is_kept_whatever_the_retention() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || retention_options(LogRetention::Entries(0));
    let store = open(dir.path(), opts());
    let created = store.submit(register("web", 1, "app:1")).unwrap();
    let deployment = created.outcome.deployments_created[0];
    assert_eq!(created.outcome.index, 1);
    fill_with_snapshots(&store, 60);
    // Retention alone would keep nothing below the snapshot at 60.
    assert_eq!(store.stats().truncated_through, 0);
    assert_eq!(store.history(1).unwrap().start(), 1);
    // After a restart too.
    drop(store);
    let store = open(dir.path(), opts());
    assert_eq!(
        store.history(1).unwrap().count() as u64,
        store.state().index()
    );

    // Once the deployment is gone (failed, then collected), its past may go too.
    store
        .submit(Command::FailDeployment(FailDeployment {
            deployment_id: deployment,
        }))
        .unwrap();
    store
        .submit(Command::GcDeployments(GcDeployments { threshold_ns: 0 }))
        .unwrap();
    assert!(store.state().deployment(&deployment).is_none());
    fill_with_snapshots(&store, 10);
    // The snapshot at 70 and the one before it (two are retained) are kept; the log
    // and the snapshots below them go.
    assert_eq!(snapshot_indexes(store.dir()), vec![60, 70]);
    assert_eq!(store.stats().truncated_through, 60);
    assert_eq!(too_old(&store, 1), 61);
}

/// Disk on a long-lived agent: below the retention, only the snapshot a live
/// deployment's history starts from is kept, not every snapshot back to its creation.
#[test]
fn below_the_retention_only_the_snapshot_a_deployment_starts_from_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || retention_options(LogRetention::Entries(30));
    let store = open(dir.path(), opts());
    fill_with_snapshots(&store, 24);
    let created = store.submit(register("web", 1, "app:1")).unwrap();
    let created_at = created.outcome.index;
    assert_eq!(created_at, 26);
    fill_with_snapshots(&store, 100);
    let newest = *snapshot_indexes(store.dir()).last().unwrap();
    assert_eq!(newest, 120);
    // 20: the deployment's history starts from it (created at 26); 90 and above: the
    // retention (30 entries below 120, from the snapshot at or below 90). The log is
    // kept from 21 on, for the deployment.
    assert_eq!(snapshot_indexes(store.dir()), vec![20, 90, 100, 110, 120]);
    assert_eq!(store.stats().truncated_through, 20);
    assert_eq!(store.history(created_at).unwrap().start(), created_at);
    // Time travel between the two still works, replaying from the snapshot at 20.
    let mut h = store.history(55).unwrap();
    assert_eq!(h.start(), 55);
    assert!(h.next().is_some());
    assert_eq!(too_old(&store, 20), 21);
    // After a restart too.
    drop(h);
    drop(store);
    let store = open(dir.path(), opts());
    assert_eq!(store.history(created_at).unwrap().start(), created_at);
}

#[test]
fn the_recent_past_is_answered_from_memory_even_below_the_retained_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(
        dir.path(),
        Options {
            snapshots_retained: 1,
            ..retention_options(LogRetention::Entries(0))
        },
    );
    let mut live = Vec::new();
    for i in 1..=30u64 {
        let c = store
            .submit(register_without_deployment("j", 1, &format!("app:{i}")))
            .unwrap();
        live.push(c.state);
    }
    store.snapshot_now().unwrap();
    store.submit(Command::Tick).unwrap();
    assert_eq!(store.stats().truncated_through, 30);
    assert_eq!(too_old(&store, 25), 31, "the log below 31 is gone");
    // Every state the writer committed is still there, byte for byte.
    for state in &live {
        let at = store.state_at(state.index()).unwrap();
        assert_eq!(bytes(&at), bytes(state), "index {}", state.index());
    }
    // Past the committed index: the current state.
    assert_eq!(store.state_at(1_000).unwrap().index(), 31);
}
