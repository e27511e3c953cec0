//! The reconciler: what a job's allocations must become (§3.1, §3.13).
pub mod reschedule;
