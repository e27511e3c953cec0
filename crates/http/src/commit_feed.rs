//! What the agent does with every committed write besides answering it: the deployment
//! status log line and the metrics counted off writes (commands by actor, health
//! transitions, rollbacks, promotions). Following the backend's commit feed covers
//! every writer — API requests, the dev cluster, the deadline timer, garbage
//! collection — once the write is durable.

use crate::server::Api;
use tokio::sync::broadcast::error::RecvError;

/// Follows the commit feed until the API shuts down.
pub async fn follow(api: Api) {
    let mut feed = api.backend().commits();
    let mut shutdown = api.shutdown_signal();
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            batch = feed.recv() => match batch {
                Ok(batch) => {
                    for c in batch.iter() {
                        crate::deployment_log::log_status_changes(c);
                        api.metrics().committed(
                            c.command,
                            c.actor.as_ref(),
                            &c.outcome,
                            &c.before,
                            &c.state,
                        );
                    }
                }
                Err(RecvError::Lagged(n)) => tracing::warn!(
                    writes = n,
                    "the status log and metrics fell behind the writer; some writes were not counted"
                ),
                Err(RecvError::Closed) => return,
            },
        }
    }
}
