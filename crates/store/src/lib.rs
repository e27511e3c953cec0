//! # rollout-store
//!
//! Makes a [`rollout_engine`] state survive restarts and crashes without losing an
//! acknowledged command: the embedded default of every `rollout agent`.
//!
//! The command log is the source of truth, as Nomad's Raft log is. [`Store::submit`]
//! stamps a command into an [`Envelope`](rollout_engine::Envelope) (next index, time,
//! entropy), applies it through the engine, and only if the engine accepts it appends the
//! envelope to the log and commits durably; then it publishes the new state and answers.
//! Concurrent submitters share one transaction and one fsync (group commit, see
//! [`writer`]). Snapshots bound recovery time; recovery is the newest valid snapshot plus
//! a replay of the log tail. Damage is detected at open and reported with the file, the
//! index and what to do — never skipped silently.
//!
//! ```
//! use rollout_store::{Options, Store};
//! use rollout_engine::Command;
//! # let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path(), Options::default()).unwrap();
//! let committed = store.submit(Command::Tick).unwrap();
//! assert_eq!(committed.outcome.index, 1);
//! drop(store);
//! let store = Store::open(dir.path(), Options::default()).unwrap();
//! assert_eq!(store.state().index(), 1);
//! assert_eq!(store.recovery_report().entries_replayed, 1);
//! ```

pub mod codec;
mod error;
pub mod faults;
pub mod history;
mod identity;
mod log;
mod observer;
mod publish;
mod recovery;
mod reopen;
pub mod retention;
mod snapshot;
mod snapshotter;
mod stamp;
mod store;
#[doc(hidden)]
pub mod workload;
pub mod writer;

pub use error::{Corruption, OpenError, Problem, ReadError, SnapshotError, SubmitError};
pub use history::{History, HistoryError};
pub use identity::IDENTITY_FILE;
pub use observer::StoreObserver;
pub use publish::RECENT_STATES_KEPT;
pub use recovery::{RecoveryReport, Repair, DB_FILE};
pub use retention::LogRetention;
pub use snapshot::file_name as snapshot_file_name;
pub use snapshot::write_atomically;
pub use snapshotter::SnapshotInfo;
pub use stamp::{system_now_ns, SystemStamp};
pub use store::{Options, Store, StoreStats};
pub use writer::Committed;
