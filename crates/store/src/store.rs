//! `Store`: the public face. Opens (recovers), accepts commands, serves reads.

use crate::error::{OpenError, ReadError, SnapshotError, SubmitError};
use crate::faults::FaultPlan;
use crate::history::{self, History, HistoryError};
use crate::publish::Published;
use crate::recovery::{self, RecoveryReport, DB_FILE};
use crate::reopen::{DbSlot, Gate};
use crate::retention::LogRetention;
use crate::snapshotter::{SnapshotInfo, Snapshotter};
use crate::stamp::SystemStamp;
use crate::writer::{Committed, Counters, Msg, Reply, SnapshotTrigger, Writer};
use rollout_engine::{Actor, Command, EngineConfig, Envelope, Stamp, State};
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// How a store behaves. `Options::default()` suits a production agent.
#[derive(Clone)]
pub struct Options {
    /// Snapshot after this many log entries (0: never by count).
    pub snapshot_every_entries: u64,
    /// Snapshot after this many bytes of log records (0: never by size).
    pub snapshot_every_bytes: u64,
    /// The newest snapshot files always kept; older ones are deleted after a new one is
    /// durable, unless the retained log still needs them (see `log_retention`).
    pub snapshots_retained: usize,
    /// How far back the log reaches below the newest snapshot: time travel, deployment
    /// history, replay and log export see exactly what it keeps. Whatever it says, the
    /// log keeps the history of every deployment still in the state, and every snapshot
    /// within the retained window is kept (see [`crate::retention`]).
    pub log_retention: LogRetention,
    /// At most this many commands share one transaction and fsync.
    pub max_batch_commands: usize,
    /// Commands queued for the writer before `submit` blocks (and `submit_async` fails
    /// with [`SubmitError::Overloaded`]).
    pub queue_capacity: usize,
    /// Committed batches [`Store::commits`] keeps for each receiver that has not read
    /// them yet; a receiver further behind is told it lagged (and replays the gap from
    /// [`Store::history`]). The writer never waits for receivers.
    pub commit_feed_capacity: usize,
    /// Verify every page checksum of the database at open (redb's integrity check). Costs
    /// a read of the whole file; without it, damage in redb's own pages may go unnoticed
    /// (record damage is still caught by the record checksums).
    pub verify_file_on_open: bool,
    /// On damage, set the damaged part aside and open at the last good entry instead of
    /// failing. What was dropped is listed in [`RecoveryReport::repairs`].
    pub recover_to_last_good: bool,
    /// redb's page cache.
    pub cache_bytes: usize,
    /// The configuration of a new store's initial state (ignored when reopening: the
    /// store keeps the one it was created with, so replay is exact).
    pub engine_config: EngineConfig,
    /// Time and entropy for envelopes ([`SystemStamp`] by default; tests use the
    /// engine's `SeededStamp`).
    pub stamp: Arc<dyn Stamp>,
    /// Storage faults to inject (tests only; `None` in production): every file the
    /// store opens or writes goes through this plan. See [`crate::faults`].
    pub faults: Option<Arc<FaultPlan>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            snapshot_every_entries: 10_000,
            snapshot_every_bytes: 64 << 20,
            snapshots_retained: 2,
            log_retention: LogRetention::default(),
            max_batch_commands: 1024,
            queue_capacity: 8192,
            commit_feed_capacity: 1024,
            verify_file_on_open: true,
            recover_to_last_good: false,
            cache_bytes: 64 << 20,
            engine_config: EngineConfig::default(),
            stamp: Arc::new(SystemStamp),
            faults: None,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("snapshot_every_entries", &self.snapshot_every_entries)
            .field("snapshot_every_bytes", &self.snapshot_every_bytes)
            .field("snapshots_retained", &self.snapshots_retained)
            .field("log_retention", &self.log_retention)
            .field("max_batch_commands", &self.max_batch_commands)
            .field("queue_capacity", &self.queue_capacity)
            .field("commit_feed_capacity", &self.commit_feed_capacity)
            .field("verify_file_on_open", &self.verify_file_on_open)
            .field("recover_to_last_good", &self.recover_to_last_good)
            .field("cache_bytes", &self.cache_bytes)
            .field("engine_config", &self.engine_config)
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

/// Counters for monitoring and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Commands committed since open.
    pub committed: u64,
    /// Commands the engine rejected since open.
    pub rejected: u64,
    /// Write transactions (each one fsync) that carried commands.
    pub batches: u64,
    pub largest_batch: u64,
    /// Every log entry at or below this index has been deleted.
    pub truncated_through: u64,
    pub snapshots_written: u64,
    pub last_snapshot: Option<SnapshotInfo>,
    /// The last snapshot failure, until a snapshot succeeds.
    pub last_snapshot_error: Option<String>,
    /// Snapshot writes that failed since open (each is logged and retried).
    pub snapshot_failures: u64,
    /// Commits that failed since open (each makes the store refuse writes until it has
    /// reopened the database).
    pub failed_commits: u64,
    /// In-process reopens after a failed commit that succeeded.
    pub recoveries: u64,
}

/// A durable engine: a command log and snapshots in a directory.
///
/// `Store` is `Send + Sync`; share it with an `Arc`. Dropping it stops the writer after
/// the commands already queued, and waits for a snapshot in progress.
pub struct Store {
    dir: PathBuf,
    db: Arc<DbSlot>,
    tx: SyncSender<Msg>,
    queue_capacity: usize,
    published: Arc<Published>,
    gate: Arc<Gate>,
    counters: Arc<Counters>,
    snapshotter: Arc<Snapshotter>,
    report: RecoveryReport,
    stamp: Arc<dyn Stamp>,
    feed: broadcast::Sender<Arc<[Committed]>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Store {
    /// Opens the store in `dir` (created if missing), recovering the state from the newest
    /// valid snapshot and the log. See [`Store::recovery_report`] for what it did.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Store, OpenError> {
        let dir = dir.as_ref().to_path_buf();
        let recovered = recovery::recover(&dir, &options)?;
        let db = Arc::new(DbSlot::from_pointee(recovered.db));
        let state = Arc::new(recovered.state);
        let published = Arc::new(Published::new(state.clone()));
        let gate = Arc::new(Gate::default());
        let observer = Arc::new(crate::observer::ObserverSlot::default());
        let counters = Arc::new(Counters {
            observer: observer.clone(),
            ..Counters::default()
        });
        counters
            .truncated_through
            .store(recovered.truncated_through, Ordering::Relaxed);
        let (tx, rx) = sync_channel(options.queue_capacity.max(1));
        let (feed, _) = broadcast::channel(options.commit_feed_capacity.max(1));
        let snapshotter = Arc::new(Snapshotter::new(
            &dir,
            &options,
            db.clone(),
            tx.clone(),
            recovered.report.snapshot_index.unwrap_or(0),
            observer,
        ));
        let mut threads = Vec::new();
        let snapshots = if options.snapshot_every_entries > 0 || options.snapshot_every_bytes > 0 {
            let (snap_tx, snap_rx) = sync_channel(1);
            let s = snapshotter.clone();
            threads.push(spawn("rollout-store-snapshot", &dir, move || {
                s.run(snap_rx)
            })?);
            Some(SnapshotTrigger {
                every_entries: options.snapshot_every_entries,
                every_bytes: options.snapshot_every_bytes,
                log_bytes: 0,
                snapshotter: snapshotter.clone(),
                tx: snap_tx,
            })
        } else {
            None
        };
        let writer = Writer {
            db: db.clone(),
            rx,
            published: published.clone(),
            stamp: options.stamp.clone(),
            gate: gate.clone(),
            dir: dir.clone(),
            options: Options {
                // A reopen after a failed commit never repairs: it is not the operator's
                // explicit choice that `recover_to_last_good` is.
                recover_to_last_good: false,
                ..options.clone()
            },
            counters: counters.clone(),
            max_batch: options.max_batch_commands.max(1),
            state,
            feed: feed.clone(),
            last_now: recovered.last_now,
            truncated_through: recovered.truncated_through,
            truncate_target: recovered.truncated_through,
            snapshots,
        };
        // The writer goes first in the list: it is joined first on drop, and its exit is
        // what stops the snapshot thread.
        threads.insert(
            0,
            spawn("rollout-store-writer", &dir, move || writer.run())?,
        );
        Ok(Store {
            dir,
            db,
            tx,
            queue_capacity: options.queue_capacity.max(1),
            published,
            gate,
            counters,
            snapshotter,
            report: recovered.report,
            stamp: options.stamp.clone(),
            feed,
            threads: Mutex::new(threads),
        })
    }

    /// Applies `command` at the next index and returns once it is durable. A command the
    /// engine rejects writes nothing and returns [`SubmitError::Rejected`]. Blocks the
    /// calling thread for the group's fsync: from async code use [`Store::submit_async`].
    pub fn submit(&self, command: Command) -> Result<Committed, SubmitError> {
        self.submit_as(command, None)
    }

    /// [`Store::submit`], recording `actor` in the logged envelope: the audit trail that
    /// history and the event stream show ([`Committed::actor`]).
    pub fn submit_as(
        &self,
        command: Command,
        actor: Option<Actor>,
    ) -> Result<Committed, SubmitError> {
        if let Some(e) = self.gate.failed.load_full() {
            return Err(SubmitError::Failed(e));
        }
        let (reply_tx, reply_rx) = sync_channel(1);
        self.tx
            .send(Msg::Submit {
                command,
                actor,
                reply: Reply::Blocking(reply_tx),
            })
            .map_err(|_| SubmitError::Closed)?;
        reply_rx.recv().map_err(|_| SubmitError::Closed)?
    }

    /// Like [`Store::submit`] without blocking a thread. The command is queued when this
    /// is called (so calls are ordered as made); the future resolves once it is durable.
    /// A full queue fails at once with [`SubmitError::Overloaded`] rather than blocking.
    pub fn submit_async(
        &self,
        command: Command,
    ) -> impl Future<Output = Result<Committed, SubmitError>> + Send + 'static {
        self.submit_async_as(command, None)
    }

    /// [`Store::submit_async`], recording `actor` in the logged envelope.
    pub fn submit_async_as(
        &self,
        command: Command,
        actor: Option<Actor>,
    ) -> impl Future<Output = Result<Committed, SubmitError>> + Send + 'static {
        let queued = self.enqueue_async(command, actor);
        async move { queued?.await.map_err(|_| SubmitError::Closed)? }
    }

    fn enqueue_async(
        &self,
        command: Command,
        actor: Option<Actor>,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<Committed, SubmitError>>, SubmitError> {
        if let Some(e) = self.gate.failed.load_full() {
            return Err(SubmitError::Failed(e));
        }
        let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
        let msg = Msg::Submit {
            command,
            actor,
            reply: Reply::Async(reply_tx),
        };
        match self.tx.try_send(msg) {
            Ok(()) => Ok(reply_rx),
            Err(TrySendError::Full(_)) => Err(SubmitError::Overloaded {
                capacity: self.queue_capacity,
            }),
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Closed),
        }
    }

    /// The engine's time: the store's clock, never earlier than the last committed
    /// command. What the next command would be stamped with, give or take the clock.
    pub fn now(&self) -> rollout_engine::model::UnixNanos {
        self.stamp.now().max(self.state().now())
    }

    /// The latest committed state: an O(1) clone that never waits for the writer.
    pub fn state(&self) -> Arc<State> {
        self.published.load()
    }

    /// Waits until the state's index is at least `min_index` or `timeout` passed, then
    /// returns the latest state; compare its index to tell which (a blocking query
    /// answers with whatever it has when the wait ends).
    pub fn wait_for_index(&self, min_index: u64, timeout: Duration) -> Arc<State> {
        self.published.wait_for_index(min_index, timeout)
    }

    /// The committed index, for async waiters: `changed()` / `wait_for(|i| *i >= n)`,
    /// then [`Store::state`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.published.subscribe()
    }

    /// Up to `max_entries` logged envelopes from index `from` on, in log order. Reads a
    /// consistent redb snapshot and never blocks the writer.
    pub fn read_log(&self, from: u64, max_entries: usize) -> Result<Vec<Envelope>, ReadError> {
        read_log_entries(&self.db, &self.dir.join(DB_FILE), from, max_entries)
    }

    /// Every committed write from index `from` (at least 1) up to the index committed
    /// now, re-derived from the newest usable snapshot and the log: outcome, events and
    /// the states around each, the same bytes every time. Blocking (file reads, replay):
    /// call it off the async runtime. See [`crate::history`] for how to join it to the
    /// live feed of [`Store::commits`] without a gap or a duplicate.
    pub fn history(&self, from: u64) -> Result<History, HistoryError> {
        history::open(
            self.db.clone(),
            &self.dir,
            self.dir.join(DB_FILE),
            self.state(),
            self.counters.truncated_through.load(Ordering::Relaxed),
            from,
        )
    }

    /// The state right after the write at `index` (the current one at or past the
    /// committed index): one of the last [`crate::RECENT_STATES_KEPT`] committed
    /// states from memory, else re-derived from [`Store::history`] — blocking then, like
    /// it. [`HistoryError::TooOld`] names the oldest index available.
    pub fn state_at(&self, index: u64) -> Result<Arc<State>, HistoryError> {
        let current = self.state();
        if index >= current.index() {
            return Ok(current);
        }
        if let Some(state) = self.published.recent(index) {
            return Ok(state);
        }
        match self.history(index.saturating_add(1))?.next() {
            Some(Ok(next)) => Ok(next.before),
            Some(Err(e)) => Err(e),
            None => Ok(self.state()),
        }
    }

    /// The live feed: every batch the writer commits from now on, in order, each
    /// write with its outcome and the states before and after it. Sent after the state
    /// is published, so [`Store::state`] already reflects a batch when it arrives. The
    /// channel keeps the last `Options::commit_feed_capacity` batches for each
    /// receiver; one that falls further behind gets `RecvError::Lagged` and should
    /// resume from [`Store::history`]. Costs the writer nothing while nobody listens.
    pub fn commits(&self) -> broadcast::Receiver<Arc<[Committed]>> {
        self.feed.subscribe()
    }

    /// Writes a snapshot of the current state now, in the calling thread (then the log it
    /// covers is truncated in the background). `None` if one at this index exists.
    pub fn snapshot_now(&self) -> Result<Option<SnapshotInfo>, SnapshotError> {
        self.snapshotter.take(&self.state())
    }

    /// What the open found and did.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    pub fn stats(&self) -> StoreStats {
        let c = &self.counters;
        let snapshots = self.snapshotter.status();
        StoreStats {
            committed: c.committed.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            largest_batch: c.largest_batch.load(Ordering::Relaxed),
            truncated_through: c.truncated_through.load(Ordering::Relaxed),
            snapshots_written: snapshots.written,
            last_snapshot: snapshots.last,
            last_snapshot_error: snapshots.last_error,
            snapshot_failures: snapshots.failures,
            failed_commits: self.gate.failed_commits.load(Ordering::Relaxed),
            recoveries: self.gate.recoveries.load(Ordering::Relaxed),
        }
    }

    /// Installs the observer told about every commit and snapshot from now on (an
    /// agent's metrics); false if one was installed before, which stays.
    pub fn set_observer(&self, observer: Arc<dyn crate::StoreObserver>) -> bool {
        self.counters.observer.set(observer)
    }

    /// `None` while the store accepts writes; else why it refuses them (a commit failed
    /// and it is reopening the database, or found acknowledged entries missing), in
    /// words an operator can act on. What `/v1/agent/health` reports.
    pub fn refusing_writes(&self) -> Option<String> {
        self.gate.refusing()
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Queued commands are committed and answered before the writer stops.
        let _ = self.tx.send(Msg::Shutdown);
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for t in threads {
            let _ = t.join();
        }
    }
}

/// Up to `max_entries` logged envelopes from `from` on, from the database in `db` (at
/// `path`, for errors); the database may be mid-reopen after a failed commit.
pub(crate) fn read_log_entries(
    db: &DbSlot,
    path: &Path,
    from: u64,
    max_entries: usize,
) -> Result<Vec<Envelope>, ReadError> {
    let db = db.load_full().ok_or_else(|| ReadError::Reopening {
        path: path.to_path_buf(),
    })?;
    crate::log::read(&db, path, from, max_entries)
}

fn spawn(
    name: &str,
    dir: &Path,
    f: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, OpenError> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map_err(|source| OpenError::Io {
            path: dir.to_path_buf(),
            source,
        })
}
