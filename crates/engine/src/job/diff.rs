//! Comparing job versions.

use crate::model::Job;

/// `SpecChanged` (§3.8 R2): do two job versions differ in anything but bookkeeping?
pub fn spec_changed(watcher_job: &Job, candidate: &Job) -> bool {
    watcher_job != candidate
}

/// §3.1 C16: must an allocation of `old` (group `group`) be replaced to run `new`, or can
/// it be updated in place?
pub fn needs_destructive_update(old: &Job, new: &Job, group: &str) -> bool {
    old.group(group) != new.group(group)
}
