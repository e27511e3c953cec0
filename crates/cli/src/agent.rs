//! `rollout agent`: picks a backend, starts the HTTP API and (in dev mode) whatever
//! drives the engine, and shuts everything down on SIGINT/SIGTERM.
//!
//! Two seams are left for the crates still being written:
//! - [`open_backend`]: `--data-dir` will open the durable store (`rollout-store`), and
//!   `--dev` will use the store in a temporary directory; today `--dev` is in memory;
//! - [`spawn_dev_driver`]: `--dev` will run the simulator (`rollout-sim`) as scheduler
//!   and clients (R7); today the only choice is an external scheduler that drives the
//!   engine through the ingest endpoints (R6), which is what the end-to-end tests do.

use clap::{Args, ValueEnum};
use rollout_http::{serve, Api, Backend, Config, MemoryBackend};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::task::JoinHandle;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Development mode: state in memory, nothing persisted.
    #[arg(long)]
    dev: bool,
    /// Where the durable store keeps its log and snapshots (required without --dev).
    #[arg(long, value_name = "DIR", required_unless_present = "dev")]
    data_dir: Option<PathBuf>,
    /// Address of the HTTP API (`127.0.0.1:0` picks a free port; the log says which).
    #[arg(long, value_name = "ADDR", default_value = rollout_http::DEFAULT_ADDR)]
    http_addr: SocketAddr,
    /// Log verbosity.
    #[arg(long, value_name = "LEVEL", value_enum, default_value_t = LogLevel::Info)]
    log_level: LogLevel,
    /// Enforce ACLs: tokens and policies (`rollout acl bootstrap` to start). Off by
    /// default, in dev mode too.
    #[arg(long)]
    acl_enabled: bool,
    /// Who plays scheduler and clients in dev mode.
    #[arg(long, value_enum, default_value_t = DevScheduler::External, requires = "dev")]
    dev_scheduler: DevScheduler,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl From<LogLevel> for tracing::Level {
    fn from(l: LogLevel) -> tracing::Level {
        match l {
            LogLevel::Trace => tracing::Level::TRACE,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Error => tracing::Level::ERROR,
        }
    }
}

/// The dev agent's scheduler and clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DevScheduler {
    /// Nothing built in: an external program schedules through `/v1/engine/*` and reports
    /// client updates. (The built-in simulator will become the default once it lands.)
    External,
}

pub fn main(args: AgentArgs) -> ExitCode {
    init_logging(args.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rollout agent: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("rollout agent: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(level: LogLevel) {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::from(level))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

async fn run(args: AgentArgs) -> Result<(), String> {
    let backend = open_backend(&args)?;
    let api = Api::new(backend.clone(), http_config(&args));
    let listener = rollout_http::bind(args.http_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.http_addr))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let driver = if args.dev {
        spawn_dev_driver(args.dev_scheduler, &api)
    } else {
        None
    };
    tracing::info!(addr = %addr, dev = args.dev, acl = args.acl_enabled, "listening");
    let served = serve(listener, api, shutdown_signal()).await;
    if let Some(driver) = driver {
        driver.abort();
    }
    served.map_err(|e| format!("HTTP server failed: {e}"))
}

/// The HTTP layer's settings: ACLs, and Nomad's bootstrap reset file in the data dir.
fn http_config(args: &AgentArgs) -> Config {
    Config {
        acl_enabled: args.acl_enabled,
        acl_bootstrap_reset_file: args
            .data_dir
            .as_ref()
            .map(|dir| dir.join("acl-bootstrap-reset")),
        ..Config::default()
    }
}

/// The engine's home for this run.
fn open_backend(args: &AgentArgs) -> Result<Arc<dyn Backend>, String> {
    if args.dev {
        return Ok(Arc::new(MemoryBackend::new()));
    }
    let dir = args
        .data_dir
        .as_ref()
        .ok_or("--data-dir is required without --dev")?;
    Err(format!(
        "durable storage is not wired into the agent yet (data dir {}); run with --dev for an in-memory agent",
        dir.display()
    ))
}

/// Starts what plays scheduler and clients in dev mode, if anything.
fn spawn_dev_driver(scheduler: DevScheduler, _api: &Api) -> Option<JoinHandle<()>> {
    match scheduler {
        DevScheduler::External => None,
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("received SIGINT"),
        _ = terminate => tracing::info!("received SIGTERM"),
    }
}
