//! Job-level rules: defaults (canonicalisation), validation (§1.8), and the two job
//! comparisons the deployment rules depend on: `SpecChanged` (§3.8 R2) and destructive vs
//! in-place updates (§3.1 C16).

mod canonicalize;
mod diff;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod test_support;
mod validate;

pub use canonicalize::canonicalize;
pub use diff::{needs_destructive_update, spec_changed};
pub use validate::{validate, Validation, MAX_JOB_ALLOCATIONS};
