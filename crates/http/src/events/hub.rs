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

use super::frame::{entries, render, Frame};
use super::subscription::Subscription;
use crate::backend::Backend;
use rollout_store::Committed;
use std::collections::HashMap;
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
    /// The keys it is indexed under; `None`: it takes any key of some topic.
    keys: Option<Vec<String>>,
}

/// Subscribers, indexed so that a write only looks at the ones it may concern.
#[derive(Default)]
struct Registry {
    entries: HashMap<u64, Entry>,
    /// Subscribers that only want events carrying one of some keys, by key.
    by_key: HashMap<String, Vec<u64>>,
    /// Subscribers that take any key of some topic: looked at for every write.
    any_key: Vec<u64>,
    next_id: u64,
    /// Writes routed since the last sweep of subscribers that went away.
    since_sweep: u64,
    /// The last index routed (or skipped while nobody listened).
    through: u64,
    /// The task stopped: subscribe to a new hub.
    closed: bool,
}

/// Writes between sweeps of subscribers whose client went away (the others are found
/// when a write is routed to them).
const SWEEP_EVERY: u64 = 1024;

impl Registry {
    fn add(&mut self, entry: Entry) {
        let id = self.next_id;
        self.next_id += 1;
        match &entry.keys {
            None => self.any_key.push(id),
            Some(keys) => {
                for k in keys {
                    self.by_key.entry(k.clone()).or_default().push(id);
                }
            }
        }
        self.entries.insert(id, entry);
    }

    fn remove(&mut self, id: u64) {
        let Some(entry) = self.entries.remove(&id) else {
            return;
        };
        match entry.keys {
            None => self.any_key.retain(|i| *i != id),
            Some(keys) => {
                for k in keys {
                    if let Some(ids) = self.by_key.get_mut(&k) {
                        ids.retain(|i| *i != id);
                        if ids.is_empty() {
                            self.by_key.remove(&k);
                        }
                    }
                }
            }
        }
    }

    /// The subscribers a frame may concern: every one for an ACL change (their rights
    /// may have changed), else those taking any key plus those indexed under a key the
    /// frame's events carry.
    fn candidates(&self, frame: &Frame) -> Vec<u64> {
        if frame.acl_changed {
            return self.entries.keys().copied().collect();
        }
        let mut ids = self.any_key.clone();
        for e in &frame.events {
            for key in
                std::iter::once(e.key.as_str()).chain(e.filter_keys.iter().map(String::as_str))
            {
                if let Some(found) = self.by_key.get(key) {
                    ids.extend_from_slice(found);
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn route(&mut self, frame: &Arc<Frame>) {
        let mut gone = Vec::new();
        for id in self.candidates(frame) {
            let Some(e) = self.entries.get(&id) else {
                continue;
            };
            let concerned = frame.acl_changed || frame.events.iter().any(|ev| e.sub.asks_for(ev));
            if !concerned {
                continue;
            }
            match e.tx.try_send(frame.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    e.lagged.store(true, Ordering::SeqCst);
                    gone.push(id);
                }
                Err(TrySendError::Closed(_)) => gone.push(id),
            }
        }
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY {
            self.since_sweep = 0;
            gone.extend(
                self.entries
                    .iter()
                    .filter(|(_, e)| e.tx.is_closed())
                    .map(|(id, _)| *id),
            );
        }
        for id in gone {
            self.remove(id);
        }
    }
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
        let keys = sub.topics.routing_keys();
        registry.add(Entry {
            sub,
            tx,
            lagged: lagged.clone(),
            keys,
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
        !self.lock().entries.is_empty()
    }

    /// Routes one log entry's writes; renders them only if somebody listens.
    fn publish(&self, entry: &[Committed], rendered: Option<Arc<Frame>>) {
        let Some(first) = entry.first() else {
            return;
        };
        let mut registry = self.lock();
        registry.through = first.outcome.index;
        if registry.entries.is_empty() {
            return;
        }
        // Somebody subscribed since the caller looked: render now.
        let frame = rendered.unwrap_or_else(|| Arc::new(render(entry)));
        registry.route(&frame);
    }

    fn close(&self) {
        let mut registry = self.lock();
        registry.closed = true;
        registry.entries.clear();
        registry.by_key.clear();
        registry.any_key.clear();
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
            // The state machine publishes whole entries, so no entry spans two batches.
            for entry in entries(&batch) {
                let index = entry[0].outcome.index;
                let last = hub.lock().through;
                if index <= last {
                    continue;
                }
                if index > last + 1 && !fill_gap(&backend, &hub, last + 1, index).await {
                    stopped = true;
                    break;
                }
                route(&hub, entry);
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

/// Renders (outside the registry lock) and routes one log entry's writes.
fn route(hub: &Hub, entry: &[Committed]) {
    let rendered = hub.has_subscribers().then(|| Arc::new(render(entry)));
    hub.publish(entry, rendered);
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
            for entry in entries(&writes) {
                route(hub, entry);
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
