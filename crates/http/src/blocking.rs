//! Blocking queries (`http-api.md` §3 and R4).
//!
//! A read with `index` > 0 runs, and while its result's index is not greater than
//! `index` it sleeps until the backend applies a command (a `watch` channel: no polling,
//! no CPU while waiting, thousands of waiters are cheap), then runs again. It returns
//! the last result when the wait expires or the server shuts down. The index a reply
//! reports is never 0 (R4), so a client that echoes it back always blocks.

use crate::acl::Identity;
use crate::error::ApiError;
use crate::metrics::WaitClock;
use crate::query::QueryOptions;
use crate::server::Api;
use rollout_engine::{State, TableIndexes};
use std::time::Duration;
use tokio::time::Instant;

/// The default `wait` (Nomad's 5 minutes).
pub const WAIT_DEFAULT: Duration = Duration::from_secs(5 * 60);
/// The longest `wait` honoured (R4: the documented 10 minutes).
pub const WAIT_MAX: Duration = Duration::from_secs(10 * 60);
/// Jitter is up to `1/JITTER_FRACTION` of the wait, so that clients that all started
/// together do not all come back together.
const JITTER_FRACTION: u32 = 16;

/// One run of a read: the index it reports, the body (or the error to answer with,
/// such as a 404 — which still blocks, as in Nomad), and the pagination token.
#[derive(Debug)]
pub struct Reply<T> {
    pub index: u64,
    pub body: Result<T, ApiError>,
    pub next_token: Option<String>,
}

impl<T> Reply<T> {
    pub fn ok(index: u64, body: T) -> Reply<T> {
        Reply {
            index,
            body: Ok(body),
            next_token: None,
        }
    }

    pub fn err(index: u64, error: ApiError) -> Reply<T> {
        Reply {
            index,
            body: Err(error),
            next_token: None,
        }
    }

    pub fn with_next_token(mut self, token: Option<String>) -> Reply<T> {
        self.next_token = token;
        self
    }

    /// R4: a reported index is at least 1.
    pub fn reported_index(&self) -> u64 {
        self.index.max(1)
    }
}

/// How long a blocking query may wait: `wait` (default 5 min) clamped to `max` (R4:
/// 10 min, [`WAIT_MAX`], unless the agent is configured otherwise), plus a random jitter
/// of up to 1/16.
pub fn time_to_block(wait: Option<Duration>, max: Duration) -> Duration {
    let base = wait.unwrap_or(WAIT_DEFAULT).min(max);
    let jitter_max_ns = (base / JITTER_FRACTION).as_nanos() as u64;
    let mut bytes = [0u8; 8];
    // Jitter is a nicety: without entropy the query simply gets none.
    let jitter_ns = match getrandom::fill(&mut bytes) {
        Ok(()) if jitter_max_ns > 0 => u64::from_le_bytes(bytes) % jitter_max_ns,
        _ => 0,
    };
    base + Duration::from_nanos(jitter_ns)
}

/// Runs `read` against the latest state for `who`, blocking as the query options ask.
///
/// The requester is checked again whenever the query wakes (a change, the end of the
/// wait): its token resolved anew against the state it is about to read, and `check` (the
/// handler's capability check) run on the result. A token deleted, expired or stripped of
/// the policy that allowed the read while the query waited gets 403, not the data; and
/// `read` always filters with the requester's current rights.
pub async fn query<T>(
    api: &Api,
    options: &QueryOptions,
    who: &Identity,
    check: impl Fn(&Identity) -> Result<(), ApiError>,
    read: impl Fn(&State, &Identity) -> Reply<T>,
) -> Result<Reply<T>, ApiError> {
    if let Some(at) = options.at_index {
        // Time travel: the state as of `at`, reported at `at`.
        let state = api.state_at(at).await?;
        let reply = read(&state, who);
        return Ok(Reply { index: at, ..reply });
    }
    // Subscribe before the first read, so that a change between the read and the wait
    // is not missed.
    let mut changes = api.backend().subscribe();
    let mut reply = read(&api.state(), who);
    if options.min_index == 0 || reply.index > options.min_index {
        return Ok(reply);
    }
    // Bounded per client; a refusal still reports the index the read ran at.
    let _waiting = match api.limiter().enter_blocking(options.client) {
        Ok(held) => held,
        Err(e) => return Ok(Reply::err(reply.index, e)),
    };
    // While it waits, the query holds no request slot: watchers must not starve writes.
    options.release_request_slot();
    let _timed = options.wait_clock.as_ref().map(WaitClock::start);
    let deadline = Instant::now() + time_to_block(options.wait, api.config().max_query_wait);
    let _in_flight = api.metrics().blocking_query();
    let mut shutdown = api.shutdown_signal();
    while reply.index <= options.min_index {
        if *shutdown.borrow() {
            break;
        }
        let woke_by_change = tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    break; // the backend is gone; answer with what we have
                }
                true
            }
            _ = tokio::time::sleep_until(deadline) => false,
            _ = shutdown.changed() => false,
        };
        let state = api.state();
        let current = who.refreshed(&state, api.backend().now_ns())?;
        check(&current)?;
        reply = read(&state, &current);
        if !woke_by_change {
            break;
        }
    }
    Ok(reply)
}

/// A blocking read of one object: its own index when found; when not, a 404 with
/// `not_found` at `table_index` (Nomad blocks on the table until the object appears).
/// The requester is checked again when the query wakes, as in [`query`].
pub async fn query_one<T>(
    api: &Api,
    options: &QueryOptions,
    who: &Identity,
    check: impl Fn(&Identity) -> Result<(), ApiError>,
    not_found: &'static str,
    table_index: impl Fn(&TableIndexes) -> u64,
    find: impl Fn(&State, &Identity) -> Option<(u64, T)>,
) -> Result<Reply<T>, ApiError> {
    query(api, options, who, check, |state, who| {
        match find(state, who) {
            Some((index, object)) => Reply::ok(index, object),
            None => Reply::err(
                table_index(&state.table_indexes()),
                ApiError::not_found(not_found),
            ),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_is_defaulted_clamped_and_jittered() {
        for _ in 0..100 {
            let d = time_to_block(None, WAIT_MAX);
            assert!(d >= WAIT_DEFAULT && d < WAIT_DEFAULT + WAIT_DEFAULT / 16);
            let d = time_to_block(Some(Duration::from_secs(3600)), WAIT_MAX);
            assert!(d >= WAIT_MAX && d < WAIT_MAX + WAIT_MAX / 16);
            let d = time_to_block(Some(Duration::from_secs(1)), WAIT_MAX);
            assert!(d >= Duration::from_secs(1) && d < Duration::from_millis(1063));
            // A configured maximum clamps the default too.
            let max = Duration::from_secs(2);
            let d = time_to_block(None, max);
            assert!(d >= max && d < max + max / 16);
        }
    }

    #[test]
    fn reported_index_is_never_zero() {
        assert_eq!(Reply::ok(0, ()).reported_index(), 1);
        assert_eq!(Reply::ok(7, ()).reported_index(), 7);
    }
}
