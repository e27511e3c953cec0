//! What the HTTP layer needs from whatever holds the engine state.
//!
//! The API never applies commands itself: it hands them to a [`Backend`] and answers only
//! after the backend says the command is applied (and, for the durable store, on disk:
//! R5). Reads take a [`State`] value — an O(1) clone — and never hold a lock while they
//! serialise. Blocking queries wait on [`Backend::subscribe`], so a change wakes them at
//! once and nothing polls.
//!
//! The trait is deliberately small: [`StoreBackend`] is a thin adapter over the durable
//! store (`rollout-store`) that every agent runs on; [`MemoryBackend`] is the in-process
//! implementation for tests that want a virtual clock and seeded IDs.

mod cluster;
mod memory;
mod store;

pub use cluster::ClusterBackend;
pub use memory::MemoryBackend;
pub use store::StoreBackend;

use rollout_engine::model::UnixNanos;
use rollout_engine::{Actor, Command, Outcome, State};
use rollout_store::{Committed, HistoryError};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

/// Committed writes replayed from the past, in index order ([`Backend::history`]).
pub type HistoryIter = Box<dyn Iterator<Item = Result<Committed, HistoryError>> + Send>;

/// A boxed future, so that `Backend` stays object-safe (`Arc<dyn Backend>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The engine as a service: apply commands one at a time, publish states.
pub trait Backend: Send + Sync + 'static {
    /// Applies one command at the next index, with the backend's clock and entropy,
    /// recording `actor` (who sent it) in its envelope: the audit trail history, the
    /// event stream and log exports show. Resolves once the command is applied (and
    /// durable, for a durable backend); a rejected command changes nothing.
    fn submit_as(
        &self,
        command: Command,
        actor: Option<Actor>,
    ) -> BoxFuture<'_, Result<Outcome, BackendError>>;

    /// [`Backend::submit_as`] without an actor: for tests and tools, whose commands
    /// nobody needs to attribute.
    fn submit(&self, command: Command) -> BoxFuture<'_, Result<Outcome, BackendError>> {
        self.submit_as(command, None)
    }

    /// The latest applied state.
    fn state(&self) -> State;

    /// A receiver of the last applied index; it changes after every applied command,
    /// once [`Backend::state`] already returns that command's state.
    fn subscribe(&self) -> watch::Receiver<u64>;

    /// The live feed of committed writes: every batch applied from now on, in order,
    /// each write with its outcome and the states before and after it. A batch is sent
    /// after [`Backend::state`] and [`Backend::subscribe`] show it, so a reader that
    /// subscribes here first and then reads the index knows which writes the feed will
    /// bring. A receiver that falls behind gets `Lagged` and replays the gap from
    /// [`Backend::history`].
    fn commits(&self) -> broadcast::Receiver<Arc<[Committed]>>;

    /// Every write from index `from` up to the index applied now, re-derived from what
    /// the backend retains (for the store: the newest usable snapshot and the log), with
    /// the same outcomes and states it had when it was applied. Blocking: call it off
    /// the async runtime. [`HistoryError::TooOld`] names the oldest index available.
    fn history(&self, from: u64) -> Result<HistoryIter, HistoryError>;

    /// The state as it was right after the write at `index` (at most the applied
    /// index), re-derived from [`Backend::history`]. Blocking, like it.
    fn state_at(&self, index: u64) -> Result<State, HistoryError> {
        match self.history(index.saturating_add(1))?.next() {
            Some(Ok(next)) => Ok(State::clone(&next.before)),
            Some(Err(e)) => Err(e),
            // Nothing after `index`: it is the applied index.
            None => Ok(self.state()),
        }
    }

    /// The clock commands are stamped with. Reads that depend on time (the planner)
    /// use the same clock, so that they agree with what the next command will see.
    fn now_ns(&self) -> UnixNanos;

    /// `None` while the backend accepts writes; else why it does not (a durable store
    /// after a failed commit), which `/v1/agent/health` answers with a 503 so that load
    /// balancers and operators see an agent in trouble.
    fn refusing_writes(&self) -> Option<String> {
        None
    }

    /// The durable store's statistics, for `/v1/metrics` (`None`: no store).
    fn store_stats(&self) -> Option<rollout_store::StoreStats> {
        None
    }

    /// Installs the observer told about every store commit and snapshot (metrics); a
    /// backend without a store ignores it.
    fn observe_store(&self, _observer: Arc<dyn rollout_store::StoreObserver>) {}

    /// The cluster this backend is a member of, as `/v1/status/*` show it; `None`: a
    /// single agent, which is its own leader and only peer.
    fn cluster(&self) -> Option<ClusterView> {
        None
    }

    /// Makes the reads that follow see every write acknowledged before this call (a
    /// read-index check with the leader in a cluster); a single agent already does.
    fn consistent_read(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// Takes the cluster member with this ID out of the Raft configuration (`DELETE
    /// /v1/operator/raft/peer`). A single agent has no peer to remove.
    fn remove_peer(&self, _id: u64) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(std::future::ready(Err(BackendError::Internal(
            "not a cluster member: there is no peer to remove".into(),
        ))))
    }

    /// Whether work that must run once per cluster (the deadline ticker, garbage
    /// collection, the dev simulator) runs here: on the leader only. A single agent
    /// always leads.
    fn is_leader(&self) -> bool {
        true
    }
}

/// A cluster member's view of its cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterView {
    /// The leader's peer address (`host:port`), if one is known.
    pub leader: Option<String>,
    /// The voters' peer addresses, sorted.
    pub voters: Vec<String>,
    /// Time since this node last heard from the leader (zero on the leader).
    pub last_contact: Option<std::time::Duration>,
    /// This member's ID.
    pub id: u64,
    /// The leader's ID, if one is known.
    pub leader_id: Option<u64>,
    /// Every member of the Raft configuration, voters and learners, by ID.
    pub servers: Vec<ServerView>,
    /// The log index of the configuration in force.
    pub configuration_index: u64,
}

/// One member of the Raft configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerView {
    pub id: u64,
    /// Its peer address (`host:port`).
    pub addr: String,
    pub voter: bool,
}

/// Why a command was not applied.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The engine refused the command; its text is Nomad's (spec §5).
    #[error(transparent)]
    Rejected(#[from] rollout_engine::Error),
    /// No cluster leader is known: nothing was proposed (Nomad's 500 `No cluster
    /// leader`).
    #[error("No cluster leader")]
    NoLeader,
    /// The backend is shutting down or otherwise not accepting commands right now.
    #[error("{0}")]
    Unavailable(String),
    /// A real fault (storage I/O, no entropy): logged and answered with 500.
    #[error("{0}")]
    Internal(String),
}
