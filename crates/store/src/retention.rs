//! How far back the log reaches, and therefore how far back time travel, deployment
//! history, replay and `rollout log export` can see.
//!
//! A snapshot makes the log below it unnecessary for recovery, but not for the past:
//! rebuilding the state at index N needs a snapshot at or below N and every entry after
//! it. So after each snapshot the store works out [`Floors`] — indexes whose entries
//! nobody may still ask for — from two things:
//!
//! - the operator's [`LogRetention`]: a number of entries, or an age, counted back from
//!   the snapshot just written (the *retention floor*);
//! - the deployments still in the state: the history of each one
//!   (`/v1/deployment/:id/history`, `rollout deployment why`) replays from its creation,
//!   so nothing from the index before its creation on may go (a *deployment floor*
//!   each). A deployment leaves the state through garbage collection, and only then may
//!   its past go.
//!
//! The log is kept from the lowest floor on: it is contiguous, and the oldest
//! deployment's history needs all of it. Snapshots are what cost disk, and [`prune`]
//! keeps only those something needs:
//!
//! - within the retention: the newest snapshot at or below the retention floor and every
//!   snapshot above it, so that a time-travel read inside the retention replays at most
//!   one snapshot interval;
//! - below it: for each deployment floor, the newest snapshot at or below it, the one its
//!   history starts from — one file per distinct snapshot interval that holds a
//!   deployment's creation, however long ago that was;
//! - always the newest `keep_newest`.
//!
//! A time-travel read below the retention (the log is there for a deployment's sake)
//! still works; it replays from the nearest kept snapshot below it, which may be more
//! than one interval away.

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

/// What must stay after a snapshot: the floors of the retention and of every deployment
/// in the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Floors {
    /// The highest index the retention lets go.
    pub retention: u64,
    /// For each deployment in the state, the index just before its creation, ascending,
    /// without repeats: the state its history starts from.
    pub deployments: Vec<u64>,
}

impl Floors {
    /// The highest index whose log entry may go: the log is kept from here on.
    pub fn lowest(&self) -> u64 {
        self.deployments
            .first()
            .map_or(self.retention, |&d| d.min(self.retention))
    }
}

/// The floors after a snapshot of `state`. `time_of(i)` is the time of the first
/// retained entry at or after index `i` (`None` when it cannot be read: then nothing is
/// given up on the strength of time).
pub(crate) fn floors(
    state: &State,
    retention: LogRetention,
    time_of: impl FnMut(u64) -> Option<UnixNanos>,
) -> Floors {
    let kept_by_retention = match retention {
        LogRetention::Entries(n) => state.index().saturating_sub(n),
        LogRetention::Age(age) => {
            let age = i64::try_from(age.as_nanos()).unwrap_or(i64::MAX);
            let cutoff = state.now().saturating_sub(age);
            last_index_stamped_before(state.index(), cutoff, time_of)
        }
    };
    Floors {
        retention: kept_by_retention,
        deployments: deployment_floors(state),
    }
}

/// Every deployment's history replays from its creation, which needs the state just
/// before it.
fn deployment_floors(state: &State) -> Vec<u64> {
    let mut floors: Vec<u64> = state
        .deployments_in_namespace(None)
        .iter()
        .map(|d| d.create_index.saturating_sub(1))
        .collect();
    floors.sort_unstable();
    floors.dedup();
    floors
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

/// Given the snapshots on disk (newest first), the floors and the number of newest
/// snapshots always kept: keep what the module's doc lists, delete the rest, and truncate
/// the log through the oldest kept snapshot (never past the lowest floor). Without a
/// snapshot at or below the lowest floor the log is not truncated: it has never been
/// (a truncation keeps its snapshot, and floors only rise), so what lies below the
/// oldest snapshot replays from index 1.
pub(crate) fn prune(snapshots: &[(u64, PathBuf)], keep_newest: usize, floors: &Floors) -> Pruning {
    let at_or_below = |floor: u64| snapshots.iter().position(|(index, _)| *index <= floor);
    let keep_newest = keep_newest.max(1);
    // Positions count from the newest: everything up to the retention's base is kept,
    // and every snapshot when none is as old as the retention floor.
    let within_retention = at_or_below(floors.retention).unwrap_or(snapshots.len());
    let mut keep: Vec<bool> = (0..snapshots.len())
        .map(|i| i < keep_newest || i <= within_retention)
        .collect();
    for &floor in &floors.deployments {
        if let Some(i) = at_or_below(floor) {
            keep[i] = true;
        }
    }
    let lowest = floors.lowest();
    let truncate_through = match at_or_below(lowest) {
        Some(base) => {
            keep[base] = true;
            let oldest_kept = keep.iter().rposition(|&k| k).unwrap_or(base);
            snapshots[oldest_kept].0.min(lowest)
        }
        None => 0,
    };
    Pruning {
        delete: snapshots
            .iter()
            .zip(&keep)
            .filter(|(_, &k)| !k)
            .map(|((_, p), _)| p.clone())
            .collect(),
        truncate_through,
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

    /// Floors from the retention alone (no deployment in the state).
    fn retention(floor: u64) -> Floors {
        Floors {
            retention: floor,
            deployments: Vec::new(),
        }
    }

    #[test]
    fn pruning_keeps_the_base_at_or_below_the_floor_and_everything_newer() {
        let p = prune(&files(&[40, 30, 20, 10]), 2, &retention(25));
        assert_eq!(p.delete, vec![PathBuf::from("s10")]);
        assert_eq!(p.truncate_through, 20);
    }

    #[test]
    fn pruning_keeps_the_newest_count_even_above_the_floor() {
        let p = prune(&files(&[40, 30, 20, 10]), 3, &retention(35));
        assert_eq!(p.delete, vec![PathBuf::from("s10")]);
        assert_eq!(p.truncate_through, 20, "every kept snapshot stays usable");
    }

    #[test]
    fn pruning_without_a_base_keeps_every_snapshot_and_the_log() {
        let p = prune(&files(&[40, 30]), 1, &retention(25));
        assert!(p.delete.is_empty());
        assert_eq!(p.truncate_through, 0);
    }

    /// The usual long-lived agent: its first job's deployment, created at index 1, lives
    /// on. No snapshot is as old as its floor (0), and its history replays from the
    /// never-truncated log; the snapshots between it and the retention serve nobody.
    #[test]
    fn a_deployment_older_than_every_snapshot_holds_the_log_but_no_snapshot() {
        let floors = Floors {
            retention: 45,
            deployments: vec![0],
        };
        let p = prune(&files(&[60, 50, 40, 30, 20, 10]), 2, &floors);
        assert_eq!(
            p.delete,
            vec![
                PathBuf::from("s30"),
                PathBuf::from("s20"),
                PathBuf::from("s10")
            ]
        );
        assert_eq!(p.truncate_through, 0);
    }

    #[test]
    fn pruning_never_truncates_past_the_floor() {
        let p = prune(&files(&[40]), 1, &retention(45));
        assert!(p.delete.is_empty());
        assert_eq!(p.truncate_through, 40);
    }

    #[test]
    fn below_the_retention_only_the_snapshots_a_deployment_starts_from_are_kept() {
        // Retention reaches back to 45; deployments were created after 12 and 33 (and a
        // second one after 33's snapshot interval began, at 35).
        let floors = Floors {
            retention: 45,
            deployments: vec![12, 33, 35],
        };
        let p = prune(&files(&[60, 50, 40, 30, 20, 10]), 1, &floors);
        // 60, 50, 40: the retention (40 is its base); 30 for the deployments at 33 and
        // 35; 10 for the one at 12. 20 serves nobody.
        assert_eq!(p.delete, vec![PathBuf::from("s20")]);
        assert_eq!(
            p.truncate_through, 10,
            "the log is kept from the oldest base"
        );
    }

    #[test]
    fn a_deployment_inside_the_retention_needs_no_extra_snapshot() {
        let floors = Floors {
            retention: 25,
            deployments: vec![35],
        };
        let p = prune(&files(&[40, 30, 20, 10]), 1, &floors);
        assert_eq!(p.delete, vec![PathBuf::from("s10")]);
        assert_eq!(p.truncate_through, 20);
    }

    #[test]
    fn the_lowest_floor_is_the_oldest_deployment_or_the_retention() {
        let mut floors = retention(25);
        assert_eq!(floors.lowest(), 25);
        floors.deployments = vec![7, 30];
        assert_eq!(floors.lowest(), 7);
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
