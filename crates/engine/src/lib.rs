//! # rollout-engine
//!
//! A pure, deterministic state machine for progressive deployments with HashiCorp Nomad's
//! semantics: canaries, promotion, pause/resume, fail, manual and automatic allocation
//! health, progress deadlines, auto-promote and auto-revert.
//!
//! Everything that varies arrives as data ([`Envelope`]: index, time, entropy and a
//! [`Command`]); everything that happens leaves as data (a new [`State`] and an
//! [`Outcome`]). The engine reads no clock, draws no random numbers and does no I/O, so
//! the same log always yields the same state.
//!
//! ```
//! use rollout_engine::{apply, Command, Entropy, Envelope, State};
//! use rollout_engine::command::RegisterJob;
//! use rollout_engine::model::{Job, Task, TaskGroup};
//!
//! let job = Job {
//!     id: "web".into(),
//!     task_groups: vec![TaskGroup {
//!         name: "web".into(),
//!         count: Some(3),
//!         tasks: vec![Task { name: "app".into(), driver: "docker".into(), ..Task::default() }],
//!         ..TaskGroup::default()
//!     }],
//!     ..Job::default()
//! };
//! let env = Envelope::new(1, 1_700_000_000_000_000_000, Entropy::from_u64(7),
//!     Command::RegisterJob(RegisterJob { job, ..RegisterJob::default() }));
//! let (state, outcome) = apply(&State::new(), &env).unwrap();
//! let deployment = state.deployment(&outcome.deployments_created[0]).unwrap();
//! assert_eq!(deployment.status, "running");
//! assert_eq!(deployment.task_groups["web"].desired_total, 3);
//! ```

#![warn(missing_docs)]

// The README's example is compiled and run with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod acl;
mod alloc_stop;
mod alloc_write;
mod apply;
mod client;
pub mod command;
mod deadline;
mod engine;
mod error;
mod eval;
mod fail;
pub mod format;
mod gc;
mod health;
pub mod invariants;
pub mod job;
mod job_status;
mod lifecycle;
pub mod model;
pub mod namespace;
pub mod node;
mod outcome;
mod pause;
mod plan_result;
pub mod planner;
mod promote;
pub mod reconcile;
mod register;
mod rollback;
mod stamp;
pub mod state;
mod status;
#[cfg(feature = "testing")]
pub mod testing;
mod tx;
mod watcher;

pub use apply::{apply, apply_in_entry};
pub use command::{actor_kind, Actor, Command, Entropy, Envelope};
pub use deadline::next_deadline;
pub use engine::{Applied, DeploymentEngine};
pub use error::{Error, ErrorKind, Result};
pub use gc::{alloc_gc_eligible, eval_gc_eligible, gc_eligible, MAX_REAP_BATCH};
pub use outcome::{Change, Decision, Event, Outcome, RollbackDecision, RollbackOutcome, Topic};
pub use planner::{plan, Plan};
pub use register::{EVAL_PRIORITY_RANGE, SYSTEM_DEPLOYMENTS_UNSUPPORTED};
pub use stamp::{SeededStamp, Stamp, StampError, VirtualClock};
pub use state::{EngineConfig, JobKey, State, TableIndexes};
pub use watcher::latest_eval_index;
