//! Bounds on what one request, one client and a burst may make the agent hold
//! (DESIGN.md: "put a limit on everything").
//!
//! Two kinds live here:
//! - **request limits**: pure checks of what a request asks for (job spec shape, IDs per
//!   request, plan size, names), each refusing with a 4xx and a plain-text message that
//!   names the limit, before anything reaches the engine;
//! - **load limits**: counters of what is in flight (requests being worked on, blocking
//!   queries per client, connections), refusing with 503 or 429 and `Retry-After` at once,
//!   so that a burst beyond capacity costs a short answer, not unbounded memory.

use crate::error::ApiError;
use crate::server::{Api, Config};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use rollout_engine::command::PlanResult;
use rollout_engine::model::Job;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What one request may ask for.
#[derive(Clone, Debug)]
pub struct RequestLimits {
    /// Bytes of a job registration body (413 beyond): every version of a job is kept,
    /// so its size counts several times over.
    pub max_job_spec_bytes: usize,
    /// Task groups in one job.
    pub max_job_groups: usize,
    /// Tasks in one job, all groups together.
    pub max_job_tasks: usize,
    /// A group's `Count` and `Canary`: what one registration can make the planner place.
    pub max_group_count: i64,
    /// Allocation IDs in one allocation-health request (healthy and unhealthy together).
    pub max_ids_per_request: usize,
    /// Allocations in one plan result (placements, in-place updates and stops together)
    /// or one client update.
    pub max_plan_allocations: usize,
    /// Distinct task groups the placements of one plan result name.
    pub max_plan_groups: usize,
    /// Bytes of a job ID, task group name or task name.
    pub max_name_bytes: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_job_spec_bytes: 4 * 1024 * 1024,
            max_job_groups: 256,
            max_job_tasks: 1024,
            max_group_count: 10_000,
            max_ids_per_request: 1024,
            max_plan_allocations: 10_000,
            max_plan_groups: 256,
            max_name_bytes: 128,
        }
    }
}

/// Nomad's rule for namespace names (`validNamespaceName`): 1 to 128 ASCII letters,
/// digits and dashes.
pub const NAMESPACE_RULE: &str = "^[a-zA-Z0-9-]{1,128}$";

/// A namespace a request names (query or body). `*` (all namespaces) is a selector for
/// lists and allowed only where `wildcard` says so.
pub fn check_namespace(namespace: &str, wildcard: bool) -> Result<(), ApiError> {
    if wildcard && namespace == "*" {
        return Ok(());
    }
    let valid = (1..=128).contains(&namespace.len())
        && namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "invalid namespace {}: must match {NAMESPACE_RULE}",
            quoted(namespace)
        )))
    }
}

/// A job ID, group or task name: at most `max_bytes`, no control characters (Nomad
/// refuses spaces in job IDs and NULs everywhere; the engine checks those with Nomad's
/// texts; this adds the bound and the other control characters, which no log line or
/// terminal shows faithfully).
pub fn check_name(what: &str, name: &str, max_bytes: usize) -> Result<(), ApiError> {
    if name.len() > max_bytes {
        return Err(ApiError::bad_request(format!(
            "{what} is {} bytes long, at most {max_bytes} are allowed",
            name.len()
        )));
    }
    if name.chars().any(|c| c.is_control() && c != '\0') {
        return Err(ApiError::bad_request(format!(
            "{what} {} contains a control character",
            quoted(name)
        )));
    }
    Ok(())
}

/// A job's size and names, before the engine validates it with Nomad's rules.
pub fn check_job(job: &Job, limits: &RequestLimits) -> Result<(), ApiError> {
    check_name("job ID", &job.id, limits.max_name_bytes)?;
    check_name("job name", &job.name, limits.max_name_bytes)?;
    if job.task_groups.len() > limits.max_job_groups {
        return Err(ApiError::bad_request(format!(
            "job has {} task groups, at most {} are allowed",
            job.task_groups.len(),
            limits.max_job_groups
        )));
    }
    let tasks: usize = job.task_groups.iter().map(|g| g.tasks.len()).sum();
    if tasks > limits.max_job_tasks {
        return Err(ApiError::bad_request(format!(
            "job has {tasks} tasks, at most {} are allowed",
            limits.max_job_tasks
        )));
    }
    let job_canary = job.update.canary.unwrap_or(0);
    check_count("update canary", "job", job_canary, limits)?;
    for group in &job.task_groups {
        check_name("task group name", &group.name, limits.max_name_bytes)?;
        check_count("count", &group.name, group.count.unwrap_or(0), limits)?;
        let canary = group.update.as_ref().and_then(|u| u.canary).unwrap_or(0);
        check_count("update canary", &group.name, canary, limits)?;
        for task in &group.tasks {
            check_name("task name", &task.name, limits.max_name_bytes)?;
        }
    }
    Ok(())
}

fn check_count(what: &str, group: &str, n: i64, limits: &RequestLimits) -> Result<(), ApiError> {
    if n > limits.max_group_count {
        return Err(ApiError::bad_request(format!(
            "task group {} {what} is {n}, at most {} is allowed",
            quoted(group),
            limits.max_group_count
        )));
    }
    Ok(())
}

/// Allocation IDs of one health request.
pub fn check_id_count(ids: usize, limits: &RequestLimits) -> Result<(), ApiError> {
    if ids > limits.max_ids_per_request {
        return Err(ApiError::bad_request(format!(
            "request names {ids} allocation IDs, at most {} are allowed",
            limits.max_ids_per_request
        )));
    }
    Ok(())
}

/// A plan result's size: allocations and the groups its placements name.
pub fn check_plan(plan: &PlanResult, limits: &RequestLimits) -> Result<(), ApiError> {
    let allocations = plan.allocations.len() + plan.in_place_updates.len() + plan.stops.len();
    check_allocation_count(allocations, limits)?;
    let groups: BTreeSet<&str> = plan
        .allocations
        .iter()
        .map(|a| a.task_group.as_str())
        .collect();
    if groups.len() > limits.max_plan_groups {
        return Err(ApiError::bad_request(format!(
            "plan names {} task groups, at most {} are allowed",
            groups.len(),
            limits.max_plan_groups
        )));
    }
    Ok(())
}

/// Allocations in one plan result or client update.
pub fn check_allocation_count(n: usize, limits: &RequestLimits) -> Result<(), ApiError> {
    if n > limits.max_plan_allocations {
        return Err(ApiError::bad_request(format!(
            "request names {n} allocations, at most {} are allowed",
            limits.max_plan_allocations
        )));
    }
    Ok(())
}

/// A name as Go's `%q` would show it, shortened: error texts must stay small even
/// when the name is the oversized thing.
fn quoted(name: &str) -> String {
    const SHOWN_CHARS: usize = 64;
    let shown: String = name.chars().take(SHOWN_CHARS).collect();
    let mut out = format!("{shown:?}");
    if name.chars().count() > SHOWN_CHARS {
        out.push('…');
    }
    out
}

// --- load limits ----------------------------------------------------------------------

/// Counts of something held per remote IP (connections, blocking queries), with a cap
/// per client and in total.
#[derive(Debug)]
pub struct PerClient {
    what: &'static str,
    max_per_client: usize,
    max_total: usize,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    by_client: HashMap<IpAddr, usize>,
    total: usize,
}

/// Why [`PerClient::enter`] refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// This client is at its own cap (answer 429).
    Client,
    /// Everyone together is at the total cap (answer 503).
    Total,
}

/// One held unit; released on drop (so a dropped request or connection never leaks one).
#[derive(Debug)]
pub struct Held {
    counts: Arc<PerClient>,
    client: IpAddr,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts.counts);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.by_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                counts.by_client.remove(&self.client);
            }
        }
    }
}

impl PerClient {
    pub fn new(what: &'static str, max_per_client: usize, max_total: usize) -> Arc<PerClient> {
        Arc::new(PerClient {
            what,
            max_per_client,
            max_total,
            counts: Mutex::new(Counts::default()),
        })
    }

    pub fn enter(self: &Arc<PerClient>, client: IpAddr) -> Result<Held, Refusal> {
        let mut counts = lock(&self.counts);
        if counts.total >= self.max_total {
            return Err(Refusal::Total);
        }
        let n = counts.by_client.entry(client).or_default();
        if *n >= self.max_per_client {
            return Err(Refusal::Client);
        }
        *n += 1;
        counts.total += 1;
        Ok(Held {
            counts: self.clone(),
            client,
        })
    }

    /// What a refusal answers: 429 for one client over its share, 503 for everyone.
    pub fn refusal_error(&self, refusal: Refusal) -> ApiError {
        match refusal {
            Refusal::Client => ApiError::too_many_requests(format!(
                "too many {} from this client (at most {}); retry later",
                self.what, self.max_per_client
            )),
            Refusal::Total => ApiError::unavailable(format!(
                "too many {} (at most {}); retry later",
                self.what, self.max_total
            )),
        }
    }

    pub fn total(&self) -> usize {
        lock(&self.counts).total
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The load limits of one API.
#[derive(Debug)]
pub struct Limiter {
    max_concurrent_requests: usize,
    requests: Arc<Semaphore>,
    blocking: Arc<PerClient>,
    connections: Arc<PerClient>,
}

impl Limiter {
    pub fn new(config: &Config) -> Limiter {
        Limiter {
            max_concurrent_requests: config.max_concurrent_requests,
            requests: Arc::new(Semaphore::new(config.max_concurrent_requests)),
            // The total of blocking queries is bounded by connections (one request per
            // HTTP/1.1 connection at a time); the per-client share is what matters here.
            blocking: PerClient::new(
                "blocking queries",
                config.max_blocking_queries_per_client,
                usize::MAX,
            ),
            connections: PerClient::new(
                "connections",
                config.max_connections_per_client,
                config.max_connections,
            ),
        }
    }

    /// Open connections, counted by the accept loop.
    pub fn connections(&self) -> &Arc<PerClient> {
        &self.connections
    }

    /// The gauges of `/v1/metrics` (Prometheus text).
    /// Requests being worked on, and open connections (`/v1/metrics`).
    pub fn load(&self) -> (i64, i64) {
        let in_flight = self.max_concurrent_requests - self.requests.available_permits();
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        (gauge(in_flight), gauge(self.connections.total()))
    }

    /// A slot for a blocking query of `client` for as long as it waits. A request that
    /// came without a remote address (an in-process router) is not limited.
    pub fn enter_blocking(&self, client: Option<IpAddr>) -> Result<Option<Held>, ApiError> {
        let Some(client) = client else {
            return Ok(None);
        };
        self.blocking
            .enter(client)
            .map(Some)
            .map_err(|r| self.blocking.refusal_error(r))
    }
}

/// The request slot a request holds while it is worked on. A blocking query gives its
/// slot back while it waits ([`RequestSlot::release`]), so that watchers cannot starve
/// writes; it is bounded by the per-client limit instead.
#[derive(Clone, Debug, Default)]
pub struct RequestSlot(Arc<Mutex<Option<OwnedSemaphorePermit>>>);

impl RequestSlot {
    pub fn release(&self) {
        lock(&self.0).take();
    }
}

/// Paths never refused for load: an operator must be able to see an agent at capacity.
fn exempt(path: &str) -> bool {
    matches!(path, "/v1/metrics" | "/v1/agent/health")
}

/// Admission step (`routes::admission`): at most `max_concurrent_requests` requests are worked on at once; beyond,
/// 503 with `Retry-After` at once.
pub async fn limit_requests<F: std::future::Future<Output = Response>>(
    api: &Api,
    mut request: Request,
    next: impl FnOnce(Request) -> F,
) -> Response {
    if exempt(request.uri().path()) {
        return next(request).await;
    }
    let limiter = api.limiter();
    let Ok(permit) = limiter.requests.clone().try_acquire_owned() else {
        return ApiError::unavailable(format!(
            "too many requests in flight (at most {}); retry later",
            limiter.max_concurrent_requests
        ))
        .into_response();
    };
    let slot = RequestSlot(Arc::new(Mutex::new(Some(permit))));
    // Held here until the answer is ready: the handler's copy goes with the request,
    // which a body extractor consumes long before the work is done.
    request.extensions_mut().insert(slot.clone());
    let response = next(request).await;
    drop(slot);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use rollout_engine::command::{AllocStop, PlacedAllocation};
    use rollout_engine::model::{Task, TaskGroup};

    fn job(groups: usize, tasks_per_group: usize) -> Job {
        Job {
            id: "web".into(),
            name: "web".into(),
            task_groups: (0..groups)
                .map(|g| TaskGroup {
                    name: format!("g{g}"),
                    count: Some(1),
                    tasks: (0..tasks_per_group)
                        .map(|t| Task {
                            name: format!("t{t}"),
                            ..Task::default()
                        })
                        .collect(),
                    ..TaskGroup::default()
                })
                .collect(),
            ..Job::default()
        }
    }

    #[test]
    fn namespaces_follow_nomads_rule() {
        for ok in ["default", "prod-eu-1", "A", &"n".repeat(128)] {
            assert_eq!(check_namespace(ok, false), Ok(()), "{ok}");
        }
        assert_eq!(check_namespace("*", true), Ok(()));
        for bad in ["", "*", "a b", "a_b", "a/b", "ü", &"n".repeat(129)] {
            let e = check_namespace(bad, false).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(e.message.contains(NAMESPACE_RULE), "{}", e.message);
            assert!(e.message.len() < 200, "{}", e.message);
        }
    }

    #[test]
    fn names_are_bounded_and_free_of_control_characters() {
        assert_eq!(check_name("job ID", &"j".repeat(128), 128), Ok(()));
        assert_eq!(check_name("job ID", "web-ü.1", 128), Ok(()));
        let e = check_name("job ID", &"j".repeat(129), 128).unwrap_err();
        assert_eq!(
            e.message,
            "job ID is 129 bytes long, at most 128 are allowed"
        );
        let e = check_name("task name", "a\nb", 128).unwrap_err();
        assert_eq!(
            e.message,
            "task name \"a\\nb\" contains a control character"
        );
        // NUL is the engine's, with Nomad's text.
        assert_eq!(check_name("job ID", "a\0b", 128), Ok(()));
    }

    #[test]
    fn job_shape_is_bounded() {
        let limits = RequestLimits {
            max_job_groups: 2,
            max_job_tasks: 4,
            max_group_count: 10,
            ..RequestLimits::default()
        };
        assert_eq!(check_job(&job(2, 2), &limits), Ok(()));
        let e = check_job(&job(3, 1), &limits).unwrap_err();
        assert_eq!(e.message, "job has 3 task groups, at most 2 are allowed");
        let e = check_job(&job(2, 3), &limits).unwrap_err();
        assert_eq!(e.message, "job has 6 tasks, at most 4 are allowed");
        let mut big = job(1, 1);
        big.task_groups[0].count = Some(11);
        let e = check_job(&big, &limits).unwrap_err();
        assert_eq!(
            e.message,
            "task group \"g0\" count is 11, at most 10 is allowed"
        );
        let mut long = job(1, 1);
        long.task_groups[0].tasks[0].name = "t".repeat(200);
        assert!(check_job(&long, &limits).is_err());
    }

    #[test]
    fn plans_are_bounded_in_allocations_and_groups() {
        let limits = RequestLimits {
            max_plan_allocations: 3,
            max_plan_groups: 1,
            ..RequestLimits::default()
        };
        let placed = |group: &str| PlacedAllocation {
            task_group: group.into(),
            ..PlacedAllocation::default()
        };
        let mut plan = PlanResult {
            allocations: vec![placed("a"), placed("a")],
            stops: vec![AllocStop::default()],
            ..PlanResult::default()
        };
        assert_eq!(check_plan(&plan, &limits), Ok(()));
        plan.in_place_updates.push(uuid::Uuid::nil());
        let e = check_plan(&plan, &limits).unwrap_err();
        assert_eq!(
            e.message,
            "request names 4 allocations, at most 3 are allowed"
        );
        plan.in_place_updates.clear();
        plan.allocations[1].task_group = "b".into();
        let e = check_plan(&plan, &limits).unwrap_err();
        assert_eq!(e.message, "plan names 2 task groups, at most 1 are allowed");
    }

    #[test]
    fn per_client_counts_cap_each_client_and_the_total_and_release_on_drop() {
        let counts = PerClient::new("connections", 2, 3);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let a1 = counts.enter(a).unwrap();
        let _a2 = counts.enter(a).unwrap();
        assert_eq!(counts.enter(a).unwrap_err(), Refusal::Client);
        let _b1 = counts.enter(b).unwrap();
        assert_eq!(counts.enter(b).unwrap_err(), Refusal::Total);
        drop(a1);
        assert_eq!(counts.total(), 2);
        let _b2 = counts.enter(b).unwrap();
        let e = counts.refusal_error(Refusal::Client);
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.retry_after_s, Some(1));
        let e = counts.refusal_error(Refusal::Total);
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    }
}
