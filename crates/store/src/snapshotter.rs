//! Taking snapshots off the writer's path, then asking the writer to truncate the log.
//!
//! The writer hands a committed state (an O(1) clone) to a background thread through a
//! channel of capacity one, so at most one snapshot is queued and serialising a large
//! state never delays a commit. Once the file is durable, old snapshots are pruned and the
//! writer is told how much of the log is now covered.

use crate::error::SnapshotError;
use crate::snapshot;
use crate::writer::Msg;
use rollout_engine::State;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A snapshot that was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub index: u64,
    pub path: PathBuf,
    pub bytes: u64,
    pub duration: Duration,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct SnapshotStatus {
    pub written: u64,
    pub last: Option<SnapshotInfo>,
    /// The last background failure; the next snapshot retries.
    pub last_error: Option<String>,
}

pub(crate) struct Snapshotter {
    dir: PathBuf,
    retained: usize,
    log_tail_entries: u64,
    writer: SyncSender<Msg>,
    /// Serialises snapshot writes (background thread and `Store::snapshot_now`).
    writing: Mutex<()>,
    /// Held only to read or update, never during a write, so stats never wait.
    status: Mutex<SnapshotStatus>,
}

impl Snapshotter {
    pub(crate) fn new(
        dir: &Path,
        retained: usize,
        log_tail_entries: u64,
        writer: SyncSender<Msg>,
    ) -> Snapshotter {
        Snapshotter {
            dir: dir.to_path_buf(),
            retained: retained.max(1),
            log_tail_entries,
            writer,
            writing: Mutex::new(()),
            status: Mutex::new(SnapshotStatus::default()),
        }
    }

    /// Writes a snapshot of `state` unless one at its index exists, prunes old ones, and
    /// asks the writer to truncate the log they cover.
    pub(crate) fn take(&self, state: &State) -> Result<Option<SnapshotInfo>, SnapshotError> {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let index = state.index();
        let last = self.status().last.map_or(0, |s| s.index);
        if index == 0 || index <= last {
            return Ok(None);
        }
        let started = Instant::now();
        let result = self.write_and_prune(state);
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        match &result {
            Ok((path, bytes, _)) => {
                status.written += 1;
                status.last_error = None;
                status.last = Some(SnapshotInfo {
                    index,
                    path: path.clone(),
                    bytes: *bytes,
                    duration: started.elapsed(),
                });
            }
            Err(e) => status.last_error = Some(e.to_string()),
        }
        let info = status.last.clone();
        drop(status);
        let (_, _, through) = result?;
        // If the writer is gone the store is closing; the log stays as it is.
        let _ = self.writer.send(Msg::Truncate { through });
        Ok(info)
    }

    fn write_and_prune(&self, state: &State) -> Result<(PathBuf, u64, u64), SnapshotError> {
        let (path, bytes) = snapshot::write(&self.dir, state)?;
        let io = |source| SnapshotError::Io {
            path: self.dir.clone(),
            source,
        };
        snapshot::prune(&self.dir, self.retained).map_err(io)?;
        // Keep every retained snapshot usable: never truncate past the oldest one.
        let oldest = snapshot::list(&self.dir)
            .map_err(io)?
            .last()
            .map_or(0, |(i, _)| *i);
        let through = state
            .index()
            .saturating_sub(self.log_tail_entries)
            .min(oldest);
        Ok((path, bytes, through))
    }

    pub(crate) fn status(&self) -> SnapshotStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The background loop: one snapshot per state received, until the writer hangs up.
    pub(crate) fn run(self: Arc<Self>, rx: Receiver<Arc<State>>) {
        while let Ok(state) = rx.recv() {
            // Failures are recorded in the status; the log still holds everything.
            let _ = self.take(&state);
        }
    }
}
