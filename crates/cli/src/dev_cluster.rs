//! `--dev`'s scheduler and clients (R7): the simulator's live cluster
//! ([`rollout_sim::LiveCluster`]) on the wall clock, driving the engine through the
//! agent's own backend — the same submit path as the HTTP API, so its writes are durable
//! and wake blocking queries like any other.
//!
//! The loop is the sans-I/O cluster's contract: show it the latest state, submit what it
//! asks for one command at a time (each sees the state its predecessor produced), and
//! when it has nothing to do, sleep until its next timer or the next applied index —
//! never polling.

use rollout_engine::{Actor, Command};
use rollout_http::{Backend, BackendError};
use rollout_sim::{LiveCluster, LiveConfig, Note, Work};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The longest single sleep: timers are wall-clock times and sleeps are monotonic, so
/// the clock is read again at least this often in case it jumped.
const SLEEP_MAX: Duration = Duration::from_secs(60);
/// How long to back off while the store's queue is full.
const OVERLOADED_BACKOFF: Duration = Duration::from_millis(100);
/// Tries of one command while the store is overloaded, before the cluster gives up on it.
const OVERLOADED_TRIES: u32 = 50;
/// How often to look whether a store that refuses writes has recovered.
const RECOVERY_POLL: Duration = Duration::from_millis(200);

/// Starts the cluster; it stops when `stop` turns true (between two commands, so a
/// command in flight is always answered).
pub fn spawn(
    backend: Arc<dyn Backend>,
    config: LiveConfig,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tracing::info!(
        nodes = config.nodes,
        seed = config.seed,
        "dev cluster: simulated scheduler and clients started"
    );
    tokio::spawn(run(backend, LiveCluster::new(config), stop))
}

/// How often a member that does not lead checks whether it leads now.
const FOLLOWER_RECHECK: Duration = Duration::from_secs(1);

async fn run(backend: Arc<dyn Backend>, mut cluster: LiveCluster, mut stop: watch::Receiver<bool>) {
    let mut applied = backend.subscribe();
    loop {
        if *stop.borrow_and_update() {
            break;
        }
        applied.borrow_and_update();
        // In a cluster the simulated fleet is driven by the leader alone; the others
        // look again now and then, so that a new leader takes over.
        if !backend.is_leader() {
            tokio::select! {
                _ = stop.changed() => {}
                _ = tokio::time::sleep(FOLLOWER_RECHECK) => {}
            }
            continue;
        }
        let state = backend.state();
        let now = backend.now_ns();
        cluster.observe(&state, now);
        log_notes(&mut cluster);
        if let Some(Work { ticket, command }) = cluster.next_work(&state, now) {
            match submit(backend.as_ref(), command, ticket.actor(), &stop).await {
                Ok(()) => cluster.done(ticket, None),
                Err(BackendError::Rejected(e)) => cluster.done(ticket, Some(&e)),
                Err(e) => {
                    tracing::error!(error = %e, %ticket, "dev cluster stopped: the store refused a write");
                    break;
                }
            }
            log_notes(&mut cluster);
            continue;
        }
        let sleep = match cluster.next_wake(&state, now) {
            Some(at) => Duration::from_nanos(u64::try_from(at.saturating_sub(now)).unwrap_or(0))
                .min(SLEEP_MAX),
            None => SLEEP_MAX,
        };
        tokio::select! {
            _ = stop.changed() => {}
            changed = applied.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            _ = tokio::time::sleep(sleep) => {}
        }
    }
    tracing::info!("dev cluster stopped");
}

/// Submits one command, waiting out a full store queue (bounded) and a store that
/// refuses writes while it recovers from a failed commit (until it accepts them again:
/// the cluster carries on by itself, as the store does); logs what it did. A command
/// whose commit failed may have reached the disk: tried again, the engine tells.
async fn submit(
    backend: &dyn Backend,
    command: Command,
    actor: Actor,
    stop: &watch::Receiver<bool>,
) -> Result<(), BackendError> {
    let summary = Summary::of(&command);
    let mut tries = 0;
    loop {
        tries += 1;
        // Cloned so that it can be tried again; dev commands are small.
        let error = match backend
            .submit_as(command.clone(), Some(actor.clone()))
            .await
        {
            Ok(outcome) => {
                summary.log(outcome.index);
                return Ok(());
            }
            Err(e @ BackendError::Rejected(_)) => return Err(e),
            Err(e) => e,
        };
        if *stop.borrow() {
            return Err(error);
        }
        if backend.refusing_writes().is_some() {
            tracing::warn!(error = %error, "dev cluster: the store refuses writes; waiting for it to recover");
            if !wait_until_accepting(backend, stop).await {
                return Err(error);
            }
            tracing::info!("dev cluster: the store accepts writes again; carrying on");
            continue;
        }
        // A full queue, or a commit that failed a moment ago and a store that may
        // already have recovered: try again, a bounded number of times.
        match error {
            BackendError::Unavailable(why) | BackendError::Internal(why)
                if tries < OVERLOADED_TRIES =>
            {
                tracing::debug!(why, "dev cluster: store busy, retrying");
                tokio::time::sleep(OVERLOADED_BACKOFF).await;
            }
            e => return Err(e),
        }
    }
}

/// Waits until the backend accepts writes again (true) or the agent stops (false).
async fn wait_until_accepting(backend: &dyn Backend, stop: &watch::Receiver<bool>) -> bool {
    let mut stop = stop.clone();
    while backend.refusing_writes().is_some() {
        if *stop.borrow() {
            return false;
        }
        tokio::select! {
            _ = stop.changed() => {}
            _ = tokio::time::sleep(RECOVERY_POLL) => {}
        }
    }
    true
}

/// What a command did, in a log line a developer watching `--dev` can follow.
enum Summary {
    Plan {
        eval: uuid::Uuid,
        placed: usize,
        stopped: usize,
        updated: usize,
    },
    Ack {
        eval: uuid::Uuid,
        status: String,
    },
    Client {
        alloc: uuid::Uuid,
        status: String,
        healthy: Option<bool>,
    },
    Node {
        id: String,
        status: String,
    },
    Other,
}

impl Summary {
    fn of(command: &Command) -> Summary {
        match command {
            Command::ApplyPlanResult(r) => Summary::Plan {
                eval: r.eval_id,
                placed: r.allocations.len(),
                stopped: r.stops.len(),
                updated: r.in_place_updates.len(),
            },
            Command::UpdateEvalStatus(u) => Summary::Ack {
                eval: u.eval_id,
                status: u.status.clone(),
            },
            Command::UpdateAllocsFromClient(u) => match u.allocations.first() {
                Some(a) => Summary::Client {
                    alloc: a.id,
                    status: a.client_status.clone(),
                    healthy: a.deployment_status.as_ref().and_then(|d| d.healthy),
                },
                None => Summary::Other,
            },
            Command::RegisterNode(r) => Summary::Node {
                id: r.node.id.clone(),
                status: r.node.status.clone(),
            },
            _ => Summary::Other,
        }
    }

    fn log(&self, index: u64) {
        match self {
            Summary::Plan {
                eval,
                placed,
                stopped,
                updated,
            } => tracing::info!(
                actor = "scheduler",
                %eval,
                placed,
                stopped,
                updated,
                index,
                "plan applied"
            ),
            Summary::Ack { eval, status } => {
                tracing::debug!(actor = "scheduler", %eval, status, index, "evaluation acknowledged")
            }
            Summary::Client {
                alloc,
                status,
                healthy,
            } => tracing::info!(
                actor = "client",
                %alloc,
                status,
                healthy = match healthy {
                    Some(true) => "healthy",
                    Some(false) => "unhealthy",
                    None => "unset",
                },
                index,
                "allocation updated"
            ),
            Summary::Node { id, status } => {
                tracing::info!(
                    actor = "client",
                    node = id,
                    status,
                    index,
                    "node registered"
                )
            }
            Summary::Other => {}
        }
    }
}

fn log_notes(cluster: &mut LiveCluster) {
    for note in cluster.drain_notes() {
        match note {
            Note::Knob {
                job,
                version,
                problem,
            } => tracing::warn!(job, version, problem, "dev cluster: fault knob ignored"),
            Note::Rejected { ticket, error } => {
                tracing::warn!(%ticket, error, "dev cluster: the engine refused a command")
            }
            Note::PlanFailed { eval, error } => {
                tracing::warn!(%eval, error, "dev cluster: cannot plan the evaluation")
            }
        }
    }
}

/// A seed for the cluster's own choices (which node, how long a start takes): it only
/// needs to differ between runs.
pub fn seed() -> u64 {
    let ns = rollout_store::system_now_ns();
    u64::try_from(ns).unwrap_or(0) ^ u64::from(std::process::id())
}
