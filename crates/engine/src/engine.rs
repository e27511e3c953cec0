//! [`DeploymentEngine`]: the one object that stamps, applies, dry-runs and replays.
//!
//! Every adapter (the durable store, the in-memory HTTP backend, the simulator, fuzzing,
//! benchmarks, an embedder's own orchestrator) drives the engine through this type, so
//! the loop "take the next index, stamp the time and entropy, build an envelope, apply it
//! all or nothing, keep the new state" exists once. [`apply`] stays the pure function
//! underneath.

use crate::apply::{apply, apply_in_entry};
use crate::command::{
    Command, Envelope, FailDeployment, PauseDeployment, PromoteDeployment, RegisterJob, RevertJob,
    SetAllocHealth, SetJobStability,
};
use crate::model::{Allocation, Deployment, Evaluation, Job, UnixNanos};
use crate::outcome::{Outcome, Topic};
use crate::planner::{plan, Plan};
use crate::stamp::Stamp;
use crate::state::{EngineConfig, State};
use crate::{Actor, Entropy, Error, Result};
use std::sync::Arc;
use uuid::Uuid;

/// The deployment engine: a [`State`] and the [`Stamp`] that times new commands.
///
/// Cloning is O(1) (two reference counts): a store can clone the engine, submit a batch
/// to the clone, make the batch durable, and then keep the clone or drop it.
///
/// ```
/// use rollout_engine::{DeploymentEngine, EngineConfig, SeededStamp, VirtualClock};
/// use rollout_engine::model::{Job, Task, TaskGroup};
///
/// let clock = VirtualClock::new(1_700_000_000_000_000_000);
/// let mut engine = DeploymentEngine::new(EngineConfig::default(), SeededStamp::new(1, clock.clone()));
/// let job = Job {
///     id: "web".into(),
///     task_groups: vec![TaskGroup {
///         name: "web".into(),
///         count: Some(2),
///         tasks: vec![Task { name: "app".into(), driver: "docker".into(), ..Task::default() }],
///         ..TaskGroup::default()
///     }],
///     ..Job::default()
/// };
/// let applied = engine.register(job).unwrap();
/// assert_eq!(applied.envelope.index, 1);
/// let deployment = engine.state().deployment(&applied.outcome.deployments_created[0]).unwrap();
/// assert_eq!(deployment.status, "running");
///
/// // What would failing it do? Nothing is kept.
/// let what_if = engine.dry_run(rollout_engine::Command::FailDeployment(
///     rollout_engine::command::FailDeployment { deployment_id: deployment.id })).unwrap();
/// assert_eq!(what_if.state.deployment(&deployment.id).unwrap().status, "failed");
/// assert_eq!(engine.state().deployment(&deployment.id).unwrap().status, "running");
/// assert_eq!(engine.index(), 1);
/// ```
#[derive(Clone)]
pub struct DeploymentEngine {
    state: State,
    stamp: Arc<dyn Stamp>,
}

impl std::fmt::Debug for DeploymentEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeploymentEngine")
            .field("index", &self.state.index())
            .field("now", &self.state.now())
            .finish_non_exhaustive()
    }
}

/// One applied command: the envelope to persist (or replicate), what happened, and the
/// state right after it.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The stamped command, exactly as applied: append it to a log and replaying the
    /// log reproduces [`Applied::state`].
    pub envelope: Envelope,
    /// Response fields, evaluations and deployments created, rollback decisions,
    /// events and the decision trace.
    pub outcome: Outcome,
    /// The state after the command (an O(1) clone).
    pub state: State,
}

impl Applied {
    /// The deployments the command created or changed, as they are after it.
    pub fn deployments(&self) -> impl Iterator<Item = &Arc<Deployment>> + '_ {
        self.changed(Topic::Deployment)
            .filter_map(|id| self.state.deployment(&id))
    }

    /// The allocations the command created or changed, as they are after it.
    pub fn allocations(&self) -> impl Iterator<Item = &Arc<Allocation>> + '_ {
        self.changed(Topic::Allocation)
            .filter_map(|id| self.state.alloc(&id))
    }

    /// The evaluations the command created or changed, as they are after it.
    pub fn evaluations(&self) -> impl Iterator<Item = &Arc<Evaluation>> + '_ {
        self.changed(Topic::Evaluation)
            .filter_map(|id| self.state.eval(&id))
    }

    /// The jobs whose current version the command wrote, as they are after it.
    pub fn jobs(&self) -> impl Iterator<Item = &Arc<Job>> + '_ {
        self.outcome
            .events
            .iter()
            .filter(|e| e.topic == Topic::Job)
            .filter_map(|e| self.state.job(&e.namespace, &e.job_id))
    }

    fn changed(&self, topic: Topic) -> impl Iterator<Item = Uuid> + '_ {
        self.outcome
            .events
            .iter()
            .filter(move |e| e.topic == topic)
            .filter_map(|e| e.key.parse().ok())
    }
}

impl DeploymentEngine {
    /// An empty state with `config`, stamped by `stamp`.
    pub fn new(config: EngineConfig, stamp: impl Stamp + 'static) -> DeploymentEngine {
        DeploymentEngine::from_state(State::with_config(config), stamp)
    }

    /// Resumes from a state (a snapshot, or one built elsewhere): the next command gets
    /// index `state.index() + 1` and a time no earlier than `state.now()`.
    pub fn from_state(state: State, stamp: impl Stamp + 'static) -> DeploymentEngine {
        DeploymentEngine {
            state,
            stamp: Arc::new(stamp),
        }
    }

    /// Like [`DeploymentEngine::from_state`] with a stamp that is already shared.
    pub fn from_shared(state: State, stamp: Arc<dyn Stamp>) -> DeploymentEngine {
        DeploymentEngine { state, stamp }
    }

    /// The current state (clone it for an O(1) snapshot that later commands don't touch).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Gives up the engine, keeping its state.
    pub fn into_state(self) -> State {
        self.state
    }

    /// The settings the state was built with.
    pub fn config(&self) -> &EngineConfig {
        self.state.config()
    }

    /// The index of the last applied command.
    pub fn index(&self) -> u64 {
        self.state.index()
    }

    /// The engine's time: the stamp's clock, never earlier than the last applied command.
    /// Plans and dry runs are computed at this time.
    pub fn now(&self) -> UnixNanos {
        self.stamp.now().max(self.state.now())
    }

    /// The stamp new commands are timed by.
    pub fn stamp(&self) -> &Arc<dyn Stamp> {
        &self.stamp
    }

    /// Stamps `command` with the next index, the time and fresh entropy, applies it all
    /// or nothing and keeps the new state. On error nothing changed (the stamp may have
    /// spent entropy; no index is consumed).
    pub fn submit(&mut self, command: Command) -> Result<Applied> {
        self.submit_as(command, None)
    }

    /// [`submit`](Self::submit), recording `actor` in the envelope (the audit trail). The
    /// actor never changes what the command does.
    pub fn submit_as(&mut self, command: Command, actor: Option<Actor>) -> Result<Applied> {
        let envelope = self.stamp_command(command)?.with_actor(actor);
        let (state, outcome) = apply(&self.state, &envelope)?;
        self.state = state;
        Ok(Applied {
            envelope,
            outcome,
            state: self.state.clone(),
        })
    }

    /// Applies an envelope stamped elsewhere — a log being recovered, or entries a
    /// consensus leader replicated. Its index must be above the last applied one
    /// ([`Error::IndexNotIncreasing`]); gaps are allowed, because a consensus log has
    /// entries that carry no command.
    ///
    /// Returns only the outcome: the caller already holds the envelope, and copying a
    /// job per replayed entry would slow recovery for nothing.
    pub fn replay(&mut self, envelope: &Envelope) -> Result<Outcome> {
        let (state, outcome) = apply(&self.state, envelope)?;
        self.state = state;
        Ok(outcome)
    }

    /// [`DeploymentEngine::replay`] for a command that follows, in the same log entry, a
    /// command already applied at this index ([`apply_in_entry`]): its index must be the
    /// state's ([`Error::IndexNotShared`]). A consensus leader that gathers concurrent
    /// writes into one entry gives all of them the entry's index.
    pub fn replay_in_entry(&mut self, envelope: &Envelope) -> Result<Outcome> {
        let (state, outcome) = apply_in_entry(&self.state, envelope)?;
        self.state = state;
        Ok(outcome)
    }

    /// What `command` would do, without doing it: it is applied to an O(1) clone of the
    /// state at the engine's current time, and nothing is kept — not the state, not an
    /// index, not the stamp's entropy (so a dry run never changes the IDs later
    /// commands get). The IDs a dry run creates are placeholders derived from the index,
    /// not the ones the real command will create.
    pub fn dry_run(&self, command: Command) -> Result<Applied> {
        let index = self.state.index() + 1;
        let envelope = Envelope::new(index, self.now(), dry_run_entropy(index), command);
        let (state, outcome) = apply(&self.state, &envelope)?;
        Ok(Applied {
            envelope,
            outcome,
            state,
        })
    }

    /// What the scheduler must do for a pending evaluation, computed at the engine's
    /// time.
    pub fn plan(&self, eval: &Uuid) -> Result<Plan> {
        plan(&self.state, eval, self.now())
    }

    /// When the next [`Command::Tick`] is due (Unix ns), if any deadline is armed.
    pub fn next_deadline(&self) -> Option<UnixNanos> {
        crate::deadline::next_deadline(&self.state)
    }

    /// Submits a [`Command::Tick`] if a deadline is due at the engine's time; an idle
    /// engine writes nothing and returns `None`.
    pub fn tick(&mut self) -> Result<Option<Applied>> {
        match self.next_deadline() {
            Some(due) if due <= self.now() => self.submit(Command::Tick).map(Some),
            _ => Ok(None),
        }
    }

    // --- typed shortcuts for the commands operators send ----------------------------------

    /// Registers (creates or updates) a job.
    pub fn register(&mut self, job: Job) -> Result<Applied> {
        self.submit(Command::RegisterJob(RegisterJob {
            job,
            ..RegisterJob::default()
        }))
    }

    /// Promotes the canaries of every group (`All: true`).
    pub fn promote(&mut self, deployment: Uuid) -> Result<Applied> {
        self.submit(Command::PromoteDeployment(PromoteDeployment {
            deployment_id: deployment,
            all: true,
            groups: None,
        }))
    }

    /// Promotes the canaries of the groups named (`All: false`; an empty list promotes
    /// nothing but is still a write, P10).
    pub fn promote_groups(&mut self, deployment: Uuid, groups: &[&str]) -> Result<Applied> {
        self.submit(Command::PromoteDeployment(PromoteDeployment {
            deployment_id: deployment,
            all: false,
            groups: Some(groups.iter().map(|g| g.to_string()).collect()),
        }))
    }

    /// Pauses a running deployment.
    pub fn pause(&mut self, deployment: Uuid) -> Result<Applied> {
        self.set_paused(deployment, true)
    }

    /// Resumes a paused deployment.
    pub fn resume(&mut self, deployment: Uuid) -> Result<Applied> {
        self.set_paused(deployment, false)
    }

    fn set_paused(&mut self, deployment: Uuid, pause: bool) -> Result<Applied> {
        self.submit(Command::PauseDeployment(PauseDeployment {
            deployment_id: deployment,
            pause,
        }))
    }

    /// Fails a deployment (rolling back if a group auto-reverts).
    pub fn fail(&mut self, deployment: Uuid) -> Result<Applied> {
        self.submit(Command::FailDeployment(FailDeployment {
            deployment_id: deployment,
        }))
    }

    /// Sets the health of allocations of a deployment, as an operator does for groups
    /// with manual health checks.
    pub fn set_health(
        &mut self,
        deployment: Uuid,
        healthy: &[Uuid],
        unhealthy: &[Uuid],
    ) -> Result<Applied> {
        self.submit(Command::SetAllocHealth(SetAllocHealth {
            deployment_id: deployment,
            healthy_allocation_ids: healthy.to_vec(),
            unhealthy_allocation_ids: unhealthy.to_vec(),
        }))
    }

    /// Registers an older version of a job again, as a new version.
    pub fn revert(&mut self, namespace: &str, job: &str, version: u64) -> Result<Applied> {
        self.submit(Command::RevertJob(RevertJob {
            job_id: job.into(),
            namespace: namespace.into(),
            job_version: version,
            enforce_prior_version: None,
        }))
    }

    /// Marks a version of a job stable or unstable.
    pub fn stable(
        &mut self,
        namespace: &str,
        job: &str,
        version: u64,
        stable: bool,
    ) -> Result<Applied> {
        self.submit(Command::SetJobStability(SetJobStability {
            job_id: job.into(),
            namespace: namespace.into(),
            job_version: version,
            stable,
        }))
    }

    fn stamp_command(&self, command: Command) -> Result<Envelope> {
        // Time first, then entropy: a stepping stamp advances its clock on the draw.
        let now = self.now();
        let entropy = self
            .stamp
            .entropy()
            .map_err(|e| Error::NoEntropy(e.to_string()))?;
        Ok(Envelope::new(self.state.index() + 1, now, entropy, command))
    }
}

/// Entropy for a dry run: derived from the index it would take, never drawn from the
/// stamp. Marked so that its IDs cannot be mistaken for a real command's of the same
/// index under [`SeededStamp`](crate::SeededStamp) (whose entropy uses the low bytes).
fn dry_run_entropy(index: u64) -> Entropy {
    let mut e = Entropy::from_u64(index);
    e.0[24..].copy_from_slice(b"dry-run!");
    e
}
