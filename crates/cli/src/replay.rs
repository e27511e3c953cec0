//! `rollout log export` and `rollout replay`: the command log as a file anyone can keep,
//! diff and replay, and the exact state it rebuilds (docs/log-export.md).
//!
//! The engine is deterministic: the same envelopes give the same state, byte for byte.
//! So an export of a stopped agent's log, replayed anywhere, prints the fingerprint the
//! agent's own state has, and can stop at any index to show what the agent showed then.

use clap::{Args, Subcommand};
use rollout_engine::{apply, EngineConfig, Envelope, State};
use rollout_sim::what_if::{continue_from, Assumption, WhatIf};
use rollout_store::codec::state_fingerprint;
use rollout_store::{Options, Store, DB_FILE};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use uuid::Uuid;

/// The export format this build writes and reads.
pub const EXPORT_FORMAT: &str = "rollout-log-export";
pub const EXPORT_VERSION: u32 = 1;

/// The first line of an export.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Header {
    format: String,
    version: u32,
    /// The initial state's configuration: replay from index 1 starts from it.
    engine_config: EngineConfig,
    /// The first and last index exported.
    first_index: u64,
    last_index: u64,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    #[command(subcommand)]
    command: LogCommand,
}

#[derive(Debug, Subcommand)]
enum LogCommand {
    /// Write a stopped agent's command log as newline-delimited JSON (a header line,
    /// then one stamped command per line), and print its state's fingerprint.
    Export {
        /// The agent's data directory (the agent must not be running).
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// First index to export (default: the log's first).
        #[arg(long, value_name = "N")]
        from: Option<u64>,
        /// Last index to export (default: the last).
        #[arg(long, value_name = "M")]
        to: Option<u64>,
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// An export written by `rollout log export`.
    file: PathBuf,
    /// Stop after this index.
    #[arg(long, value_name = "N")]
    to: Option<u64>,
    /// Print this deployment (JSON) as it is at the end of the replay.
    #[arg(long, value_name = "ID")]
    print_deployment: Option<Uuid>,
    /// Then continue the replayed state in the simulator (scheduler and clients on a
    /// virtual clock) and print what happens, until nothing more would.
    #[arg(long)]
    simulate: bool,
    /// With --simulate: what the allocations do (healthy, canary-fails, unhealthy,
    /// node-lost@DURATION).
    #[arg(
        long,
        value_name = "ASSUMPTION",
        default_value = "healthy",
        requires = "simulate"
    )]
    assume: Assumption,
    /// With --simulate: seeds the simulated cluster's choices.
    #[arg(long, default_value_t = 1, requires = "simulate")]
    seed: u64,
    /// With --simulate: the longest virtual time to simulate (a Go duration).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "1h",
        requires = "simulate"
    )]
    horizon: String,
}

/// A state's fingerprint: BLAKE2b-256 of its canonical encoding (the snapshot codec's),
/// in hex. Equal fingerprints mean byte-identical states.
pub fn fingerprint(state: &State) -> Result<String, String> {
    state_fingerprint(state).map_err(|e| format!("encoding the state: {e}"))
}

pub fn log_main(args: LogArgs) -> ExitCode {
    let result = match args.command {
        LogCommand::Export {
            data_dir,
            from,
            to,
            output,
        } => export(&data_dir, from, to, output.as_deref()),
    };
    finish(result)
}

pub fn replay_main(args: ReplayArgs) -> ExitCode {
    finish(replay(&args))
}

fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn export(
    dir: &Path,
    from: Option<u64>,
    to: Option<u64>,
    output: Option<&Path>,
) -> Result<(), String> {
    if !dir.join(DB_FILE).exists() {
        return Err(format!(
            "{} holds no rollout store (no {DB_FILE}); pass the agent's --data-dir",
            dir.display()
        ));
    }
    let options = Options {
        snapshot_every_entries: 0,
        snapshot_every_bytes: 0,
        ..Options::default()
    };
    let store = Store::open(dir, options).map_err(|e| {
        format!(
            "opening {} (is the agent still running?): {e}",
            dir.display()
        )
    })?;
    let state = store.state();
    let last = to.unwrap_or(state.index()).min(state.index());
    let first_logged = store
        .read_log(0, 1)
        .map_err(|e| e.to_string())?
        .first()
        .map_or(last + 1, |e| e.index);
    let first = from.unwrap_or(first_logged).max(first_logged);
    let header = Header {
        format: EXPORT_FORMAT.into(),
        version: EXPORT_VERSION,
        engine_config: state.config().clone(),
        first_index: first,
        last_index: last,
    };
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(BufWriter::new(
            std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let write_err = |e: std::io::Error| format!("writing the export: {e}");
    let line = serde_json::to_string(&header).map_err(|e| e.to_string())?;
    writeln!(out, "{line}").map_err(write_err)?;
    let mut next = first;
    let mut count = 0u64;
    while next <= last {
        let chunk = store.read_log(next, 1024).map_err(|e| e.to_string())?;
        if chunk.is_empty() {
            break;
        }
        for envelope in chunk.iter().take_while(|e| e.index <= last) {
            let line = serde_json::to_string(envelope).map_err(|e| e.to_string())?;
            writeln!(out, "{line}").map_err(write_err)?;
            count += 1;
        }
        next = chunk.last().map_or(last + 1, |e| e.index + 1);
    }
    out.flush().map_err(write_err)?;
    eprintln!(
        "exported {count} commands (index {first}..{last}); state at index {}: fingerprint {}",
        state.index(),
        fingerprint(&state)?
    );
    Ok(())
}

fn replay(args: &ReplayArgs) -> Result<(), String> {
    let file =
        std::fs::File::open(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?;
    let mut lines = BufReader::new(file).lines();
    let where_ = |n: usize| format!("{}:{n}", args.file.display());
    let first = lines
        .next()
        .ok_or_else(|| format!("{}: empty file", where_(1)))?
        .map_err(|e| format!("{}: {e}", where_(1)))?;
    let header: Header = serde_json::from_str(&first)
        .map_err(|e| format!("{}: not a rollout log export header: {e}", where_(1)))?;
    if header.format != EXPORT_FORMAT || header.version > EXPORT_VERSION {
        return Err(format!(
            "{}: format {:?} version {}; this build reads {EXPORT_FORMAT:?} up to version {EXPORT_VERSION}",
            where_(1),
            header.format,
            header.version
        ));
    }
    if header.first_index > 1 {
        return Err(format!(
            "the export starts at index {}; a replay needs the log from index 1 (the agent's log was truncated after a snapshot, or --from was given)",
            header.first_index
        ));
    }
    let mut state = State::with_config(header.engine_config);
    for (n, line) in lines.enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", where_(n + 2)))?;
        let envelope: Envelope = serde_json::from_str(&line)
            .map_err(|e| format!("{}: not a stamped command: {e}", where_(n + 2)))?;
        if args.to.is_some_and(|to| envelope.index > to) {
            break;
        }
        state = apply(&state, &envelope)
            .map_err(|e| {
                format!(
                    "{}: index {} does not replay: {e}",
                    where_(n + 2),
                    envelope.index
                )
            })?
            .0;
    }
    println!(
        "index {} fingerprint {}",
        state.index(),
        fingerprint(&state)?
    );
    if let Some(id) = args.print_deployment {
        let d = state
            .deployment(&id)
            .ok_or_else(|| format!("no deployment {id} at index {}", state.index()))?;
        let text = serde_json::to_string_pretty(d).map_err(|e| e.to_string())?;
        println!("{text}");
    }
    if args.simulate {
        simulate(state, args)?;
    }
    Ok(())
}

/// `--simulate`: the replayed state continued by the simulated cluster until nothing
/// more happens (or the horizon passes), told as a timeline; then the state it reaches.
fn simulate(state: State, args: &ReplayArgs) -> Result<(), String> {
    let horizon_ns = rollout_engine::model::parse_go_duration(&args.horizon)
        .ok()
        .filter(|ns| *ns > 0)
        .ok_or_else(|| {
            format!(
                "invalid --horizon {:?}: use a duration such as 10m",
                args.horizon
            )
        })?;
    let what = WhatIf {
        assumption: args.assume.clone(),
        seed: args.seed,
        horizon_ns,
        job: None,
    };
    let from = state.index();
    println!("simulated from index {from}, assuming {}:", args.assume);
    let run = continue_from(state, &what, |_| false);
    for e in &run.entries {
        println!("{e}");
    }
    println!(
        "simulation ended ({}) after {} of virtual time: index {} fingerprint {}",
        format!("{:?}", run.end).to_lowercase(),
        crate::output::span((run.elapsed_ns / 1_000_000_000).max(0) as u64),
        run.state.index(),
        fingerprint(&run.state)?
    );
    Ok(())
}
