//! # rollout-http
//!
//! The rollout engine as a service that speaks Nomad's HTTP API (`docs/http-api.md`,
//! whose section R wins where rollout differs): deployments, jobs, evaluations and
//! allocations with blocking queries, Nomad's headers and error texts, request bodies
//! decoded like Go's `encoding/json`, plus the scheduler/client ingest endpoints (R6)
//! that let an external scheduler drive the engine.
//!
//! The HTTP layer owns no state. Commands go to a [`Backend`] (the durable store through
//! [`StoreBackend`], or [`MemoryBackend`] in tests) and a write is answered only once the
//! backend has applied it — for the store, once it is on disk (R5); reads run against an
//! immutable engine `State`.
//!
//! ```no_run
//! use rollout_http::{serve, Api, Config, MemoryBackend};
//! use std::sync::Arc;
//!
//! # async fn run() -> std::io::Result<()> {
//! let api = Api::new(Arc::new(MemoryBackend::new()), Config::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:4646").await?;
//! serve(listener, api, std::future::pending()).await // e.g. a ctrl-c future
//! # }
//! ```

pub mod acl;
pub mod backend;
mod blocking;
mod body;
mod commit_feed;
mod decode;
mod deployment_log;
mod dry_run;
mod error;
mod events;
mod ids;
mod jobdiff;
mod limits;
mod listener;
mod metrics;
mod nomad_api;
mod pagination;
mod query;
mod response;
mod routes;
mod server;
mod ticker;
mod views;

pub use backend::{
    Backend, BackendError, BoxFuture, ClusterBackend, ClusterView, HistoryIter, MemoryBackend,
    ServerView, StoreBackend,
};
pub use blocking::{WAIT_DEFAULT, WAIT_MAX};
pub use error::ApiError;
pub use limits::RequestLimits;
pub use listener::serve_router;
pub use query::parse_go_duration;
pub use server::{bind, serve, AgentIdentity, Api, Config, DEFAULT_ADDR};
