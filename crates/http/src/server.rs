//! The service: shared handler state, the router, the deadline timer and graceful
//! shutdown.

use crate::backend::{Backend, BackendError};
use crate::error::ApiError;
use crate::limits::{Limiter, RequestLimits};
use crate::metrics::Metrics;
use axum::Router;
use rollout_engine::{Actor, Command, Outcome, State};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Nomad's agent port, on loopback: exposing the API is an explicit choice.
pub const DEFAULT_ADDR: &str = "127.0.0.1:4646";

/// Tunables of the HTTP layer. Every queue, request and wait has a bound ("put a limit on
/// everything"); the defaults are far beyond what a real client sends and still bound what
/// one request, one client or a burst can make the agent hold. `rollout agent` exposes
/// each as a flag; the README lists them.
#[derive(Clone, Debug)]
pub struct Config {
    /// Largest request body accepted (413 beyond). Job specs are the big ones; 8 MiB
    /// is far beyond any real job and still bounds what one request can make us hold.
    pub max_body_bytes: usize,
    /// Limits on what one request may ask for: job spec size and shape, IDs per request,
    /// plan size, IDs and names.
    pub limits: RequestLimits,
    /// The longest `wait` of a blocking query (R4: 10 minutes); longer ones are clamped.
    pub max_query_wait: Duration,
    /// Blocking queries one client (remote IP) may have waiting at once; beyond, 429
    /// with `Retry-After`. Waiters are cheap, but not free: one client must not hold them
    /// all.
    pub max_blocking_queries_per_client: usize,
    /// Requests being worked on at once (blocking queries count only while they compute,
    /// not while they wait); beyond, 503 with `Retry-After` at once rather than a queue
    /// that grows without bound.
    pub max_concurrent_requests: usize,
    /// Open connections; beyond, a new connection gets a bare 503 and is closed.
    pub max_connections: usize,
    /// Open connections from one remote IP; beyond, a bare 429 and close (as Nomad's
    /// `http_max_conns_per_client`).
    pub max_connections_per_client: usize,
    /// Time to receive a request's headers, and the idle time of a kept-alive connection
    /// (the clock starts when the server waits for the next request): slowloris-style
    /// partial headers cannot pin a connection longer.
    pub header_read_timeout: Duration,
    /// Time to receive a whole request body (408 beyond). Bodies are received before a
    /// request takes a slot in `max_concurrent_requests`, so a slow one holds only its
    /// connection.
    pub body_read_timeout: Duration,
    /// After `body_min_rate_grace`, a request body must arrive at this average rate
    /// (bytes per second since its request began), or it is cut with 408 at once: one
    /// byte and a stall holds a connection for the grace period, not the whole timeout.
    /// 0 turns the rule off.
    pub body_min_rate_bytes_per_second: u64,
    /// How long a body may take to get going before the minimum rate applies.
    pub body_min_rate_grace: Duration,
    /// Time a response write may make no progress (a client that stopped reading);
    /// then the connection is closed.
    pub write_timeout: Duration,
    /// Enforce ACLs (`rollout agent --acl-enabled`): tokens, policies, 403s. Off, every
    /// request may do everything and the ACL endpoints answer 400 `ACL support
    /// disabled`, as Nomad without `acl { enabled = true }`.
    pub acl_enabled: bool,
    /// Nomad's `acl-bootstrap-reset` file (in the data directory): when it holds the
    /// index of the last bootstrap, bootstrapping is allowed once more.
    pub acl_bootstrap_reset_file: Option<std::path::PathBuf>,
    /// Time between `{}` heartbeat lines on an idle event stream (Nomad: 30 s).
    pub event_heartbeat: Duration,
    /// Writes an event stream subscriber may fall behind the newest one before it is
    /// disconnected (with a line naming the last index it got, to resume from). The
    /// frames live once in a ring shared by all subscribers.
    pub event_buffer: usize,
    /// Who this agent is: region, datacenter, node name (`/v1/agent/self`,
    /// `/v1/regions`, `/v1/status/leader`).
    pub identity: AgentIdentity,
}

/// The agent's names, as Nomad's `-region`, `-dc` and `-node` set them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentIdentity {
    /// The region (`global` by default); `?region=` naming another one is refused.
    pub region: String,
    /// The datacenter (`dc1` by default).
    pub datacenter: String,
    /// The node's name (the host name by default).
    pub node_name: String,
}

impl Default for AgentIdentity {
    fn default() -> Self {
        AgentIdentity {
            region: "global".into(),
            datacenter: "dc1".into(),
            node_name: "rollout".into(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_body_bytes: 8 * 1024 * 1024,
            limits: RequestLimits::default(),
            max_query_wait: crate::blocking::WAIT_MAX,
            max_blocking_queries_per_client: 512,
            max_concurrent_requests: 1024,
            max_connections: 4096,
            max_connections_per_client: 1024,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            body_min_rate_bytes_per_second: 1024,
            body_min_rate_grace: Duration::from_secs(5),
            write_timeout: Duration::from_secs(30),
            acl_enabled: false,
            acl_bootstrap_reset_file: None,
            event_heartbeat: Duration::from_secs(30),
            event_buffer: 4096,
            identity: AgentIdentity::default(),
        }
    }
}

/// The state every handler shares: a cheap handle (one `Arc`).
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn Backend>,
    config: Config,
    metrics: Arc<Metrics>,
    limiter: Limiter,
    shutdown: watch::Sender<bool>,
    events: crate::events::hub::Hubs,
    /// Recent time-travel reconstructions.
    past: PastStates,
    /// The address `serve` listens on: the server address `/v1/status/leader` names
    /// (set once, when serving starts).
    serving_on: std::sync::OnceLock<SocketAddr>,
}

/// A few reconstructed past states, newest last: a time-travel session (a UI stepping
/// through a deployment's history) asks for the same indexes again and again.
#[derive(Default)]
struct PastStates(std::sync::Mutex<std::collections::VecDeque<State>>);

/// Past states kept. Each shares structure with its neighbours, so they are cheap.
const PAST_STATES_KEPT: usize = 16;

impl PastStates {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<State>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, index: u64) -> Option<State> {
        self.lock().iter().find(|s| s.index() == index).cloned()
    }

    fn put(&self, state: State) {
        let mut kept = self.lock();
        if kept.iter().any(|s| s.index() == state.index()) {
            return;
        }
        if kept.len() >= PAST_STATES_KEPT {
            kept.pop_front();
        }
        kept.push_back(state);
    }
}

impl Api {
    pub fn new(backend: Arc<dyn Backend>, config: Config) -> Api {
        let (shutdown, _) = watch::channel(false);
        let limiter = Limiter::new(&config);
        let metrics = Arc::new(Metrics::new());
        backend.observe_store(metrics.clone());
        Api {
            inner: Arc::new(Inner {
                backend,
                config,
                metrics,
                limiter,
                shutdown,
                events: Default::default(),
                past: PastStates::default(),
                serving_on: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The HTTP routes, ready to serve.
    pub fn router(&self) -> Router {
        crate::routes::router(self.clone())
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The address this agent serves on, once `serve` has started.
    pub fn serving_on(&self) -> Option<SocketAddr> {
        self.inner.serving_on.get().copied()
    }

    /// The reset index in the bootstrap reset file, 0 when there is none (or it does not
    /// start with a number, as Go's `Sscanf("%d")` reads it).
    pub(crate) fn bootstrap_reset_index(&self) -> u64 {
        let Some(path) = &self.inner.config.acl_bootstrap_reset_file else {
            return 0;
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            return 0;
        };
        let digits: String = text
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let index = digits.parse().unwrap_or(0);
        if index != 0 {
            tracing::warn!(path = %path.display(), reset_index = index, "ACL bootstrap reset file read");
        }
        index
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The state as of `index` (time travel, `at_index=`): the current one, a recent
    /// reconstruction from the cache, or one re-derived from the backend's history on a
    /// blocking thread (never the writer's). 400 past the applied index; 410 before the
    /// retained history, naming the oldest index available.
    pub(crate) async fn state_at(&self, index: u64) -> Result<State, ApiError> {
        let current = self.state();
        if index > current.index() {
            return Err(ApiError::bad_request(format!(
                "at_index {index} is past the current index {}",
                current.index()
            )));
        }
        if index == current.index() {
            return Ok(current);
        }
        if let Some(state) = self.inner.past.get(index) {
            return Ok(state);
        }
        let backend = self.inner.backend.clone();
        let rebuilt = tokio::task::spawn_blocking(move || backend.state_at(index))
            .await
            .map_err(|e| ApiError::internal(format!("time travel failed: {e}")))?;
        match rebuilt {
            Ok(state) => {
                self.inner.past.put(state.clone());
                Ok(state)
            }
            Err(rollout_store::HistoryError::TooOld { oldest, .. }) => Err(ApiError::new(
                axum::http::StatusCode::GONE,
                format!(
                    "at_index {index} is older than the retained history: the oldest index available is {}",
                    oldest.saturating_sub(1)
                ),
            )),
            Err(e) => Err(ApiError::internal(format!(
                "cannot rebuild the state at index {index}: {e}"
            ))),
        }
    }

    pub(crate) fn event_hubs(&self) -> &crate::events::hub::Hubs {
        &self.inner.events
    }

    pub(crate) fn limiter(&self) -> &Limiter {
        &self.inner.limiter
    }

    pub(crate) fn state(&self) -> State {
        self.inner.backend.state()
    }

    /// Submits a command as `actor`, counting and logging it. Every write of the API
    /// and the deadline timer goes through here, and each says who it is: the handlers
    /// pass the request's identity ([`crate::acl::Identity::actor`]) explicitly, so no
    /// write can go unattributed by accident.
    pub(crate) async fn submit(&self, command: Command, actor: Actor) -> Result<Outcome, ApiError> {
        let name = command.name();
        match self.inner.backend.submit_as(command, Some(actor)).await {
            Ok(outcome) => {
                self.metrics().command(name, "ok");
                let (jobs, deployments) = touched(&outcome);
                tracing::info!(
                    command = name,
                    index = outcome.index,
                    jobs,
                    deployments,
                    "applied"
                );
                Ok(outcome)
            }
            Err(BackendError::Rejected(e)) => {
                self.metrics().command(name, "rejected");
                tracing::debug!(command = name, error = %e, "rejected");
                Err(e.into())
            }
            Err(e) => {
                self.metrics().command(name, "error");
                Err(e.into())
            }
        }
    }

    /// Starts shutting down: blocking queries answer now with what they have, and the
    /// deadline timer stops. In-flight writes are not interrupted.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// Starts the task that submits `Tick` when a progress deadline is due.
    pub fn spawn_ticker(&self) -> JoinHandle<()> {
        tokio::spawn(crate::ticker::run(self.clone()))
    }
}

/// The jobs (`namespace/job`) and deployments a write changed, comma-separated, for its
/// log line.
fn touched(outcome: &Outcome) -> (String, String) {
    let mut jobs = std::collections::BTreeSet::new();
    let mut deployments = std::collections::BTreeSet::new();
    for e in &outcome.events {
        if !e.job_id.is_empty() {
            jobs.insert(format!("{}/{}", e.namespace, e.job_id));
        }
        if e.topic == rollout_engine::Topic::Deployment {
            deployments.insert(e.key.as_str());
        }
    }
    let join = |set: Vec<String>| set.join(",");
    (
        join(jobs.into_iter().collect()),
        join(deployments.into_iter().map(str::to_string).collect()),
    )
}

/// Serves the API on `listener` until `signal` resolves, then shuts down gracefully:
/// blocking queries return, in-flight requests finish, the deadline timer stops.
pub async fn serve(
    listener: TcpListener,
    api: Api,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        let _ = api.inner.serving_on.set(addr);
    }
    let ticker = api.spawn_ticker();
    let status_log = tokio::spawn(crate::commit_feed::follow(api.clone()));
    let on_signal = {
        let api = api.clone();
        async move {
            signal.await;
            tracing::info!("shutting down: finishing in-flight requests");
            api.shutdown();
        }
    };
    let result = crate::listener::run(listener, api.clone(), on_signal).await;
    // The server may also stop on an I/O error: make sure the timer stops with it.
    api.shutdown();
    if let Err(e) = ticker.await {
        tracing::error!(error = %e, "deadline timer task failed");
    }
    if let Err(e) = status_log.await {
        tracing::error!(error = %e, "commit feed follower failed");
    }
    tracing::info!("stopped");
    result
}

/// Binds `addr`; a convenience for binaries and tests (`127.0.0.1:0` picks a port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
