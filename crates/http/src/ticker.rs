//! The progress-deadline timer (§3.10): the engine says when the next `Tick` can change
//! anything ([`next_deadline`]); this task sleeps until then and submits it. It re-arms
//! after every applied command, because any command can move the deadline; it never
//! polls.
//!
//! In a cluster only the leader ticks (one `Tick` per deadline, not one per member).
//! The other members keep computing the deadline and look again every [`RETRY_AFTER`]
//! while one is due, so a new leader arms the deadlines of the state it inherited
//! within that time — a deadline that fell during a failover still fires.

use crate::server::Api;
use rollout_engine::model::UnixNanos;
use rollout_engine::{next_deadline, Actor, Command};
use std::time::Duration;

/// The longest single sleep. The deadline is wall-clock time and the sleep is
/// monotonic, so a long sleep re-reads the clock now and then in case it jumped.
const SLEEP_MAX: Duration = Duration::from_secs(60);
/// After a `Tick` that left the same deadline due (which the engine should never do),
/// wait this long instead of spinning.
const RETRY_AFTER: Duration = Duration::from_secs(1);

fn until(deadline_ns: UnixNanos, now_ns: UnixNanos) -> Duration {
    let ns = deadline_ns.saturating_sub(now_ns).max(0);
    Duration::from_nanos(ns as u64).min(SLEEP_MAX)
}

pub async fn run(api: Api) {
    let mut changes = api.backend().subscribe();
    let mut shutdown = api.shutdown_signal();
    let mut last_ticked: Option<UnixNanos> = None;
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        changes.borrow_and_update();
        let due = next_deadline(&api.state());
        let leading = api.backend().is_leader();
        let sleep = match due {
            Some(t) if last_ticked == Some(t) || !leading => Some(RETRY_AFTER),
            Some(t) => Some(until(t, api.backend().now_ns())),
            None => None,
        };
        let timer = async {
            match sleep {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.changed() => return,
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
            _ = timer => {}
        }
        let Some(t) = due else { continue };
        if !api.backend().is_leader() || api.backend().now_ns() < t {
            continue; // woke early to re-read the clock
        }
        last_ticked = Some(t);
        if let Err(e) = api.submit(Command::Tick, Actor::watcher()).await {
            tracing::warn!(error = %e.message, "deadline tick failed");
        }
    }
}
