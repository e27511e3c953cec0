//! Where the agent keeps its state: the durable store (`rollout-store`) in `--data-dir`,
//! or in a temporary directory for `--dev`. Both are the real store, so a dev agent
//! answers writes exactly as a production one does: after the fsync (R5).

use rollout_http::{Backend, StoreBackend};
use rollout_store::{Options, Store};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// Which directory the store lives in.
#[derive(Debug)]
pub enum Location {
    /// A data directory that outlives the process.
    Dir {
        path: PathBuf,
        /// Set damaged parts aside and open at the last good entry (the store's
        /// `recover_to_last_good`) instead of refusing to start.
        recover_to_last_good: bool,
    },
    /// A fresh directory deleted when the agent exits (`--dev`).
    Temporary,
}

/// What the agent's flags set in the store's options.
#[derive(Clone, Copy, Debug)]
pub struct StoreSettings {
    /// Commands queued for the writer before submissions fail as overloaded (503).
    pub queue_capacity: usize,
    /// Versions kept per job, for a new data directory (an existing one keeps its own).
    pub job_tracked_versions: usize,
    /// How far back the log reaches (`--log-retention`).
    pub log_retention: rollout_store::LogRetention,
}

/// The open store and, for `--dev`, the temporary directory it lives in.
pub struct Storage {
    backend: Arc<StoreBackend>,
    /// Deleted on drop, after the store is closed.
    temporary: Option<TempDir>,
    dir: PathBuf,
}

impl Storage {
    /// Opens (recovering) the store and logs what recovery did. Opening reads and checks
    /// files, so it runs off the async workers.
    pub async fn open(location: Location, settings: StoreSettings) -> Result<Storage, String> {
        let (dir, temporary, recover_to_last_good) = match location {
            Location::Dir {
                path,
                recover_to_last_good,
            } => (path, None, recover_to_last_good),
            Location::Temporary => {
                let temp = tempfile::Builder::new()
                    .prefix("rollout-dev-")
                    .tempdir()
                    .map_err(|e| format!("cannot create a temporary data directory: {e}"))?;
                (temp.path().to_path_buf(), Some(temp), false)
            }
        };
        let mut options = Options {
            recover_to_last_good,
            queue_capacity: settings.queue_capacity,
            log_retention: settings.log_retention,
            ..Options::default()
        };
        options.engine_config.job_tracked_versions = settings.job_tracked_versions;
        let path = dir.clone();
        let store = tokio::task::spawn_blocking(move || Store::open(&path, options))
            .await
            .map_err(|e| format!("opening the store panicked: {e}"))?
            .map_err(|e| format!("cannot open the store in {}: {e}", dir.display()))?;
        log_recovery(&store, temporary.is_some());
        let kept = store.state().config().job_tracked_versions;
        if kept != settings.job_tracked_versions {
            tracing::warn!(
                kept,
                requested = settings.job_tracked_versions,
                "job_tracked_versions is fixed when the data directory is created; keeping the stored value"
            );
        }
        Ok(Storage {
            backend: Arc::new(StoreBackend::new(Arc::new(store))),
            temporary,
            dir,
        })
    }

    pub fn backend(&self) -> Arc<dyn Backend> {
        self.backend.clone()
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Closes the store once every other user is gone: commands still queued are
    /// committed and the writer thread exits. Then a temporary directory is deleted.
    pub async fn close(self) {
        let Storage {
            backend,
            temporary,
            dir,
        } = self;
        let store = backend.store().clone();
        drop(backend);
        let store = last_reference(store).await;
        let closed = tokio::task::spawn_blocking(move || match store {
            Ok(store) => {
                let index = store.state().index();
                let stats = store.stats();
                drop(store);
                tracing::info!(
                    index,
                    committed = stats.committed,
                    batches = stats.batches,
                    largest_batch = stats.largest_batch,
                    snapshots_written = stats.snapshots_written,
                    "store closed"
                );
            }
            Err(store) => tracing::warn!(
                references = Arc::strong_count(&store),
                "store still in use at shutdown; it closes when the process exits"
            ),
        })
        .await;
        if let Err(e) = closed {
            tracing::error!(error = %e, "closing the store panicked");
        }
        if let Some(temp) = temporary {
            match temp.close() {
                Ok(()) => tracing::info!(dir = %dir.display(), "temporary data directory deleted"),
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot delete the temporary data directory")
                }
            }
        }
    }
}

/// How long shutdown waits for the last other user of the store to let go.
const RELEASE_WAIT: Duration = Duration::from_secs(5);

/// Waits (bounded) until `store` is the only reference. The HTTP server returns from its
/// graceful shutdown when every connection has finished, but a connection task drops its
/// copy of the router (and so of the backend) a moment after that; this short,
/// shutdown-only wait lets the store close in order instead of at process exit.
async fn last_reference(mut store: Arc<Store>) -> Result<Store, Arc<Store>> {
    let deadline = tokio::time::Instant::now() + RELEASE_WAIT;
    loop {
        match Arc::try_unwrap(store) {
            Ok(s) => return Ok(s),
            Err(shared) if tokio::time::Instant::now() >= deadline => return Err(shared),
            Err(shared) => {
                store = shared;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// One line that says where the state came from and how long it took to rebuild, and
/// one warning per repair (`--recover-to-last-good`), so that an operator sees data loss.
fn log_recovery(store: &Store, temporary: bool) {
    let r = store.recovery_report();
    tracing::info!(
        data_dir = %store.dir().display(),
        temporary,
        index = r.index,
        snapshot_index = r.snapshot_index.unwrap_or(0),
        entries_replayed = r.entries_replayed,
        snapshot_load_us = micros(r.snapshot_load),
        replay_us = micros(r.replay),
        total_us = micros(r.total),
        repairs = r.repairs.len(),
        "store recovered"
    );
    if r.created {
        tracing::info!(data_dir = %store.dir().display(), "store created");
    }
    for note in &r.notes {
        tracing::warn!(data_dir = %store.dir().display(), "{note}");
    }
    for repair in &r.repairs {
        tracing::warn!(
            problem = %repair.corruption,
            action = %repair.action,
            "store repaired: data after the last good entry was set aside"
        );
    }
}

/// A duration as whole microseconds, for log fields: an integer, not float noise.
fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
