//! One subscriber's stream: the replayed past, then live frames, as NDJSON lines.
//!
//! The first line is `{}` (subscribed), then frames of the writes the subscriber wants,
//! `{}` heartbeats while nothing happens, and — when the stream has to end — one error
//! line that says what to reconnect with so that nothing is lost:
//! `{"Error": "…", "LastIndex": N}` (every event up to N was delivered; resume with
//! `after_index=N`) or `{"Error": "…", "OldestIndex": N}` (the start asked for is no
//! longer retained).

use super::frame::{render, Frame};
use super::hub::Live;
use super::subscription::{Start, Subscription};
use crate::acl::Identity;
use crate::server::Api;
use axum::body::Bytes;
use rollout_store::{Committed, HistoryError};
use serde_json::json;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

/// Catch-ups in a row that may be overtaken by the live feed before the subscriber is
/// told to reconnect (a replay slower than the writes it replays).
const MAX_CATCH_UPS: u32 = 3;

const HEARTBEAT: &[u8] = b"{}\n";

/// Queued frames sent in one write at most: a subscriber that is behind catches up in
/// fewer, larger writes.
const COALESCE: usize = 64;

/// Why a stream ended early; the last line it sends.
enum End {
    /// The client went away: nothing more to send.
    Gone,
    /// Tell the client, then close.
    Error(serde_json::Value),
}

fn resume_from(message: impl std::fmt::Display, last: u64) -> End {
    End::Error(json!({
        "Error": format!("{message}; reconnect with after_index={last} to resume"),
        "LastIndex": last,
    }))
}

/// The subscriber's frame of a write: its wanted events, or `None` if it wants none.
fn frame_line(frame: &Frame, sub: &Subscription, who: &Identity) -> Option<Bytes> {
    let mut wanted = frame.events.iter().filter(|e| sub.wants(e, who)).peekable();
    wanted.peek()?;
    let mut out = String::with_capacity(256);
    out.push_str("{\"Events\":[");
    for (i, e) in wanted.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&e.json);
    }
    let _ = writeln!(out, "],\"Index\":{}}}", frame.index);
    Some(Bytes::from(out))
}

/// Runs one subscriber until it ends; lines go to `out`, which the response body reads.
pub(crate) async fn run(api: Api, sub: Arc<Subscription>, who: Identity, out: mpsc::Sender<Bytes>) {
    if out.send(Bytes::from_static(HEARTBEAT)).await.is_err() {
        return;
    }
    let mut stream = Stream {
        api,
        sub,
        who,
        out,
        next: None,
    };
    if let End::Error(line) = stream.serve().await {
        let mut text = line.to_string();
        text.push('\n');
        let _ = stream.out.send(Bytes::from(text)).await;
    }
}

struct Stream {
    api: Api,
    sub: Arc<Subscription>,
    who: Identity,
    out: mpsc::Sender<Bytes>,
    /// The first index not yet handled (`None`: not decided yet, for `Oldest`/`Now`).
    next: Option<u64>,
}

impl Stream {
    /// The last index whose events were all handled.
    fn last(&self) -> u64 {
        self.next.map_or(0, |n| n.saturating_sub(1))
    }

    async fn send(&self, line: Bytes) -> Result<(), End> {
        self.out.send(line).await.map_err(|_| End::Gone)
    }

    /// Re-resolves the token (deleted, expired, or its policies changed).
    fn refresh(&mut self, state: &rollout_engine::State) -> Result<(), End> {
        let now = self.api.backend().now_ns();
        match self.who.refreshed(state, now) {
            Ok(who) => {
                self.who = who;
                Ok(())
            }
            Err(_) => Err(resume_from(
                "Permission denied: the token was deleted or has expired",
                self.last(),
            )),
        }
    }

    async fn serve(&mut self) -> End {
        let mut shutdown = self.api.shutdown_signal();
        let mut catch_ups = 0;
        loop {
            let (heartbeat_every, buffer) = {
                let config = self.api.config();
                (config.event_heartbeat, config.event_buffer)
            };
            let subscribed =
                self.api
                    .event_hubs()
                    .subscribe(self.api.backend(), self.sub.clone(), buffer);
            let Some(Live {
                frames: mut rx,
                lagged,
                through,
            }) = subscribed
            else {
                return resume_from("the event stream is restarting", self.last());
            };
            let next = match (self.next, self.sub.start) {
                (Some(n), _) => n,
                (None, Start::Now) => through + 1,
                (None, Start::At(n)) => n,
                (None, Start::Oldest) => 0,
            };
            if next <= through {
                if let Err(end) = self.replay(next, through).await {
                    return end;
                }
            }
            self.next = Some(self.next.unwrap_or(next).max(through + 1));

            let mut heartbeat = tokio::time::interval(heartbeat_every);
            heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
            heartbeat.tick().await;
            let mut live = false;
            loop {
                if *shutdown.borrow() {
                    return resume_from("the agent is shutting down", self.last());
                }
                tokio::select! {
                    received = rx.recv() => match received {
                        Some(frame) => {
                            // What else is queued goes out in the same write.
                            let mut frames = vec![frame];
                            while frames.len() < COALESCE {
                                match rx.try_recv() {
                                    Ok(f) => frames.push(f),
                                    Err(_) => break,
                                }
                            }
                            if let Err(end) = self.deliver(&frames).await {
                                return end;
                            }
                            live = true;
                        }
                        None if lagged.load(Ordering::SeqCst) => {
                            if !live && catch_ups < MAX_CATCH_UPS {
                                // Overtaken while catching up: catch up again from history.
                                catch_ups += 1;
                                break;
                            }
                            return resume_from(
                                format!(
                                    "the subscriber fell behind by more than {buffer} writes and was disconnected"
                                ),
                                self.last(),
                            );
                        }
                        None => {
                            return resume_from("the event stream is restarting", self.last());
                        }
                    },
                    _ = heartbeat.tick() => {
                        let state = self.api.state();
                        if let Err(end) = self.refresh(&state) {
                            return end;
                        }
                        if let Err(end) = self.send(Bytes::from_static(HEARTBEAT)).await {
                            return end;
                        }
                    }
                    _ = shutdown.changed() => {}
                    _ = self.out.closed() => return End::Gone,
                }
            }
        }
    }

    /// Sends the wanted events of live frames, in one write. A token that loses its
    /// rights at one of them ends the stream after the frames before it.
    async fn deliver(&mut self, frames: &[Arc<Frame>]) -> Result<(), End> {
        let mut out = Vec::new();
        let mut ended = None;
        for frame in frames {
            if self.next.is_some_and(|n| frame.index < n) {
                continue;
            }
            if frame.acl_changed {
                if let Err(end) = self.refresh(&frame.state) {
                    ended = Some(end);
                    break;
                }
            }
            if let Some(line) = frame_line(frame, &self.sub, &self.who) {
                out.extend_from_slice(&line);
            }
            self.next = Some(frame.index + 1);
        }
        if !out.is_empty() {
            self.send(Bytes::from(out)).await?;
        }
        ended.map_or(Ok(()), Err)
    }

    /// Replays `from..=through` from the backend's history, off the async runtime; the
    /// replay waits for the client (a bounded channel), never the other way round.
    async fn replay(&mut self, from: u64, through: u64) -> Result<(), End> {
        let (tx, mut rx) = mpsc::channel::<Result<(u64, Option<Bytes>), HistoryError>>(16);
        let backend = self.api.backend().clone();
        let (sub, who) = (self.sub.clone(), self.who.clone());
        let oldest_will_do = from == 0;
        tokio::task::spawn_blocking(move || {
            let history = match backend.history(from) {
                Err(HistoryError::TooOld { oldest, .. }) if oldest_will_do => {
                    backend.history(oldest)
                }
                other => other,
            };
            let history = match history {
                Ok(h) => h,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            // Writes are gathered by log entry: a frame is one index, all of its writes.
            let mut entry: Vec<Committed> = Vec::new();
            let send = |entry: &[Committed]| {
                let frame = render(entry);
                let line = frame_line(&frame, &sub, &who);
                tx.blocking_send(Ok((frame.index, line))).is_ok() && frame.index < through
            };
            for item in history {
                let c = match item {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                };
                if entry
                    .last()
                    .is_some_and(|l| l.outcome.index != c.outcome.index)
                {
                    if !send(&entry) {
                        return;
                    }
                    entry.clear();
                }
                entry.push(c);
            }
            if !entry.is_empty() {
                send(&entry);
            }
        });
        while let Some(item) = rx.recv().await {
            match item {
                Ok((index, line)) => {
                    if let Some(line) = line {
                        self.send(line).await?;
                    }
                    self.next = Some(index + 1);
                }
                Err(HistoryError::TooOld { requested, oldest }) => {
                    return Err(End::Error(json!({
                        "Error": format!(
                            "index {requested} is older than the retained history: the oldest index that can be replayed is {oldest}; reconnect with index={oldest}"
                        ),
                        "OldestIndex": oldest,
                    })));
                }
                Err(e) => {
                    tracing::error!(error = %e, "event stream: history replay failed");
                    return Err(resume_from(
                        format!("the history could not be replayed: {e}"),
                        self.last(),
                    ));
                }
            }
        }
        Ok(())
    }
}
