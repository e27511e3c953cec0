//! The engine's snapshots as Raft snapshots.
//!
//! A Raft snapshot here is the engine's own snapshot encoding (the store's snapshot
//! codec, with its magic, version and checksum) together with the request IDs the
//! state machine remembers, so that a node that catches up by a snapshot deduplicates
//! exactly as the nodes that applied every entry. The snapshot that a node last built
//! or installed is kept in one file of its data directory, written atomically (temp
//! file, fsync, rename, fsync of the directory) before openraft is told about it —
//! openraft deletes the log it covers right after.

use crate::dedup::AppliedRequests;
use crate::types::NodeId;
use openraft::{BasicNode, SnapshotMeta};
use rollout_engine::State;
use rollout_store::codec;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// The snapshot file inside a node's data directory.
pub const SNAPSHOT_FILE: &str = "raft-snapshot.bin";

/// What a snapshot's bytes hold.
#[derive(Serialize, Deserialize)]
struct Body {
    requests: AppliedRequests,
    /// `rollout_store::codec::encode_snapshot` of the engine state.
    #[serde(with = "serde_bytes")]
    engine: Vec<u8>,
}

/// The snapshot file: openraft's metadata and the body.
#[derive(Serialize, Deserialize)]
struct File {
    meta: SnapshotMeta<NodeId, BasicNode>,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
}

/// Why a snapshot could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("encoding the snapshot: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    #[error("snapshot does not decode: {0}")]
    Decode(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Encodes the body of a snapshot of `state` and `requests`.
pub fn encode(state: &State, requests: &AppliedRequests) -> Result<Vec<u8>, SnapshotError> {
    let body = Body {
        requests: requests.clone(),
        engine: codec::encode_snapshot(state)?,
    };
    Ok(rmp_serde::to_vec_named(&body)?)
}

/// Decodes a snapshot body, checking the engine snapshot's header and checksum.
pub fn decode(bytes: &[u8]) -> Result<(State, AppliedRequests), SnapshotError> {
    let body: Body =
        rmp_serde::from_slice(bytes).map_err(|e| SnapshotError::Decode(e.to_string()))?;
    let (_, state) =
        codec::decode_snapshot(&body.engine).map_err(|e| SnapshotError::Decode(e.to_string()))?;
    Ok((state, body.requests))
}

/// A built or installed snapshot: its metadata and body bytes.
#[derive(Clone, Debug)]
pub struct Stored {
    pub meta: SnapshotMeta<NodeId, BasicNode>,
    pub body: Arc<Vec<u8>>,
}

/// The snapshot file of one node and the snapshot it holds.
#[derive(Debug)]
pub struct SnapshotFile {
    dir: PathBuf,
    current: Mutex<Option<Stored>>,
}

impl SnapshotFile {
    /// Reads the snapshot file in `dir`, if there is one.
    pub fn open(dir: &Path) -> Result<SnapshotFile, SnapshotError> {
        let path = dir.join(SNAPSHOT_FILE);
        let current = match std::fs::read(&path) {
            Ok(bytes) => {
                let file: File = rmp_serde::from_slice(&bytes)
                    .map_err(|e| SnapshotError::Decode(format!("{}: {e}", path.display())))?;
                Some(Stored {
                    meta: file.meta,
                    body: Arc::new(file.body),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(SnapshotError::Io { path, source }),
        };
        Ok(SnapshotFile {
            dir: dir.to_path_buf(),
            current: Mutex::new(current),
        })
    }

    /// The snapshot held now.
    pub fn current(&self) -> Option<Stored> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Makes `snapshot` the one held, durably, unless a newer one is held already (a
    /// snapshot built from an older state finishing after a newer one was installed
    /// must not replace it: the log below the newer one is gone).
    pub fn save(&self, snapshot: Stored) -> Result<(), SnapshotError> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current
            .as_ref()
            .is_some_and(|held| held.meta.last_log_id > snapshot.meta.last_log_id)
        {
            return Ok(());
        }
        let bytes = rmp_serde::to_vec_named(&File {
            meta: snapshot.meta.clone(),
            body: snapshot.body.to_vec(),
        })?;
        let path = self.dir.join(SNAPSHOT_FILE);
        let tmp = self.dir.join(format!("{SNAPSHOT_FILE}.tmp"));
        rollout_store::write_atomically(&self.dir, &tmp, &path, &bytes, None)
            .map_err(|(path, source)| SnapshotError::Io { path, source })?;
        *current = Some(snapshot);
        Ok(())
    }
}
