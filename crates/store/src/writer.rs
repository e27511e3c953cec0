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
use crate::reopen::{DbSlot, Gate};
use crate::snapshotter::{Job, Snapshotter};
use crate::Options;
use redb::Durability;
use rollout_engine::{Actor, Command, DeploymentEngine, Outcome, Stamp, State};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;

/// A command that was committed durably.
#[derive(Clone, Debug)]
pub struct Committed {
    /// The command's short name ([`Command::name`](rollout_engine::Command::name)):
    /// what metrics count and logs name.
    pub command: &'static str,
    /// The engine's outcome; `outcome.index` is the command's log index.
    pub outcome: Outcome,
    /// The state right after this command (later commands of the same batch excluded).
    pub state: Arc<State>,
    /// The state right before it: what deleted objects looked like.
    pub before: Arc<State>,
    /// Who submitted it, as its logged envelope records (`None` for commands nobody
    /// attributed, and for log entries written before actors were recorded).
    pub actor: Option<Actor>,
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
        actor: Option<Actor>,
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
    /// Told each batch's commit time (metrics).
    pub observer: Arc<crate::observer::ObserverSlot>,
}

/// When to hand a state to the background snapshotter: counted from the last *durable*
/// snapshot (the snapshotter's), so that one that failed stays due and is retried.
pub(crate) struct SnapshotTrigger {
    pub every_entries: u64,
    pub every_bytes: u64,
    /// Log record bytes appended since open.
    pub log_bytes: u64,
    pub snapshotter: Arc<Snapshotter>,
    pub tx: SyncSender<Job>,
}

impl SnapshotTrigger {
    fn due(&self, index: u64) -> bool {
        let status = self.snapshotter.status();
        (self.every_entries > 0 && index.saturating_sub(status.durable_index) >= self.every_entries)
            || (self.every_bytes > 0
                && self.log_bytes.saturating_sub(status.durable_log_bytes) >= self.every_bytes)
    }
}

pub(crate) struct Writer {
    /// The database; swapped by an in-process reopen after a failed commit.
    pub db: Arc<DbSlot>,
    pub rx: Receiver<Msg>,
    pub published: Arc<Published>,
    pub stamp: Arc<dyn Stamp>,
    /// Whether writes are accepted (refused from a failed commit until a reopen).
    pub gate: Arc<Gate>,
    /// Where the store is and how it was opened: what a reopen needs.
    pub dir: PathBuf,
    pub options: Options,
    pub counters: Arc<Counters>,
    pub max_batch: usize,
    /// The last committed state (equal to the published one between batches).
    pub state: Arc<State>,
    /// The live feed of committed batches ([`crate::Store::commits`]).
    pub feed: tokio::sync::broadcast::Sender<Arc<[Committed]>>,
    /// The log's time never goes backwards, even if the wall clock is stepped back.
    pub last_now: i64,
    pub truncated_through: u64,
    pub truncate_target: u64,
    pub snapshots: Option<SnapshotTrigger>,
}

struct Pending {
    command: Command,
    actor: Option<Actor>,
    reply: Reply,
}

impl Writer {
    /// Runs until [`Msg::Shutdown`] or until every sender is gone.
    pub(crate) fn run(mut self) {
        let mut batch: Vec<Pending> = Vec::with_capacity(self.max_batch);
        loop {
            // With truncation left to do, don't sleep: do it when the queue is empty.
            let first = if let Some(wait) = self.gate.next_attempt_in() {
                // Refusing writes after a failed commit: answer what comes, and reopen
                // the database when the backoff allows (also under a steady stream).
                if wait.is_zero() {
                    self.try_reopen();
                    continue;
                }
                match self.rx.recv_timeout(wait) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            } else if self.truncate_target > self.truncated_through {
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
                    Msg::Submit {
                        command,
                        actor,
                        reply,
                    } => batch.push(Pending {
                        command,
                        actor,
                        reply,
                    }),
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
        if let Some(err) = self.gate.failed.load_full() {
            // No more writes of any kind, truncation included (or `run` would spin on it).
            self.truncate_target = self.truncated_through;
            for p in batch {
                p.reply.send(Err(SubmitError::Failed(err.clone())));
            }
            return;
        }
        let (state, records, results, last_now) = self.apply_batch(batch);
        let truncating = self.truncate_target > self.truncated_through;
        if records.is_empty() && !truncating {
            // Nothing to write: every command was rejected.
            self.count(&records, &results);
            reply_all(results);
            return;
        }
        let started = std::time::Instant::now();
        match self.write(&records) {
            Ok(()) => {
                if !records.is_empty() {
                    self.counters
                        .observer
                        .batch_committed(records.len(), started.elapsed());
                }
                let appended_bytes: u64 = records.iter().map(|(_, b)| b.len() as u64).sum();
                self.state = state;
                self.last_now = last_now;
                if !records.is_empty() {
                    self.published.publish(self.state.clone());
                    self.published.remember(
                        results
                            .iter()
                            .filter_map(|(_, r)| r.as_ref().ok().map(|c| c.state.clone())),
                    );
                    self.feed_subscribers(&results);
                }
                self.count(&records, &results);
                reply_all(results);
                // The acknowledgements are out: now wake blocking queries (another thread
                // does the waking; this is one channel send).
                if !records.is_empty() {
                    self.published.wake_waiters();
                }
                self.maybe_snapshot(records.len() as u64, appended_bytes);
            }
            Err(e) => {
                let e = Arc::new(e);
                tracing::error!(
                    error = %e,
                    index = self.state.index(),
                    "commit failed; refusing writes until the database is reopened and verified"
                );
                self.gate.fail(e.clone());
                self.truncate_target = self.truncated_through;
                for (reply, _) in results {
                    reply.send(Err(SubmitError::Storage(e.clone())));
                }
            }
        }
    }

    /// Stamps and applies each command in order. Pure with respect to storage: nothing is
    /// written here.
    #[allow(clippy::type_complexity)]
    fn apply_batch(
        &self,
        batch: Vec<Pending>,
    ) -> (
        Arc<State>,
        Vec<(u64, Vec<u8>)>,
        Vec<(Reply, SubmitResult)>,
        i64,
    ) {
        let mut state = self.state.clone();
        let mut last_now = self.last_now;
        let mut records = Vec::with_capacity(batch.len());
        let mut results = Vec::with_capacity(batch.len());
        for Pending {
            command,
            actor,
            reply,
        } in batch
        {
            let name = command.name();
            let result = self.stamp_and_apply(&state, command, actor.clone(), &mut last_now);
            let result = result.map(|(next, outcome, index, bytes)| {
                records.push((index, bytes));
                let before = std::mem::replace(&mut state, Arc::new(next));
                Committed {
                    command: name,
                    outcome,
                    state: state.clone(),
                    before,
                    actor,
                }
            });
            results.push((reply, result));
        }
        (state, records, results, last_now)
    }

    fn stamp_and_apply(
        &self,
        state: &State,
        command: Command,
        actor: Option<Actor>,
        last_now: &mut i64,
    ) -> Result<(State, Outcome, u64, Vec<u8>), SubmitError> {
        // The engine stamps (next index, the stamp's time clamped to the last command's,
        // fresh entropy) and applies; the writer only keeps the result once it is
        // encoded. An O(1) engine over the batch's evolving state.
        let mut engine = DeploymentEngine::from_shared(state.clone(), self.stamp.clone());
        let applied = engine.submit_as(command, actor).map_err(|e| match e {
            rollout_engine::Error::NoEntropy(reason) => SubmitError::Entropy(reason),
            e => SubmitError::Rejected(e),
        })?;
        let envelope = &applied.envelope;
        let bytes =
            codec::encode_log_record(envelope).map_err(|e| SubmitError::Encode(e.to_string()))?;
        *last_now = (*last_now).max(envelope.now);
        Ok((applied.state, applied.outcome, envelope.index, bytes))
    }

    /// One write transaction, one fsync: the batch's records plus a bounded slice of
    /// pending truncation.
    fn write(&mut self, records: &[(u64, Vec<u8>)]) -> Result<(), redb::Error> {
        let db = self.db.load_full().ok_or(redb::Error::PreviousIo)?;
        let mut txn = db.begin_write()?;
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

    /// Sends the batch's committed writes to [`crate::Store::commits`] receivers, after
    /// the state is published (the order the history module relies on). Nothing is
    /// copied while nobody listens; the send itself never waits.
    fn feed_subscribers(&self, results: &[(Reply, SubmitResult)]) {
        if self.feed.receiver_count() == 0 {
            return;
        }
        let batch: Arc<[Committed]> = results
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok().cloned())
            .collect();
        let _ = self.feed.send(batch);
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

    fn maybe_snapshot(&mut self, _entries: u64, bytes: u64) {
        let Some(trigger) = &mut self.snapshots else {
            return;
        };
        trigger.log_bytes += bytes;
        // One job at a time, none during a failed snapshot's backoff (the snapshotter
        // retries by itself); nothing is reset here, only when a snapshot is durable.
        if !trigger.due(self.state.index()) || !trigger.snapshotter.ready() {
            return;
        }
        let job = Job {
            state: self.state.clone(),
            log_bytes: trigger.log_bytes,
        };
        trigger.snapshotter.mark_busy();
        match trigger.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => trigger.snapshotter.clear_busy(),
            Err(TrySendError::Disconnected(_)) => self.snapshots = None,
        }
    }
}

fn reply_all(results: Vec<(Reply, SubmitResult)>) {
    for (reply, result) in results {
        reply.send(result);
    }
}
