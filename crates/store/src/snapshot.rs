//! Snapshot files: the whole `State` at an index, so recovery replays only the log tail.
//!
//! Snapshots live in files beside the database (`snapshot-<index>.rsnap`), not in redb:
//! a state can be hundreds of megabytes, and writing it inside a redb transaction would
//! hold redb's single write lock — and so every submitter — for the whole write, and
//! leave freed pages in the database file after pruning. A file is written off the
//! writer's path (temp file, fsync, rename, fsync of the directory), and pruning is an
//! unlink that returns the space at once.

use crate::codec::{self, DecodeError};
use crate::error::{Problem, SnapshotError};
use crate::faults::FaultPlan;
use rollout_engine::State;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

const PREFIX: &str = "snapshot-";
const SUFFIX: &str = ".rsnap";
const TMP_SUFFIX: &str = ".rsnap.tmp";

/// The file name of the snapshot at `index`. Zero-padded so names sort like indexes.
pub fn file_name(index: u64) -> String {
    format!("{PREFIX}{index:020}{SUFFIX}")
}

/// Snapshot files in `dir`, newest first. Files that do not look like snapshots are
/// ignored (a `.corrupt` file set aside by recovery, for instance).
pub fn list(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(digits) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.strip_suffix(SUFFIX))
        else {
            continue;
        };
        if let Ok(index) = digits.parse::<u64>() {
            found.push((index, entry.path()));
        }
    }
    found.sort_by_key(|(index, _)| std::cmp::Reverse(*index));
    Ok(found)
}

/// Removes temp files left by a snapshot write that a crash interrupted.
pub fn remove_stale_temp_files(dir: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(TMP_SUFFIX))
        {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Writes `state` durably as a snapshot and returns its path and size. When this returns,
/// the file is complete and its directory entry is on disk: the log below may go.
pub fn write(
    dir: &Path,
    state: &State,
    faults: Option<&FaultPlan>,
) -> Result<(PathBuf, u64), SnapshotError> {
    let index = state.index();
    let bytes = codec::encode_snapshot(state).map_err(|e| SnapshotError::Encode {
        index,
        message: e.to_string(),
    })?;
    let path = dir.join(file_name(index));
    let tmp = dir.join(format!("{PREFIX}{index:020}{TMP_SUFFIX}"));
    write_atomically(dir, &tmp, &path, &bytes, faults)
        .map_err(|(path, source)| SnapshotError::Io { path, source })?;
    Ok((path, bytes.len() as u64))
}

/// Writes `bytes` to `path` so that a crash at any instant leaves either the old file
/// (or none) or the complete new one: a temp file, fsync, rename, fsync of the
/// directory. A failure names the path it happened on; the temp file is removed.
pub fn write_atomically(
    dir: &Path,
    tmp: &Path,
    path: &Path,
    bytes: &[u8],
    faults: Option<&FaultPlan>,
) -> Result<(), (PathBuf, std::io::Error)> {
    let step = |p: &Path, what: &str| faults.map_or(Ok(()), |f| f.file_step(p, what));
    let at = |p: &Path| {
        let p = p.to_path_buf();
        move |e| (p, e)
    };
    let written = (|| {
        step(tmp, "create")?;
        let mut file = fs::File::create(tmp)?;
        step(tmp, "write")?;
        file.write_all(bytes)?;
        step(tmp, "fsync")?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(tmp);
        return Err(at(tmp)(e));
    }
    let renamed = step(path, "rename").and_then(|()| fs::rename(tmp, path));
    if let Err(e) = renamed {
        let _ = fs::remove_file(tmp);
        return Err(at(path)(e));
    }
    step(dir, "fsync")
        .and_then(|()| sync_dir(dir))
        .map_err(at(dir))
}

/// Makes renames and unlinks in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Loads the snapshot at `path`, whose name says `named_index`.
pub fn load(path: &Path, named_index: u64) -> Result<State, LoadError> {
    let bytes = fs::read(path).map_err(LoadError::Io)?;
    let (header, state) =
        codec::decode_snapshot(&bytes).map_err(|e| LoadError::Bad(Problem::Snapshot(e)))?;
    for found in [header.index, state.index()] {
        if found != named_index {
            return Err(LoadError::Bad(Problem::SnapshotIndexMismatch {
                named: named_index,
                found,
            }));
        }
    }
    Ok(state)
}

/// Why a snapshot could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// Reading failed (permissions, I/O): not evidence of damage.
    Io(std::io::Error),
    /// The file is damaged or inconsistent.
    Bad(Problem),
}

/// Where [`set_aside`] moves `path`.
pub fn aside_path(path: &Path) -> PathBuf {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".corrupt");
    PathBuf::from(aside)
}

/// Renames a damaged file aside so that it is kept as evidence but never loaded again.
pub fn set_aside(path: &Path) -> std::io::Result<PathBuf> {
    let aside = aside_path(path);
    fs::rename(path, &aside)?;
    Ok(aside)
}

impl From<DecodeError> for LoadError {
    fn from(e: DecodeError) -> Self {
        LoadError::Bad(Problem::Snapshot(e))
    }
}
