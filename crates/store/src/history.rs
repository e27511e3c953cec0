//! The past, re-derived: every committed write from any index the store can still
//! rebuild, with its outcome and the states around it.
//!
//! The log holds envelopes, not outcomes; the engine is deterministic, so applying a
//! logged envelope to the state before it gives back exactly the outcome (events,
//! decision trace) and the state it gave when it was committed. [`History`] does that
//! from the newest usable snapshot at or below the start (or from the empty state when
//! the log was never truncated), reading the log in chunks so that a replay of a
//! million entries holds neither a long read transaction nor the whole log in memory.
//!
//! [`crate::Store::commits`] is the live half: each committed batch, as the writer
//! committed it. A subscriber that wants "everything from index N, then live" takes a
//! receiver first, then reads [`crate::Store::state`]'s index C, replays `N..=C` from
//! here and skips anything at or below C on the receiver: the writer publishes the state
//! before it sends the batch, so nothing falls between the two.

use crate::codec::decode_snapshot;
use crate::error::ReadError;
use crate::reopen::DbSlot;
use crate::snapshot;
use crate::writer::Committed;
use rollout_engine::{apply, Envelope, State};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

/// Log entries read per read transaction.
const CHUNK: usize = 256;

/// Why the past cannot be replayed from where it was asked.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Nothing before `oldest` can be rebuilt: the log below it was truncated after a
    /// snapshot, and no retained snapshot is old enough.
    #[error(
        "index {requested} is older than the retained history: the oldest index that can be replayed is {oldest}"
    )]
    TooOld {
        /// The index asked for.
        requested: u64,
        /// The oldest index that can be replayed now.
        oldest: u64,
    },
    /// Reading the log failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A snapshot file could not be read or decoded.
    #[error("{}: {message}", path.display())]
    Snapshot {
        /// The snapshot file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A logged envelope no longer applies to the state before it: the log and the
    /// engine disagree (a build that changed the engine's rules over an old log).
    #[error("log entry {index} does not replay: {message}")]
    Replay {
        /// The entry's index.
        index: u64,
        /// The engine's error.
        message: String,
    },
}

/// Committed writes from a start index up to the index committed when the history was
/// opened, in log order: an iterator of [`Committed`] (each with the state before it).
pub struct History {
    db: Arc<DbSlot>,
    path: PathBuf,
    /// The state after the last entry yielded (before the next).
    state: Arc<State>,
    /// The next index to yield.
    next: u64,
    /// The last index to yield.
    through: u64,
    pending: VecDeque<Envelope>,
    failed: bool,
}

impl History {
    /// The index of the first write the iterator yields (if any).
    pub fn start(&self) -> u64 {
        self.next
    }

    /// The last index the iterator yields: the committed index when it was opened.
    pub fn through(&self) -> u64 {
        self.through
    }

    fn fill(&mut self) -> Result<(), HistoryError> {
        let want = (self.through - self.next + 1).min(CHUNK as u64) as usize;
        let db = self.db.load_full().ok_or_else(|| ReadError::Reopening {
            path: self.path.clone(),
        })?;
        let entries = crate::log::read(&db, &self.path, self.next, want)?;
        if entries.first().map(|e| e.index) != Some(self.next) {
            // Truncated under us (a new snapshot made the log below it go).
            return Err(HistoryError::TooOld {
                requested: self.next,
                oldest: entries.first().map_or(self.through + 1, |e| e.index),
            });
        }
        self.pending.extend(entries);
        Ok(())
    }

    fn step(&mut self) -> Result<Committed, HistoryError> {
        if self.pending.is_empty() {
            self.fill()?;
        }
        let Some(envelope) = self.pending.pop_front() else {
            return Err(HistoryError::TooOld {
                requested: self.next,
                oldest: self.through + 1,
            });
        };
        let index = envelope.index;
        let (after, outcome) = apply(&self.state, &envelope).map_err(|e| HistoryError::Replay {
            index,
            message: e.to_string(),
        })?;
        let after = Arc::new(after);
        let before = std::mem::replace(&mut self.state, after.clone());
        self.next = index + 1;
        Ok(Committed {
            command: envelope.command.name(),
            outcome,
            state: after,
            before,
            actor: envelope.actor,
        })
    }
}

impl Iterator for History {
    type Item = Result<Committed, HistoryError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.next > self.through {
            return None;
        }
        let item = self.step();
        self.failed = item.is_err();
        Some(item)
    }
}

/// Where a replay from `from` can start: the state at `from - 1`.
pub(crate) fn open(
    db: Arc<DbSlot>,
    dir: &std::path::Path,
    path: PathBuf,
    current: Arc<State>,
    truncated_through: u64,
    from: u64,
) -> Result<History, HistoryError> {
    let from = from.max(1);
    let through = current.index();
    let history = |state: Arc<State>, next: u64| History {
        db: db.clone(),
        path: path.clone(),
        state,
        next,
        through,
        pending: VecDeque::new(),
        failed: false,
    };
    if from > through {
        // Nothing committed at or after `from` yet: an empty history.
        return Ok(history(current, from));
    }
    let snapshots = snapshot::list(dir).map_err(|e| HistoryError::Snapshot {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    // A snapshot is usable when the log still holds every entry after it.
    let usable = |s: u64| s >= truncated_through && s < through;
    if let Some((_, file)) = snapshots
        .iter()
        .find(|(s, _)| usable(*s) && *s < from && (truncated_through > 0 || *s > 0))
    {
        let bytes = std::fs::read(file).map_err(|e| HistoryError::Snapshot {
            path: file.clone(),
            message: e.to_string(),
        })?;
        let (_, state) = decode_snapshot(&bytes).map_err(|e| HistoryError::Snapshot {
            path: file.clone(),
            message: e.to_string(),
        })?;
        let next = state.index() + 1;
        let mut h = history(Arc::new(state), next);
        // Replay silently up to `from - 1`.
        while h.next < from {
            h.step()?;
        }
        return Ok(h);
    }
    if truncated_through == 0 {
        let mut h = history(Arc::new(State::with_config(current.config().clone())), 1);
        while h.next < from {
            h.step()?;
        }
        return Ok(h);
    }
    let oldest = snapshots
        .iter()
        .filter(|(s, _)| usable(*s))
        .map(|(s, _)| s + 1)
        .min()
        .unwrap_or(through + 1);
    Err(HistoryError::TooOld {
        requested: from,
        oldest,
    })
}
