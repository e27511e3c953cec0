//! The service: shared handler state, the router, the deadline timer and graceful
//! shutdown.

use crate::backend::{Backend, BackendError};
use crate::error::ApiError;
use crate::metrics::Metrics;
use axum::Router;
use rollout_engine::{Command, Outcome, State};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Nomad's agent port, on loopback: exposing the API is an explicit choice.
pub const DEFAULT_ADDR: &str = "127.0.0.1:4646";

/// Tunables of the HTTP layer.
#[derive(Clone, Debug)]
pub struct Config {
    /// Largest request body accepted (413 beyond). Job specs are the big ones; 8 MiB
    /// is far beyond any real job and still bounds what one request can make us hold.
    pub max_body_bytes: usize,
    /// Enforce ACLs (`rollout agent --acl-enabled`): tokens, policies, 403s. Off, every
    /// request may do everything and the ACL endpoints answer 400 `ACL support
    /// disabled`, as Nomad without `acl { enabled = true }`.
    pub acl_enabled: bool,
    /// Nomad's `acl-bootstrap-reset` file (in the data directory): when it holds the
    /// index of the last bootstrap, bootstrapping is allowed once more.
    pub acl_bootstrap_reset_file: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_body_bytes: 8 * 1024 * 1024,
            acl_enabled: false,
            acl_bootstrap_reset_file: None,
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
    metrics: Metrics,
    shutdown: watch::Sender<bool>,
}

impl Api {
    pub fn new(backend: Arc<dyn Backend>, config: Config) -> Api {
        let (shutdown, _) = watch::channel(false);
        Api {
            inner: Arc::new(Inner {
                backend,
                config,
                metrics: Metrics::default(),
                shutdown,
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

    pub(crate) fn state(&self) -> State {
        self.inner.backend.state()
    }

    /// Submits a command, counting and logging it. Every write of the API and the
    /// deadline timer goes through here.
    pub(crate) async fn submit(&self, command: Command) -> Result<Outcome, ApiError> {
        let name = command.name();
        match self.inner.backend.submit(command).await {
            Ok(outcome) => {
                self.metrics().command(name, "ok");
                tracing::info!(command = name, index = outcome.index, "applied");
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

/// Serves the API on `listener` until `signal` resolves, then shuts down gracefully:
/// blocking queries return, in-flight requests finish, the deadline timer stops.
pub async fn serve(
    listener: TcpListener,
    api: Api,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let ticker = api.spawn_ticker();
    let on_signal = {
        let api = api.clone();
        async move {
            signal.await;
            tracing::info!("shutting down: finishing in-flight requests");
            api.shutdown();
        }
    };
    let result = axum::serve(listener, api.router())
        .with_graceful_shutdown(on_signal)
        .await;
    // The server may also stop on an I/O error: make sure the timer stops with it.
    api.shutdown();
    if let Err(e) = ticker.await {
        tracing::error!(error = %e, "deadline timer task failed");
    }
    tracing::info!("stopped");
    result
}

/// Binds `addr`; a convenience for binaries and tests (`127.0.0.1:0` picks a port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
