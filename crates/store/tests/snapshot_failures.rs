//! A snapshot that cannot be written is logged (ERROR, naming the file and the cause),
//! counted, and retried with backoff; the log keeps everything meanwhile. Its own test
//! binary, because it installs the process-wide log subscriber to read the log.

mod common;

use common::*;
use rollout_store::faults::FaultPlan;
use rollout_store::{snapshot_file_name, workload, Options};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Everything logged by the process, as text.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        tracing_subscriber::fmt()
            .with_writer(move || Sink(writer.clone()))
            .with_ansi(false)
            .init();
        buffer
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_text() -> String {
    String::from_utf8_lossy(&captured().lock().unwrap()).into_owned()
}

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

#[test]
fn a_failed_snapshot_is_logged_and_retried_without_waiting_for_the_next_interval() {
    captured();
    let dir = tempfile::tempdir().unwrap();
    let plan = FaultPlan::new(3);
    let store = open(
        dir.path(),
        Options {
            snapshot_every_entries: 20,
            faults: Some(plan.clone()),
            ..options(3)
        },
    );
    // The directory cannot be written (ENOSPC on every snapshot step).
    plan.set_files_fail(true);
    for i in 1..=25u64 {
        store
            .submit(workload::register(
                &format!("j{}", i % 3),
                1,
                &format!("app:{i}"),
            ))
            .unwrap();
    }
    let tmp = format!("{}.tmp", snapshot_file_name(20));
    eventually("the snapshot failure is reported", || {
        store.stats().last_snapshot_error.is_some()
    });
    let error = store.stats().last_snapshot_error.unwrap();
    assert!(error.contains(&tmp), "{error}");
    assert!(error.contains("no space left"), "{error}");
    eventually("the failure is logged at ERROR", || {
        log_text()
            .lines()
            .any(|l| l.contains("ERROR") && l.contains(&tmp) && l.contains("no space left"))
    });
    assert_eq!(store.stats().snapshots_written, 0);

    // Space is back. Without a single further write (so long before the next interval
    // of 20 entries), the store tries again and succeeds.
    plan.set_files_fail(false);
    eventually("a retried snapshot becomes durable", || {
        store.stats().snapshots_written >= 1
    });
    let snapshot = store.stats().last_snapshot.unwrap();
    assert!(snapshot.index >= 20, "{snapshot:?}");
    assert!(snapshot.path.exists());
    assert_eq!(store.stats().last_snapshot_error, None);
    drop(store);
    // Nothing was lost meanwhile: the reopened store starts from the retried snapshot.
    let store = open(dir.path(), options(3));
    assert_eq!(store.state().index(), 25);
    assert_eq!(store.recovery_report().snapshot_index, Some(snapshot.index));
}
