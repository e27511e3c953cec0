//! The identity file: proof that a data directory was initialised.
//!
//! Without it, a directory whose `rollout.redb` went missing or was emptied (a `rm`, a
//! `truncate`, a restore that forgot a file) looks exactly like a new one, and opening it
//! would start an empty store — or silently restart from the newest snapshot — losing
//! every acknowledged entry after it. So a store, once created, says so in a small file
//! beside the database: written atomically (temp file, fsync, rename, fsync of the
//! directory) right after the database itself is in place, and never removed. Snapshot
//! files mark an initialised directory too (for directories created before this file
//! existed). An open that finds either and no usable log refuses to start.
//!
//! It also carries the store's ID, which the database records in its metadata (a
//! database from another directory is told apart), and the engine configuration the
//! store was created with (so that even a lost log is recovered with the right one).

use crate::error::{Corruption, OpenError, Problem};
use crate::faults::FaultPlan;
use crate::snapshot;
use rollout_engine::EngineConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;
use uuid::Uuid;

/// The identity file inside the store directory.
pub const IDENTITY_FILE: &str = "rollout.identity";
const IDENTITY_TMP: &str = "rollout.identity.tmp";
const KIND: &str = "rollout-store";

/// What the identity file says (JSON, so an operator can read it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Always `rollout-store`: what the directory is.
    pub kind: String,
    /// The store's ID, also in the database's metadata.
    pub id: Uuid,
    /// The engine configuration the store was created with.
    pub engine_config: EngineConfig,
}

impl Identity {
    /// A new store's identity, with a random ID from the operating system.
    pub fn new(engine_config: EngineConfig) -> Result<Identity, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        Ok(Identity {
            kind: KIND.to_string(),
            id: uuid::Builder::from_random_bytes(bytes).into_uuid(),
            engine_config,
        })
    }
}

/// The directory's identity; `None` if it has none (new, or created before identities).
pub fn read(dir: &Path) -> Result<Option<Identity>, OpenError> {
    let path = dir.join(IDENTITY_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(OpenError::Io { path, source }),
    };
    let bad = |reason: String| {
        OpenError::Corrupt(Box::new(Corruption {
            file: path.clone(),
            index: None,
            problem: Problem::Identity(reason),
            last_good: None,
        }))
    };
    let identity: Identity =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("does not decode: {e}")))?;
    if identity.kind != KIND {
        return Err(bad(format!(
            "says it belongs to {:?}, not {KIND:?}",
            identity.kind
        )));
    }
    Ok(Some(identity))
}

/// Writes the identity file atomically.
pub fn write(dir: &Path, identity: &Identity, faults: Option<&FaultPlan>) -> Result<(), OpenError> {
    let bytes = serde_json::to_vec_pretty(identity).map_err(|e| OpenError::Io {
        path: dir.join(IDENTITY_FILE),
        source: std::io::Error::other(e),
    })?;
    snapshot::write_atomically(
        dir,
        &dir.join(IDENTITY_TMP),
        &dir.join(IDENTITY_FILE),
        &bytes,
        faults,
    )
    .map_err(|(path, source)| OpenError::Io { path, source })
}

/// Removes a temp file left by an identity write that a crash interrupted.
pub fn remove_stale_temp_file(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(dir.join(IDENTITY_TMP)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
