//! The soak test: `rollout agent --dev --data-dir DIR` (the simulated cluster over a
//! store that outlives the process) under mixed concurrent load — registrations,
//! allocation health, promotes, fails, reads and blocking queries — while the process is
//! SIGKILLed and restarted several times. Afterwards:
//! - every acknowledged write is present: each restart recovers at least the highest
//!   acknowledged index, and at the end every registration, fail, promote and health
//!   report that got a 200 is found in the state (registrations by version and image);
//! - invariants hold: acknowledged indexes are distinct, reads never go back in index
//!   (across restarts too), no job ever has two active deployments;
//! - memory is bounded: RSS of every agent lifetime is printed, and a generous bound
//!   asserted.
//!
//! Bounded for CI (about 90 s of load); `ROLLOUT_SOAK_SECS=3600` runs it for an hour.

use crate::common::Agent;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

const JOBS: usize = 16;
const WORKERS: usize = 6;
const WATCHERS: usize = 2;
/// The agent's `--job-tracked-versions` (Nomad's default).
const TRACKED_VERSIONS: usize = 6;
/// Far above what the agent needs (tens of MiB): catches growth without bound, not
/// ordinary variation.
const RSS_MAX_KIB: u64 = 1024 * 1024;
const ACTIVE: &[&str] = &[
    "running",
    "paused",
    "pending",
    "initializing",
    "blocked",
    "unblocking",
];

fn soak_secs() -> u64 {
    std::env::var("ROLLOUT_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(90)
}

/// A write that got a 200, with the index it was applied at.
#[derive(Clone, Debug)]
enum Ack {
    Register {
        job: String,
        image: String,
        index: u64,
    },
    Health {
        deployment: String,
        alloc: String,
        healthy: bool,
        index: u64,
    },
    Promote {
        deployment: String,
        index: u64,
    },
    Fail {
        deployment: String,
        index: u64,
    },
}

impl Ack {
    fn index(&self) -> u64 {
        match self {
            Ack::Register { index, .. }
            | Ack::Health { index, .. }
            | Ack::Promote { index, .. }
            | Ack::Fail { index, .. } => *index,
        }
    }
}

#[derive(Default, Debug)]
struct Counts {
    ok: AtomicU64,
    refused: AtomicU64,
    unavailable: AtomicU64,
    failed: AtomicU64,
    blocking: AtomicU64,
}

struct Shared {
    /// The base URL of the live agent (`None` while it is down).
    base: watch::Receiver<Option<String>>,
    acks: Mutex<Vec<Ack>>,
    counts: Counts,
    stop: AtomicBool,
    images: AtomicU64,
}

/// A tiny non-panicking client: during a kill any request may fail, and that is fine.
#[derive(Clone)]
struct Http {
    http: reqwest::Client,
}

struct Answer {
    status: u16,
    index: Option<u64>,
    body: Value,
}

impl Http {
    fn new() -> Http {
        Http {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                // Shorter than the agent's idle timeout (its header read timeout).
                .pool_idle_timeout(Duration::from_secs(5))
                .build()
                .expect("client"),
        }
    }

    async fn call(
        &self,
        base: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Option<Answer> {
        let mut req = self.http.request(method, format!("{base}{path}"));
        if let Some(body) = body {
            req = req.body(body.to_string());
        }
        let resp = req.send().await.ok()?;
        let status = resp.status().as_u16();
        let index = resp
            .headers()
            .get("X-Nomad-Index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let text = resp.text().await.ok()?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Some(Answer {
            status,
            index,
            body,
        })
    }
}

/// Deterministic per worker: a ChaCha stream seeded from the run's seed.
struct Rng(rand_chacha::ChaCha8Rng);

impl Rng {
    fn seeded(seed: u64) -> Rng {
        use rand_chacha::rand_core::SeedableRng;
        Rng(rand_chacha::ChaCha8Rng::seed_from_u64(seed))
    }
    fn next(&mut self) -> u64 {
        use rand_chacha::rand_core::Rng as _;
        self.0.next_u64()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn job_id(k: u64) -> String {
    format!("soak-{k}")
}

/// Even jobs: manual health and a canary (the workers set health and promote); odd
/// jobs: automatic health from the simulated clients.
fn job_spec(k: u64, image: &str) -> Value {
    let update = if k.is_multiple_of(2) {
        json!({"HealthCheck": "manual", "Canary": 1, "MaxParallel": 1, "MinHealthyTime": 0,
               "AutoRevert": true, "ProgressDeadline": 0})
    } else {
        json!({"MaxParallel": 2, "MinHealthyTime": 50_000_000, "HealthyDeadline": 5_000_000_000_i64,
               "ProgressDeadline": 10_000_000_000_i64, "AutoRevert": true})
    };
    json!({"Job": {"ID": job_id(k), "TaskGroups": [{
        "Name": "web", "Count": 2, "Update": update,
        "Tasks": [{"Name": "app", "Driver": "docker", "Config": {"image": image}}]
    }]}})
}

async fn worker(shared: Arc<Shared>, seed: u64) {
    let http = Http::new();
    let mut rng = Rng::seeded(seed);
    // The highest index each read path has shown this worker: it must never go back.
    let mut seen: HashMap<&'static str, u64> = HashMap::new();
    let mut base_rx = shared.base.clone();
    while !shared.stop.load(Ordering::Relaxed) {
        let Some(base) = base_rx.borrow_and_update().clone() else {
            let _ = tokio::time::timeout(Duration::from_millis(200), base_rx.changed()).await;
            continue;
        };
        let k = rng.below(JOBS as u64);
        let roll = rng.below(100);
        let outcome = match roll {
            0..=11 => register(&shared, &http, &base, k).await,
            12..=39 => health(&shared, &http, &base, k, &mut rng).await,
            40..=54 => promote(&shared, &http, &base, k).await,
            55..=59 => fail(&shared, &http, &base, k).await,
            _ => read(&http, &base, &mut rng, &mut seen).await,
        };
        let counter = match outcome {
            Outcome::Ok => &shared.counts.ok,
            Outcome::Refused => &shared.counts.refused,
            Outcome::Unavailable => &shared.counts.unavailable,
            Outcome::Failed => &shared.counts.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if matches!(outcome, Outcome::Failed | Outcome::Unavailable) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

enum Outcome {
    Ok,
    /// A 4xx: the state refused (terminal deployment, nothing to promote…).
    Refused,
    /// 503 / 429: at capacity.
    Unavailable,
    /// No answer (the agent is down or was killed mid-request).
    Failed,
}

fn classify(answer: &Option<Answer>) -> Outcome {
    match answer.as_ref().map(|a| a.status) {
        Some(200) => Outcome::Ok,
        Some(429 | 503) => Outcome::Unavailable,
        Some(400..=499) => Outcome::Refused,
        Some(s) => panic!(
            "unexpected status {s}: {:?}",
            answer.as_ref().map(|a| &a.body)
        ),
        None => Outcome::Failed,
    }
}

fn record(shared: &Shared, ack: Ack) {
    shared.acks.lock().unwrap().push(ack);
}

async fn register(shared: &Shared, http: &Http, base: &str, k: u64) -> Outcome {
    let image = format!("app:{}", shared.images.fetch_add(1, Ordering::Relaxed));
    let answer = http
        .call(
            base,
            reqwest::Method::PUT,
            "/v1/jobs",
            Some(job_spec(k, &image)),
        )
        .await;
    if let Some(a) = answer.as_ref().filter(|a| a.status == 200) {
        let index = a.body["JobModifyIndex"].as_u64().expect("JobModifyIndex");
        record(
            shared,
            Ack::Register {
                job: job_id(k),
                image,
                index,
            },
        );
    }
    classify(&answer)
}

/// The job's latest deployment when it is running.
async fn running_deployment(http: &Http, base: &str, k: u64) -> Result<Value, Outcome> {
    let answer = http
        .call(
            base,
            reqwest::Method::GET,
            &format!("/v1/job/{}/deployment", job_id(k)),
            None,
        )
        .await;
    match answer {
        Some(a) if a.status == 200 && a.body["Status"] == "running" => Ok(a.body),
        other => Err(match classify(&other) {
            Outcome::Ok => Outcome::Refused, // none, or not running
            o => o,
        }),
    }
}

async fn health(shared: &Shared, http: &Http, base: &str, k: u64, rng: &mut Rng) -> Outcome {
    let d = match running_deployment(http, base, k).await {
        Ok(d) => d,
        Err(o) => return o,
    };
    let id = d["ID"].as_str().expect("ID").to_owned();
    let allocs = http
        .call(
            base,
            reqwest::Method::GET,
            &format!("/v1/deployment/allocations/{id}"),
            None,
        )
        .await;
    let Some(allocs) = allocs.filter(|a| a.status == 200) else {
        return Outcome::Failed;
    };
    let pending: Vec<String> = allocs
        .body
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["ClientStatus"] == "running" && a["DeploymentStatus"]["Healthy"].is_null())
        .filter_map(|a| a["ID"].as_str().map(str::to_owned))
        .collect();
    let Some(alloc) = pending.first().cloned() else {
        return Outcome::Refused;
    };
    let healthy = rng.below(10) != 0;
    let (h, u): (Vec<&str>, Vec<&str>) = if healthy {
        (vec![&alloc], vec![])
    } else {
        (vec![], vec![&alloc])
    };
    let answer = http
        .call(
            base,
            reqwest::Method::PUT,
            &format!("/v1/deployment/allocation-health/{id}"),
            Some(
                json!({"DeploymentID": id, "HealthyAllocationIDs": h, "UnhealthyAllocationIDs": u}),
            ),
        )
        .await;
    if let Some(a) = answer.as_ref().filter(|a| a.status == 200) {
        let index = a.body["Index"].as_u64().expect("Index");
        record(
            shared,
            Ack::Health {
                deployment: id,
                alloc,
                healthy,
                index,
            },
        );
    }
    classify(&answer)
}

async fn promote(shared: &Shared, http: &Http, base: &str, k: u64) -> Outcome {
    let d = match running_deployment(http, base, k).await {
        Ok(d) => d,
        Err(o) => return o,
    };
    let id = d["ID"].as_str().expect("ID").to_owned();
    let answer = http
        .call(
            base,
            reqwest::Method::PUT,
            &format!("/v1/deployment/promote/{id}"),
            Some(json!({"DeploymentID": id, "All": true})),
        )
        .await;
    if let Some(a) = answer.as_ref().filter(|a| a.status == 200) {
        let index = a.body["Index"].as_u64().expect("Index");
        record(
            shared,
            Ack::Promote {
                deployment: id,
                index,
            },
        );
    }
    classify(&answer)
}

async fn fail(shared: &Shared, http: &Http, base: &str, k: u64) -> Outcome {
    let d = match running_deployment(http, base, k).await {
        Ok(d) => d,
        Err(o) => return o,
    };
    let id = d["ID"].as_str().expect("ID").to_owned();
    let answer = http
        .call(
            base,
            reqwest::Method::PUT,
            &format!("/v1/deployment/fail/{id}"),
            None,
        )
        .await;
    if let Some(a) = answer.as_ref().filter(|a| a.status == 200) {
        let index = a.body["Index"].as_u64().expect("Index");
        record(
            shared,
            Ack::Fail {
                deployment: id,
                index,
            },
        );
    }
    classify(&answer)
}

const READS: &[&str] = &[
    "/v1/jobs",
    "/v1/deployments",
    "/v1/allocations",
    "/v1/evaluations",
];

async fn read(
    http: &Http,
    base: &str,
    rng: &mut Rng,
    seen: &mut HashMap<&'static str, u64>,
) -> Outcome {
    let path = READS[rng.below(READS.len() as u64) as usize];
    let answer = http.call(base, reqwest::Method::GET, path, None).await;
    if let Some(a) = answer.as_ref().filter(|a| a.status == 200) {
        let index = a.index.expect("X-Nomad-Index");
        let before = seen.insert(path, index).unwrap_or(0);
        assert!(
            index >= before,
            "{path} went back from index {before} to {index}"
        );
        assert!(a.body.is_array(), "{path}: {}", a.body);
    }
    classify(&answer)
}

/// Blocking queries on the deployments table, echoing the index back.
async fn watcher(shared: Arc<Shared>) {
    let http = Http::new();
    let mut index = 1;
    let mut base_rx = shared.base.clone();
    while !shared.stop.load(Ordering::Relaxed) {
        let Some(base) = base_rx.borrow_and_update().clone() else {
            let _ = tokio::time::timeout(Duration::from_millis(200), base_rx.changed()).await;
            continue;
        };
        let path = format!("/v1/deployments?index={index}&wait=2s");
        let answer = http.call(&base, reqwest::Method::GET, &path, None).await;
        match answer {
            Some(a) if a.status == 200 => {
                let got = a.index.expect("X-Nomad-Index");
                // A blocking query answers at its index or later (at wait expiry, equal).
                assert!(got >= index, "blocking query went back: {index} -> {got}");
                index = got;
                shared.counts.blocking.fetch_add(1, Ordering::Relaxed);
            }
            Some(a) if matches!(a.status, 429 | 503) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Some(a) => panic!("blocking query: {} {}", a.status, a.body),
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// VmRSS and VmHWM of a process, in KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn start(dir: &Path) -> Agent {
    let dir = dir.to_str().expect("UTF-8 path");
    Agent::start(&[
        "--dev",
        "--data-dir",
        dir,
        "--job-tracked-versions",
        &TRACKED_VERSIONS.to_string(),
    ])
    .await
}

/// The index a restarted agent recovered to, and how long recovery took (ms).
fn recovered(agent: &Agent) -> (u64, f64) {
    let line = agent
        .log_line("store recovered")
        .expect("store recovered line");
    let index = crate::common::field(&line, "index")
        .and_then(|v| v.parse().ok())
        .expect("index=");
    let total_ms = crate::common::field(&line, "total_us")
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(f64::NAN, |us| us / 1e3);
    (index, total_ms)
}

/// No job has two active deployments.
async fn check_one_active_deployment_per_job(agent: &Agent) {
    for k in 0..JOBS as u64 {
        let r = agent
            .get(&format!("/v1/job/{}/deployments", job_id(k)))
            .await;
        if r.status == 404 {
            continue;
        }
        let list = r.ok();
        let active: Vec<&Value> = list
            .as_array()
            .expect("list")
            .iter()
            .filter(|d| ACTIVE.contains(&d["Status"].as_str().unwrap_or("")))
            .collect();
        assert!(
            active.len() <= 1,
            "job {} has {} active deployments: {active:?}",
            job_id(k),
            active.len()
        );
    }
}

#[tokio::test]
async fn the_dev_agent_survives_kills_under_load_and_keeps_every_acknowledged_write() {
    let secs = soak_secs();
    let kills = (secs / 20).clamp(3, 50);
    let lifetime = Duration::from_secs(secs) / (kills as u32 + 1);
    let dir = tempfile::tempdir().unwrap();
    let mut agent = start(dir.path()).await;
    let (base_tx, base_rx) = watch::channel(Some(agent.client.base.clone()));
    let shared = Arc::new(Shared {
        base: base_rx,
        acks: Mutex::new(Vec::new()),
        counts: Counts::default(),
        stop: AtomicBool::new(false),
        images: AtomicU64::new(1),
    });
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        tasks.push(tokio::spawn(worker(shared.clone(), w as u64 + 1)));
    }
    for _ in 0..WATCHERS {
        tasks.push(tokio::spawn(watcher(shared.clone())));
    }
    let started = Instant::now();
    // (lifetime, RSS after recovery, RSS before the kill, peak), KiB.
    let mut rss: Vec<(usize, u64, u64, u64)> = Vec::new();
    for life in 0..=kills {
        let pid = agent.child.id().expect("running");
        tokio::time::sleep(Duration::from_secs(2).min(lifetime / 4)).await;
        let (early, _) = rss_kib(pid);
        tokio::time::sleep(lifetime.saturating_sub(Duration::from_secs(2).min(lifetime / 4))).await;
        let (late, peak) = rss_kib(pid);
        rss.push((life as usize, early, late, peak));
        if life == kills {
            break;
        }
        // SIGKILL: no shutdown, no final commit; only what was fsynced survives.
        base_tx.send_replace(None);
        agent.child.start_kill().expect("SIGKILL");
        agent.wait().await;
        let acked_max = shared
            .acks
            .lock()
            .unwrap()
            .iter()
            .map(Ack::index)
            .max()
            .unwrap_or(0);
        agent = start(dir.path()).await;
        let (recovered, recovery_ms) = recovered(&agent);
        assert!(
            recovered >= acked_max,
            "restart {life}: recovered index {recovered} < acknowledged {acked_max}"
        );
        println!(
            "kill {}: acknowledged up to {acked_max}, recovered {recovered} in {recovery_ms:.0} ms",
            life + 1
        );
        check_one_active_deployment_per_job(&agent).await;
        base_tx.send_replace(Some(agent.client.base.clone()));
    }
    shared.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("worker");
    }
    let elapsed = started.elapsed();

    // --- every acknowledged write is present ---------------------------------------
    let acks = shared.acks.lock().unwrap().clone();
    let applied = agent.applied_index().await;
    let mut indexes: Vec<u64> = acks.iter().map(Ack::index).collect();
    indexes.sort_unstable();
    let distinct = {
        let mut d = indexes.clone();
        d.dedup();
        d.len()
    };
    // Every acknowledged write is its own command at its own index.
    assert_eq!(distinct, acks.len(), "two acknowledged writes at one index");
    let registrations: Vec<&Ack> = acks
        .iter()
        .filter(|a| matches!(a, Ack::Register { .. }))
        .collect();
    assert!(
        indexes.last().copied().unwrap_or(0) <= applied,
        "acknowledged up to {:?}, applied {applied}",
        indexes.last()
    );

    let mut versions: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for k in 0..JOBS as u64 {
        let r = agent.get(&format!("/v1/job/{}/versions", job_id(k))).await;
        if r.status == 200 {
            versions.insert(
                job_id(k),
                r.json()["Versions"].as_array().expect("Versions").clone(),
            );
        }
    }
    let mut trimmed = 0;
    for ack in &registrations {
        let Ack::Register { job, image, index } = ack else {
            unreachable!()
        };
        let kept = versions.get(job).unwrap_or_else(|| panic!("{job} is gone"));
        match kept
            .iter()
            .find(|v| v["JobModifyIndex"].as_u64() == Some(*index))
        {
            Some(v) => assert_eq!(
                v["TaskGroups"][0]["Tasks"][0]["Config"]["image"], *image,
                "{job} at {index}"
            ),
            None => {
                // Trimmed: at most the tracked number of versions are kept, one of which
                // may be an older stable one.
                let newer = kept
                    .iter()
                    .filter(|v| v["JobModifyIndex"].as_u64().unwrap_or(0) > *index)
                    .count();
                assert!(
                    newer >= TRACKED_VERSIONS - 1,
                    "{job} registration at {index} missing with only {newer} newer versions"
                );
                trimmed += 1;
            }
        }
    }
    for kept in versions.values() {
        assert!(
            kept.len() <= TRACKED_VERSIONS,
            "{} versions kept",
            kept.len()
        );
    }
    let mut deployments: HashMap<String, Value> = HashMap::new();
    for ack in &acks {
        let (Ack::Promote { deployment, .. } | Ack::Fail { deployment, .. }) = ack else {
            continue;
        };
        if !deployments.contains_key(deployment) {
            let d = agent.deployment(deployment).await;
            deployments.insert(deployment.clone(), d);
        }
        let d = &deployments[deployment];
        match ack {
            Ack::Fail { .. } => assert_eq!(d["Status"], "failed", "{deployment}"),
            Ack::Promote { .. } => {
                for (group, state) in d["TaskGroups"].as_object().expect("TaskGroups") {
                    if state["DesiredCanaries"].as_u64().unwrap_or(0) > 0 {
                        assert_eq!(state["Promoted"], true, "{deployment} {group}");
                    }
                }
            }
            _ => unreachable!(),
        }
    }
    // Health: the last report on each allocation is in its deployment status, at that
    // index or later — unless the allocation has since moved to a newer deployment (an
    // in-place update), which starts its health afresh, as in Nomad.
    let mut last_health: HashMap<String, (u64, bool, String)> = HashMap::new();
    for ack in &acks {
        if let Ack::Health {
            deployment,
            alloc,
            healthy,
            index,
        } = ack
        {
            let newer = last_health.get(alloc).is_none_or(|(i, _, _)| index > i);
            if newer {
                last_health.insert(alloc.clone(), (*index, *healthy, deployment.clone()));
            }
        }
    }
    let allocs = agent.get("/v1/allocations").await.ok();
    let by_id: HashMap<&str, &Value> = allocs
        .as_array()
        .expect("list")
        .iter()
        .map(|a| (a["ID"].as_str().unwrap_or(""), a))
        .collect();
    let mut moved = 0;
    for (alloc, (index, healthy, deployment)) in &last_health {
        let a = by_id
            .get(alloc.as_str())
            .unwrap_or_else(|| panic!("allocation {alloc} is gone"));
        let full = agent.get(&format!("/v1/allocation/{alloc}")).await.ok();
        if full["DeploymentID"] != *deployment {
            moved += 1;
            assert!(a["ModifyIndex"].as_u64().unwrap_or(0) > *index, "{a}");
            continue;
        }
        let status = &a["DeploymentStatus"];
        let modified = status["ModifyIndex"].as_u64().unwrap_or(0);
        assert!(
            modified >= *index,
            "{alloc}: health at {modified} < {index}: {a}"
        );
        if modified == *index {
            assert_eq!(status["Healthy"], *healthy, "{alloc}");
        }
    }
    check_one_active_deployment_per_job(&agent).await;

    // --- memory ----------------------------------------------------------------------
    let pid = agent.child.id().expect("running");
    let (final_rss, final_peak) = rss_kib(pid);
    let c = &shared.counts;
    println!(
        "soak: {:.0}s, {} kills; requests ok {} refused {} unavailable {} unanswered {}, blocking answers {}",
        elapsed.as_secs_f64(),
        kills,
        c.ok.load(Ordering::Relaxed),
        c.refused.load(Ordering::Relaxed),
        c.unavailable.load(Ordering::Relaxed),
        c.failed.load(Ordering::Relaxed),
        c.blocking.load(Ordering::Relaxed),
    );
    let count = |f: fn(&Ack) -> bool| acks.iter().filter(|a| f(a)).count();
    println!(
        "soak: {} acknowledged writes: {} registrations ({trimmed} since trimmed as older than {TRACKED_VERSIONS} versions), {} health reports, {} promotes, {} fails; {distinct} distinct indexes; applied index {applied}",
        acks.len(),
        registrations.len(),
        count(|a| matches!(a, Ack::Health { .. })),
        count(|a| matches!(a, Ack::Promote { .. })),
        count(|a| matches!(a, Ack::Fail { .. })),
    );
    println!(
        "soak: {} allocations with acknowledged health ({moved} since moved to a newer deployment)",
        last_health.len()
    );
    println!("soak: RSS per agent lifetime (KiB): lifetime, after recovery, before kill, peak");
    for (life, early, late, peak) in &rss {
        println!("soak:   {life}  {early}  {late}  {peak}");
        assert!(
            *late < RSS_MAX_KIB && *peak < RSS_MAX_KIB,
            "RSS {late} KiB, peak {peak} KiB"
        );
    }
    println!("soak: final RSS {final_rss} KiB, peak {final_peak} KiB");
    assert!(final_peak < RSS_MAX_KIB);
    assert!(
        c.ok.load(Ordering::Relaxed) > 100,
        "too little load to mean anything"
    );
    assert!(
        registrations.len() > 10,
        "too few acknowledged registrations"
    );
    agent.stop().await;
}
