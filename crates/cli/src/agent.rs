//! `rollout agent`: opens the store, starts the HTTP API and (in dev mode) the simulated
//! cluster, and shuts everything down in order on SIGINT/SIGTERM.
//!
//! Shutdown order matters for R5 and for clients. At the signal the API stops accepting
//! connections and answers blocked queries with what it has, while in-flight writes run
//! to their fsync, and the dev cluster stops once the command it is submitting is
//! answered. When both are done the store commits whatever is still queued and closes;
//! last, a dev agent's temporary directory is deleted.

use crate::dev_cluster;
use crate::storage::{Location, Storage};
use clap::{Args, ValueEnum};
use rollout_http::{serve, Api, Config};
use rollout_sim::LiveConfig;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio::sync::watch;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Development mode: the store in a temporary directory (deleted on exit), ACLs off,
    /// and a simulated scheduler and clients (see --dev-scheduler).
    #[arg(long, conflicts_with = "data_dir")]
    dev: bool,
    /// Where the durable store keeps its log and snapshots (required without --dev).
    #[arg(long, value_name = "DIR", required_unless_present = "dev")]
    data_dir: Option<PathBuf>,
    /// On damage found at start, set the damaged part aside and start from the last good
    /// entry instead of refusing to start (what was dropped is logged).
    #[arg(long, requires = "data_dir")]
    recover_to_last_good: bool,
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
    #[arg(long, value_enum, default_value_t = DevScheduler::Sim, requires = "dev")]
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
    /// The built-in simulator (R7): places every pending evaluation on three simulated
    /// nodes, starts allocations, reports health; `rollout.sim.*` job Meta injects faults.
    Sim,
    /// Nothing built in: an external program schedules through `/v1/engine/*` and reports
    /// client updates (R6).
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
    let signalled = shutdown_signal()?;
    let location = match (&args.data_dir, args.dev) {
        (_, true) => Location::Temporary,
        (Some(path), false) => Location::Dir {
            path: path.clone(),
            recover_to_last_good: args.recover_to_last_good,
        },
        (None, false) => return Err("--data-dir is required without --dev".into()),
    };
    let storage = Storage::open(location).await?;
    let backend = storage.backend();
    let api = Api::new(backend.clone(), http_config(&args, storage.dir()));
    // On an early error the store closes as it is dropped (nothing is queued yet).
    let listener = rollout_http::bind(args.http_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.http_addr))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let (stop, stopping) = watch::channel(false);
    let cluster = (args.dev && args.dev_scheduler == DevScheduler::Sim).then(|| {
        dev_cluster::spawn(
            backend.clone(),
            LiveConfig::dev(dev_cluster::seed()),
            stopping.clone(),
        )
    });
    tracing::info!(
        addr = %addr,
        dev = args.dev,
        scheduler = scheduler_name(&args),
        acl = args.acl_enabled,
        data_dir = %storage.dir().display(),
        "listening"
    );
    let signal = {
        let stop = stop.clone();
        async move {
            signalled.await;
            stop.send_replace(true);
        }
    };
    let served = serve(listener, api, signal).await;
    // The server may also have stopped on an I/O error: stop the cluster either way.
    stop.send_replace(true);
    if let Some(cluster) = cluster {
        if let Err(e) = cluster.await {
            tracing::error!(error = %e, "dev cluster task failed");
        }
    }
    drop(backend);
    storage.close().await;
    served.map_err(|e| format!("HTTP server failed: {e}"))
}

/// The HTTP layer's settings: ACLs, and Nomad's bootstrap reset file in the data dir.
fn http_config(args: &AgentArgs, data_dir: &std::path::Path) -> Config {
    Config {
        acl_enabled: args.acl_enabled,
        acl_bootstrap_reset_file: Some(data_dir.join("acl-bootstrap-reset")),
        ..Config::default()
    }
}

/// Who schedules, for the startup line.
fn scheduler_name(args: &AgentArgs) -> &'static str {
    match (args.dev, args.dev_scheduler) {
        (true, DevScheduler::Sim) => "dev-cluster",
        _ => "external",
    }
}

/// Starts listening for SIGINT and SIGTERM now and returns a future that resolves on the
/// first of them. The handlers are installed before the agent says it is listening, so
/// a supervisor that signals as soon as it sees that line gets a clean shutdown, not the
/// default action (death).
fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| format!("cannot listen for {name}: {e}"))
        };
        let mut interrupt = listen(SignalKind::interrupt(), "SIGINT")?;
        let mut terminate = listen(SignalKind::terminate(), "SIGTERM")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => tracing::info!("received SIGINT"),
                _ = terminate.recv() => tracing::info!("received SIGTERM"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %e, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
            tracing::info!("received Ctrl-C");
        })
    }
}
