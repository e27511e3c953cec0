//! Opening a store: newest valid snapshot + replay of the log tail through the engine.
//!
//! Everything read is checked before it is trusted: the database file (redb's page
//! checksums, when `verify_file_on_open`), the metadata, each snapshot (magic, version,
//! length, CRC, index), and each log record (version, CRC, key = envelope index,
//! contiguity, and that the engine accepts it again). The first problem stops the open
//! with a [`Corruption`] naming the file, the index and the remedy. With
//! `recover_to_last_good`, the damaged part is set aside (`*.corrupt`) and the store
//! opens at the last good entry; what was discarded is listed in the report.
//!
//! An open is two steps, so that what a report promises is what recovery keeps:
//! [`analyse`] reads and checks everything without changing a byte and works out the
//! state recovery would reach (the newest snapshot that loads, the log entries after it
//! that replay) and the repairs it would need; then either the first problem is reported,
//! with that state's index as `last_good`, or — with `recover_to_last_good` — the repairs
//! are carried out ([`execute`]) and the analysed state is the one the store opens with.
//!
//! A new store is created atomically ([`create_store`]): the database is initialised in
//! a temp file, fsynced and renamed into place, then the identity file is written; a crash
//! at any instant leaves no store or a complete empty one. A directory that was ever
//! initialised (its identity file or a snapshot says so) whose log is missing, empty or
//! not a redb file is refused, never taken for a new store.

use crate::codec::{self, decode_log_record};
use crate::error::{Corruption, OpenError, Problem};
use crate::faults::FaultPlan;
use crate::identity::{self, Identity};
use crate::log::{self, meta_key, LOG, META, STORE_FORMAT};
use crate::snapshot::{self, LoadError};
use crate::Options;
use redb::{
    Builder, Database, DatabaseError, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    StorageError,
};
use rollout_engine::{apply, EngineConfig, State};
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The database file inside the store directory.
pub const DB_FILE: &str = "rollout.redb";
/// Where a new database is initialised before it is renamed to [`DB_FILE`].
const CREATING_FILE: &str = "rollout.redb.creating";
/// Where a salvaged database is written before it replaces a damaged one.
const SALVAGE_FILE: &str = "rollout.redb.salvage";
/// A file larger than this is never taken for an interrupted creation.
const MAX_BLANK_BYTES: u64 = 16 << 20;

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
    /// This open created the store (the directory held none).
    pub created: bool,
    /// What else the open did that an operator may want to know (an interrupted creation
    /// redone, an identity file added to an older store), one sentence each.
    pub notes: Vec<String>,
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

/// What the metadata table says.
#[derive(Clone, Debug)]
struct Meta {
    engine_config: EngineConfig,
    truncated_through: u64,
    store_id: Option<Uuid>,
}

/// Opens the store in `dir`, creating it if the directory holds none.
pub(crate) fn recover(dir: &Path, options: &Options) -> Result<Recovered, OpenError> {
    let started = Instant::now();
    fs::create_dir_all(dir).map_err(io(dir))?;
    snapshot::remove_stale_temp_files(dir).map_err(io(dir))?;
    identity::remove_stale_temp_file(dir).map_err(io(dir))?;
    for stale in [CREATING_FILE, SALVAGE_FILE] {
        remove_if_present(&dir.join(stale))?;
    }
    let mut identity = identity::read(dir)?;
    let snapshots = snapshot::list(dir).map_err(io(dir))?;
    let initialised = identity.is_some() || !snapshots.is_empty();
    let db_path = dir.join(DB_FILE);
    let mut created = false;
    let mut notes = Vec::new();
    if !initialised {
        match inspect(&db_path)? {
            DbFile::Missing | DbFile::Empty => {
                identity = Some(create_store(dir, options, &options.engine_config, 0, None)?);
                created = true;
            }
            DbFile::Unformatted { blank: true, len } => {
                // redb writes its magic number last: a file without it never held a
                // committed transaction, and nothing says this directory held a store.
                let aside = set_aside_path(&db_path);
                fs::rename(&db_path, &aside).map_err(io(&db_path))?;
                identity = Some(create_store(dir, options, &options.engine_config, 0, None)?);
                created = true;
                notes.push(format!(
                    "{} ({len} bytes, no redb magic number, nothing but zeros) was left by a creation that was cut short and never held data; it was moved to {} and the store created anew",
                    db_path.display(),
                    aside.display()
                ));
            }
            DbFile::Unformatted { blank: false, .. } | DbFile::Present => {}
        }
    }
    let mut recovered = recover_files(dir, options, identity.as_ref(), started)?;
    if identity.is_none() {
        // A store created before identity files: mark it now, so that a lost log is
        // refused from now on.
        let mut marked = new_identity(dir, recovered.state.config().clone())?;
        match recovered.store_id {
            Some(id) => marked.id = id,
            None => write_store_id(&recovered.db, &db_path, marked.id)?,
        }
        identity::write(dir, &marked, options.faults.as_deref())?;
        recovered.report.notes.push(format!(
            "wrote the identity file {} (a store created before identity files)",
            dir.join(identity::IDENTITY_FILE).display()
        ));
    }
    recovered.report.created = created;
    recovered.report.notes.splice(0..0, notes);
    recovered.report.total = started.elapsed();
    Ok(recovered.into())
}

/// Recovery in a running store, after a failed commit: the same checks as an open, on a
/// directory that must already hold a store, leaving the snapshot thread's temp files.
/// Never repairs (the caller passes options without `recover_to_last_good`).
pub(crate) fn reopen(dir: &Path, options: &Options) -> Result<Recovered, OpenError> {
    let identity = identity::read(dir)?;
    recover_files(dir, options, identity.as_ref(), Instant::now()).map(Into::into)
}

/// [`Recovered`] and the store ID the database records.
struct WithId {
    recovered: Recovered,
    store_id: Option<Uuid>,
}

impl std::ops::Deref for WithId {
    type Target = Recovered;
    fn deref(&self) -> &Recovered {
        &self.recovered
    }
}

impl std::ops::DerefMut for WithId {
    fn deref_mut(&mut self) -> &mut Recovered {
        &mut self.recovered
    }
}

impl From<WithId> for Recovered {
    fn from(w: WithId) -> Recovered {
        w.recovered
    }
}

fn new_identity(dir: &Path, config: EngineConfig) -> Result<Identity, OpenError> {
    Identity::new(config).map_err(|e| OpenError::Io {
        path: dir.join(identity::IDENTITY_FILE),
        source: std::io::Error::other(format!("no entropy for the store ID: {e}")),
    })
}

fn recover_files(
    dir: &Path,
    options: &Options,
    identity: Option<&Identity>,
    started: Instant,
) -> Result<WithId, OpenError> {
    let db_path = dir.join(DB_FILE);
    let analysis = analyse(dir, &db_path, options, identity)?;
    if let Some(first) = analysis.problems.first() {
        let mut corruption = first.corruption.clone();
        corruption.last_good = analysis.keeps();
        if !options.recover_to_last_good {
            return Err(OpenError::Corrupt(Box::new(corruption)));
        }
        if analysis.unrecoverable {
            return Err(OpenError::Unrecoverable(Box::new(corruption)));
        }
    }
    execute(dir, &db_path, options, identity, analysis, started)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OpenError {
    let path = path.to_path_buf();
    move |source| OpenError::Io { path, source }
}

fn storage(path: &Path) -> impl FnOnce(redb::Error) -> OpenError {
    let path = path.to_path_buf();
    move |source| OpenError::Storage { path, source }
}

fn remove_if_present(path: &Path) -> Result<(), OpenError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

fn corrupt(file: &Path, index: Option<u64>, problem: Problem) -> Corruption {
    Corruption {
        file: file.to_path_buf(),
        index,
        problem,
        last_good: None,
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

// --- creation ---------------------------------------------------------------------

/// Creates a store in `dir` atomically: the database, with its metadata, is built in a
/// temp file, fsynced and renamed to [`DB_FILE`] (replacing whatever is there), the
/// directory is fsynced, and then the identity file is written. `truncated_through` and
/// `id` are set when a lost log is recovered from a snapshot.
fn create_store(
    dir: &Path,
    options: &Options,
    config: &EngineConfig,
    truncated_through: u64,
    id: Option<Uuid>,
) -> Result<Identity, OpenError> {
    let mut identity = new_identity(dir, config.clone())?;
    if let Some(id) = id {
        identity.id = id;
    }
    let tmp = dir.join(CREATING_FILE);
    let path = dir.join(DB_FILE);
    let built = build_empty_database(&tmp, options, config, truncated_through, identity.id);
    if let Err(e) = built {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let faults = options.faults.as_deref();
    let step = |p: &Path, what: &str| faults.map_or(Ok(()), |f| f.file_step(p, what));
    let placed = step(&path, "rename")
        .and_then(|()| fs::rename(&tmp, &path))
        .map_err(io(&path));
    if let Err(e) = placed {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    step(dir, "fsync")
        .and_then(|()| snapshot::sync_dir(dir))
        .map_err(io(dir))?;
    identity::write(dir, &identity, faults)?;
    Ok(identity)
}

fn build_empty_database(
    tmp: &Path,
    options: &Options,
    config: &EngineConfig,
    truncated_through: u64,
    id: Uuid,
) -> Result<(), OpenError> {
    remove_if_present(tmp)?;
    let st = |e: redb::Error| OpenError::Storage {
        path: tmp.to_path_buf(),
        source: e,
    };
    let encoded = codec::encode_meta(config).map_err(|e| OpenError::Io {
        path: tmp.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    {
        let db = create_db(&builder(options, false), tmp, options.faults.as_ref())
            .map_err(|e| st(e.into()))?;
        let txn = db.begin_write().map_err(|e| st(e.into()))?;
        log::put_meta_bytes(&txn, meta_key::FORMAT, &STORE_FORMAT.to_le_bytes()).map_err(st)?;
        log::put_meta_bytes(&txn, meta_key::ENGINE_CONFIG, &encoded).map_err(st)?;
        log::put_meta_u64(&txn, meta_key::TRUNCATED_THROUGH, truncated_through).map_err(st)?;
        log::put_meta_bytes(&txn, meta_key::STORE_ID, id.as_bytes()).map_err(st)?;
        // Both tables exist from the start.
        txn.open_table(LOG).map_err(|e| st(e.into()))?;
        txn.commit().map_err(|e| st(e.into()))?;
    }
    // redb fsynced its commit; this also covers the file's own metadata (its size).
    fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(tmp))
}

fn write_store_id(db: &Database, path: &Path, id: Uuid) -> Result<(), OpenError> {
    let txn = db.begin_write().map_err(|e| storage(path)(e.into()))?;
    log::put_meta_bytes(&txn, meta_key::STORE_ID, id.as_bytes()).map_err(storage(path))?;
    txn.commit().map_err(|e| storage(path)(e.into()))
}

/// What is at the database path, before redb is asked to open it.
enum DbFile {
    Missing,
    Empty,
    /// No redb magic number. `blank`: small and nothing but zeros past redb's header
    /// area — what an initialisation that was cut short leaves.
    Unformatted {
        blank: bool,
        len: u64,
    },
    Present,
}

/// redb's magic number, the first bytes of every database file it finished creating.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];
/// redb's header area (its header is written without the magic number first).
const REDB_HEADER_AREA: usize = 512;

fn inspect(path: &Path) -> Result<DbFile, OpenError> {
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DbFile::Missing),
        Err(e) => return Err(io(path)(e)),
    };
    let len = file.metadata().map_err(io(path))?.len();
    if len == 0 {
        return Ok(DbFile::Empty);
    }
    let mut magic = [0u8; REDB_MAGIC.len()];
    let has_magic =
        len >= magic.len() as u64 && file.read_exact(&mut magic).is_ok() && magic == REDB_MAGIC;
    if has_magic {
        return Ok(DbFile::Present);
    }
    let blank = len <= MAX_BLANK_BYTES && {
        let mut bytes = Vec::new();
        fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(io(path))?;
        bytes.iter().skip(REDB_HEADER_AREA).all(|b| *b == 0)
            && bytes.iter().take(REDB_MAGIC.len()).all(|b| *b == 0)
    };
    Ok(DbFile::Unformatted { blank, len })
}

// --- analysis ---------------------------------------------------------------------

/// Where the log comes from.
enum Source {
    Db(Database),
    /// The database fails redb's check: what a read-only scan could read of it. Only
    /// records that decode and sit under their own index are kept.
    Scan {
        records: BTreeMap<u64, Vec<u8>>,
        meta: Vec<(String, Vec<u8>)>,
    },
    /// No usable database in a directory that holds a store: missing, empty, not a redb
    /// file, or unreadable. (`exists`: there is a file to set aside.)
    Lost {
        exists: bool,
    },
}

/// A problem found, and what recovery does about it.
struct Found {
    corruption: Corruption,
    action: Action,
}

enum Action {
    Text(String),
    /// Cut the log at the replay problem (the text comes from doing it).
    DiscardLog,
    /// Salvage the scanned records (the text comes from doing it).
    Salvage,
    /// Start a new log after the newest snapshot (the text comes from doing it).
    NewLog,
}

/// Everything an open found, and the state recovery reaches.
struct Analysis {
    source: Source,
    meta: Meta,
    snapshot_index: Option<u64>,
    snapshot_load: Duration,
    /// Snapshots that did not load, newer than the one used: set aside by recovery.
    bad_snapshots: Vec<PathBuf>,
    state: State,
    replayed: u64,
    replay: Duration,
    last_now: i64,
    /// Replay stopped here; the log from here on is discarded by recovery.
    stopped_at: Option<u64>,
    problems: Vec<Found>,
    /// No good state can be rebuilt (entries that exist in no file).
    unrecoverable: bool,
}

impl Analysis {
    /// The last index recovery keeps, `None` when it cannot recover.
    fn keeps(&self) -> Option<u64> {
        (!self.unrecoverable).then(|| self.state.index())
    }
}

fn analyse(
    dir: &Path,
    db_path: &Path,
    options: &Options,
    identity: Option<&Identity>,
) -> Result<Analysis, OpenError> {
    let mut problems = Vec::new();
    let source = open_source(dir, db_path, options, identity, &mut problems)?;
    let meta = match &source {
        Source::Db(db) => read_or_init_meta(db, db_path, options)?,
        Source::Scan { meta, .. } => parse_meta(db_path, &lookup(meta))?,
        Source::Lost { .. } => Meta {
            engine_config: identity.map_or_else(
                || options.engine_config.clone(),
                |i| i.engine_config.clone(),
            ),
            truncated_through: 0,
            store_id: identity.map(|i| i.id),
        },
    };
    if let (Some(identity), Some(found)) = (identity, meta.store_id) {
        if identity.id != found {
            return Err(OpenError::Corrupt(Box::new(corrupt(
                db_path,
                None,
                Problem::ForeignDatabase {
                    expected: identity.id,
                    found,
                },
            ))));
        }
    }

    // The newest snapshot that loads and is not older than the log's truncation point.
    let snapshot_started = Instant::now();
    let mut bad_snapshots = Vec::new();
    let mut base = None;
    let mut unrecoverable = false;
    for (index, path) in snapshot::list(dir).map_err(io(dir))? {
        if index < meta.truncated_through {
            continue;
        }
        match snapshot::load(&path, index) {
            Ok(state) => {
                base = Some(state);
                break;
            }
            Err(LoadError::Io(e)) => return Err(io(&path)(e)),
            Err(LoadError::Bad(problem)) => {
                let aside = snapshot::aside_path(&path);
                problems.push(Found {
                    corruption: corrupt(&path, Some(index), problem),
                    action: Action::Text(format!(
                        "moved the snapshot to {}; recovering from an older snapshot or the log",
                        aside.display()
                    )),
                });
                bad_snapshots.push(path);
            }
        }
    }
    if base.is_none() && meta.truncated_through > 0 {
        let t = meta.truncated_through;
        problems.push(Found {
            corruption: corrupt(
                &dir.join(snapshot::file_name(t)),
                Some(t),
                Problem::MissingSnapshot {
                    truncated_through: t,
                    newest_snapshot: None,
                },
            ),
            action: Action::Text(String::new()),
        });
        unrecoverable = true;
    }
    let snapshot_index = base.as_ref().map(State::index);
    let snapshot_load = snapshot_started.elapsed();
    let base = base.unwrap_or_else(|| State::with_config(meta.engine_config.clone()));

    let replay_started = Instant::now();
    let replayed = if unrecoverable {
        // Nothing to rebuild from: replaying from an empty state would only find a gap.
        Replayed {
            state: base,
            entries: 0,
            last_now: 0,
            problem: None,
            stopped_at: None,
        }
    } else {
        replay(&source, db_path, base)?
    };
    if let Some(problem) = replayed.problem.clone() {
        let expected = replayed.state.index() + 1;
        let action = match &source {
            Source::Db(_) => Action::DiscardLog,
            _ => Action::Text(format!(
                "replay stopped at index {expected}; the salvaged log ends before it"
            )),
        };
        problems.push(Found {
            corruption: corrupt(db_path, Some(expected), problem),
            action,
        });
    }
    let stopped_at = match &source {
        Source::Db(_) => replayed.stopped_at,
        _ => None,
    };
    Ok(Analysis {
        source,
        meta,
        snapshot_index,
        snapshot_load,
        bad_snapshots,
        state: replayed.state,
        replayed: replayed.entries,
        replay: replay_started.elapsed(),
        last_now: replayed.last_now,
        stopped_at,
        problems,
        unrecoverable,
    })
}

/// Opens the database, or says why there is none to use: damage found by redb's check
/// (then a read-only scan reads what it can), or a log gone in a store's directory.
fn open_source(
    dir: &Path,
    db_path: &Path,
    options: &Options,
    identity: Option<&Identity>,
    problems: &mut Vec<Found>,
) -> Result<Source, OpenError> {
    let evidence = || {
        let snapshots = snapshot::list(dir).map(|s| s.len()).unwrap_or(0);
        match (identity.is_some(), snapshots) {
            (true, 0) => format!("its identity file {} says so", identity::IDENTITY_FILE),
            (true, n) => format!(
                "its identity file {} and {n} snapshot file(s) say so",
                identity::IDENTITY_FILE
            ),
            (false, 0) => "the file is not blank, so it may hold data".to_string(),
            (false, n) => format!("{n} snapshot file(s) say so"),
        }
    };
    let lost = |what: String, exists: bool, problems: &mut Vec<Found>| {
        problems.push(Found {
            corruption: corrupt(
                db_path,
                None,
                Problem::LogLost {
                    what,
                    evidence: evidence(),
                },
            ),
            action: Action::NewLog,
        });
        Ok(Source::Lost { exists })
    };
    match inspect(db_path)? {
        DbFile::Missing => return lost("missing".into(), false, problems),
        DbFile::Empty => return lost("empty (0 bytes)".into(), true, problems),
        DbFile::Unformatted { len, .. } => {
            return lost(
                format!("not a redb database ({len} bytes without redb's magic number)"),
                true,
                problems,
            )
        }
        DbFile::Present => {}
    }
    let message = match create_db(
        &builder(options, options.verify_file_on_open),
        db_path,
        options.faults.as_ref(),
    ) {
        Ok(db) => return Ok(Source::Db(db)),
        Err(DatabaseError::Storage(StorageError::Corrupted(message))) => message,
        Err(e) => return Err(storage(db_path)(e.into())),
    };
    match scan_readable(db_path, options) {
        Ok(scan) => {
            problems.push(Found {
                corruption: corrupt(db_path, scan.first_bad, Problem::Database(message)),
                action: Action::Salvage,
            });
            Ok(Source::Scan {
                records: scan.records,
                meta: scan.meta,
            })
        }
        Err(why) => lost(
            format!("unreadable: it fails redb's integrity check ({message}) and cannot be read ({why})"),
            true,
            problems,
        ),
    }
}

/// The readable part of a damaged database.
struct Scan {
    meta: Vec<(String, Vec<u8>)>,
    /// Records that decode and sit under their own index (a damaged one is skipped).
    records: BTreeMap<u64, Vec<u8>>,
    /// The first index found missing or damaged after the first record, if any.
    first_bad: Option<u64>,
}

/// Reads a damaged file without redb's verification. A damaged page can make redb panic
/// rather than return an error, so the scan runs under `catch_unwind`: this explicit
/// diagnosis path is the only place the store tolerates a panic from a dependency.
fn scan_readable(path: &Path, options: &Options) -> Result<Scan, String> {
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
        let mut records = BTreeMap::new();
        let mut first_bad = None;
        let mut expected = None;
        let iter = log_table.iter().map_err(|e| e.to_string())?;
        for item in iter {
            // A page that cannot be read ends the scan: what follows cannot be reached.
            let Ok((k, v)) = item else {
                first_bad = first_bad.or(expected);
                break;
            };
            let key = k.value();
            if expected.is_some_and(|e| key != e) {
                first_bad = first_bad.or(expected);
            }
            if decode_log_record(v.value()).is_ok_and(|env| env.index == key) {
                records.insert(key, v.value().to_vec());
            } else {
                first_bad = first_bad.or(Some(key));
            }
            expected = Some(key + 1);
        }
        Ok(Scan {
            meta,
            records,
            first_bad,
        })
    });
    scan.unwrap_or_else(|_| Err("redb panicked reading the damaged file".to_string()))
}

fn lookup(meta: &[(String, Vec<u8>)]) -> RawMeta {
    let get = |key: &str| meta.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    RawMeta {
        format: get(meta_key::FORMAT),
        config: get(meta_key::ENGINE_CONFIG),
        truncated: get(meta_key::TRUNCATED_THROUGH),
        store_id: get(meta_key::STORE_ID),
    }
}

/// The metadata as stored.
struct RawMeta {
    format: Option<Vec<u8>>,
    config: Option<Vec<u8>>,
    truncated: Option<Vec<u8>>,
    store_id: Option<Vec<u8>>,
}

fn bad_meta(path: &Path, key: &'static str, reason: &str) -> OpenError {
    OpenError::Corrupt(Box::new(corrupt(
        path,
        None,
        Problem::Meta {
            key,
            reason: reason.to_string(),
        },
    )))
}

/// Checks the store format and decodes the metadata.
fn parse_meta(path: &Path, raw: &RawMeta) -> Result<Meta, OpenError> {
    let Some(format) = &raw.format else {
        return Err(bad_meta(path, meta_key::FORMAT, "missing"));
    };
    let format = <[u8; 4]>::try_from(format.as_slice())
        .map(u32::from_le_bytes)
        .map_err(|_| bad_meta(path, meta_key::FORMAT, "not a 4-byte number"))?;
    if format > STORE_FORMAT {
        return Err(OpenError::NewerFormat {
            path: path.to_path_buf(),
            found: format,
            supported: STORE_FORMAT,
        });
    }
    let engine_config = match &raw.config {
        Some(bytes) => codec::decode_meta(bytes)
            .map_err(|e| bad_meta(path, meta_key::ENGINE_CONFIG, &e.to_string()))?,
        None => return Err(bad_meta(path, meta_key::ENGINE_CONFIG, "missing")),
    };
    let truncated_through = match &raw.truncated {
        Some(bytes) => log::meta_u64(bytes)
            .ok_or_else(|| bad_meta(path, meta_key::TRUNCATED_THROUGH, "not an 8-byte number"))?,
        None => 0,
    };
    let store_id = match &raw.store_id {
        Some(bytes) => Some(
            Uuid::from_slice(bytes)
                .map_err(|_| bad_meta(path, meta_key::STORE_ID, "not a 16-byte UUID"))?,
        ),
        None => None,
    };
    Ok(Meta {
        engine_config,
        truncated_through,
        store_id,
    })
}

/// Checks the store format and loads the metadata, initialising it in a database that
/// has none and no log (one whose creation by an older build was cut short).
fn read_or_init_meta(db: &Database, path: &Path, options: &Options) -> Result<Meta, OpenError> {
    let st = storage(path);
    let txn = db.begin_write().map_err(|e| st(e.into()))?;
    let (raw, log_empty) = {
        let meta = txn.open_table(META).map_err(|e| storage(path)(e.into()))?;
        let log_table = txn.open_table(LOG).map_err(|e| storage(path)(e.into()))?;
        let get = |key| log::get_meta(&meta, key).map_err(storage(path));
        (
            RawMeta {
                format: get(meta_key::FORMAT)?,
                config: get(meta_key::ENGINE_CONFIG)?,
                truncated: get(meta_key::TRUNCATED_THROUGH)?,
                store_id: get(meta_key::STORE_ID)?,
            },
            log_table.is_empty().map_err(|e| storage(path)(e.into()))?,
        )
    };
    if raw.format.is_none() {
        if !log_empty {
            return Err(bad_meta(
                path,
                meta_key::FORMAT,
                "missing, but the log has entries",
            ));
        }
        let config = codec::encode_meta(&options.engine_config)
            .map_err(|e| bad_meta(path, meta_key::ENGINE_CONFIG, &e.to_string()))?;
        log::put_meta_bytes(&txn, meta_key::FORMAT, &STORE_FORMAT.to_le_bytes())
            .map_err(storage(path))?;
        log::put_meta_bytes(&txn, meta_key::ENGINE_CONFIG, &config).map_err(storage(path))?;
        log::put_meta_u64(&txn, meta_key::TRUNCATED_THROUGH, 0).map_err(storage(path))?;
        txn.commit().map_err(|e| storage(path)(e.into()))?;
        return Ok(Meta {
            engine_config: options.engine_config.clone(),
            truncated_through: 0,
            store_id: None,
        });
    }
    // Nothing to write for an existing store.
    txn.abort().map_err(|e| storage(path)(e.into()))?;
    parse_meta(path, &raw)
}

/// The outcome of replaying the log after a base state.
struct Replayed {
    state: State,
    entries: u64,
    last_now: i64,
    /// The first problem, at `state.index() + 1`.
    problem: Option<Problem>,
    /// Where replay stopped, if the log holds entries from there on that are dropped.
    stopped_at: Option<u64>,
}

/// Applies every log entry after `base`, checking each.
fn replay(source: &Source, path: &Path, base: State) -> Result<Replayed, OpenError> {
    let mut state = base;
    let mut entries = 0;
    let mut last_now = 0;
    let mut expected = state.index() + 1;
    let mut problem = None;
    let mut step = |key: u64, bytes: &[u8], state: &mut State| -> Option<Problem> {
        if key != expected {
            return Some(Problem::Gap {
                expected,
                found: key,
            });
        }
        let envelope = match decode_log_record(bytes) {
            Ok(env) => env,
            Err(e) => return Some(Problem::Record(e)),
        };
        if envelope.index != key {
            return Some(Problem::IndexMismatch {
                key,
                found: envelope.index,
            });
        }
        match apply(state, &envelope) {
            Ok((next, _)) => *state = next,
            Err(e) => return Some(Problem::ReplayRejected(e.to_string())),
        }
        last_now = last_now.max(envelope.now);
        entries += 1;
        expected += 1;
        None
    };
    let mut stopped_at = None;
    match source {
        Source::Db(db) => {
            let txn = db.begin_read().map_err(|e| storage(path)(e.into()))?;
            let table = txn.open_table(LOG).map_err(|e| storage(path)(e.into()))?;
            let floor = match table.last().map_err(|e| storage(path)(e.into()))? {
                // The time floor for new envelopes, even when nothing needs replaying.
                Some((_, v)) => decode_log_record(v.value()).map_or(0, |env| env.now),
                None => 0,
            };
            let from = state.index() + 1;
            let iter = table.range(from..).map_err(|e| storage(path)(e.into()))?;
            for item in iter {
                let found = match item {
                    Ok((k, v)) => step(k.value(), v.value(), &mut state),
                    Err(e) => Some(Problem::Database(e.to_string())),
                };
                if let Some(p) = found {
                    stopped_at = Some(state.index() + 1);
                    problem = Some(p);
                    break;
                }
            }
            last_now = last_now.max(floor);
        }
        Source::Scan { records, .. } => {
            // Only the contiguous run after the base replays; the damage that made this
            // a scan is already reported.
            let from = state.index() + 1;
            for (key, bytes) in records.range(from..) {
                if *key != state.index() + 1 {
                    break;
                }
                if let Some(p) = step(*key, bytes, &mut state) {
                    problem = Some(p);
                    break;
                }
            }
            if let Some(env) = records
                .values()
                .next_back()
                .and_then(|v| decode_log_record(v).ok())
            {
                last_now = last_now.max(env.now);
            }
        }
        Source::Lost { .. } => {}
    }
    Ok(Replayed {
        state,
        entries,
        last_now,
        problem,
        stopped_at,
    })
}

// --- recovery ---------------------------------------------------------------------

/// Carries out the repairs the analysis found (only reached without problems, or with
/// `recover_to_last_good`), and returns the analysed state with the database to write to.
fn execute(
    dir: &Path,
    db_path: &Path,
    options: &Options,
    identity: Option<&Identity>,
    analysis: Analysis,
    started: Instant,
) -> Result<WithId, OpenError> {
    let Analysis {
        source,
        meta,
        snapshot_index,
        snapshot_load,
        bad_snapshots,
        state,
        replayed,
        replay,
        last_now,
        stopped_at,
        problems,
        unrecoverable: _,
    } = analysis;
    let mut truncated_through = meta.truncated_through;
    let mut done = None;
    let db = match source {
        Source::Db(db) => {
            if let Some(from) = stopped_at {
                done = Some(discard_log_from(&db, db_path, from)?);
            }
            db
        }
        Source::Scan { records, meta: raw } => {
            // Keep a contiguous log consistent with the recovered state: the run from
            // the first record when it reaches the snapshot recovery started from, else
            // only the run after that snapshot, which then covers the rest.
            let base = snapshot_index.unwrap_or(0);
            let first = records.keys().next().copied().unwrap_or(base + 1);
            let reaches = first <= base + 1 && (first..=base).all(|k| records.contains_key(&k));
            let from = if reaches {
                first
            } else {
                truncated_through = truncated_through.max(base);
                base + 1
            };
            let kept: Vec<(u64, Vec<u8>)> = records
                .range(from..=state.index())
                .map(|(k, v)| (*k, v.clone()))
                .collect();
            let aside = salvage(db_path, options, &raw, &kept, truncated_through)?;
            done = Some(format!(
                "kept {} readable log entries (indexes {from} to {}) of {} found in a fresh database; the damaged file was moved to {}",
                kept.len(),
                state.index(),
                records.len(),
                aside.display()
            ));
            create_db(&builder(options, true), db_path, options.faults.as_ref())
                .map_err(|e| storage(db_path)(e.into()))?
        }
        Source::Lost { exists } => {
            let mut text = String::new();
            if exists {
                let aside = set_aside_path(db_path);
                fs::rename(db_path, &aside).map_err(io(db_path))?;
                text = format!("moved {} to {}; ", db_path.display(), aside.display());
            }
            truncated_through = snapshot_index.unwrap_or(0);
            text.push_str(&match snapshot_index {
                Some(i) => format!(
                    "rebuilt the state from the snapshot at index {i} and started a new log at index {}: entries after {i} that were only in the log are lost",
                    i + 1
                ),
                None => "started from an empty state at index 0: everything that was only in the log is lost".to_string(),
            });
            done = Some(text);
            create_store(
                dir,
                options,
                state.config(),
                truncated_through,
                meta.store_id.or(identity.map(|i| i.id)),
            )?;
            create_db(&builder(options, true), db_path, options.faults.as_ref())
                .map_err(|e| storage(db_path)(e.into()))?
        }
    };
    for path in &bad_snapshots {
        snapshot::set_aside(path).map_err(io(path))?;
    }
    let repairs = problems
        .into_iter()
        .map(|found| Repair {
            corruption: Corruption {
                last_good: Some(state.index()),
                ..found.corruption
            },
            action: match found.action {
                Action::Text(text) => text,
                Action::DiscardLog | Action::Salvage | Action::NewLog => {
                    done.clone().unwrap_or_default()
                }
            },
        })
        .collect();
    let index = state.index();
    Ok(WithId {
        recovered: Recovered {
            db,
            state,
            truncated_through,
            last_now,
            report: RecoveryReport {
                snapshot_index,
                snapshot_load,
                entries_replayed: replayed,
                replay,
                total: started.elapsed(),
                index,
                repairs,
                created: false,
                notes: Vec::new(),
            },
        },
        store_id: meta.store_id,
    })
}

/// Writes the kept records and the metadata into a fresh database, sets the damaged file
/// aside (returns where), and puts the fresh one in its place.
fn salvage(
    path: &Path,
    options: &Options,
    meta: &[(String, Vec<u8>)],
    records: &[(u64, Vec<u8>)],
    truncated_through: u64,
) -> Result<PathBuf, OpenError> {
    let fresh = path.with_file_name(SALVAGE_FILE);
    remove_if_present(&fresh)?;
    {
        let db = create_db(&builder(options, false), &fresh, options.faults.as_ref())
            .map_err(|e| storage(&fresh)(e.into()))?;
        let txn = db.begin_write().map_err(|e| storage(&fresh)(e.into()))?;
        for (k, v) in meta {
            log::put_meta_bytes(&txn, k, v).map_err(storage(&fresh))?;
        }
        log::put_meta_u64(&txn, meta_key::TRUNCATED_THROUGH, truncated_through)
            .map_err(storage(&fresh))?;
        log::append(&txn, records).map_err(storage(&fresh))?;
        txn.commit().map_err(|e| storage(&fresh)(e.into()))?;
    }
    let aside = set_aside_path(path);
    fs::rename(path, &aside).map_err(io(path))?;
    fs::rename(&fresh, path).map_err(io(path))?;
    if let Some(dir) = path.parent() {
        snapshot::sync_dir(dir).map_err(io(dir))?;
    }
    Ok(aside)
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
