//! The fan-out: one task turns the backend's feed of committed writes into rendered
//! frames and broadcasts them to every subscriber.
//!
//! The task renders each write once, whoever listens, and never holds up the writer: the
//! backend's feed is a broadcast channel too, so the worst a slow hub can do is lag, and
//! then it replays the gap from the backend's history. Subscribers read from a bounded
//! ring of frames (`Config::event_buffer`), each at its own pace; one that falls a whole
//! ring behind is told so (and disconnected by the stream), the others never notice.

use super::frame::{render, Frame};
use crate::backend::Backend;
use rollout_store::Committed;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::broadcast::{self, error::RecvError};

/// A running hub: subscribe here.
#[derive(Clone)]
pub(crate) struct Hub {
    /// Weak, so that the channel closes (and subscribers learn it) when the task ends.
    frames: broadcast::WeakSender<Arc<Frame>>,
    /// The last index handed to the channel (or skipped while nobody listened).
    through: Arc<AtomicU64>,
}

impl Hub {
    /// A receiver of every frame after the returned index, and that index: frames at or
    /// below it are history (the caller replays them from the backend). `None` if the
    /// hub's task has stopped.
    pub fn subscribe(&self) -> Option<(broadcast::Receiver<Arc<Frame>>, u64)> {
        let frames = self.frames.upgrade()?;
        let rx = frames.subscribe();
        // Read after subscribing: the task stores an index before it decides whether
        // anybody listens, so any frame above this one reaches `rx`.
        Some((rx, self.through.load(Ordering::SeqCst)))
    }
}

/// The API's hub, started on the first subscription (and again if its task stopped).
#[derive(Default)]
pub(crate) struct Hubs(Mutex<Option<Hub>>);

impl Hubs {
    pub fn subscribe(
        &self,
        backend: &Arc<dyn Backend>,
        buffer: usize,
    ) -> Option<(broadcast::Receiver<Arc<Frame>>, u64)> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sub) = slot.as_ref().and_then(Hub::subscribe) {
            return Some(sub);
        }
        let hub = start(backend.clone(), buffer);
        let sub = hub.subscribe();
        *slot = Some(hub);
        sub
    }
}

fn start(backend: Arc<dyn Backend>, buffer: usize) -> Hub {
    let mut feed = backend.commits();
    // After subscribing to the feed: everything above this index comes through it.
    let through = Arc::new(AtomicU64::new(backend.state().index()));
    let (frames, _) = broadcast::channel(buffer.max(1));
    let hub = Hub {
        frames: frames.downgrade(),
        through: through.clone(),
    };
    tokio::spawn(async move {
        loop {
            let batch = match feed.recv().await {
                Ok(batch) => batch,
                // The gap is filled from history when the next batch shows it.
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(batches = n, "event stream fell behind the writer");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            for c in batch.iter() {
                let index = c.outcome.index;
                let last = through.load(Ordering::SeqCst);
                if index <= last {
                    continue;
                }
                if index > last + 1 && !fill_gap(&backend, last + 1, index, &frames, &through).await
                {
                    // Subscribers see the channel close and resume from history.
                    return;
                }
                publish(c, &frames, &through);
            }
        }
    });
    hub
}

fn publish(c: &Committed, frames: &broadcast::Sender<Arc<Frame>>, through: &AtomicU64) {
    through.store(c.outcome.index, Ordering::SeqCst);
    if frames.receiver_count() > 0 {
        let _ = frames.send(Arc::new(render(c)));
    }
}

/// Publishes the writes in `from..until` from the backend's history. False if they
/// cannot be replayed (logged).
async fn fill_gap(
    backend: &Arc<dyn Backend>,
    from: u64,
    until: u64,
    frames: &broadcast::Sender<Arc<Frame>>,
    through: &AtomicU64,
) -> bool {
    let source = backend.clone();
    let replayed = tokio::task::spawn_blocking(move || {
        source
            .history(from)?
            .take_while(|c| c.as_ref().map_or(true, |c| c.outcome.index < until))
            .collect::<Result<Vec<Committed>, _>>()
    })
    .await;
    match replayed {
        Ok(Ok(writes)) => {
            for c in &writes {
                publish(c, frames, through);
            }
            true
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, from, until, "event stream: cannot replay a gap; restarting the stream");
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "event stream: gap replay failed");
            false
        }
    }
}
