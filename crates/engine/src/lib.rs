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

pub mod command;
pub mod deadline;
pub mod error;
pub mod format;
pub mod job;
pub mod model;
pub mod outcome;
pub mod reconcile;
pub mod state;
mod tx;

pub use command::{Command, Entropy, Envelope};
pub use error::{Error, ErrorKind, Result};
pub use outcome::{Event, Outcome, RollbackDecision, RollbackOutcome};
pub use state::{EngineConfig, JobKey, State, TableIndexes};
