//! After a failed commit: refuse writes, then reopen and verify the database in-process,
//! with backoff, until it works — so that an agent whose disk filled up carries on by
//! itself once space is back, without a restart and without losing anything acknowledged.
//!
//! After a failed fsync nothing can be assumed about what reached the disk (the batch
//! may be wholly, partly or not at all on it, and the kernel may have dropped dirty
//! pages), so the writer does not simply try again with its in-memory state. It drops its
//! database handle and recovers exactly as a restart would: redb's own recovery and
//! integrity check, the newest valid snapshot, a checked replay of the log. The result is
//! taken only if it holds every acknowledged command (its index is at least the last one
//! answered); a log that ends earlier means acknowledged data is gone, and the store then
//! refuses writes for good, saying so, rather than carry on from a wrong state. Commands
//! of the failed batch that did reach the disk are kept, as a restart would keep them
//! (their submitters were told the outcome is unknown).

use crate::recovery;
use crate::writer::Writer;
use arc_swap::ArcSwapOption;
use redb::Database;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The first reopen attempt after a failed commit.
pub const REOPEN_MIN: Duration = Duration::from_millis(250);
/// The longest wait between two attempts.
pub const REOPEN_MAX: Duration = Duration::from_secs(30);

/// The database handle, swapped when the writer reopens it (empty while it does, so that
/// the file is closed and redb's lock released).
pub(crate) type DbSlot = ArcSwapOption<Database>;

/// Whether the store accepts writes, shared by the writer, `Store` and its readers.
#[derive(Default)]
pub(crate) struct Gate {
    /// Set from a failed commit until the store is reopened: the fast path of `submit`.
    pub failed: ArcSwapOption<redb::Error>,
    detail: Mutex<Option<Refusal>>,
    /// Commits that failed since open.
    pub failed_commits: AtomicU64,
    /// Successful in-process reopens since open.
    pub recoveries: AtomicU64,
}

/// Why the store refuses writes, and how recovery is going.
#[derive(Clone, Debug)]
struct Refusal {
    since: Instant,
    cause: String,
    attempts: u32,
    next_try: Instant,
    last_attempt: Option<String>,
    /// Recovery found acknowledged entries missing: no more attempts.
    permanent: bool,
}

impl Gate {
    fn detail(&self) -> std::sync::MutexGuard<'_, Option<Refusal>> {
        self.detail.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `None` while writes are accepted; else why not, in words for `/v1/agent/health`.
    pub(crate) fn refusing(&self) -> Option<String> {
        let detail = self.detail().clone()?;
        let mut text = format!(
            "the store refuses writes since a commit failed {:.1}s ago ({})",
            detail.since.elapsed().as_secs_f64(),
            detail.cause
        );
        if detail.permanent {
            text.push_str("; ");
            text.push_str(detail.last_attempt.as_deref().unwrap_or("recovery failed"));
            text.push_str("; restart the agent to see what recovery can do");
        } else {
            text.push_str("; reopening and verifying the database");
            if let Some(last) = &detail.last_attempt {
                text.push_str(&format!(
                    " (attempt {} failed: {last}; retrying)",
                    detail.attempts
                ));
            }
        }
        Some(text)
    }

    /// A commit failed: refuse writes from now on.
    pub(crate) fn fail(&self, error: Arc<redb::Error>) {
        self.failed_commits.fetch_add(1, Ordering::Relaxed);
        let mut detail = self.detail();
        if detail.is_none() {
            *detail = Some(Refusal {
                since: Instant::now(),
                cause: error.to_string(),
                attempts: 0,
                next_try: Instant::now() + REOPEN_MIN,
                last_attempt: None,
                permanent: false,
            });
        }
        drop(detail);
        self.failed.store(Some(error));
    }

    /// The wait before the next reopen attempt; `None` when there is nothing to do.
    pub(crate) fn next_attempt_in(&self) -> Option<Duration> {
        let detail = self.detail();
        let d = detail.as_ref().filter(|d| !d.permanent)?;
        Some(d.next_try.saturating_duration_since(Instant::now()))
    }
}

/// `REOPEN_MIN` doubled for each failed attempt, at most `REOPEN_MAX`.
fn backoff(attempts: u32) -> Duration {
    REOPEN_MIN
        .saturating_mul(1 << attempts.min(16))
        .min(REOPEN_MAX)
}

impl Writer {
    /// One reopen attempt; on success the store accepts writes again.
    pub(crate) fn try_reopen(&mut self) {
        let Some(mut detail) = self.gate.detail().clone() else {
            return;
        };
        if detail.permanent {
            return;
        }
        detail.attempts += 1;
        let attempt = detail.attempts;
        // Close the file (redb's lock with it) before opening it again. A reader still
        // holding the old handle makes this attempt fail; the next one will do.
        self.db.store(None);
        match recovery::reopen(&self.dir, &self.options) {
            Ok(recovered) if recovered.state.index() >= self.state.index() => {
                let acknowledged = self.state.index();
                let index = recovered.state.index();
                self.db.store(Some(Arc::new(recovered.db)));
                self.state = Arc::new(recovered.state);
                self.last_now = self.last_now.max(recovered.last_now);
                self.truncated_through = recovered.truncated_through;
                self.truncate_target = recovered.truncated_through;
                self.counters
                    .truncated_through
                    .store(recovered.truncated_through, Ordering::Relaxed);
                if index > acknowledged {
                    self.published.publish(self.state.clone());
                }
                *self.gate.detail() = None;
                self.gate.failed.store(None);
                self.gate.recoveries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    outage_ms = u64::try_from(detail.since.elapsed().as_millis()).unwrap_or(u64::MAX),
                    attempts = attempt,
                    index,
                    unacknowledged_kept = index - acknowledged,
                    cause = %detail.cause,
                    "store recovered after a failed commit; accepting writes again"
                );
            }
            Ok(recovered) => {
                let message = format!(
                    "after reopening, the log ends at index {} but index {} was acknowledged: acknowledged entries are missing",
                    recovered.state.index(),
                    self.state.index()
                );
                tracing::error!(attempt, "{message}; refusing writes for good");
                detail.permanent = true;
                detail.last_attempt = Some(message);
                *self.gate.detail() = Some(detail);
            }
            Err(e) => {
                tracing::warn!(
                    attempt,
                    error = %e,
                    "reopening the store after a failed commit failed; retrying"
                );
                detail.last_attempt = Some(e.to_string());
                detail.next_try = Instant::now() + backoff(attempt);
                *self.gate.detail() = Some(detail);
            }
        }
    }
}
