//! How far back the log reaches, and therefore how far back time travel, deployment
//! history, replay and `rollout log export` can see.
//!
//! A snapshot makes the log below it unnecessary for recovery, but not for the past:
//! rebuilding the state at index N needs a snapshot at or below N and every entry after
//! it. So after each snapshot the store works out a *floor* — the highest index whose
//! entry nobody may still ask for — and then keeps the newest snapshot at or below the
//! floor (the *base*), every snapshot above it, and the log after the base. Two things
//! set the floor:
//!
//! - the operator's [`LogRetention`]: a number of entries, or an age, counted back from
//!   the snapshot just written;
//! - the deployments still in the state: the history of each one
//!   (`/v1/deployment/:id/history`, `rollout deployment why`) replays from its creation,
//!   so the floor never passes the oldest creation index. A deployment leaves the state
//!   through garbage collection, and only then may its past go.
//!
//! Keeping every snapshot above the base bounds the replay a time-travel read needs to
//! one snapshot interval, whatever the retention; the disk cost is one snapshot file per
//! `snapshot_every_entries` entries of the retained window.

use rollout_engine::model::UnixNanos;
use rollout_engine::State;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How much of the log to keep below the newest snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogRetention {
    /// At least this many entries below the newest snapshot.
    Entries(u64),
    /// At least the entries stamped within this long before the newest snapshot's time.
    Age(Duration),
}

impl Default for LogRetention {
    /// 10,000 entries: one default snapshot interval.
    fn default() -> Self {
        LogRetention::Entries(10_000)
    }
}

impl fmt::Display for LogRetention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogRetention::Entries(n) => write!(f, "{n} entries"),
            LogRetention::Age(d) => write!(f, "{}s", d.as_secs()),
        }
    }
}

/// The highest index whose log entry may go after a snapshot of `state`: the lower of
/// what `retention` keeps and what the deployments in `state` need. `time_of(i)` is the
/// time of the first retained entry at or after index `i` (`None` when it cannot be
/// read: then nothing is given up on the strength of time).
pub(crate) fn floor(
    state: &State,
    retention: LogRetention,
    time_of: impl FnMut(u64) -> Option<UnixNanos>,
) -> u64 {
    let kept_by_retention = match retention {
        LogRetention::Entries(n) => state.index().saturating_sub(n),
        LogRetention::Age(age) => {
            let age = i64::try_from(age.as_nanos()).unwrap_or(i64::MAX);
            let cutoff = state.now().saturating_sub(age);
            last_index_stamped_before(state.index(), cutoff, time_of)
        }
    };
    kept_by_retention.min(deployment_floor(state))
}

/// Every deployment's history replays from its creation, which needs the state just
/// before it: nothing at or after the oldest creation index may go.
fn deployment_floor(state: &State) -> u64 {
    state
        .deployments_in_namespace(None)
        .iter()
        .map(|d| d.create_index.saturating_sub(1))
        .min()
        .unwrap_or(u64::MAX)
}

/// The last index in `1..=through` whose entry was stamped before `cutoff` (0 if none),
/// by binary search: the engine's clock rule keeps log times from going backwards.
fn last_index_stamped_before(
    through: u64,
    cutoff: UnixNanos,
    mut time_of: impl FnMut(u64) -> Option<UnixNanos>,
) -> u64 {
    // Invariant: every entry at or below `lo` is before the cutoff; none above `hi` is.
    let (mut lo, mut hi) = (0, through);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        match time_of(mid) {
            Some(t) if t < cutoff => lo = mid,
            Some(_) => hi = mid - 1,
            None => return lo,
        }
    }
    lo
}

/// What to do after a snapshot: which snapshot files to delete and how far to truncate.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Pruning {
    pub delete: Vec<PathBuf>,
    /// Truncate the log through this index (never past a kept snapshot).
    pub truncate_through: u64,
}

/// Given the snapshots on disk (newest first), the `floor` and the number of newest
/// snapshots always kept: keep the base (the newest snapshot at or below the floor) and
/// everything newer, delete what is older, truncate through the oldest kept snapshot.
/// Without a base — every snapshot is newer than the floor — nothing goes: the log below
/// the oldest snapshot is still needed (or, never truncated, replays from index 1).
pub(crate) fn prune(snapshots: &[(u64, PathBuf)], keep_newest: usize, floor: u64) -> Pruning {
    let keep_newest = keep_newest.max(1);
    let Some(base) = snapshots.iter().position(|(index, _)| *index <= floor) else {
        return Pruning {
            delete: Vec::new(),
            truncate_through: 0,
        };
    };
    let kept = (base + 1).max(keep_newest).min(snapshots.len());
    Pruning {
        delete: snapshots[kept..].iter().map(|(_, p)| p.clone()).collect(),
        truncate_through: snapshots[kept - 1].0.min(floor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(indexes: &[u64]) -> Vec<(u64, PathBuf)> {
        indexes
            .iter()
            .map(|i| (*i, PathBuf::from(format!("s{i}"))))
            .collect()
    }

    #[test]
    fn pruning_keeps_the_base_at_or_below_the_floor_and_everything_newer() {
        let p = prune(&files(&[40, 30, 20, 10]), 2, 25);
        assert_eq!(p.delete, vec![PathBuf::from("s10")]);
        assert_eq!(p.truncate_through, 20);
    }

    #[test]
    fn pruning_keeps_the_newest_count_even_above_the_floor() {
        let p = prune(&files(&[40, 30, 20, 10]), 3, 35);
        assert_eq!(p.delete, vec![PathBuf::from("s10")]);
        assert_eq!(p.truncate_through, 20, "every kept snapshot stays usable");
    }

    #[test]
    fn pruning_without_a_base_keeps_every_snapshot_and_the_log() {
        let p = prune(&files(&[40, 30]), 1, 25);
        assert!(p.delete.is_empty());
        assert_eq!(p.truncate_through, 0);
    }

    #[test]
    fn pruning_never_truncates_past_the_floor() {
        let p = prune(&files(&[40]), 1, 45);
        assert!(p.delete.is_empty());
        assert_eq!(p.truncate_through, 40);
    }

    #[test]
    fn age_retention_finds_the_last_entry_stamped_before_the_cutoff() {
        // Entry i is stamped at 10·i.
        let time = |i: u64| Some(i as i64 * 10);
        assert_eq!(last_index_stamped_before(100, 505, time), 50);
        assert_eq!(last_index_stamped_before(100, 500, time), 49);
        assert_eq!(last_index_stamped_before(100, 5, time), 0);
        assert_eq!(last_index_stamped_before(100, 10_000, time), 100);
        assert_eq!(last_index_stamped_before(0, 10_000, time), 0);
    }

    #[test]
    fn age_retention_gives_nothing_up_when_times_cannot_be_read() {
        assert_eq!(last_index_stamped_before(100, 505, |_| None), 0);
    }
}
