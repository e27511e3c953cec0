//! Errors: what went wrong, where, and what the operator can do about it.

use crate::codec::DecodeError;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Opening a store failed. Nothing was modified unless the message says so.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// redb refused the file or failed reading it (including "already open" by another
    /// process, which redb detects with a file lock).
    #[error("{}: {source}", path.display())]
    Storage {
        path: PathBuf,
        #[source]
        source: redb::Error,
    },
    /// The directory was written by a newer rollout-store.
    #[error("{}: written in store format {found}, this build reads up to {supported}; upgrade rollout to open it", path.display())]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// Damage was found; see [`Corruption`] for where and what to do.
    #[error(transparent)]
    Corrupt(Box<Corruption>),
    /// `recover_to_last_good` was set, but no good state could be rebuilt.
    #[error("cannot recover: {0}; restore the data directory from a backup")]
    Unrecoverable(Box<Corruption>),
}

/// A damaged or inconsistent piece of the store found at open, with its location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corruption {
    /// The file that holds (or should hold) the damaged data.
    pub file: PathBuf,
    /// The log index concerned, when one is known.
    pub index: Option<u64>,
    pub problem: Problem,
    /// The last index that [`crate::Options::recover_to_last_good`] would keep, if it can
    /// recover at all.
    pub last_good: Option<u64>,
}

/// What exactly is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("log record does not decode: {0}")]
    Record(DecodeError),
    #[error("log record stored under index {key} carries index {found} (index out of order)")]
    IndexMismatch { key: u64, found: u64 },
    #[error("log gap: expected index {expected}, found {found}")]
    Gap { expected: u64, found: u64 },
    #[error("the engine rejects the logged command on replay ({0}); the log or the engine version does not match")]
    ReplayRejected(String),
    #[error("snapshot does not decode: {0}")]
    Snapshot(DecodeError),
    #[error("snapshot file name says index {named}, its contents say {found}")]
    SnapshotIndexMismatch { named: u64, found: u64 },
    #[error("log entries through index {truncated_through} were deleted after a snapshot, but no usable snapshot covers them (newest usable: {newest_snapshot:?}); a snapshot file is missing or damaged")]
    MissingSnapshot {
        truncated_through: u64,
        newest_snapshot: Option<u64>,
    },
    #[error("the database file fails redb's integrity check: {0}")]
    Database(String),
    #[error("metadata entry {key:?} is damaged: {reason}")]
    Meta { key: &'static str, reason: String },
    /// The log is gone in a directory that holds a store: taking it for a new store would
    /// lose every acknowledged entry (after the newest snapshot, if any).
    #[error("the log is {what}, but this directory holds a store ({evidence}); it is not taken for a new one, which would lose the acknowledged entries")]
    LogLost { what: String, evidence: String },
    #[error("the identity file {0}")]
    Identity(String),
    #[error("the database belongs to another store: its store ID is {found}, this directory's identity file says {expected}")]
    ForeignDatabase {
        expected: uuid::Uuid,
        found: uuid::Uuid,
    },
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.problem)?;
        if let Some(index) = self.index {
            write!(f, " (at log index {index})")?;
        }
        write!(
            f,
            ". Nothing was changed. Restore the data directory from a backup"
        )?;
        match self.last_good {
            Some(0) => write!(
                f,
                ", or start with --recover-to-last-good (the store's recover_to_last_good) to start from an empty state through index 0: nothing can be kept (damaged files are kept aside as *.corrupt)"
            ),
            Some(good) => write!(
                f,
                ", or start with --recover-to-last-good (the store's recover_to_last_good) to keep the state through index {good} and discard what follows (damaged files are kept aside as *.corrupt)"
            ),
            None => write!(
                f,
                "; --recover-to-last-good (recover_to_last_good) cannot repair this"
            ),
        }
    }
}

impl std::error::Error for Corruption {}

/// A submitted command was not committed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SubmitError {
    /// The engine refused the command; nothing was written and the state is unchanged.
    #[error(transparent)]
    Rejected(rollout_engine::Error),
    /// The durable commit failed. The command may or may not be on disk (an fsync failure
    /// leaves that unknown), so the store refuses writes until it has reopened the
    /// database and verified it (by itself, with backoff); the reopened store holds the
    /// command if it reached the disk.
    #[error("commit failed; the command may or may not be durable, and the store refuses writes until it has reopened and verified the database: {0}")]
    Storage(Arc<redb::Error>),
    /// An earlier commit failed and the store is recovering; see [`SubmitError::Storage`]
    /// and [`crate::Store::refusing_writes`]. Nothing was written; retry later.
    #[error("the store refuses writes after a failed commit while it reopens the database; retry later: {0}")]
    Failed(Arc<redb::Error>),
    /// The submission queue is full (only from the non-blocking submit).
    #[error("the store's submission queue is full ({capacity} commands); retry later")]
    Overloaded { capacity: usize },
    /// The store is shutting down.
    #[error("the store is closed")]
    Closed,
    /// No entropy could be drawn for the envelope; nothing was written.
    #[error("drawing entropy for the envelope failed: {0}")]
    Entropy(String),
    /// The accepted command could not be encoded; nothing was written.
    #[error("encoding the log record failed: {0}")]
    Encode(String),
}

impl SubmitError {
    /// The engine's error, when the command was rejected by the rules.
    pub fn rejection(&self) -> Option<&rollout_engine::Error> {
        match self {
            SubmitError::Rejected(e) => Some(e),
            _ => None,
        }
    }
}

/// Reading the log or writing a snapshot on demand failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}: {source}", path.display())]
    Storage {
        path: PathBuf,
        #[source]
        source: redb::Error,
    },
    /// The database is being reopened after a failed commit; try again shortly.
    #[error("{}: the database is being reopened after a failed commit; retry shortly", path.display())]
    Reopening { path: PathBuf },
    #[error("{}: log record at index {index}: {source}", path.display())]
    Decode {
        path: PathBuf,
        index: u64,
        #[source]
        source: DecodeError,
    },
}

/// Writing a snapshot failed. The log still holds everything; nothing was lost.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("encoding the state at index {index} failed: {message}")]
    Encode { index: u64, message: String },
}
