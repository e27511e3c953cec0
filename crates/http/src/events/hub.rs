//! The fan-out: one task turns the backend's feed of committed writes into rendered
//! frames and hands each frame to the subscribers that asked for one of its events.
//!
//! The task renders each write once, whoever listens, and never holds up the writer: the
//! backend's feed is a broadcast channel, so the worst a slow hub can do is lag, and then
//! it replays the gap from the backend's history. Routing happens here, not in the
//! subscribers: a frame wakes only the subscribers it concerns (a thousand CI gates, each
//! following its own job, cost one match each per write, not a thousand wake-ups). Each
//! subscriber has its own bounded queue (`Config::event_buffer` frames it wants); one
//! whose queue is full when a frame comes is dropped from the hub and told it fell
//! behind. Nobody waits for anybody.

use super::frame::{render, Frame};
use super::subscription::Subscription;
use crate::backend::Backend;
use rollout_store::Committed;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc::{self, error::TrySendError};

/// What a subscriber gets from the hub: its queue, whether the hub dropped it for
/// falling behind, and the index its live frames start after.
pub(crate) struct Live {
    pub frames: mpsc::Receiver<Arc<Frame>>,
    /// Set when the hub dropped the subscriber because its queue was full; the queue
    /// then ends.
    pub lagged: Arc<AtomicBool>,
    /// Frames at or below this index are history: the subscriber replays them itself.
    pub through: u64,
}

struct Entry {
    sub: Arc<Subscription>,
    tx: mpsc::Sender<Arc<Frame>>,
    lagged: Arc<AtomicBool>,
}

#[derive(Default)]
struct Registry {
    subscribers: Vec<Entry>,
    /// The last index routed (or skipped while nobody listened).
    through: u64,
    /// The task stopped: subscribe to a new hub.
    closed: bool,
}

/// A running hub: subscribe here.
#[derive(Clone, Default)]
pub(crate) struct Hub(Arc<Mutex<Registry>>);

impl Hub {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a subscriber with a queue of `buffer` frames; `None` if the hub's
    /// task has stopped.
    fn subscribe(&self, sub: Arc<Subscription>, buffer: usize) -> Option<Live> {
        let mut registry = self.lock();
        if registry.closed {
            return None;
        }
        let (tx, frames) = mpsc::channel(buffer.max(1));
        let lagged = Arc::new(AtomicBool::new(false));
        registry.subscribers.push(Entry {
            sub,
            tx,
            lagged: lagged.clone(),
        });
        // Under the lock that routing takes: every frame above `through` reaches the
        // queue, every one at or below it was routed before.
        Some(Live {
            frames,
            lagged,
            through: registry.through,
        })
    }

    fn has_subscribers(&self) -> bool {
        !self.lock().subscribers.is_empty()
    }

    /// Routes one committed write; renders it only if somebody listens.
    fn publish(&self, c: &Committed, rendered: Option<Arc<Frame>>) {
        let mut registry = self.lock();
        registry.through = c.outcome.index;
        if registry.subscribers.is_empty() {
            return;
        }
        // Somebody subscribed since the caller looked: render now.
        let frame = rendered.unwrap_or_else(|| Arc::new(render(c)));
        registry.subscribers.retain(|e| {
            let concerned = frame.acl_changed || frame.events.iter().any(|ev| e.sub.asks_for(ev));
            if !concerned {
                return !e.tx.is_closed();
            }
            match e.tx.try_send(frame.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    e.lagged.store(true, Ordering::SeqCst);
                    false
                }
                Err(TrySendError::Closed(_)) => false,
            }
        });
    }

    fn close(&self) {
        let mut registry = self.lock();
        registry.closed = true;
        registry.subscribers.clear();
    }
}

/// The API's hub, started on the first subscription (and again if its task stopped).
#[derive(Default)]
pub(crate) struct Hubs(Mutex<Option<Hub>>);

impl Hubs {
    pub fn subscribe(
        &self,
        backend: &Arc<dyn Backend>,
        sub: Arc<Subscription>,
        buffer: usize,
    ) -> Option<Live> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(live) = slot
            .as_ref()
            .and_then(|hub| hub.subscribe(sub.clone(), buffer))
        {
            return Some(live);
        }
        let hub = start(backend.clone());
        let live = hub.subscribe(sub, buffer);
        *slot = Some(hub);
        live
    }
}

fn start(backend: Arc<dyn Backend>) -> Hub {
    let mut feed = backend.commits();
    let hub = Hub::default();
    // After subscribing to the feed: everything above this index comes through it.
    hub.lock().through = backend.state().index();
    let task_hub = hub.clone();
    tokio::spawn(async move {
        let hub = task_hub;
        loop {
            let batch = match feed.recv().await {
                Ok(batch) => batch,
                // The gap is filled from history when the next batch shows it.
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(batches = n, "event stream fell behind the writer");
                    continue;
                }
                Err(RecvError::Closed) => break,
            };
            let mut stopped = false;
            for c in batch.iter() {
                let index = c.outcome.index;
                let last = hub.lock().through;
                if index <= last {
                    continue;
                }
                if index > last + 1 && !fill_gap(&backend, &hub, last + 1, index).await {
                    stopped = true;
                    break;
                }
                route(&hub, c);
            }
            if stopped {
                break;
            }
        }
        // Subscribers see their queues end and resume from history.
        hub.close();
    });
    hub
}

/// Renders (outside the registry lock) and routes one write.
fn route(hub: &Hub, c: &Committed) {
    let rendered = hub.has_subscribers().then(|| Arc::new(render(c)));
    hub.publish(c, rendered);
}

/// Routes the writes in `from..until` from the backend's history. False if they cannot
/// be replayed (logged).
async fn fill_gap(backend: &Arc<dyn Backend>, hub: &Hub, from: u64, until: u64) -> bool {
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
                route(hub, c);
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
