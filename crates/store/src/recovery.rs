//! Opening a store: newest valid snapshot + replay of the log tail through the engine.
//!
//! Everything read is checked before it is trusted: the database file (redb's page
//! checksums, when `verify_file_on_open`), the metadata, each snapshot (magic, version,
//! length, CRC, index), and each log record (version, CRC, key = envelope index,
//! contiguity, and that the engine accepts it again). The first problem stops the open
//! with a [`Corruption`] naming the file, the index and the remedy. With
//! `recover_to_last_good`, the damaged part is set aside (`*.corrupt`) and the store
//! opens at the last good entry; what was discarded is listed in the report.

use crate::codec::{self, decode_log_record};
use crate::error::{Corruption, OpenError, Problem};
use crate::faults::FaultPlan;
use crate::log::{self, meta_key, LOG, META, STORE_FORMAT};
use crate::snapshot::{self, LoadError};
use crate::Options;
use redb::{
    Builder, Database, DatabaseError, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    StorageError,
};
use rollout_engine::{apply, EngineConfig, State};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The database file inside the store directory.
pub const DB_FILE: &str = "rollout.redb";

/// What an open found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The index of the snapshot recovery started from, if any.
    pub snapshot_index: Option<u64>,
    pub snapshot_load: Duration,
    /// Log entries applied after the snapshot.
    pub entries_replayed: u64,
    pub replay: Duration,
    /// The whole open, including redb's own checks.
    pub total: Duration,
    /// The recovered state's index.
    pub index: u64,
    /// Damage repaired because `recover_to_last_good` was set (empty otherwise).
    pub repairs: Vec<Repair>,
}

/// One repair made by `recover_to_last_good`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repair {
    pub corruption: Corruption,
    /// What was done, in words (which files were set aside, which entries dropped).
    pub action: String,
}

pub(crate) struct Recovered {
    pub db: Database,
    pub state: State,
    pub truncated_through: u64,
    pub last_now: i64,
    pub report: RecoveryReport,
}

struct Meta {
    engine_config: EngineConfig,
    truncated_through: u64,
}

pub(crate) fn recover(dir: &Path, options: &Options) -> Result<Recovered, OpenError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    snapshot::remove_stale_temp_files(dir).map_err(io(dir))?;
    recover_files(dir, options)
}

/// Recovery in a running store, after a failed commit: the same checks as an open, on a
/// directory that must already hold a store, leaving the snapshot thread's temp files.
pub(crate) fn reopen(dir: &Path, options: &Options) -> Result<Recovered, OpenError> {
    let db_path = dir.join(DB_FILE);
    if !db_path.exists() {
        return Err(OpenError::Io {
            path: db_path,
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    recover_files(dir, options)
}

fn recover_files(dir: &Path, options: &Options) -> Result<Recovered, OpenError> {
    let started = Instant::now();
    let db_path = dir.join(DB_FILE);
    let mut repairs = Vec::new();

    let db = open_db(&db_path, options, &mut repairs)?;
    let meta = read_or_init_meta(&db, &db_path, options)?;

    let snapshot_started = Instant::now();
    let base = load_snapshot(dir, &db, &db_path, &meta, options, &mut repairs)?;
    let snapshot_index = base.as_ref().map(State::index);
    let snapshot_load = snapshot_started.elapsed();
    let base = base.unwrap_or_else(|| State::with_config(meta.engine_config.clone()));

    let replay_started = Instant::now();
    let (state, entries_replayed, last_now) = replay(&db, &db_path, base, options, &mut repairs)?;
    let replay = replay_started.elapsed();

    let report = RecoveryReport {
        snapshot_index,
        snapshot_load,
        entries_replayed,
        replay,
        total: started.elapsed(),
        index: state.index(),
        repairs,
    };
    Ok(Recovered {
        db,
        state,
        truncated_through: meta.truncated_through,
        last_now,
        report,
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OpenError {
    let path = path.to_path_buf();
    move |source| OpenError::Io { path, source }
}

fn storage(path: &Path) -> impl FnOnce(redb::Error) -> OpenError {
    let path = path.to_path_buf();
    move |source| OpenError::Storage { path, source }
}

fn corrupt(
    file: &Path,
    index: Option<u64>,
    problem: Problem,
    last_good: Option<u64>,
) -> Corruption {
    Corruption {
        file: file.to_path_buf(),
        index,
        problem,
        last_good,
    }
}

fn builder(options: &Options, verify: bool) -> Builder {
    let mut b = Builder::new();
    b.set_cache_size(options.cache_bytes)
        .set_check_integrity_on_open(verify);
    b
}

/// Opens (or initialises) the database file at `path`, through the fault plan's backend
/// when one is set.
pub(crate) fn create_db(
    b: &Builder,
    path: &Path,
    faults: Option<&Arc<FaultPlan>>,
) -> Result<Database, DatabaseError> {
    let Some(plan) = faults else {
        return b.create(path);
    };
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    b.create_with_backend(plan.backend(file)?)
}

/// Opens (or creates) the database. A file that fails redb's integrity check is reported
/// with the first damaged log index a read-only scan can find; with
/// `recover_to_last_good`, its readable prefix is copied into a fresh file.
fn open_db(
    path: &Path,
    options: &Options,
    repairs: &mut Vec<Repair>,
) -> Result<Database, OpenError> {
    let message = match create_db(
        &builder(options, options.verify_file_on_open),
        path,
        options.faults.as_ref(),
    ) {
        Ok(db) => return Ok(db),
        Err(DatabaseError::Storage(StorageError::Corrupted(message))) => message,
        Err(e) => return Err(storage(path)(e.into())),
    };
    let scan = scan_readable_prefix(path, options);
    let last_good = scan.as_ref().ok().map(|s| s.last_good);
    let index = last_good.map(|g| g + 1);
    let corruption = corrupt(path, index, Problem::Database(message), last_good);
    if !options.recover_to_last_good {
        return Err(OpenError::Corrupt(Box::new(corruption)));
    }
    let Ok(scan) = scan else {
        return Err(OpenError::Unrecoverable(Box::new(corruption)));
    };
    let action = salvage(path, options, &scan)?;
    repairs.push(Repair { corruption, action });
    create_db(&builder(options, true), path, options.faults.as_ref())
        .map_err(|e| storage(path)(e.into()))
}

/// The readable part of a damaged database: its metadata and log records up to the first
/// one that fails to read or decode.
struct Scan {
    meta: Vec<(String, Vec<u8>)>,
    records: Vec<(u64, Vec<u8>)>,
    last_good: u64,
}

/// Reads a damaged file without redb's verification. A damaged page can make redb panic
/// rather than return an error, so the scan runs under `catch_unwind`: this explicit
/// diagnosis path is the only place the store tolerates a panic from a dependency.
fn scan_readable_prefix(path: &Path, options: &Options) -> Result<Scan, String> {
    let cache = options.cache_bytes;
    let path = path.to_path_buf();
    let scan = std::panic::catch_unwind(move || -> Result<Scan, String> {
        let mut b = Builder::new();
        b.set_cache_size(cache);
        let db = b.open_read_only(&path).map_err(|e| e.to_string())?;
        let txn = db.begin_read().map_err(|e| e.to_string())?;
        let meta_table = txn.open_table(META).map_err(|e| e.to_string())?;
        let mut meta = Vec::new();
        for item in meta_table.iter().map_err(|e| e.to_string())? {
            let (k, v) = item.map_err(|e| e.to_string())?;
            meta.push((k.value().to_string(), v.value().to_vec()));
        }
        let log_table = txn.open_table(LOG).map_err(|e| e.to_string())?;
        let mut records = Vec::new();
        let mut last_good = 0;
        let iter = log_table.iter().map_err(|e| e.to_string())?;
        for item in iter {
            let Ok((k, v)) = item else { break };
            let key = k.value();
            let contiguous = records.is_empty() || key == last_good + 1;
            let valid = decode_log_record(v.value()).is_ok_and(|env| env.index == key);
            if !contiguous || !valid {
                break;
            }
            records.push((key, v.value().to_vec()));
            last_good = key;
        }
        if records.is_empty() {
            last_good = meta
                .iter()
                .find(|(k, _)| k == meta_key::TRUNCATED_THROUGH)
                .and_then(|(_, v)| log::meta_u64(v))
                .unwrap_or(0);
        }
        Ok(Scan {
            meta,
            records,
            last_good,
        })
    });
    scan.unwrap_or_else(|_| Err("redb panicked reading the damaged file".to_string()))
}

/// Writes the scan into a fresh database, sets the damaged file aside, and puts the fresh
/// one in its place.
fn salvage(path: &Path, options: &Options, scan: &Scan) -> Result<String, OpenError> {
    let fresh = path.with_extension("redb.salvage");
    if fresh.exists() {
        fs::remove_file(&fresh).map_err(io(&fresh))?;
    }
    {
        let db = builder(options, false)
            .create(&fresh)
            .map_err(|e| storage(&fresh)(e.into()))?;
        let txn = db.begin_write().map_err(|e| storage(&fresh)(e.into()))?;
        for (k, v) in &scan.meta {
            log::put_meta_bytes(&txn, k, v).map_err(storage(&fresh))?;
        }
        log::append(&txn, &scan.records).map_err(storage(&fresh))?;
        txn.commit().map_err(|e| storage(&fresh)(e.into()))?;
    }
    let aside = set_aside_path(path);
    fs::rename(path, &aside).map_err(io(path))?;
    fs::rename(&fresh, path).map_err(io(path))?;
    if let Some(dir) = path.parent() {
        snapshot::sync_dir(dir).map_err(io(dir))?;
    }
    Ok(format!(
        "kept {} readable log entries (through index {}) in a fresh database; the damaged file was moved to {}",
        scan.records.len(),
        scan.last_good,
        aside.display()
    ))
}

/// `<file>.corrupt`, or `<file>.corrupt.N` if that exists: earlier evidence is never
/// overwritten.
fn set_aside_path(path: &Path) -> PathBuf {
    let base = {
        let mut s = path.as_os_str().to_owned();
        s.push(".corrupt");
        PathBuf::from(s)
    };
    let mut candidate = base.clone();
    let mut n = 1;
    while candidate.exists() {
        let mut s = base.as_os_str().to_owned();
        s.push(format!(".{n}"));
        candidate = PathBuf::from(s);
        n += 1;
    }
    candidate
}

/// Checks the store format and loads the metadata, initialising it in a new database.
fn read_or_init_meta(db: &Database, path: &Path, options: &Options) -> Result<Meta, OpenError> {
    let st = storage(path);
    let txn = db.begin_write().map_err(|e| st(e.into()))?;
    let (format, config, truncated, log_empty) = {
        let meta = txn.open_table(META).map_err(|e| storage(path)(e.into()))?;
        let log_table = txn.open_table(LOG).map_err(|e| storage(path)(e.into()))?;
        (
            log::get_meta(&meta, meta_key::FORMAT).map_err(storage(path))?,
            log::get_meta(&meta, meta_key::ENGINE_CONFIG).map_err(storage(path))?,
            log::get_meta(&meta, meta_key::TRUNCATED_THROUGH).map_err(storage(path))?,
            log_table.is_empty().map_err(|e| storage(path)(e.into()))?,
        )
    };
    let bad_meta = |key: &'static str, reason: &str| {
        OpenError::Corrupt(Box::new(corrupt(
            path,
            None,
            Problem::Meta {
                key,
                reason: reason.to_string(),
            },
            None,
        )))
    };
    let Some(format) = format else {
        if !log_empty {
            return Err(bad_meta(
                meta_key::FORMAT,
                "missing, but the log has entries",
            ));
        }
        let config = codec::encode_meta(&options.engine_config)
            .map_err(|e| bad_meta(meta_key::ENGINE_CONFIG, &e.to_string()))?;
        log::put_meta_bytes(&txn, meta_key::FORMAT, &STORE_FORMAT.to_le_bytes())
            .map_err(storage(path))?;
        log::put_meta_bytes(&txn, meta_key::ENGINE_CONFIG, &config).map_err(storage(path))?;
        log::put_meta_u64(&txn, meta_key::TRUNCATED_THROUGH, 0).map_err(storage(path))?;
        txn.commit().map_err(|e| storage(path)(e.into()))?;
        return Ok(Meta {
            engine_config: options.engine_config.clone(),
            truncated_through: 0,
        });
    };
    // Nothing to write for an existing store.
    txn.abort().map_err(|e| storage(path)(e.into()))?;
    let format = <[u8; 4]>::try_from(format.as_slice())
        .map(u32::from_le_bytes)
        .map_err(|_| bad_meta(meta_key::FORMAT, "not a 4-byte number"))?;
    if format > STORE_FORMAT {
        return Err(OpenError::NewerFormat {
            path: path.to_path_buf(),
            found: format,
            supported: STORE_FORMAT,
        });
    }
    let engine_config = match config {
        Some(bytes) => codec::decode_meta(&bytes)
            .map_err(|e| bad_meta(meta_key::ENGINE_CONFIG, &e.to_string()))?,
        None => return Err(bad_meta(meta_key::ENGINE_CONFIG, "missing")),
    };
    let truncated_through = match truncated {
        Some(bytes) => log::meta_u64(&bytes)
            .ok_or_else(|| bad_meta(meta_key::TRUNCATED_THROUGH, "not an 8-byte number"))?,
        None => 0,
    };
    Ok(Meta {
        engine_config,
        truncated_through,
    })
}

/// The last index in the log, 0 if empty.
fn log_last_index(db: &Database, path: &Path) -> Result<u64, OpenError> {
    let txn = db.begin_read().map_err(|e| storage(path)(e.into()))?;
    let table = txn.open_table(LOG).map_err(|e| storage(path)(e.into()))?;
    let last = table.last().map_err(|e| storage(path)(e.into()))?;
    Ok(last.map_or(0, |(k, _)| k.value()))
}

/// The newest snapshot that decodes and is not older than the log's truncation point.
fn load_snapshot(
    dir: &Path,
    db: &Database,
    db_path: &Path,
    meta: &Meta,
    options: &Options,
    repairs: &mut Vec<Repair>,
) -> Result<Option<State>, OpenError> {
    let candidates = snapshot::list(dir).map_err(io(dir))?;
    let usable: Vec<_> = candidates
        .into_iter()
        .filter(|(index, _)| *index >= meta.truncated_through)
        .collect();
    for (i, (index, path)) in usable.iter().enumerate() {
        let problem = match snapshot::load(path, *index) {
            Ok(state) => return Ok(Some(state)),
            Err(LoadError::Io(e)) => return Err(io(path)(e)),
            Err(LoadError::Bad(problem)) => problem,
        };
        // An older snapshot (or the whole log) can stand in, and the log replays past it.
        let fallback = i + 1 < usable.len() || meta.truncated_through == 0;
        let last_good = if fallback {
            Some(log_last_index(db, db_path)?.max(usable.get(i + 1).map_or(0, |s| s.0)))
        } else {
            None
        };
        let corruption = corrupt(path, Some(*index), problem, last_good);
        if !options.recover_to_last_good {
            return Err(OpenError::Corrupt(Box::new(corruption)));
        }
        if !fallback {
            return Err(OpenError::Unrecoverable(Box::new(corruption)));
        }
        let aside = snapshot::set_aside(path).map_err(io(path))?;
        repairs.push(Repair {
            corruption,
            action: format!(
                "moved the snapshot to {}; recovering from an older snapshot or the log",
                aside.display()
            ),
        });
    }
    if meta.truncated_through > 0 {
        let corruption = corrupt(
            &dir.join(snapshot::file_name(meta.truncated_through)),
            Some(meta.truncated_through),
            Problem::MissingSnapshot {
                truncated_through: meta.truncated_through,
                newest_snapshot: None,
            },
            None,
        );
        return Err(if options.recover_to_last_good {
            OpenError::Unrecoverable(Box::new(corruption))
        } else {
            OpenError::Corrupt(Box::new(corruption))
        });
    }
    Ok(None)
}

/// Applies every log entry after `base`, checking each. Returns the state, the number
/// of entries replayed and the time of the last logged envelope.
fn replay(
    db: &Database,
    path: &Path,
    base: State,
    options: &Options,
    repairs: &mut Vec<Repair>,
) -> Result<(State, u64, i64), OpenError> {
    let mut state = base;
    let mut replayed = 0;
    let mut last_now = 0;
    let mut expected = state.index() + 1;
    let mut bad = None;
    {
        let txn = db.begin_read().map_err(|e| storage(path)(e.into()))?;
        let table = txn.open_table(LOG).map_err(|e| storage(path)(e.into()))?;
        if let Some((_, v)) = table.last().map_err(|e| storage(path)(e.into()))? {
            // The time floor for new envelopes, even when nothing needs replaying.
            last_now = decode_log_record(v.value()).map_or(0, |env| env.now);
        }
        let iter = table
            .range(expected..)
            .map_err(|e| storage(path)(e.into()))?;
        for item in iter {
            let (k, v) = match item {
                Ok(kv) => kv,
                Err(e) => {
                    bad = Some(Problem::Database(e.to_string()));
                    break;
                }
            };
            let key = k.value();
            if key != expected {
                bad = Some(Problem::Gap {
                    expected,
                    found: key,
                });
                break;
            }
            let envelope = match decode_log_record(v.value()) {
                Ok(env) => env,
                Err(e) => {
                    bad = Some(Problem::Record(e));
                    break;
                }
            };
            if envelope.index != key {
                bad = Some(Problem::IndexMismatch {
                    key,
                    found: envelope.index,
                });
                break;
            }
            match apply(&state, &envelope) {
                Ok((next, _)) => state = next,
                Err(e) => {
                    bad = Some(Problem::ReplayRejected(e.to_string()));
                    break;
                }
            }
            last_now = last_now.max(envelope.now);
            replayed += 1;
            expected += 1;
        }
    }
    let Some(problem) = bad else {
        return Ok((state, replayed, last_now));
    };
    let corruption = corrupt(path, Some(expected), problem, Some(expected - 1));
    if !options.recover_to_last_good {
        return Err(OpenError::Corrupt(Box::new(corruption)));
    }
    let action = discard_log_from(db, path, expected)?;
    repairs.push(Repair { corruption, action });
    Ok((state, replayed, last_now))
}

/// Deletes log entries from `from` on, after copying the database file aside.
fn discard_log_from(db: &Database, path: &Path, from: u64) -> Result<String, OpenError> {
    let aside = set_aside_path(path);
    fs::copy(path, &aside).map_err(io(&aside))?;
    let txn = db.begin_write().map_err(|e| storage(path)(e.into()))?;
    let mut discarded = 0u64;
    {
        let mut table = txn.open_table(LOG).map_err(|e| storage(path)(e.into()))?;
        table
            .retain_in(from.., |_, _| {
                discarded += 1;
                false
            })
            .map_err(|e| storage(path)(e.into()))?;
    }
    txn.commit().map_err(|e| storage(path)(e.into()))?;
    Ok(format!(
        "discarded {discarded} log entries from index {from} on; the database as found was copied to {}",
        aside.display()
    ))
}
