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
//! are durable here, as Raft allows): the newest entries of the log are also held in
//! memory ([`Tail`]), those not durable yet and, below them, the most recently durable
//! ones up to [`TAIL_DURABLE_BYTES`] of their encoding. The readers that come right after
//! an append — the replication streams sending it, the state machine applying it once
//! committed — find it there and never decode it from the database. Truncation and
//! purging wait for the writer, so the database never holds an entry a read must not see.
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

/// How much of the durable end of the log stays in memory, in encoded bytes: a few
/// seconds of writes under load, the window in which the state machine and the
/// replication streams read what was just appended.
pub const TAIL_DURABLE_BYTES: usize = 16 << 20;

/// The newest entries of the log, in memory: a contiguous run of indexes that ends at the
/// log's last entry (appends extend it at the end, truncation cuts it at the end, purging
/// and the eviction of durable entries shorten it at the front). Everything below its
/// first index is in the database.
struct Tail {
    entries: BTreeMap<u64, Held>,
    /// The encoded size of the durable entries held.
    durable_bytes: usize,
    /// At most this many durable bytes are held ([`TAIL_DURABLE_BYTES`]).
    budget: usize,
}

struct Held {
    entry: Entry<TypeConfig>,
    /// Its encoded size.
    bytes: usize,
    /// Whether its transaction has committed.
    durable: bool,
}

impl Tail {
    fn new(budget: usize) -> Tail {
        Tail {
            entries: BTreeMap::new(),
            durable_bytes: 0,
            budget,
        }
    }

    fn insert(&mut self, entry: Entry<TypeConfig>, bytes: usize) {
        let held = Held {
            entry,
            bytes,
            durable: false,
        };
        if let Some(old) = self.entries.insert(held.entry.log_id.index, held) {
            self.forget(&old);
        }
    }

    /// Marks the entry `id` durable (unless a later append replaced it or it was
    /// truncated meanwhile).
    fn made_durable(&mut self, id: &LogId<NodeId>) {
        if let Some(held) = self.entries.get_mut(&id.index) {
            if held.entry.log_id == *id && !held.durable {
                held.durable = true;
                self.durable_bytes += held.bytes;
            }
        }
    }

    /// Lets the oldest durable entries go while the durable ones held exceed the budget
    /// (the database has them).
    fn evict(&mut self) {
        while self.durable_bytes > self.budget {
            match self.entries.first_entry() {
                Some(first) if first.get().durable => {
                    let held = first.remove();
                    self.forget(&held);
                }
                _ => break,
            }
        }
    }

    /// Drops every entry from `index` on (truncation).
    fn cut_from(&mut self, index: u64) {
        let cut = self.entries.split_off(&index);
        self.forget_all(cut.values());
    }

    /// Drops every entry up to `index` (purging).
    fn cut_through(&mut self, index: u64) {
        let kept = match index.checked_add(1) {
            Some(next) => self.entries.split_off(&next),
            None => BTreeMap::new(),
        };
        let purged = std::mem::replace(&mut self.entries, kept);
        self.forget_all(purged.values());
    }

    fn forget_all<'a>(&mut self, dropped: impl Iterator<Item = &'a Held>) {
        for held in dropped {
            self.forget(held);
        }
    }

    fn forget(&mut self, held: &Held) {
        if held.durable {
            self.durable_bytes -= held.bytes;
        }
    }

    /// Whether the held indexes form one run with no hole (always, by construction; a
    /// read checks it before trusting the database for nothing but what lies below).
    fn contiguous(&self) -> bool {
        match (
            self.entries.first_key_value(),
            self.entries.last_key_value(),
        ) {
            (Some((first, _)), Some((last, _))) => last - first + 1 == self.entries.len() as u64,
            _ => true,
        }
    }
}

/// The Raft log store. Clones share the database, the tail and the writer (openraft
/// takes a reader clone for each replication stream).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
    /// The newest entries, durable or not yet.
    tail: Arc<Mutex<Tail>>,
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
        flushed: Flushed,
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

/// Tells an appender that its entries are durable (or not): openraft's flush callback.
type Flushed = Box<dyn FnOnce(Result<(), std::io::Error>) + Send>;

impl LogStore {
    /// Opens (or creates) the log in `dir` and starts its writer thread, which ends when
    /// the last clone of the store is dropped.
    pub fn open(dir: &Path) -> Result<LogStore, redb::Error> {
        LogStore::open_with_tail(dir, TAIL_DURABLE_BYTES)
    }

    fn open_with_tail(dir: &Path, tail_budget: usize) -> Result<LogStore, redb::Error> {
        std::fs::create_dir_all(dir).map_err(redb::Error::Io)?;
        let db = Arc::new(Database::create(dir.join(RAFT_DB_FILE))?);
        // Create the tables once, so that readers never meet a missing table.
        let txn = db.begin_write()?;
        txn.open_table(LOG)?;
        txn.open_table(META)?;
        txn.commit()?;
        let tail = Arc::new(Mutex::new(Tail::new(tail_budget)));
        let (writer, queue) = mpsc::channel();
        let thread = Writer {
            db: Arc::downgrade(&db),
            tail: tail.clone(),
            queue,
        };
        std::thread::Builder::new()
            .name("raft-log-writer".into())
            .spawn(move || thread.run())
            .map_err(redb::Error::Io)?;
        Ok(LogStore { db, tail, writer })
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
        let Some((lo, hi)) = inclusive(&range) else {
            return Ok(Vec::new());
        };
        let (held, tail_start) = {
            let tail = lock(&self.tail);
            let held: Vec<Entry<TypeConfig>> = tail
                .entries
                .range(lo..=hi)
                .map(|(_, h)| h.entry.clone())
                .collect();
            // Below the tail's first index everything is in the database; with a hole
            // in the tail (never seen) the database is read for the whole range.
            let start = tail
                .entries
                .first_key_value()
                .filter(|_| tail.contiguous())
                .map(|(first, _)| *first);
            (held, start)
        };
        let from_db = match tail_start {
            Some(start) if lo >= start => None,
            Some(start) => Some((lo, hi.min(start - 1))),
            None => Some((lo, hi)),
        };
        let mut durable = Vec::new();
        if let Some((from, to)) = from_db {
            let txn = self.db.begin_read().map_err(any)?;
            let table = txn.open_table(LOG).map_err(any)?;
            for item in table.range::<u64>(from..=to).map_err(any)? {
                let (_, bytes) = item.map_err(any)?;
                durable.push(decode_entry(bytes.value())?);
            }
        }
        if tail_start.is_some() || durable.is_empty() || held.is_empty() {
            // The database gave only what lies below the tail (or nothing).
            durable.extend(held);
            return Ok(durable);
        }
        // A held entry wins over the database's at the same index (the same entry, or
        // the database's copy of one truncated since).
        let mut merged: BTreeMap<u64, Entry<TypeConfig>> =
            durable.into_iter().map(|e| (e.log_id.index, e)).collect();
        merged.extend(held.into_iter().map(|e| (e.log_id.index, e)));
        Ok(merged.into_values().collect())
    }

    /// Appends `entries` (readable at once) and calls `flushed` once they are durable or
    /// failed to be: [`RaftLogStorage::append`] with a plain callback.
    fn append_then(
        &self,
        entries: Vec<Entry<TypeConfig>>,
        flushed: impl FnOnce(Result<(), std::io::Error>) + Send + 'static,
    ) -> Result<(), AnyError> {
        let encoded = match entries
            .iter()
            .map(|e| encode(e).map(|bytes| (e.log_id, bytes)))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(encoded) => encoded,
            Err(e) => {
                flushed(Err(std::io::Error::other(e.to_string())));
                return Err(e);
            }
        };
        {
            let mut tail = lock(&self.tail);
            for (entry, (_, bytes)) in entries.into_iter().zip(&encoded) {
                tail.insert(entry, bytes.len());
            }
        }
        let queued = self.writer.send(Write::Append {
            entries: encoded,
            flushed: Box::new(flushed),
        });
        if let Err(mpsc::SendError(Write::Append { flushed, .. })) = queued {
            flushed(Err(std::io::Error::other(writer_gone().to_string())));
            return Err(writer_gone());
        }
        Ok(())
    }

    fn last_entry_id(&self) -> Result<Option<LogId<NodeId>>, AnyError> {
        if let Some((_, held)) = lock(&self.tail).entries.last_key_value() {
            return Ok(Some(held.entry.log_id));
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
    tail: Arc<Mutex<Tail>>,
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
    /// Marks the now-durable entries of the tail so (unless a later append replaced one
    /// with another entry at the same index), then fires callbacks and answers.
    fn answer(&self, batch: Vec<Write>, outcome: &Result<(), String>) {
        if outcome.is_ok() {
            let mut tail = lock(&self.tail);
            for write in &batch {
                if let Write::Append { entries, .. } = write {
                    for (id, _) in entries {
                        tail.made_durable(id);
                    }
                }
            }
            tail.evict();
        }
        for write in batch {
            match write {
                Write::Append { flushed, .. } => {
                    flushed(outcome.clone().map_err(std::io::Error::other))
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

/// `range` as its first and last index, `None` when it is empty.
fn inclusive(range: &impl RangeBounds<u64>) -> Option<(u64, u64)> {
    let lo = match range.start_bound() {
        Bound::Included(i) => *i,
        Bound::Excluded(i) => i.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let hi = match range.end_bound() {
        Bound::Included(i) => *i,
        Bound::Excluded(i) => i.checked_sub(1)?,
        Bound::Unbounded => u64::MAX,
    };
    (lo <= hi).then_some((lo, hi))
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
        self.append_then(entries.into_iter().collect(), move |result| {
            callback.log_io_completed(result)
        })
        .map_err(|e| StorageIOError::write_logs(e).into())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        let index = log_id.index;
        lock(&self.tail).cut_from(index);
        self.write_and_wait(|done| Write::Truncate { index, done })
            .await
            .map_err(|e| StorageIOError::write_logs(e).into())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        let write = async {
            let bytes = encode(&log_id)?;
            lock(&self.tail).cut_through(log_id.index);
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
    use openraft::{CommittedLeaderId, EntryPayload};
    use std::time::Duration;

    fn blank(index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    /// Appends and waits until the entries are durable.
    async fn append(store: &LogStore, range: std::ops::RangeInclusive<u64>) {
        let (tx, rx) = oneshot::channel();
        store
            .append_then(range.map(blank).collect(), move |r| {
                let _ = tx.send(r.map_err(|e| e.to_string()));
            })
            .unwrap();
        rx.await.unwrap().unwrap();
    }

    fn indexes(store: &LogStore, range: impl RangeBounds<u64>) -> Vec<u64> {
        let entries = store.entries(range).unwrap();
        entries.iter().map(|e| e.log_id.index).collect()
    }

    /// The tail holds the newest entries up to its byte budget; reads across it, below
    /// it and after truncation, purging and a reopen give exactly the log.
    #[tokio::test]
    async fn reads_join_the_database_below_the_tail_and_the_tail_above_it() {
        let dir = tempfile::tempdir().unwrap();
        // A budget of about ten blank entries.
        let one = encode(&blank(1)).unwrap().len();
        let store = LogStore::open_with_tail(dir.path(), 10 * one).unwrap();
        append(&store, 1..=30).await;
        {
            let tail = lock(&store.tail);
            assert!(tail.contiguous());
            assert_eq!(tail.entries.len(), 10, "evicted down to the budget");
            assert_eq!(tail.entries.first_key_value().map(|(i, _)| *i), Some(21));
        }
        assert_eq!(indexes(&store, ..), (1..=30).collect::<Vec<_>>());
        assert_eq!(indexes(&store, 15..25), (15..25).collect::<Vec<_>>());
        assert_eq!(indexes(&store, 22..=24), vec![22, 23, 24]);
        assert_eq!(indexes(&store, 3..=5), vec![3, 4, 5]);
        assert!(indexes(&store, 31..).is_empty());
        assert!(indexes(&store, 5..5).is_empty());

        // Truncating into the tail and into the database below it.
        let mut raft = store.clone();
        raft.truncate(blank(28).log_id).await.unwrap();
        assert_eq!(indexes(&store, 20..), (20..28).collect::<Vec<_>>());
        raft.truncate(blank(12).log_id).await.unwrap();
        assert_eq!(indexes(&store, ..), (1..12).collect::<Vec<_>>());
        append(&store, 12..=14).await;
        assert_eq!(indexes(&store, 10..), vec![10, 11, 12, 13, 14]);

        // Purging below and into the tail.
        raft.purge(blank(3).log_id).await.unwrap();
        assert_eq!(indexes(&store, ..), (4..=14).collect::<Vec<_>>());
        raft.purge(blank(13).log_id).await.unwrap();
        assert_eq!(indexes(&store, ..), vec![14]);

        // A reopened store starts with an empty tail and reads the database.
        drop((store, raft));
        let store = LogStore::open_waiting(dir.path(), Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(indexes(&store, ..), vec![14]);
        append(&store, 15..=16).await;
        assert_eq!(indexes(&store, ..), vec![14, 15, 16]);
    }

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
