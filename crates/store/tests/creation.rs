//! A data directory is created atomically and, once created, is never mistaken for a new
//! one: a log that goes missing or empty is refused (naming the file and the remedy)
//! rather than silently replaced by an empty store or an older snapshot; an incomplete
//! creation that holds no data is redone.

mod common;

use common::*;
use rollout_engine::Command;
use rollout_store::faults::{FaultPlan, Rates};
use rollout_store::{workload, OpenError, Options, Store, DB_FILE};
use std::path::Path;

fn open_err(dir: &Path, options: Options) -> OpenError {
    match Store::open(dir, options) {
        Ok(s) => panic!("open succeeded at index {}", s.state().index()),
        Err(e) => e,
    }
}

fn recover() -> Options {
    Options {
        recover_to_last_good: true,
        ..options(8)
    }
}

/// 30 commands with a snapshot at 20.
fn fill(dir: &Path) {
    let store = open(dir, options(8));
    for i in 1..=30u64 {
        store
            .submit(workload::register(
                &format!("j{}", i % 4),
                1,
                &format!("app:{i}"),
            ))
            .unwrap();
        if i == 20 {
            store.snapshot_now().unwrap();
        }
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn assert_refusal_names_the_file_and_the_remedy(e: &OpenError, last_good: u64) {
    let text = e.to_string();
    assert!(matches!(e, OpenError::Corrupt(_)), "{text}");
    assert!(text.contains(DB_FILE), "{text}");
    assert!(text.contains("--recover-to-last-good"), "{text}");
    let OpenError::Corrupt(c) = e else {
        unreachable!()
    };
    assert_eq!(c.last_good, Some(last_good), "{text}");
}

#[test]
fn an_emptied_log_is_refused_and_recovery_to_the_snapshot_is_explicit() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    std::fs::File::create(dir.path().join(DB_FILE)).unwrap(); // truncate -s 0
    let e = open_err(dir.path(), options(8));
    eprintln!("emptied log: {e}");
    assert_refusal_names_the_file_and_the_remedy(&e, 20);
    assert!(e.to_string().contains("empty"), "{e}");
    // Refusing changed nothing: still refused.
    open_err(dir.path(), options(8));

    let store = open(dir.path(), recover());
    assert_eq!(store.state().index(), 20);
    let repairs = &store.recovery_report().repairs;
    assert_eq!(repairs.len(), 1, "{repairs:?}");
    assert!(repairs[0].action.contains("20"), "{repairs:?}");
    assert_eq!(store.submit(Command::Tick).unwrap().outcome.index, 21);
    drop(store);
    let store = open(dir.path(), options(8));
    assert_eq!(store.state().index(), 21);
}

#[test]
fn a_deleted_log_is_refused_with_or_without_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    std::fs::remove_file(dir.path().join(DB_FILE)).unwrap();
    let e = open_err(dir.path(), options(8));
    eprintln!("deleted log: {e}");
    assert_refusal_names_the_file_and_the_remedy(&e, 20);
    assert!(e.to_string().contains("missing"), "{e}");

    // Without snapshots the directory is still known to have been created.
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), options(8));
    store.submit(Command::Tick).unwrap();
    drop(store);
    std::fs::remove_file(dir.path().join(DB_FILE)).unwrap();
    let e = open_err(dir.path(), options(8));
    assert_refusal_names_the_file_and_the_remedy(&e, 0);
    let store = open(dir.path(), recover());
    assert_eq!(store.state().index(), 0);
    assert_eq!(store.recovery_report().repairs.len(), 1);
}

#[test]
fn a_new_directory_is_created_with_an_identity_and_nothing_else_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), options(8));
    assert!(store.recovery_report().created);
    drop(store);
    assert_eq!(
        names(dir.path()),
        vec!["rollout.identity".to_string(), DB_FILE.into()]
    );
    let store = open(dir.path(), options(8));
    assert!(!store.recovery_report().created);
}

#[test]
fn a_creation_cut_short_without_data_is_redone() {
    // What a SIGKILL in redb's initialisation left behind before creation was atomic:
    // a file of the initial size whose magic number was never written.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DB_FILE), vec![0u8; 73_728]).unwrap();
    let store = open(dir.path(), options(8));
    assert_eq!(store.state().index(), 0);
    assert_eq!(store.submit(Command::Tick).unwrap().outcome.index, 1);
    drop(store);
    assert_eq!(open(dir.path(), options(8)).state().index(), 1);
}

#[test]
fn running_out_of_space_during_creation_leaves_no_store_and_the_next_start_creates_one() {
    let dir = tempfile::tempdir().unwrap();
    let plan = FaultPlan::new(2);
    // Every database write comes up short: redb's initialisation cannot complete.
    plan.set_rates(Rates {
        short_write: 1_000_000,
        ..Rates::default()
    });
    let e = open_err(
        dir.path(),
        Options {
            faults: Some(plan.clone()),
            ..options(8)
        },
    );
    eprintln!("no space at creation: {e}");
    assert!(e.to_string().contains(DB_FILE), "{e}");
    assert!(plan.injected().short_writes > 0);
    let store = open(dir.path(), options(8));
    assert_eq!(store.state().index(), 0);
    assert_eq!(store.submit(Command::Tick).unwrap().outcome.index, 1);
}
