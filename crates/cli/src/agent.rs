//! `rollout agent`: opens the store, starts the HTTP API and (in dev mode) the simulated
//! cluster, and shuts everything down in order on SIGINT/SIGTERM.
//!
//! Shutdown order matters for R5 and for clients. At the signal the API stops accepting
//! connections and answers blocked queries with what it has, while in-flight writes run
//! to their fsync, and the dev cluster stops once the command it is submitting is
//! answered. When both are done the store commits whatever is still queued and closes;
//! last, a dev agent's temporary directory is deleted.

use crate::dev_cluster;
use crate::storage::{Location, Storage, StoreSettings};
use clap::{Args, ValueEnum};
use rollout_http::{serve, AgentIdentity, Api, Config, RequestLimits};
use rollout_sim::LiveConfig;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Development mode: ACLs off and a simulated scheduler and clients (see
    /// --dev-scheduler); the store in a temporary directory (deleted on exit) unless
    /// --data-dir names one to keep.
    #[arg(long)]
    dev: bool,
    /// Where the durable store keeps its log and snapshots (required without --dev; with
    /// --dev, a dev cluster whose state survives restarts).
    #[arg(long, value_name = "DIR", required_unless_present = "dev")]
    data_dir: Option<PathBuf>,
    /// On damage found at start, set the damaged part aside and start from the last good
    /// entry instead of refusing to start (what was dropped is logged).
    #[arg(long, requires = "data_dir")]
    recover_to_last_good: bool,
    /// Address of the HTTP API (`127.0.0.1:0` picks a free port; the log says which).
    #[arg(long, value_name = "ADDR", default_value = rollout_http::DEFAULT_ADDR)]
    http_addr: SocketAddr,
    /// Log verbosity (`RUST_LOG`, when set, wins: e.g. `RUST_LOG=rollout_http=debug`).
    #[arg(long, value_name = "LEVEL", value_enum, default_value_t = LogLevel::Info)]
    log_level: LogLevel,
    /// `text` for people, `json` for log shippers (one object per line).
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// The region this agent serves (Nomad's `-region`); requests naming another one
    /// are answered `No path to region`.
    #[arg(long, value_name = "REGION", default_value = "global")]
    region: String,
    /// The agent's datacenter (Nomad's `-dc`).
    #[arg(
        long = "dc",
        visible_alias = "datacenter",
        value_name = "DC",
        default_value = "dc1"
    )]
    datacenter: String,
    /// The agent's name (Nomad's `-node`; the host name by default).
    #[arg(long, visible_alias = "node", value_name = "NAME")]
    node_name: Option<String>,
    /// Enforce ACLs: tokens and policies (`rollout acl bootstrap` to start). Off by
    /// default, in dev mode too.
    #[arg(long)]
    acl_enabled: bool,
    /// Who plays scheduler and clients in dev mode.
    #[arg(long, value_enum, default_value_t = DevScheduler::Sim, requires = "dev")]
    dev_scheduler: DevScheduler,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    gc: GcArgs,
    #[command(flatten)]
    history: HistoryArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// How far back the past reaches (docs/history.md, "Retention").
#[derive(Debug, Args)]
#[command(next_help_heading = "History")]
struct HistoryArgs {
    /// How much of the command log to keep below the newest snapshot, as a number of
    /// entries (`100000`) or an age (`72h`): time travel (`at_index`), deployment history,
    /// `rollout replay` and `rollout log export` reach exactly that far. The history of
    /// every deployment still in the state is kept whatever this says.
    #[arg(long, value_name = "ENTRIES|DURATION", value_parser = log_retention, default_value = "10000")]
    log_retention: rollout_store::LogRetention,
}

/// A replicated cluster (docs/cluster.md): Nomad's server flags.
#[derive(Debug, Args)]
#[command(next_help_heading = "Cluster")]
struct ClusterArgs {
    /// Run as a member of a Raft cluster whose peers reach this one at ADDR (Nomad's RPC
    /// address). Needs --data-dir and --cluster-secret-file.
    #[arg(long, value_name = "ADDR", requires_all = ["data_dir", "cluster_secret_file"])]
    cluster_addr: Option<SocketAddr>,
    /// Bootstrap a new cluster once this many servers found each other (Nomad's
    /// -bootstrap-expect); ignored by a member that already belongs to one.
    #[arg(long, value_name = "N", value_parser = positive, default_value = "1", requires = "cluster_addr")]
    bootstrap_expect: usize,
    /// The cluster address of another server to find (repeatable; Nomad's -retry-join).
    #[arg(long, value_name = "ADDR", requires = "cluster_addr")]
    retry_join: Vec<String>,
    /// A file holding the secret every member shares; a process without it cannot
    /// join, vote or append.
    #[arg(long, value_name = "FILE", requires = "cluster_addr")]
    cluster_secret_file: Option<PathBuf>,
}

/// Garbage collection of finished objects (Nomad's `*_gc_interval` / `*_gc_threshold`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Garbage collection")]
struct GcArgs {
    /// How often to look for finished objects to remove (Go duration: `5m`, `30s`).
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "5m")]
    gc_interval: Duration,
    /// Terminal deployments older than this are removed (Nomad's deployment_gc_threshold).
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "1h")]
    deployment_gc_threshold: Duration,
    /// Finished evaluations and allocations older than this are removed (eval_gc_threshold).
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "1h")]
    eval_gc_threshold: Duration,
}

/// The agent's bounds (crates/http/README.md, "Limits"): what one request, one client and
/// a burst may make it hold. Defaults are `rollout_http::Config::default()`'s.
#[derive(Debug, Args)]
#[command(next_help_heading = "Limits")]
struct LimitArgs {
    /// Largest request body (413 beyond).
    #[arg(long, value_name = "BYTES", value_parser = positive, default_value = "8388608")]
    max_body_bytes: usize,
    /// Largest job registration body (413 beyond).
    #[arg(long, value_name = "BYTES", value_parser = positive, default_value = "4194304")]
    max_job_spec_bytes: usize,
    /// Task groups in one job (400 beyond).
    #[arg(long, value_name = "N", value_parser = positive, default_value = "256")]
    max_job_groups: usize,
    /// Tasks in one job, all groups together (400 beyond).
    #[arg(long, value_name = "N", value_parser = positive, default_value = "1024")]
    max_job_tasks: usize,
    /// A task group's Count and Canary (400 beyond).
    #[arg(long, value_name = "N", value_parser = positive, default_value = "10000")]
    max_group_count: usize,
    /// Allocation IDs in one allocation-health request (400 beyond).
    #[arg(long, value_name = "N", value_parser = positive, default_value = "1024")]
    max_ids_per_request: usize,
    /// Allocations in one plan result or client update (400 beyond).
    #[arg(long, value_name = "N", value_parser = positive, default_value = "10000")]
    max_plan_allocations: usize,
    /// Task groups the placements of one plan result name (400 beyond).
    #[arg(long, value_name = "N", value_parser = positive, default_value = "256")]
    max_plan_groups: usize,
    /// Bytes of a job ID, task group or task name (400 beyond).
    #[arg(long, value_name = "BYTES", value_parser = positive, default_value = "128")]
    max_name_bytes: usize,
    /// Longest `wait` of a blocking query; longer ones are clamped (Go duration).
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "10m")]
    max_query_wait: Duration,
    /// Blocking queries one client IP may have waiting (429 beyond).
    #[arg(long, value_name = "N", value_parser = positive, default_value = "512")]
    max_blocking_queries_per_client: usize,
    /// Requests worked on at once (503 beyond; blocking queries count while they compute).
    #[arg(long, value_name = "N", value_parser = positive, default_value = "1024")]
    max_concurrent_requests: usize,
    /// Open HTTP connections (a bare 503 and close beyond).
    #[arg(long, value_name = "N", value_parser = positive, default_value = "4096")]
    max_connections: usize,
    /// Open HTTP connections from one client IP (a bare 429 and close beyond).
    #[arg(long, value_name = "N", value_parser = positive, default_value = "1024")]
    max_connections_per_client: usize,
    /// Time to receive a request's headers; also the idle time of a kept-alive connection.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "10s")]
    header_read_timeout: Duration,
    /// Time to receive a whole request body (408 beyond).
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "30s")]
    body_read_timeout: Duration,
    /// Minimum average rate of a request body once --body-min-rate-grace has passed, in
    /// bytes per second (408 beyond; 0: none).
    #[arg(long, value_name = "BYTES", default_value = "1024")]
    body_min_rate: u64,
    /// How long a request body may take to get going before --body-min-rate applies.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "5s")]
    body_min_rate_grace: Duration,
    /// Time a response write may make no progress before the connection is closed.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "30s")]
    write_timeout: Duration,
    /// Time between `{}` heartbeat lines on an idle event stream.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "30s")]
    event_heartbeat: Duration,
    /// Writes an event stream subscriber may fall behind before it is disconnected (with
    /// the index to resume from).
    #[arg(long, value_name = "N", value_parser = positive, default_value = "4096")]
    event_buffer: usize,
    /// Commands queued for the store's writer (503 with Retry-After beyond).
    #[arg(long, value_name = "N", value_parser = positive, default_value = "8192")]
    store_queue_capacity: usize,
    /// Versions kept per job, as Nomad's `job_tracked_versions`. Fixed when the data
    /// directory is created; a different value on an existing one is ignored (logged),
    /// because replaying the log must give the same state.
    #[arg(long, value_name = "N", value_parser = positive, default_value = "6")]
    job_tracked_versions: usize,
}

/// A count or size of at least 1: a limit of 0 would refuse everything.
fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// `--log-retention`: a count of entries (digits only) or a Go duration.
fn log_retention(s: &str) -> Result<rollout_store::LogRetention, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map(rollout_store::LogRetention::Entries)
            .map_err(|e| format!("{e}"));
    }
    duration(s)
        .map(rollout_store::LogRetention::Age)
        .map_err(|_| format!("invalid log retention {s:?}: a number of entries (100000) or a duration (72h, 30m)"))
}

/// A positive Go duration (`500ms`, `10s`, `5m`).
fn duration(s: &str) -> Result<Duration, String> {
    match rollout_http::parse_go_duration(s) {
        Some(Some(d)) => Ok(d),
        Some(None) => Err("must be positive".into()),
        None => Err(format!(
            "invalid duration {s:?} (a unit is required: 500ms, 10s, 5m)"
        )),
    }
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
    init_logging(args.log_level, args.log_format);
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

/// The agent's log: to stderr, as text or one JSON object per line; `RUST_LOG` (an
/// `EnvFilter` directive list) overrides `--log-level` when it is set and valid.
fn init_logging(level: LogLevel, format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    // openraft narrates every election and replication step at INFO: its warnings
    // are what an operator needs.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{},openraft=warn",
            tracing::Level::from(level).as_str()
        ))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `message` and the fields.
    Json,
}

async fn run(args: AgentArgs) -> Result<(), String> {
    let signalled = shutdown_signal()?;
    let _file_size_limit = survive_file_size_limit()?;
    let location = match (&args.data_dir, args.dev) {
        (Some(path), _) => Location::Dir {
            path: path.clone(),
            recover_to_last_good: args.recover_to_last_good,
        },
        (None, true) => Location::Temporary,
        (None, false) => return Err("--data-dir is required without --dev".into()),
    };
    let settings = StoreSettings {
        queue_capacity: args.limits.store_queue_capacity,
        job_tracked_versions: args.limits.job_tracked_versions,
        log_retention: args.history.log_retention,
    };
    crate::fd_limit::ensure_and_log(args.limits.max_connections);
    let (stop, stopping) = watch::channel(false);
    let home = Home::open(&args, location, settings, stopping.clone()).await?;
    let backend = home.backend();
    let api = Api::new(backend.clone(), http_config(&args, home.dir()));
    // On an early error the store closes as it is dropped (nothing is queued yet).
    let listener = rollout_http::bind(args.http_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.http_addr))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let cluster = (args.dev && args.dev_scheduler == DevScheduler::Sim).then(|| {
        dev_cluster::spawn(
            backend.clone(),
            LiveConfig::dev(dev_cluster::seed()),
            stopping.clone(),
        )
    });
    let collector = crate::gc::spawn(
        backend.clone(),
        crate::gc::GcSettings {
            interval: args.gc.gc_interval,
            deployment_threshold: args.gc.deployment_gc_threshold,
            eval_threshold: args.gc.eval_gc_threshold,
        },
        stopping.clone(),
    );
    tracing::info!(
        addr = %addr,
        dev = args.dev,
        scheduler = scheduler_name(&args),
        acl = args.acl_enabled,
        data_dir = %home.dir().display(),
        cluster = args.cluster.cluster_addr.is_some(),
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
    if let Err(e) = collector.await {
        tracing::error!(error = %e, "garbage collector task failed");
    }
    drop(backend);
    home.close().await;
    served.map_err(|e| format!("HTTP server failed: {e}"))
}

/// Where the engine state lives: the durable store of a single agent, or a member of
/// a replicated cluster.
enum Home {
    Single(Storage),
    Member {
        member: crate::cluster_member::Member,
        dir: PathBuf,
    },
}

impl Home {
    async fn open(
        args: &AgentArgs,
        location: Location,
        settings: StoreSettings,
        stopping: watch::Receiver<bool>,
    ) -> Result<Home, String> {
        let (Some(cluster_addr), Some(secret_file), Some(dir)) = (
            args.cluster.cluster_addr,
            args.cluster.cluster_secret_file.clone(),
            args.data_dir.clone(),
        ) else {
            if let Some(dir) = &args.data_dir {
                refuse_a_members_dir_for_a_single_agent(dir)?;
            }
            return Ok(Home::Single(Storage::open(location, settings).await?));
        };
        refuse_a_single_agents_dir_for_a_new_member(&dir)?;
        let engine_config = rollout_engine::EngineConfig {
            job_tracked_versions: settings.job_tracked_versions,
        };
        let log_retention_entries = match settings.log_retention {
            rollout_store::LogRetention::Entries(n) => n,
            rollout_store::LogRetention::Age(_) => {
                return Err("--log-retention as a duration is not supported with --cluster-addr yet: give a number of entries".into())
            }
        };
        let member = crate::cluster_member::Member::start(
            crate::cluster_member::MemberSettings {
                data_dir: dir.clone(),
                cluster_addr,
                secret_file,
                bootstrap_expect: args.cluster.bootstrap_expect,
                retry_join: args.cluster.retry_join.clone(),
                engine_config,
                log_retention_entries,
            },
            stopping,
        )
        .await?;
        Ok(Home::Member { member, dir })
    }

    fn backend(&self) -> std::sync::Arc<dyn rollout_http::Backend> {
        match self {
            Home::Single(storage) => storage.backend(),
            Home::Member { member, .. } => member.backend(),
        }
    }

    fn dir(&self) -> &std::path::Path {
        match self {
            Home::Single(storage) => storage.dir(),
            Home::Member { dir, .. } => dir,
        }
    }

    async fn close(self) {
        match self {
            Home::Single(storage) => storage.close().await,
            Home::Member { member, .. } => member.close().await,
        }
    }
}

/// A single agent and a cluster member keep their state in different files of a data
/// directory (the store's `rollout.redb`; a member's `cluster/`). Starting one kind over
/// the other's directory would start from an empty state and leave the real one unseen,
/// so the agent refuses, saying what to do.
fn refuse_a_members_dir_for_a_single_agent(dir: &std::path::Path) -> Result<(), String> {
    if dir.join(crate::cluster_member::CLUSTER_DIR).is_dir() {
        return Err(format!(
            "{} is a cluster member's data directory (it has cluster/): start it with \
             --cluster-addr and --cluster-secret-file, or give a single agent another --data-dir",
            dir.display()
        ));
    }
    Ok(())
}

/// See [`refuse_a_members_dir_for_a_single_agent`]. A member that already has its
/// `cluster/` directory is a restart and may keep a store left beside it.
fn refuse_a_single_agents_dir_for_a_new_member(dir: &std::path::Path) -> Result<(), String> {
    let store = dir.join(rollout_store::DB_FILE);
    if store.is_file() && !dir.join(crate::cluster_member::CLUSTER_DIR).exists() {
        return Err(format!(
            "{} holds a single agent's store ({}): a new cluster member would start empty \
             and leave that state behind. Give the member another --data-dir (keep the single \
             agent's commands with `rollout log export --data-dir {}`), or run the single \
             agent without --cluster-addr",
            dir.display(),
            rollout_store::DB_FILE,
            dir.display()
        ));
    }
    Ok(())
}

/// The HTTP layer's settings: ACLs, Nomad's bootstrap reset file in the data dir, and the
/// limits.
fn http_config(args: &AgentArgs, data_dir: &std::path::Path) -> Config {
    let l = &args.limits;
    Config {
        max_body_bytes: l.max_body_bytes,
        limits: RequestLimits {
            max_job_spec_bytes: l.max_job_spec_bytes,
            max_job_groups: l.max_job_groups,
            max_job_tasks: l.max_job_tasks,
            max_group_count: i64::try_from(l.max_group_count).unwrap_or(i64::MAX),
            max_ids_per_request: l.max_ids_per_request,
            max_plan_allocations: l.max_plan_allocations,
            max_plan_groups: l.max_plan_groups,
            max_name_bytes: l.max_name_bytes,
        },
        max_query_wait: l.max_query_wait,
        max_blocking_queries_per_client: l.max_blocking_queries_per_client,
        max_concurrent_requests: l.max_concurrent_requests,
        max_connections: l.max_connections,
        max_connections_per_client: l.max_connections_per_client,
        header_read_timeout: l.header_read_timeout,
        body_read_timeout: l.body_read_timeout,
        body_min_rate_bytes_per_second: l.body_min_rate,
        body_min_rate_grace: l.body_min_rate_grace,
        write_timeout: l.write_timeout,
        acl_enabled: args.acl_enabled,
        acl_bootstrap_reset_file: Some(data_dir.join("acl-bootstrap-reset")),
        event_heartbeat: l.event_heartbeat,
        event_buffer: l.event_buffer,
        identity: AgentIdentity {
            region: args.region.clone(),
            datacenter: args.datacenter.clone(),
            node_name: args.node_name.clone().unwrap_or_else(host_name),
        },
    }
}

/// The machine's host name, Nomad's default node name (`rollout` where it cannot be
/// read).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "rollout".to_string())
}

/// Who schedules, for the startup line.
fn scheduler_name(args: &AgentArgs) -> &'static str {
    match (args.dev, args.dev_scheduler) {
        (true, DevScheduler::Sim) => "dev-cluster",
        _ => "external",
    }
}

/// A file size limit (`ulimit -f`, systemd's `LimitFSIZE=`) must make the write that
/// crosses it fail (EFBIG) — a failed commit the store survives and recovers from once the
/// limit is raised — rather than kill the agent, which SIGXFSZ's default action does.
/// Handling the signal (and ignoring it) is what turns it into an error.
/// The returned handle keeps the handler installed.
fn survive_file_size_limit() -> Result<Box<dyn std::any::Any + Send>, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        signal(SignalKind::from_raw(libc::SIGXFSZ))
            .map(|s| Box::new(s) as Box<dyn std::any::Any + Send>)
            .map_err(|e| format!("cannot handle SIGXFSZ: {e}"))
    }
    #[cfg(not(unix))]
    Ok(Box::new(()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        agent: AgentArgs,
    }

    /// The flags' defaults are written out for `--help`; they must be the library's.
    #[test]
    fn log_retention_is_a_count_of_entries_or_a_duration() {
        use rollout_store::LogRetention;
        assert_eq!(log_retention("100000"), Ok(LogRetention::Entries(100_000)));
        assert_eq!(log_retention("0"), Ok(LogRetention::Entries(0)));
        assert_eq!(
            log_retention("72h"),
            Ok(LogRetention::Age(Duration::from_secs(72 * 3600)))
        );
        assert_eq!(
            log_retention("1h30m"),
            Ok(LogRetention::Age(Duration::from_secs(5400)))
        );
        for bad in ["", "-5", "12 entries", "3d"] {
            let e = log_retention(bad).unwrap_err();
            assert!(
                e.contains("a number of entries (100000) or a duration"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn limit_flag_defaults_are_the_libraries_defaults() {
        let cli = Cli::parse_from(["rollout", "--dev"]);
        let dir = std::path::Path::new("/data");
        let expected = Config {
            acl_bootstrap_reset_file: Some(dir.join("acl-bootstrap-reset")),
            identity: AgentIdentity {
                node_name: host_name(),
                ..AgentIdentity::default()
            },
            ..Config::default()
        };
        assert_eq!(
            format!("{:?}", http_config(&cli.agent, dir)),
            format!("{expected:?}")
        );
        let store = rollout_store::Options::default();
        assert_eq!(cli.agent.history.log_retention, store.log_retention);
        assert_eq!(cli.agent.limits.store_queue_capacity, store.queue_capacity);
        assert_eq!(
            cli.agent.limits.job_tracked_versions,
            store.engine_config.job_tracked_versions
        );
    }
}
