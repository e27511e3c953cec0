//! The command log and the metadata table inside the redb database.
//!
//! The log maps an index to a [`crate::codec`] log record (a stamped envelope). It is the
//! source of truth: snapshots only shorten recovery. Entries covered by a durable
//! snapshot are deleted from the front ("truncation"), and the highest deleted index is
//! recorded in the metadata table in the same transaction, so that a later open can tell
//! a legitimately truncated log from lost entries.

use crate::codec::decode_log_record;
use crate::error::ReadError;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use rollout_engine::Envelope;
use std::path::Path;

pub const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// The store format (layout of tables and meta keys) this build writes and reads.
pub const STORE_FORMAT: u32 = 1;

/// Metadata keys.
pub mod meta_key {
    /// `u32`: [`super::STORE_FORMAT`] of the writer that created the database.
    pub const FORMAT: &str = "format";
    /// `EngineConfig`: the initial state's configuration. Replay from index 1 must start
    /// from the same configuration whatever options a later open passes.
    pub const ENGINE_CONFIG: &str = "engine_config";
    /// `u64`: every log entry at or below this index was deleted by truncation.
    pub const TRUNCATED_THROUGH: &str = "truncated_through";
    /// 16 bytes: the store's ID, as in the directory's identity file (a database from
    /// another store's directory is told apart).
    pub const STORE_ID: &str = "store_id";
}

/// Bound on entries deleted per write transaction, so truncation after a snapshot never
/// holds up the writer for long: the rest is deleted in later transactions.
pub const MAX_TRUNCATE_PER_TXN: u64 = 16_384;

/// Appends encoded records. Indexes must be consecutive and follow the log's last.
pub fn append(txn: &WriteTransaction, records: &[(u64, Vec<u8>)]) -> Result<(), redb::Error> {
    let mut log = txn.open_table(LOG)?;
    for (index, bytes) in records {
        log.insert(*index, bytes.as_slice())?;
    }
    Ok(())
}

/// Deletes log entries in `(after, through]`, at most [`MAX_TRUNCATE_PER_TXN`] of them,
/// and records the new truncation point. Returns it.
pub fn truncate(txn: &WriteTransaction, after: u64, through: u64) -> Result<u64, redb::Error> {
    let upto = through.min(after.saturating_add(MAX_TRUNCATE_PER_TXN));
    if upto <= after {
        return Ok(after);
    }
    {
        let mut log = txn.open_table(LOG)?;
        log.retain_in((after + 1)..=upto, |_, _| false)?;
    }
    put_meta_u64(txn, meta_key::TRUNCATED_THROUGH, upto)?;
    Ok(upto)
}

pub fn put_meta_u64(txn: &WriteTransaction, key: &str, value: u64) -> Result<(), redb::Error> {
    let mut meta = txn.open_table(META)?;
    meta.insert(key, value.to_le_bytes().as_slice())?;
    Ok(())
}

pub fn put_meta_bytes(txn: &WriteTransaction, key: &str, value: &[u8]) -> Result<(), redb::Error> {
    let mut meta = txn.open_table(META)?;
    meta.insert(key, value)?;
    Ok(())
}

/// Reads a metadata value; `None` if absent.
pub fn get_meta(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<Vec<u8>>, redb::Error> {
    Ok(table.get(key)?.map(|v| v.value().to_vec()))
}

/// Decodes a little-endian `u64` metadata value.
pub fn meta_u64(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_le_bytes)
}

/// Up to `max_entries` logged envelopes from index `from` on, in log order, read in one
/// read transaction (a consistent view that never blocks the writer). `path` names the
/// database in errors.
pub fn read(
    db: &Database,
    path: &Path,
    from: u64,
    max_entries: usize,
) -> Result<Vec<Envelope>, ReadError> {
    let st = |e: redb::Error| ReadError::Storage {
        path: path.to_path_buf(),
        source: e,
    };
    let txn = db.begin_read().map_err(|e| st(e.into()))?;
    let table = txn.open_table(LOG).map_err(|e| st(e.into()))?;
    let mut out = Vec::new();
    for item in table.range(from..).map_err(|e| st(e.into()))? {
        if out.len() >= max_entries {
            break;
        }
        let (k, v) = item.map_err(|e| st(e.into()))?;
        let envelope = decode_log_record(v.value()).map_err(|source| ReadError::Decode {
            path: path.to_path_buf(),
            index: k.value(),
            source,
        })?;
        out.push(envelope);
    }
    Ok(out)
}
