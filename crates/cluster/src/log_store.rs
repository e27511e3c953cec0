//! The Raft log, the vote and the committed index, durable in redb, written by one
//! group-committing thread.
//!
//! openraft's contract: a vote is on disk before `save_vote` returns, and appended
//! entries are on disk before the flush callback fires — only then may the node answer
//! a vote request or acknowledge entries to the leader. The committed index need not be
//! durable (openraft re-learns it from a quorum after a restart): it rides with the next
//! batch, without an fsync of its own when it is alone in one, and is read back at start
//! only to re-apply sooner.
//!
//! Every write goes to the writer thread ([`Writer`]) in the order openraft issued it.
//! The thread takes everything queued, writes it in **one** redb transaction with redb's
//! default durability (an fsync of the data and of the commit slot), and only then fires
//! the flush callbacks and answers the calls that wait. So the Raft core is never blocked
//! on a disk: while one fsync runs it keeps gathering client writes, and the next
//! transaction carries all of them — the store's group commit, on the Raft path. A crash
//! at any instant leaves the last committed transaction and nothing half-written.
//!
//! Appended entries are readable at once (replication to followers reads them before they
//! are durable here, as Raft allows): until their transaction commits they sit in an
//! in-memory overlay that reads consult first. Truncation and purging wait for the writer,
//! so the database never holds an entry a read must not see.
//!
//! Entries are named MessagePack, as the store writes its own log.

use crate::types::{NodeId, TypeConfig};
use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{
    AnyError, Entry, LogId, LogState, RaftLogReader, StorageError, StorageIOError, Vote,
};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;

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

/// The Raft log store. Clones share the database, the overlay and the writer (openraft
/// takes a reader clone for each replication stream).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
    /// Appended entries whose transaction has not committed yet, by index.
    overlay: Arc<Mutex<BTreeMap<u64, Entry<TypeConfig>>>>,
    writer: mpsc::Sender<Write>,
}

impl std::fmt::Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore").finish_non_exhaustive()
    }
}

/// One write, in the order openraft issued it.
enum Write {
    /// Entries (encoded) to insert; the callback fires once they are durable.
    Append {
        entries: Vec<(LogId<NodeId>, Vec<u8>)>,
        flushed: LogFlushed<TypeConfig>,
    },
    /// Delete every entry from `index` on.
    Truncate { index: u64, done: Done },
    /// Delete every entry up to `log_id` and record it as purged.
    Purge {
        log_id: LogId<NodeId>,
        bytes: Vec<u8>,
        done: Done,
    },
    /// A metadata value; `done` is `None` when nobody waits for it (the committed index).
    Meta {
        key: &'static str,
        bytes: Vec<u8>,
        done: Option<Done>,
    },
}

/// Answers a waiting call once its batch is durable (or failed).
type Done = oneshot::Sender<Result<(), String>>;

impl LogStore {
    /// Opens (or creates) the log in `dir` and starts its writer thread, which ends when
    /// the last clone of the store is dropped.
    pub fn open(dir: &Path) -> Result<LogStore, redb::Error> {
        std::fs::create_dir_all(dir).map_err(redb::Error::Io)?;
        let db = Arc::new(Database::create(dir.join(RAFT_DB_FILE))?);
        // Create the tables once, so that readers never meet a missing table.
        let txn = db.begin_write()?;
        txn.open_table(LOG)?;
        txn.open_table(META)?;
        txn.commit()?;
        let overlay = Arc::new(Mutex::new(BTreeMap::new()));
        let (writer, queue) = mpsc::channel();
        let thread = Writer {
            db: Arc::downgrade(&db),
            overlay: overlay.clone(),
            queue,
        };
        std::thread::Builder::new()
            .name("raft-log-writer".into())
            .spawn(move || thread.run())
            .map_err(redb::Error::Io)?;
        Ok(LogStore {
            db,
            overlay,
            writer,
        })
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

    /// Queues `write` and waits until the batch that carries it is durable.
    async fn write_and_wait(&self, write: impl FnOnce(Done) -> Write) -> Result<(), AnyError> {
        let (done, durable) = oneshot::channel();
        self.writer.send(write(done)).map_err(|_| writer_gone())?;
        match durable.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(AnyError::error(e)),
            Err(_) => Err(writer_gone()),
        }
    }

    /// The entries whose indexes fall in `range`, in index order, whether durable yet or
    /// not: blocking (what openraft's reader and the node's history call).
    pub fn entries(
        &self,
        range: impl RangeBounds<u64>,
    ) -> Result<Vec<Entry<TypeConfig>>, AnyError> {
        let range = bounds(&range);
        // The overlay first: an entry the writer commits meanwhile leaves the overlay only
        // after its transaction is visible to the read below.
        let pending: Vec<Entry<TypeConfig>> = lock(&self.overlay)
            .range(range)
            .map(|(_, e)| e.clone())
            .collect();
        let txn = self.db.begin_read().map_err(any)?;
        let table = txn.open_table(LOG).map_err(any)?;
        let mut durable = Vec::new();
        for item in table.range::<u64>(range).map_err(any)? {
            let (_, bytes) = item.map_err(any)?;
            durable.push(decode_entry(bytes.value())?);
        }
        // The usual read (entries to apply, long durable) meets no pending entry.
        if pending.is_empty() {
            return Ok(durable);
        }
        // A pending entry wins over a durable one at the same index (the same entry, or
        // the database's copy of one truncated since).
        let mut merged: BTreeMap<u64, Entry<TypeConfig>> =
            durable.into_iter().map(|e| (e.log_id.index, e)).collect();
        merged.extend(pending.into_iter().map(|e| (e.log_id.index, e)));
        Ok(merged.into_values().collect())
    }

    fn last_entry_id(&self) -> Result<Option<LogId<NodeId>>, AnyError> {
        if let Some((_, entry)) = lock(&self.overlay).last_key_value() {
            return Ok(Some(entry.log_id));
        }
        let txn = self.db.begin_read().map_err(any)?;
        let table = txn.open_table(LOG).map_err(any)?;
        let last = match table.last().map_err(any)? {
            Some((_, bytes)) => Some(decode_entry(bytes.value())?.log_id),
            None => None,
        };
        Ok(last)
    }
}

/// The thread that owns the log's writes. It holds the database weakly: dropping the
/// last [`LogStore`] closes the file at once, as it did before there was a thread, so
/// that the node can be reopened in the same process right away.
struct Writer {
    db: std::sync::Weak<Database>,
    overlay: Arc<Mutex<BTreeMap<u64, Entry<TypeConfig>>>>,
    queue: mpsc::Receiver<Write>,
}

impl Writer {
    /// One batch per turn: the first queued write, plus every write queued behind it.
    fn run(self) {
        while let Ok(first) = self.queue.recv() {
            let mut batch = vec![first];
            batch.extend(self.queue.try_iter());
            let outcome = match self.db.upgrade() {
                Some(db) => commit(&db, &batch).map_err(|e| e.to_string()),
                None => Err(writer_gone().to_string()),
            };
            self.answer(batch, &outcome);
        }
    }
}

fn commit(db: &Database, batch: &[Write]) -> Result<(), redb::Error> {
    let mut txn = db.begin_write()?;
    // A batch that is only the committed index (which nobody waits for) skips the
    // fsync: the next durable batch makes it durable too.
    if batch
        .iter()
        .all(|w| matches!(w, Write::Meta { done: None, .. }))
    {
        txn.set_durability(redb::Durability::None)
            .map_err(|e| redb::Error::Io(std::io::Error::other(e)))?;
    }
    {
        let mut log = txn.open_table(LOG)?;
        let mut meta = txn.open_table(META)?;
        for write in batch {
            match write {
                Write::Append { entries, .. } => {
                    for (id, bytes) in entries {
                        log.insert(id.index, bytes.as_slice())?;
                    }
                }
                Write::Truncate { index, .. } => log.retain_in(*index.., |_, _| false)?,
                Write::Purge { log_id, bytes, .. } => {
                    // The purge point and the deletion in one transaction: a crash
                    // leaves both or neither, so the log state read at open is
                    // always consistent.
                    meta.insert(key::PURGED, bytes.as_slice())?;
                    log.retain_in(..=log_id.index, |_, _| false)?;
                }
                Write::Meta { key, bytes, .. } => {
                    meta.insert(*key, bytes.as_slice())?;
                }
            }
        }
    }
    // Durable when commit returns (unless set otherwise above): only now may openraft
    // count the entries.
    txn.commit()?;
    Ok(())
}

impl Writer {
    /// Drops the now-durable entries from the overlay (unless a later append replaced
    /// one with another entry at the same index), then fires callbacks and answers.
    fn answer(&self, batch: Vec<Write>, outcome: &Result<(), String>) {
        if outcome.is_ok() {
            let mut overlay = lock(&self.overlay);
            for write in &batch {
                if let Write::Append { entries, .. } = write {
                    for (id, _) in entries {
                        if overlay.get(&id.index).is_some_and(|e| e.log_id == *id) {
                            overlay.remove(&id.index);
                        }
                    }
                }
            }
        }
        for write in batch {
            match write {
                Write::Append { flushed, .. } => {
                    flushed.log_io_completed(outcome.clone().map_err(std::io::Error::other))
                }
                Write::Truncate { done, .. } | Write::Purge { done, .. } => {
                    let _ = done.send(outcome.clone());
                }
                Write::Meta { done, .. } => {
                    if let Some(done) = done {
                        let _ = done.send(outcome.clone());
                    }
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn any(e: impl std::error::Error + 'static) -> AnyError {
    AnyError::new(&e)
}

fn writer_gone() -> AnyError {
    AnyError::error("the Raft log's writer thread has stopped")
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, AnyError> {
    rmp_serde::to_vec_named(value).map_err(any)
}

fn decode_entry(bytes: &[u8]) -> Result<Entry<TypeConfig>, AnyError> {
    rmp_serde::from_slice(bytes).map_err(any)
}

/// `range` as the `(start, end)` bounds redb and `BTreeMap` take, owned.
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
        let write = async {
            let bytes = encode(vote)?;
            self.write_and_wait(|done| Write::Meta {
                key: key::VOTE,
                bytes,
                done: Some(done),
            })
            .await
        };
        write
            .await
            .map_err(|e| StorageIOError::write_vote(e).into())
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<NodeId>>> {
        self.read_meta(key::VOTE)
            .map_err(|e| StorageIOError::read_vote(e).into())
    }

    /// Queued with the next batch, not waited for (see the module's doc).
    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> StorageResult<()> {
        let write = || -> Result<(), AnyError> {
            let bytes = encode(&committed)?;
            self.writer
                .send(Write::Meta {
                    key: key::COMMITTED,
                    bytes,
                    done: None,
                })
                .map_err(|_| writer_gone())
        };
        write().map_err(|e| StorageIOError::write(e).into())
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId<NodeId>>> {
        self.read_meta::<Option<LogId<NodeId>>>(key::COMMITTED)
            .map(Option::flatten)
            .map_err(|e| StorageIOError::read(e).into())
    }

    /// Readable at once; the callback fires when the writer's batch is durable.
    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let encoded = match entries
            .iter()
            .map(|e| encode(e).map(|bytes| (e.log_id, bytes)))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(encoded) => encoded,
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                return Err(StorageIOError::write_logs(e).into());
            }
        };
        {
            let mut overlay = lock(&self.overlay);
            for entry in entries {
                overlay.insert(entry.log_id.index, entry);
            }
        }
        let queued = self.writer.send(Write::Append {
            entries: encoded,
            flushed: callback,
        });
        if let Err(mpsc::SendError(Write::Append { flushed, .. })) = queued {
            flushed.log_io_completed(Err(std::io::Error::other(writer_gone().to_string())));
            return Err(StorageIOError::write_logs(writer_gone()).into());
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        let index = log_id.index;
        lock(&self.overlay).retain(|&i, _| i < index);
        self.write_and_wait(|done| Write::Truncate { index, done })
            .await
            .map_err(|e| StorageIOError::write_logs(e).into())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        let write = async {
            let bytes = encode(&log_id)?;
            lock(&self.overlay).retain(|&i, _| i > log_id.index);
            self.write_and_wait(|done| Write::Purge {
                log_id,
                bytes,
                done,
            })
            .await
        };
        write
            .await
            .map_err(|e| StorageIOError::write_logs(e).into())
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
