//! The single writer: group commit.
//!
//! One thread owns every redb write. Submitters queue their commands; the writer takes
//! whatever has queued (up to `max_batch_commands`), stamps and applies each command in
//! submission order against the evolving state, appends the accepted ones in one write
//! transaction and commits it with one fsync. Only then does it publish the new state and
//! answer each caller with its own outcome. While one fsync runs, the next batch
//! accumulates in the queue, so throughput grows with the number of submitters without
//! any artificial delay.
//!
//! A rejected command consumes no index and writes nothing; the commands after it in the
//! batch are applied as if it had never been submitted.

use crate::codec;
use crate::error::SubmitError;
use crate::log;
use crate::publish::Published;
use redb::{Database, Durability};
use rollout_engine::{Command, DeploymentEngine, Outcome, State};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, OnceLock};

/// A command that was committed durably.
#[derive(Clone, Debug)]
pub struct Committed {
    /// The engine's outcome; `outcome.index` is the command's log index.
    pub outcome: Outcome,
    /// The state right after this command (later commands of the same batch excluded).
    pub state: Arc<State>,
}

pub(crate) type SubmitResult = Result<Committed, SubmitError>;

/// Where the writer sends a submitter's answer.
pub(crate) enum Reply {
    Blocking(SyncSender<SubmitResult>),
    Async(tokio::sync::oneshot::Sender<SubmitResult>),
}

impl Reply {
    fn send(self, result: SubmitResult) {
        // A caller that stopped waiting (dropped its future) just misses the answer; the
        // command is committed either way.
        match self {
            Reply::Blocking(tx) => {
                let _ = tx.send(result);
            }
            Reply::Async(tx) => {
                let _ = tx.send(result);
            }
        }
    }
}

// Nearly every message is a `Submit`, so boxing the command would add an allocation per
// command to shrink messages that are almost never sent.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Msg {
    Submit {
        command: Command,
        reply: Reply,
    },
    /// A snapshot at or above `through` is durable: log entries up to it may go.
    Truncate {
        through: u64,
    },
    Shutdown,
}

/// Counters shared with [`crate::Store::stats`].
#[derive(Default)]
pub(crate) struct Counters {
    pub committed: AtomicU64,
    pub rejected: AtomicU64,
    pub batches: AtomicU64,
    pub largest_batch: AtomicU64,
    pub truncated_through: AtomicU64,
}

/// When to hand a state to the background snapshotter.
pub(crate) struct SnapshotTrigger {
    pub every_entries: u64,
    pub every_bytes: u64,
    pub entries_since: u64,
    pub bytes_since: u64,
    pub tx: SyncSender<Arc<State>>,
}

impl SnapshotTrigger {
    fn due(&self) -> bool {
        (self.every_entries > 0 && self.entries_since >= self.every_entries)
            || (self.every_bytes > 0 && self.bytes_since >= self.every_bytes)
    }
}

pub(crate) struct Writer {
    pub db: Arc<Database>,
    pub rx: Receiver<Msg>,
    pub published: Arc<Published>,
    pub failed: Arc<OnceLock<Arc<redb::Error>>>,
    pub counters: Arc<Counters>,
    pub max_batch: usize,
    /// The engine at the last committed state (equal to the published one between
    /// batches). A batch is applied to a clone, kept only once it is durable.
    pub engine: DeploymentEngine,
    pub truncated_through: u64,
    pub truncate_target: u64,
    pub snapshots: Option<SnapshotTrigger>,
}

/// A batch applied to a clone of the engine, not yet written: the engine to keep if the
/// write succeeds, the log records to write, and each submitter's answer.
struct AppliedBatch {
    engine: DeploymentEngine,
    records: Vec<(u64, Vec<u8>)>,
    results: Vec<(Reply, SubmitResult)>,
}

struct Pending {
    command: Command,
    reply: Reply,
}

impl Writer {
    /// Runs until [`Msg::Shutdown`] or until every sender is gone.
    pub(crate) fn run(mut self) {
        let mut batch: Vec<Pending> = Vec::with_capacity(self.max_batch);
        loop {
            // With truncation left to do, don't sleep: do it when the queue is empty.
            let first = if self.truncate_target > self.truncated_through {
                match self.rx.try_recv() {
                    Ok(m) => Some(m),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return,
                }
            } else {
                match self.rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => return,
                }
            };
            let mut shutdown = false;
            let mut next = first;
            while let Some(msg) = next {
                match msg {
                    Msg::Submit { command, reply } => batch.push(Pending { command, reply }),
                    Msg::Truncate { through } => {
                        self.truncate_target = self.truncate_target.max(through);
                    }
                    Msg::Shutdown => {
                        shutdown = true;
                        break;
                    }
                }
                if batch.len() >= self.max_batch {
                    break;
                }
                next = self.rx.try_recv().ok();
            }
            self.commit_batch(std::mem::take(&mut batch));
            if shutdown {
                return;
            }
        }
    }

    fn commit_batch(&mut self, batch: Vec<Pending>) {
        if let Some(err) = self.failed.get() {
            // No more writes of any kind, truncation included (or `run` would spin on it).
            self.truncate_target = self.truncated_through;
            for p in batch {
                p.reply.send(Err(SubmitError::Failed(err.clone())));
            }
            return;
        }
        let AppliedBatch {
            engine,
            records,
            results,
        } = self.apply_batch(batch);
        let truncating = self.truncate_target > self.truncated_through;
        if records.is_empty() && !truncating {
            // Nothing to write: every command was rejected.
            self.count(&records, &results);
            reply_all(results);
            return;
        }
        match self.write(&records) {
            Ok(()) => {
                let appended_bytes: u64 = records.iter().map(|(_, b)| b.len() as u64).sum();
                self.engine = engine;
                if !records.is_empty() {
                    self.published
                        .publish(Arc::new(self.engine.state().clone()));
                }
                self.count(&records, &results);
                reply_all(results);
                self.maybe_snapshot(records.len() as u64, appended_bytes);
            }
            Err(e) => {
                let e = Arc::new(e);
                let _ = self.failed.set(e.clone());
                self.truncate_target = self.truncated_through;
                for (reply, _) in results {
                    reply.send(Err(SubmitError::Storage(e.clone())));
                }
            }
        }
    }

    /// Stamps and applies each command in order to a clone of the engine. Pure with
    /// respect to storage: nothing is written here.
    fn apply_batch(&self, batch: Vec<Pending>) -> AppliedBatch {
        let mut engine = self.engine.clone();
        let mut records = Vec::with_capacity(batch.len());
        let mut results = Vec::with_capacity(batch.len());
        for Pending { command, reply } in batch {
            let result = submit_encoded(&mut engine, command).map(|(committed, record)| {
                records.push(record);
                committed
            });
            results.push((reply, result));
        }
        AppliedBatch {
            engine,
            records,
            results,
        }
    }

    /// One write transaction, one fsync: the batch's records plus a bounded slice of
    /// pending truncation.
    fn write(&mut self, records: &[(u64, Vec<u8>)]) -> Result<(), redb::Error> {
        let mut txn = self.db.begin_write()?;
        // The default, spelled out: the commit returns only after fsync.
        txn.set_durability(Durability::Immediate)?;
        log::append(&txn, records)?;
        let truncated = if self.truncate_target > self.truncated_through {
            log::truncate(&txn, self.truncated_through, self.truncate_target)?
        } else {
            self.truncated_through
        };
        txn.commit()?;
        self.truncated_through = truncated;
        self.counters
            .truncated_through
            .store(truncated, Ordering::Relaxed);
        Ok(())
    }

    fn count(&self, records: &[(u64, Vec<u8>)], results: &[(Reply, SubmitResult)]) {
        let c = &self.counters;
        let accepted = records.len() as u64;
        c.committed.fetch_add(accepted, Ordering::Relaxed);
        c.rejected
            .fetch_add(results.len() as u64 - accepted, Ordering::Relaxed);
        if !results.is_empty() {
            c.batches.fetch_add(1, Ordering::Relaxed);
            c.largest_batch
                .fetch_max(results.len() as u64, Ordering::Relaxed);
        }
    }

    fn maybe_snapshot(&mut self, entries: u64, bytes: u64) {
        let Some(trigger) = &mut self.snapshots else {
            return;
        };
        trigger.entries_since += entries;
        trigger.bytes_since += bytes;
        if !trigger.due() {
            return;
        }
        // A full channel means a snapshot is still being written: try again next batch.
        match trigger.tx.try_send(Arc::new(self.engine.state().clone())) {
            Ok(()) => {
                trigger.entries_since = 0;
                trigger.bytes_since = 0;
            }
            Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => self.snapshots = None,
        }
    }
}

/// Submits one command to `engine` and encodes its envelope as a log record. If the
/// record cannot be encoded the command is undone (the engine is left as it was), so the
/// state never holds a command the log lacks.
fn submit_encoded(
    engine: &mut DeploymentEngine,
    command: Command,
) -> Result<(Committed, (u64, Vec<u8>)), SubmitError> {
    let before = engine.clone();
    let applied = engine.submit(command).map_err(|e| match e {
        rollout_engine::Error::NoEntropy(reason) => SubmitError::Entropy(reason),
        e => SubmitError::Rejected(e),
    })?;
    match codec::encode_log_record(&applied.envelope) {
        Ok(bytes) => Ok((
            Committed {
                outcome: applied.outcome,
                state: Arc::new(applied.state),
            },
            (applied.envelope.index, bytes),
        )),
        Err(e) => {
            *engine = before;
            Err(SubmitError::Encode(e.to_string()))
        }
    }
}

fn reply_all(results: Vec<(Reply, SubmitResult)>) {
    for (reply, result) in results {
        reply.send(result);
    }
}
