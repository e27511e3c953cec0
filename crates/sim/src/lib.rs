//! # rollout-sim
//!
//! A deterministic fleet simulator for [`rollout_engine`]: a scheduler, client nodes,
//! operators and faults under a virtual clock and a seeded RNG. It is the reference
//! embedder — the worked example of how to drive the engine — and the harness of the
//! property tests: the same seed always gives the same run, byte for byte, and any run
//! can be replayed from its envelope log.
//!
//! ```
//! use rollout_sim::{GroupSpec, JobSpec, SimConfig, Simulation};
//!
//! let job = JobSpec {
//!     id: "web".into(),
//!     groups: vec![GroupSpec::new("api", 3)],
//!     initial_release: "web:v1".into(),
//! };
//! let mut sim = Simulation::new(SimConfig::new(42, 3, vec![job]));
//! let report = sim.run();
//! assert!(report.is_clean(), "{report:?}");
//! assert_eq!(report.deployments.get("successful"), Some(&1));
//! ```
//!
//! Modules, one per concept: [`clock`] (virtual time), [`rng`] (seeded randomness),
//! [`fleet`] (nodes), [`client`] (allocation lifecycle and health), [`tasks`] (the task
//! states clients report), [`scheduler`]
//! (evaluations → plans → placements), [`operator`] (promote, pause, fail, manual
//! health, new versions), [`faults`] (what goes wrong), [`jobs`] (job specs and
//! changes), [`simulation`] (the event loop), [`invariants`] (the properties),
//! [`timeline`] (a readable account) and [`scenario`] (random scenarios from a seed).
//!
//! The same scheduler and clients also run against a live engine on the wall clock:
//! [`live`] is the sans-I/O cluster that `rollout agent --dev` drives through its store,
//! with faults taken from `rollout.sim.*` keys of the job's `Meta` ([`knobs`]).

pub mod client;
pub mod clock;
pub mod faults;
pub mod fleet;
pub mod invariants;
pub mod jobs;
pub mod knobs;
pub mod live;
pub mod operator;
pub mod rng;
pub mod scenario;
pub mod scheduler;
pub mod simulation;
pub mod tasks;
pub mod timeline;
pub mod what_if;

pub use faults::{Fate, FaultKind, FaultModel, FaultRule, NodeLoss};
pub use jobs::{GroupSpec, JobChange, JobSpec};
pub use knobs::Knobs;
pub use live::{LiveCluster, LiveConfig, Note, Ticket, Work};
pub use operator::OperatorPolicy;
pub use simulation::{Action, Limits, RunReport, ScriptStep, SimConfig, Simulation, Step};

/// The command that replays a property-test failure for `seed`.
pub fn replay_command(seed: u64) -> String {
    format!(
        "ROLLOUT_SIM_SEED={seed} cargo test -p rollout-sim --test properties replay -- --nocapture"
    )
}
