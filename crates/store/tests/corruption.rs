//! Damage is detected at open and reported with the file, the index and the remedy; with
//! `recover_to_last_good` the store opens at the last good entry and says what it dropped.

mod common;

use common::*;
use redb::{Database, ReadableTable, TableDefinition};
use rollout_engine::Command;
use rollout_store::{workload, OpenError, Options, Problem, Store, DB_FILE};
use std::path::Path;

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// Commits `n` registrations of jobs named `needle-<index>`, so each record holds a
/// string unique to it. Returns the final index.
fn fill(dir: &Path, n: u64) -> u64 {
    let store = open(dir, options(21));
    for i in 1..=n {
        let c = store
            .submit(workload::register(&format!("needle-{i:04}"), 1, "app:1"))
            .unwrap();
        assert_eq!(c.outcome.index, i);
    }
    store.state().index()
}

fn with_db(dir: &Path, f: impl FnOnce(&redb::WriteTransaction)) {
    let db = Database::open(dir.join(DB_FILE)).unwrap();
    let txn = db.begin_write().unwrap();
    f(&txn);
    txn.commit().unwrap();
}

fn open_err(dir: &Path, options: Options) -> OpenError {
    match Store::open(dir, options) {
        Ok(s) => panic!("open succeeded at index {}", s.state().index()),
        Err(e) => e,
    }
}

fn corruption(e: OpenError) -> rollout_store::Corruption {
    match e {
        OpenError::Corrupt(c) => *c,
        other => panic!("expected a corruption report, got: {other}"),
    }
}

fn recover_options() -> Options {
    Options {
        recover_to_last_good: true,
        ..options(21)
    }
}

/// Flips one byte in every copy of `needle` in `file`. Returns how many copies.
fn flip_all(file: &Path, needle: &[u8]) -> usize {
    let mut bytes = std::fs::read(file).unwrap();
    let mut hits = 0;
    let mut i = 0;
    while i + needle.len() <= bytes.len() {
        if &bytes[i..i + needle.len()] == needle {
            bytes[i + needle.len() - 1] ^= 0x01;
            hits += 1;
        }
        i += 1;
    }
    std::fs::write(file, bytes).unwrap();
    hits
}

fn files_ending(dir: &Path, suffix: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(suffix)
        })
        .count()
}

#[test]
fn flipped_record_byte_is_reported_with_its_index_by_the_record_checksum() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 30);
    assert!(flip_all(&dir.path().join(DB_FILE), b"needle-0017") >= 1);
    // Without redb's page verification, the record's own CRC catches it.
    let opts = || Options {
        verify_file_on_open: false,
        ..options(21)
    };
    let c = corruption(open_err(dir.path(), opts()));
    assert_eq!(c.index, Some(17));
    assert_eq!(c.last_good, Some(16));
    assert!(matches!(c.problem, Problem::Record(_)), "{:?}", c.problem);
    let text = c.to_string();
    assert!(
        text.contains("rollout.redb") && text.contains("17"),
        "{text}"
    );
    assert!(
        text.contains("checksum") && text.contains("recover_to_last_good"),
        "{text}"
    );

    let store = open(
        dir.path(),
        Options {
            recover_to_last_good: true,
            ..opts()
        },
    );
    assert_eq!(store.state().index(), 16);
    let repairs = &store.recovery_report().repairs;
    assert_eq!(repairs.len(), 1);
    assert!(
        repairs[0].action.contains("discarded 14 log entries"),
        "{repairs:?}"
    );
    assert_eq!(files_ending(dir.path(), ".corrupt"), 1);
    // The store carries on at the next index, and reopens cleanly.
    assert_eq!(store.submit(Command::Tick).unwrap().outcome.index, 17);
    drop(store);
    let store = open(dir.path(), opts());
    assert_eq!(store.state().index(), 17);
    assert_log_contiguous(&store, 17);
}

#[test]
fn flipped_record_byte_is_reported_by_redb_verification_and_salvaged() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 30);
    assert!(flip_all(&dir.path().join(DB_FILE), b"needle-0017") >= 1);
    let c = corruption(open_err(dir.path(), options(21)));
    eprintln!("flipped byte, verified: {c}");
    assert!(matches!(c.problem, Problem::Database(_)), "{:?}", c.problem);
    assert!(c.to_string().contains("rollout.redb"), "{c}");

    let store = open(dir.path(), recover_options());
    let index = store.state().index();
    eprintln!("salvaged: {:?}", store.recovery_report().repairs);
    assert!(index < 30, "recovered to {index}");
    assert_eq!(store.recovery_report().repairs.len(), 1);
    assert_log_contiguous(&store, index);
    assert_eq!(bytes(&store.state()), bytes(&replay_log(&store)));
    assert_eq!(files_ending(dir.path(), ".corrupt"), 1);
    drop(store);
    assert_eq!(open(dir.path(), options(21)).state().index(), index);
}

#[test]
fn truncated_database_file_is_reported_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 200);
    let file = dir.path().join(DB_FILE);
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let e = open_err(dir.path(), options(21));
    eprintln!("truncated file: {e}");
    assert!(e.to_string().contains("rollout.redb"), "{e}");
    // Recovery either salvages a good prefix or says it cannot: never a wrong state.
    match Store::open(dir.path(), recover_options()) {
        Ok(store) => {
            let index = store.state().index();
            eprintln!("salvaged: {:?}", store.recovery_report().repairs);
            assert_log_contiguous(&store, index);
            assert_eq!(bytes(&store.state()), bytes(&replay_log(&store)));
        }
        Err(e) => assert!(matches!(e, OpenError::Unrecoverable(_)), "{e}"),
    }
}

#[test]
fn log_gap_is_reported_and_recovery_keeps_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 20);
    with_db(dir.path(), |txn| {
        txn.open_table(LOG).unwrap().remove(12).unwrap();
    });
    let c = corruption(open_err(dir.path(), options(21)));
    assert_eq!(
        c.problem,
        Problem::Gap {
            expected: 12,
            found: 13
        }
    );
    assert_eq!((c.index, c.last_good), (Some(12), Some(11)));
    let store = open(dir.path(), recover_options());
    assert_eq!(store.state().index(), 11);
    assert_log_contiguous(&store, 11);
}

#[test]
fn record_under_the_wrong_index_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 12);
    with_db(dir.path(), |txn| {
        let mut log = txn.open_table(LOG).unwrap();
        let eleven = log.get(11).unwrap().unwrap().value().to_vec();
        log.insert(10, eleven.as_slice()).unwrap();
    });
    let c = corruption(open_err(dir.path(), options(21)));
    assert_eq!(c.problem, Problem::IndexMismatch { key: 10, found: 11 });
    assert_eq!(c.index, Some(10));
}

#[test]
fn newer_record_version_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 5);
    with_db(dir.path(), |txn| {
        let mut log = txn.open_table(LOG).unwrap();
        let mut rec = log.get(5).unwrap().unwrap().value().to_vec();
        rec[0] = 2;
        log.insert(5, rec.as_slice()).unwrap();
    });
    let c = corruption(open_err(dir.path(), options(21)));
    assert_eq!(c.index, Some(5));
    let text = c.to_string();
    assert!(text.contains("newer format version 2"), "{text}");
    assert!(text.contains("upgrade"), "{text}");
}

#[test]
fn newer_store_format_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 1);
    with_db(dir.path(), |txn| {
        let mut meta = txn.open_table(META).unwrap();
        meta.insert("format", 9u32.to_le_bytes().as_slice())
            .unwrap();
    });
    let e = open_err(dir.path(), options(21));
    assert!(matches!(e, OpenError::NewerFormat { found: 9, .. }), "{e}");
    assert!(e.to_string().contains("upgrade rollout"), "{e}");
}

fn snapshot_options() -> Options {
    Options {
        snapshots_retained: 2,
        log_retention: rollout_store::LogRetention::Entries(0),
        ..options(21)
    }
}

/// Commits 30 commands with snapshots at 10 and 20 (log truncated through 10, the
/// oldest retained snapshot) and returns the final state's bytes.
fn fill_with_snapshots(dir: &Path) -> Vec<u8> {
    let store = open(dir, snapshot_options());
    for i in 1..=30u64 {
        store
            .submit(workload::register_without_deployment(
                &format!("j{}", i % 4),
                1,
                &format!("app:{i}"),
            ))
            .unwrap();
        if i == 10 || i == 20 {
            assert_eq!(store.snapshot_now().unwrap().unwrap().index, i);
        }
    }
    // Give the writer a batch in which to truncate.
    store.submit(Command::Tick).unwrap();
    assert_eq!(store.stats().truncated_through, 10);
    bytes(&store.state())
}

#[test]
fn corrupt_snapshot_is_reported_and_recovery_falls_back_to_an_older_one() {
    let dir = tempfile::tempdir().unwrap();
    let before = fill_with_snapshots(dir.path());
    let newest = dir.path().join(rollout_store::snapshot_file_name(20));
    let mut bytes_ = std::fs::read(&newest).unwrap();
    let mid = bytes_.len() / 2;
    bytes_[mid] ^= 0xff;
    std::fs::write(&newest, bytes_).unwrap();

    let c = corruption(open_err(dir.path(), snapshot_options()));
    assert_eq!(c.file, newest);
    assert_eq!(c.index, Some(20));
    assert!(matches!(c.problem, Problem::Snapshot(_)), "{:?}", c.problem);
    assert!(c
        .to_string()
        .contains("snapshot-00000000000000000020.rsnap"));

    let store = open(
        dir.path(),
        Options {
            recover_to_last_good: true,
            ..snapshot_options()
        },
    );
    let report = store.recovery_report();
    assert_eq!(report.snapshot_index, Some(10));
    assert_eq!(report.repairs.len(), 1);
    // Nothing was lost: the older snapshot plus the log reach the same state.
    assert_eq!(bytes(&store.state()), before);
    assert_eq!(files_ending(dir.path(), ".rsnap.corrupt"), 1);
}

#[test]
fn missing_snapshot_after_truncation_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    fill_with_snapshots(dir.path());
    for index in [10, 20] {
        std::fs::remove_file(dir.path().join(rollout_store::snapshot_file_name(index))).unwrap();
    }
    let c = corruption(open_err(dir.path(), snapshot_options()));
    assert!(
        matches!(
            c.problem,
            Problem::MissingSnapshot {
                truncated_through: 10,
                ..
            }
        ),
        "{:?}",
        c.problem
    );
    assert!(c.to_string().contains("snapshot file is missing"), "{c}");
    // Entries 1..=10 exist nowhere: recovery cannot invent them.
    let e = open_err(
        dir.path(),
        Options {
            recover_to_last_good: true,
            ..snapshot_options()
        },
    );
    assert!(matches!(e, OpenError::Unrecoverable(_)), "{e}");
}

#[test]
fn deleting_the_newest_snapshot_falls_back_without_loss() {
    // Not damage: an older snapshot still covers the truncated log.
    let dir = tempfile::tempdir().unwrap();
    let before = fill_with_snapshots(dir.path());
    std::fs::remove_file(dir.path().join(rollout_store::snapshot_file_name(20))).unwrap();
    let store = open(dir.path(), snapshot_options());
    assert_eq!(store.recovery_report().snapshot_index, Some(10));
    assert_eq!(bytes(&store.state()), before);
}

#[test]
fn snapshot_whose_contents_disagree_with_its_name_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    fill_with_snapshots(dir.path());
    // A snapshot claiming a later index than it holds: the index would go backwards.
    std::fs::rename(
        dir.path().join(rollout_store::snapshot_file_name(20)),
        dir.path().join(rollout_store::snapshot_file_name(25)),
    )
    .unwrap();
    let c = corruption(open_err(dir.path(), snapshot_options()));
    assert_eq!(
        c.problem,
        Problem::SnapshotIndexMismatch {
            named: 25,
            found: 20
        }
    );
    assert_eq!(c.index, Some(25));
}

/// 30 commands with snapshots at 10 and 20 and the whole log kept (no truncation).
fn fill_with_snapshots_and_whole_log(dir: &Path) {
    let store = open(dir, options(21));
    for i in 1..=30u64 {
        store
            .submit(workload::register(&format!("needle-{i:04}"), 1, "app:1"))
            .unwrap();
        if i == 10 || i == 20 {
            store.snapshot_now().unwrap();
        }
    }
}

fn truncate_file(file: &Path, keep_fraction: (u64, u64)) {
    let len = std::fs::metadata(file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(file)
        .unwrap()
        .set_len(len * keep_fraction.0 / keep_fraction.1)
        .unwrap();
}

#[test]
fn every_corruption_report_promises_exactly_what_recovery_keeps() {
    type Damage = fn(&Path) -> Options;
    let scenarios: Vec<(&str, Damage)> = vec![
        ("record flipped, no page verification", |d| {
            fill(d, 30);
            flip_all(&d.join(DB_FILE), b"needle-0017");
            Options {
                verify_file_on_open: false,
                ..options(21)
            }
        }),
        ("record flipped, page verification", |d| {
            fill(d, 30);
            flip_all(&d.join(DB_FILE), b"needle-0017");
            options(21)
        }),
        ("database file cut in half", |d| {
            fill(d, 200);
            truncate_file(&d.join(DB_FILE), (1, 2));
            options(21)
        }),
        ("log gap", |d| {
            fill(d, 20);
            with_db(d, |txn| {
                txn.open_table(LOG).unwrap().remove(12).unwrap();
            });
            options(21)
        }),
        ("newest snapshot damaged", |d| {
            fill_with_snapshots(d);
            let newest = d.join(rollout_store::snapshot_file_name(20));
            let mut b = std::fs::read(&newest).unwrap();
            let mid = b.len() / 2;
            b[mid] ^= 0xff;
            std::fs::write(&newest, b).unwrap();
            snapshot_options()
        }),
        ("log damaged below a newer snapshot", |d| {
            fill_with_snapshots_and_whole_log(d);
            flip_all(&d.join(DB_FILE), b"needle-0015");
            options(21)
        }),
        ("log damaged above the newest snapshot", |d| {
            fill_with_snapshots_and_whole_log(d);
            flip_all(&d.join(DB_FILE), b"needle-0025");
            options(21)
        }),
        ("log emptied, snapshots kept", |d| {
            fill_with_snapshots_and_whole_log(d);
            std::fs::File::create(d.join(DB_FILE)).unwrap();
            options(21)
        }),
        ("log deleted, snapshots kept", |d| {
            fill_with_snapshots(d);
            std::fs::remove_file(d.join(DB_FILE)).unwrap();
            snapshot_options()
        }),
    ];
    for (name, damage) in scenarios {
        let dir = tempfile::tempdir().unwrap();
        let opts = damage(dir.path());
        let e = open_err(dir.path(), opts.clone());
        let promised = match &e {
            OpenError::Corrupt(c) => c.last_good,
            other => panic!("{name}: expected a corruption report, got: {other}"),
        };
        eprintln!("{name}: {e}");
        let text = e.to_string();
        if let Some(n) = promised {
            assert!(
                text.contains(&format!("through index {n}")),
                "{name}: {text}"
            );
        }
        let recovered = Store::open(
            dir.path(),
            Options {
                recover_to_last_good: true,
                ..opts.clone()
            },
        );
        match (promised, recovered) {
            (Some(n), Ok(store)) => {
                assert_eq!(
                    store.state().index(),
                    n,
                    "{name}: promised {n}, recovered {}: {:?}",
                    store.state().index(),
                    store.recovery_report().repairs
                );
                assert_eq!(
                    bytes(&store.state()),
                    bytes(&replay_from_files(&store)),
                    "{name}"
                );
                drop(store);
                // And the repaired directory opens cleanly as it is.
                let again = open(dir.path(), opts);
                assert_eq!(again.state().index(), n, "{name}");
            }
            (None, Err(OpenError::Unrecoverable(_))) => {}
            (promised, Ok(store)) => panic!(
                "{name}: promised {promised:?}, recovered to {}",
                store.state().index()
            ),
            (promised, Err(e)) => panic!("{name}: promised {promised:?}, recovery failed: {e}"),
        }
    }
}

/// The recovered state rebuilt independently: the snapshot recovery started from (if
/// any) plus a replay of the log after it.
fn replay_from_files(store: &Store) -> rollout_engine::State {
    let report = store.recovery_report();
    let mut state = match report.snapshot_index {
        Some(i) => {
            let path = store.dir().join(rollout_store::snapshot_file_name(i));
            let (_, s) =
                rollout_store::codec::decode_snapshot(&std::fs::read(path).unwrap()).unwrap();
            s
        }
        None => rollout_engine::State::new(),
    };
    for env in store.read_log(state.index() + 1, usize::MAX).unwrap() {
        state = rollout_engine::apply(&state, &env).unwrap().0;
    }
    state
}
