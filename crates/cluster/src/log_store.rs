//! The Raft log, the vote and the committed index, durable in redb.
//!
//! openraft's contract: a vote is on disk before `save_vote` returns, and appended
//! entries are on disk before the flush callback fires — only then may the node answer
//! a vote request or acknowledge entries to the leader. Every write here is one redb
//! transaction committed with redb's default durability (an fsync of the data and of
//! the commit slot), so a crash at any instant leaves the last committed transaction
//! and nothing half-written.
//!
//! Entries are named MessagePack, as the store writes its own log. The database is
//! called from the async tasks of openraft directly: each call is one short
//! transaction, and the Raft core is one task that waits on them in order anyway.

use crate::types::{NodeId, TypeConfig};
use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{
    AnyError, Entry, LogId, LogState, RaftLogReader, StorageError, StorageIOError, Vote,
};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

/// The file of the Raft log inside a node's data directory.
pub const RAFT_DB_FILE: &str = "raft.redb";

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");

/// Keys of the metadata table.
mod key {
    pub const VOTE: &str = "vote";
    pub const COMMITTED: &str = "committed";
    /// The last log ID deleted from the front of the log (covered by a snapshot).
    pub const PURGED: &str = "last_purged";
}

type StorageResult<T> = Result<T, StorageError<NodeId>>;

/// The Raft log store. Clones share the database (openraft takes a reader clone for
/// each replication stream).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
}

impl std::fmt::Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore").finish_non_exhaustive()
    }
}

impl LogStore {
    /// Opens (or creates) the log in `dir`.
    pub fn open(dir: &Path) -> Result<LogStore, redb::Error> {
        std::fs::create_dir_all(dir).map_err(redb::Error::Io)?;
        let db = Database::create(dir.join(RAFT_DB_FILE))?;
        // Create the tables once, so that readers never meet a missing table.
        let txn = db.begin_write()?;
        txn.open_table(LOG)?;
        txn.open_table(META)?;
        txn.commit()?;
        Ok(LogStore { db: Arc::new(db) })
    }

    /// [`LogStore::open`], waiting up to `wait` while the file is still open: a node
    /// stopped in this process lets go of its log only when the last of its Raft tasks
    /// has been dropped, which can be a moment after its shutdown returned. Another
    /// process holding the file is still refused, once `wait` has passed.
    pub async fn open_waiting(
        dir: &Path,
        wait: std::time::Duration,
    ) -> Result<LogStore, redb::Error> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            match LogStore::open(dir) {
                Err(redb::Error::DatabaseAlreadyOpen) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await
                }
                other => return other,
            }
        }
    }

    fn read_meta<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, AnyError> {
        let txn = self.db.begin_read().map_err(any)?;
        let table = txn.open_table(META).map_err(any)?;
        match table.get(name).map_err(any)? {
            Some(bytes) => rmp_serde::from_slice(bytes.value()).map(Some).map_err(any),
            None => Ok(None),
        }
    }

    fn write_meta<T: Serialize>(&self, name: &str, value: &T) -> Result<(), AnyError> {
        let bytes = rmp_serde::to_vec_named(value).map_err(any)?;
        let txn = self.db.begin_write().map_err(any)?;
        txn.open_table(META)
            .map_err(any)?
            .insert(name, bytes.as_slice())
            .map_err(any)?;
        txn.commit().map_err(any)
    }

    /// The entries whose indexes fall in `range`, in index order: one read
    /// transaction, blocking (what openraft's reader and the node's history call).
    pub fn entries(
        &self,
        range: impl RangeBounds<u64>,
    ) -> Result<Vec<Entry<TypeConfig>>, AnyError> {
        let txn = self.db.begin_read().map_err(any)?;
        let table = txn.open_table(LOG).map_err(any)?;
        let mut entries = Vec::new();
        for item in table.range::<u64>(bounds(&range)).map_err(any)? {
            let (_, bytes) = item.map_err(any)?;
            entries.push(decode_entry(bytes.value())?);
        }
        Ok(entries)
    }

    fn last_entry_id(&self) -> Result<Option<LogId<NodeId>>, AnyError> {
        let txn = self.db.begin_read().map_err(any)?;
        let table = txn.open_table(LOG).map_err(any)?;
        let last = match table.last().map_err(any)? {
            Some((_, bytes)) => Some(decode_entry(bytes.value())?.log_id),
            None => None,
        };
        Ok(last)
    }
}

fn any(e: impl std::error::Error + 'static) -> AnyError {
    AnyError::new(&e)
}

fn decode_entry(bytes: &[u8]) -> Result<Entry<TypeConfig>, AnyError> {
    rmp_serde::from_slice(bytes).map_err(any)
}

/// `range` as the `(start, end)` bounds redb takes, owned.
fn bounds(range: &impl RangeBounds<u64>) -> (Bound<u64>, Bound<u64>) {
    (range.start_bound().cloned(), range.end_bound().cloned())
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        self.entries(range)
            .map_err(|e| StorageIOError::read_logs(e).into())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let read = || -> Result<LogState<TypeConfig>, AnyError> {
            let last_purged_log_id: Option<LogId<NodeId>> = self.read_meta(key::PURGED)?;
            let last_log_id = self.last_entry_id()?.or(last_purged_log_id);
            Ok(LogState {
                last_purged_log_id,
                last_log_id,
            })
        };
        read().map_err(|e| StorageIOError::read_logs(e).into())
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> StorageResult<()> {
        self.write_meta(key::VOTE, vote)
            .map_err(|e| StorageIOError::write_vote(e).into())
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<NodeId>>> {
        self.read_meta(key::VOTE)
            .map_err(|e| StorageIOError::read_vote(e).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> StorageResult<()> {
        self.write_meta(key::COMMITTED, &committed)
            .map_err(|e| StorageIOError::write(e).into())
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId<NodeId>>> {
        self.read_meta::<Option<LogId<NodeId>>>(key::COMMITTED)
            .map(Option::flatten)
            .map_err(|e| StorageIOError::read(e).into())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let write = || -> Result<(), AnyError> {
            let txn = self.db.begin_write().map_err(any)?;
            {
                let mut table = txn.open_table(LOG).map_err(any)?;
                for entry in entries {
                    let bytes = rmp_serde::to_vec_named(&entry).map_err(any)?;
                    table
                        .insert(entry.log_id.index, bytes.as_slice())
                        .map_err(any)?;
                }
            }
            // Durable when commit returns: only now may openraft count the entries.
            txn.commit().map_err(any)
        };
        match write() {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(StorageIOError::write_logs(e).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        let write = || -> Result<(), AnyError> {
            let txn = self.db.begin_write().map_err(any)?;
            txn.open_table(LOG)
                .map_err(any)?
                .retain_in(log_id.index.., |_, _| false)
                .map_err(any)?;
            txn.commit().map_err(any)
        };
        write().map_err(|e| StorageIOError::write_logs(e).into())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        let write = || -> Result<(), AnyError> {
            let bytes = rmp_serde::to_vec_named(&log_id).map_err(any)?;
            let txn = self.db.begin_write().map_err(any)?;
            // The purge point and the deletion in one transaction: a crash leaves both
            // or neither, so the log state read at open is always consistent.
            txn.open_table(META)
                .map_err(any)?
                .insert(key::PURGED, bytes.as_slice())
                .map_err(any)?;
            txn.open_table(LOG)
                .map_err(any)?
                .retain_in(..=log_id.index, |_, _| false)
                .map_err(any)?;
            txn.commit().map_err(any)
        };
        write().map_err(|e| StorageIOError::write_logs(e).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Regression: a member restarted in the same process failed with
    /// `DatabaseAlreadyOpen` when the stopped instance's last Raft task still held the
    /// log (seen in CI); opening now waits for it to let go.
    #[tokio::test]
    async fn opening_waits_for_a_stopping_holder_and_refuses_a_lasting_one() {
        let dir = tempfile::tempdir().unwrap();
        let held = LogStore::open(dir.path()).unwrap();
        assert!(matches!(
            LogStore::open(dir.path()),
            Err(redb::Error::DatabaseAlreadyOpen)
        ));
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(held);
        });
        LogStore::open_waiting(dir.path(), Duration::from_secs(10))
            .await
            .expect("opened once the holder let go");
        release.await.unwrap();
        let _lasting = LogStore::open(dir.path());
        let refused = LogStore::open_waiting(dir.path(), Duration::from_millis(50)).await;
        assert!(matches!(refused, Err(redb::Error::DatabaseAlreadyOpen)));
    }
}
