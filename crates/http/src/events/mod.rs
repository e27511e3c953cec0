//! The event stream, `GET /v1/event/stream` (`http-api.md` §9): Nomad's NDJSON stream
//! of state changes, durable and resumable.
//!
//! Nomad keeps recent events in a memory ring; rollout re-derives any event from its
//! log (the engine is deterministic), so a stream can start at any index the backend
//! still retains and resume exactly where it stopped. The pieces:
//! - [`frame`]: one write's events rendered as Nomad's event JSON, once per write;
//! - [`hub`]: the task that turns the backend's feed of committed writes into frames
//!   and broadcasts them;
//! - [`subscription`]: what a subscriber asked for and may see;
//! - [`stream`]: one subscriber: replay, then live, heartbeats, and the line that
//!   says how to resume when it must end.

pub(crate) mod frame;
pub(crate) mod hub;
pub(crate) mod stream;
pub(crate) mod subscription;
