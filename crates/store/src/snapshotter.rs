//! Taking snapshots off the writer's path, then asking the writer to truncate the log.
//!
//! The writer hands a committed state (an O(1) clone) to a background thread through a
//! channel of capacity one, so at most one snapshot is queued and serialising a large
//! state never delays a commit. Once the file is durable, old snapshots are pruned and the
//! writer is told how much of the log is now covered.
//!
//! A snapshot that fails (a full disk, a directory that cannot be written) loses nothing
//! — the log still holds every entry — but it must not go unnoticed, and it must not
//! wait for the next interval: the failure is logged at ERROR with the file and the
//! cause, counted ([`crate::StoreStats::snapshot_failures`]), and the snapshot is tried
//! again after a backoff that doubles up to [`RETRY_MAX`]. What triggers snapshots counts
//! from the last *durable* snapshot, so a failed one leaves it due.

use crate::error::SnapshotError;
use crate::faults::FaultPlan;
use crate::reopen::DbSlot;
use crate::retention::{self, LogRetention};
use crate::snapshot;
use crate::writer::Msg;
use rollout_engine::State;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The first retry after a failed snapshot: soon enough that a transient failure costs
/// little, late enough not to spin on a disk that stays full.
pub const RETRY_MIN: Duration = Duration::from_secs(1);
/// The longest wait between two tries.
pub const RETRY_MAX: Duration = Duration::from_secs(60);

/// A snapshot that was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub index: u64,
    pub path: PathBuf,
    pub bytes: u64,
    pub duration: Duration,
}

/// A state to snapshot and the writer's count of log bytes appended when it was
/// committed (the size trigger counts from the last durable snapshot's count).
pub(crate) struct Job {
    pub state: Arc<State>,
    pub log_bytes: u64,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct SnapshotStatus {
    pub written: u64,
    pub last: Option<SnapshotInfo>,
    /// The last failure, until a snapshot succeeds.
    pub last_error: Option<String>,
    /// Failed snapshot writes since open.
    pub failures: u64,
    /// Failures since the last success (the backoff doubles with each).
    pub consecutive_failures: u32,
    /// No new try before this, after a failure.
    pub retry_at: Option<Instant>,
    /// The index of the newest durable snapshot (the one recovery started from, at open).
    pub durable_index: u64,
    /// The writer's log byte count at the newest durable snapshot.
    pub durable_log_bytes: u64,
}

pub(crate) struct Snapshotter {
    dir: PathBuf,
    retained: usize,
    retention: LogRetention,
    /// The database, for the times of log entries (age retention).
    db: Arc<DbSlot>,
    db_path: PathBuf,
    writer: SyncSender<Msg>,
    faults: Option<Arc<FaultPlan>>,
    /// A job was handed over and is not finished: the writer hands over no other.
    busy: AtomicBool,
    /// Serialises snapshot writes (background thread and `Store::snapshot_now`).
    writing: Mutex<()>,
    /// Held only to read or update, never during a write, so stats never wait.
    status: Mutex<SnapshotStatus>,
    /// Told each snapshot's write time (metrics).
    observer: Arc<crate::observer::ObserverSlot>,
}

impl Snapshotter {
    /// The snapshotter of the store in `dir`, keeping what `options` say
    /// (`snapshots_retained`, `log_retention`, `faults`).
    pub(crate) fn new(
        dir: &Path,
        options: &crate::Options,
        db: Arc<DbSlot>,
        writer: SyncSender<Msg>,
        durable_index: u64,
        observer: Arc<crate::observer::ObserverSlot>,
    ) -> Snapshotter {
        Snapshotter {
            observer,
            dir: dir.to_path_buf(),
            retained: options.snapshots_retained.max(1),
            retention: options.log_retention,
            db,
            db_path: dir.join(crate::recovery::DB_FILE),
            writer,
            faults: options.faults.clone(),
            busy: AtomicBool::new(false),
            writing: Mutex::new(()),
            status: Mutex::new(SnapshotStatus {
                durable_index,
                ..SnapshotStatus::default()
            }),
        }
    }

    fn lock_status(&self) -> std::sync::MutexGuard<'_, SnapshotStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes a snapshot of `state` unless one at its index exists, prunes old ones, and
    /// asks the writer to truncate the log they cover.
    pub(crate) fn take(&self, state: &State) -> Result<Option<SnapshotInfo>, SnapshotError> {
        let log_bytes = self.lock_status().durable_log_bytes;
        self.take_marked(state, log_bytes)
    }

    fn take_marked(
        &self,
        state: &State,
        log_bytes: u64,
    ) -> Result<Option<SnapshotInfo>, SnapshotError> {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let index = state.index();
        let last = self.status().last.map_or(0, |s| s.index);
        if index == 0 || index <= last {
            return Ok(None);
        }
        let started = Instant::now();
        let result = self.write_and_prune(state);
        let mut status = self.lock_status();
        match &result {
            Ok((path, bytes, _)) => {
                self.observer.snapshot_written(started.elapsed());
                if status.consecutive_failures > 0 {
                    tracing::info!(
                        index,
                        path = %path.display(),
                        failures = status.consecutive_failures,
                        "snapshot written after earlier failures"
                    );
                }
                status.written += 1;
                status.last_error = None;
                status.consecutive_failures = 0;
                status.retry_at = None;
                status.durable_index = status.durable_index.max(index);
                status.durable_log_bytes = status.durable_log_bytes.max(log_bytes);
                status.last = Some(SnapshotInfo {
                    index,
                    path: path.clone(),
                    bytes: *bytes,
                    duration: started.elapsed(),
                });
            }
            Err(e) => {
                status.failures += 1;
                status.consecutive_failures = status.consecutive_failures.saturating_add(1);
                let backoff = backoff(status.consecutive_failures);
                status.retry_at = Some(Instant::now() + backoff);
                status.last_error = Some(e.to_string());
                tracing::error!(
                    index,
                    error = %e,
                    failures = status.consecutive_failures,
                    retry_in_s = backoff.as_secs_f64(),
                    "snapshot failed; the log still holds every entry, retrying"
                );
            }
        }
        let info = status.last.clone();
        drop(status);
        let (_, _, through) = result?;
        // If the writer is gone the store is closing; the log stays as it is.
        let _ = self.writer.send(Msg::Truncate { through });
        Ok(info)
    }

    fn write_and_prune(&self, state: &State) -> Result<(PathBuf, u64, u64), SnapshotError> {
        let (path, bytes) = snapshot::write(&self.dir, state, self.faults.as_deref())?;
        let io = |source| SnapshotError::Io {
            path: self.dir.clone(),
            source,
        };
        let floors = retention::floors(state, self.retention, |index| {
            crate::store::read_log_entries(&self.db, &self.db_path, index, 1)
                .ok()?
                .first()
                .map(|e| e.now)
        });
        let pruning = retention::prune(
            &snapshot::list(&self.dir).map_err(io)?,
            self.retained,
            &floors,
        );
        for old in &pruning.delete {
            std::fs::remove_file(old).map_err(io)?;
        }
        Ok((path, bytes, pruning.truncate_through))
    }

    pub(crate) fn status(&self) -> SnapshotStatus {
        self.lock_status().clone()
    }

    /// Whether the writer may hand over a job now: none in progress, no backoff running.
    pub(crate) fn ready(&self) -> bool {
        !self.busy.load(Ordering::Acquire)
            && self
                .lock_status()
                .retry_at
                .is_none_or(|at| Instant::now() >= at)
    }

    /// The writer handed over a job (cleared by the thread when it is done).
    pub(crate) fn mark_busy(&self) {
        self.busy.store(true, Ordering::Release);
    }

    pub(crate) fn clear_busy(&self) {
        self.busy.store(false, Ordering::Release);
    }

    /// The background loop: one snapshot per job received, and retries of a failed one
    /// after its backoff even if no new job comes, until the writer hangs up.
    pub(crate) fn run(self: Arc<Self>, rx: Receiver<Job>) {
        let mut failed: Option<Job> = None;
        loop {
            let retry_at = self.lock_status().retry_at;
            let received = match (&failed, retry_at) {
                (Some(_), Some(at)) => {
                    match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                        Ok(job) => Some(job),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
                _ => match rx.recv() {
                    Ok(job) => Some(job),
                    Err(_) => return,
                },
            };
            // The newest state wins; a retry waits out its backoff.
            let job = match received.or_else(|| failed.take()) {
                Some(job) => job,
                None => continue,
            };
            if let Some(at) = self.lock_status().retry_at {
                let wait = at.saturating_duration_since(Instant::now());
                if !wait.is_zero() {
                    failed = Some(job);
                    continue;
                }
            }
            let result = self.take_marked(&job.state, job.log_bytes);
            self.busy.store(false, Ordering::Release);
            failed = result.is_err().then_some(job);
        }
    }
}

/// `RETRY_MIN`, doubled for each further consecutive failure, at most `RETRY_MAX`.
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    RETRY_MIN.saturating_mul(1 << doublings).min(RETRY_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_backoff_doubles_up_to_its_maximum() {
        assert_eq!(backoff(1), RETRY_MIN);
        assert_eq!(backoff(2), RETRY_MIN * 2);
        assert_eq!(backoff(4), RETRY_MIN * 8);
        assert_eq!(backoff(30), RETRY_MAX);
    }
}
