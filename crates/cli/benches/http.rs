//! HTTP API throughput at concurrency 64 on loopback, against the HTTP ceiling measured
//! in the same run. Prints a Markdown table for BENCHMARKS.md; asserts no timings (only
//! that nothing failed).
//!
//! ```sh
//! cargo bench -p rollout --bench http   # ROLLOUT_BENCH_ROUNDS=3 rounds of ROLLOUT_BENCH_SECONDS=3 per case
//! ```
//!
//! The agent's API runs in-process, exactly as `rollout agent --data-dir` wires it
//! (`StoreBackend` over a `rollout-store` in a temporary directory, default options: a
//! write is answered after its fsync). The ceiling answers every
//! `GET /v1/deployment/:id` with the bytes and headers the API sent for one deployment,
//! through the API's own serving loop (`serve_router`): the difference is what rollout
//! itself costs per read. Servers and load
//! client run on separate tokio runtimes of two workers each, sharing the machine's
//! cores alike in every case. The load client is reqwest (HTTP/1.1 keep-alive, one
//! connection per worker).

mod common;

use axum::http::{HeaderMap, HeaderValue};
use axum::routing::get;
use axum::Router;
use rollout_http::{serve, serve_router, Config};
use serde_json::json;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

const CONCURRENCY: usize = 64;

fn main() {
    let seconds = common::knob("ROLLOUT_BENCH_SECONDS", 3);
    let rounds = common::knob("ROLLOUT_BENCH_ROUNDS", 3);
    let duration = Duration::from_secs(seconds);
    let servers = common::runtime("servers");
    let clients = common::runtime("clients");

    // The agent's API over the durable store.
    let durable = common::durable_api(Config::default());
    let (api, store) = (durable.api.clone(), durable.store.clone());
    let api_base = servers.block_on(start(|l| serve(l, api, std::future::pending())));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("client");

    // 64 jobs, one deployment each.
    let deployments = clients.block_on(common::setup(&http, &api_base, CONCURRENCY));
    let (body, headers) = clients.block_on(read_once(&http, &api_base, &deployments[0]));
    let ceiling_base = servers.block_on(start(move |l| ceiling(l, body, headers)));

    println!(
        "# HTTP API at concurrency {CONCURRENCY}: {rounds} rounds of {seconds} s per case ({} cores)\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    // Cases alternate within each round, so that whatever else the machine does hits
    // them alike; a case's rate is its median round.
    let mut ceiling_reads = Rounds::default();
    let mut api_reads = Rounds::default();
    let mut writes = Rounds::default();
    let before = store.stats();
    for round in 1..=rounds {
        // The two read cases swap places every round: whichever runs first after the
        // writes does not get a systematically different machine.
        let read =
            |base: &str| clients.block_on(load(&http, base, &deployments, Op::Read, duration));
        let read = |base: &str| measure_server_cpu(|| read(base));
        let (c, a) = if round % 2 == 1 {
            let c = read(&ceiling_base);
            (c, read(&api_base))
        } else {
            let a = read(&api_base);
            (read(&ceiling_base), a)
        };
        let w = measure_server_cpu(|| {
            clients.block_on(load(&http, &api_base, &deployments, Op::Write, duration))
        });
        eprintln!(
            "round {round}: ceiling {:.0}/s ({:.1} µs server CPU each), API reads {:.0}/s ({:.2}x; {:.1} µs), durable writes {:.0}/s",
            c.rate(),
            c.server_cpu_per_request().as_secs_f64() * 1e6,
            a.rate(),
            a.rate() / c.rate(),
            a.server_cpu_per_request().as_secs_f64() * 1e6,
            w.rate()
        );
        ceiling_reads.push(c);
        api_reads.push(a);
        writes.push(w);
    }
    let after = store.stats();
    println!("| case | requests/s (median round) | p50 | p99 | errors | vs ceiling | server CPU per request | ceiling's CPU ÷ this |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    ceiling_reads.row(
        "`GET /v1/deployment/:id`, fixed bytes through the API's serving loop (ceiling)",
        None,
    );
    api_reads.row(
        "`GET /v1/deployment/:id`, rollout API",
        Some(&ceiling_reads),
    );
    writes.row("`PUT /v1/deployment/pause/:id`, durable writes", None);
    let batches = after.batches - before.batches;
    let committed = after.committed - before.committed;
    println!(
        "\nwrites: {committed} commands in {batches} fsyncs (mean batch {:.1}, largest {})",
        committed as f64 / batches.max(1) as f64,
        after.largest_batch
    );
    let failed = ceiling_reads.errors() + api_reads.errors() + writes.errors();
    assert_eq!(failed, 0, "requests failed");
}

/// One case's rounds.
#[derive(Default)]
struct Rounds(Vec<Measured>);

impl Rounds {
    fn push(&mut self, m: Measured) {
        self.0.push(m);
    }

    fn median_rate(&self) -> f64 {
        let mut rates: Vec<f64> = self.0.iter().map(Measured::rate).collect();
        rates.sort_by(f64::total_cmp);
        rates.get(rates.len() / 2).copied().unwrap_or(0.0)
    }

    fn errors(&self) -> usize {
        self.0.iter().map(|m| m.errors).sum()
    }

    /// Latency percentile over every request of every round.
    fn percentile(&self, p: f64) -> Duration {
        let mut all: Vec<Duration> = self
            .0
            .iter()
            .flat_map(|m| m.latencies.iter().copied())
            .collect();
        all.sort();
        let i = ((all.len() as f64 - 1.0) * p).round() as usize;
        all.get(i.min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    }

    /// Server CPU per request over every round.
    fn server_cpu_per_request(&self) -> Duration {
        let cpu: Duration = self.0.iter().map(|m| m.server_cpu).sum();
        let requests: usize = self.0.iter().map(|m| m.all_requests).sum();
        per_request(cpu, requests)
    }

    fn row(&self, case: &str, ceiling: Option<&Rounds>) {
        let ratio = ceiling.map_or(String::new(), |c| {
            format!("{:.2}×", self.median_rate() / c.median_rate())
        });
        let cpu_ratio = ceiling.map_or(String::new(), |c| {
            format!(
                "{:.2}×",
                c.server_cpu_per_request().as_secs_f64()
                    / self.server_cpu_per_request().as_secs_f64().max(1e-12)
            )
        });
        println!(
            "| {case} | {:.0} | {:.2} ms | {:.2} ms | {} | {ratio} | {:.1} µs | {cpu_ratio} |",
            self.median_rate(),
            self.percentile(0.50).as_secs_f64() * 1e3,
            self.percentile(0.99).as_secs_f64() * 1e3,
            self.errors(),
            self.server_cpu_per_request().as_secs_f64() * 1e6,
        );
    }
}

/// Binds a loopback port, spawns the server on the current runtime, returns its base URL.
async fn start<F, Fut>(server: F) -> String
where
    F: FnOnce(TcpListener) -> Fut,
    Fut: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(server(listener));
    format!("http://{addr}")
}

/// The HTTP ceiling: one route answering fixed bytes with the API's headers, served
/// through the API's own connection loop (`rollout_http::serve_router`: the same hyper
/// HTTP/1 builder, socket options, connection bounds and timeouts), so that the only
/// difference from the API case is rollout's work per read.
async fn ceiling(listener: TcpListener, body: Vec<u8>, headers: HeaderMap) -> std::io::Result<()> {
    let body = axum::body::Bytes::from(body);
    let app = Router::new().route(
        "/v1/deployment/{id}",
        get(move || {
            let (body, headers) = (body.clone(), headers.clone());
            async move { (headers, body) }
        }),
    );
    serve_router(listener, app, &Config::default(), std::future::pending()).await
}

/// The API's answer for one deployment: what the ceiling server replays.
async fn read_once(http: &reqwest::Client, base: &str, deployment: &str) -> (Vec<u8>, HeaderMap) {
    let r = http
        .get(format!("{base}/v1/deployment/{deployment}"))
        .send()
        .await
        .expect("read");
    let mut headers = HeaderMap::new();
    for (name, value) in r.headers() {
        if name.as_str().starts_with("x-nomad") || name == "content-type" {
            headers.insert(
                name.clone(),
                HeaderValue::from_bytes(value.as_bytes()).expect("header"),
            );
        }
    }
    (r.bytes().await.expect("body").to_vec(), headers)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    /// Pause, then resume, the worker's own deployment: each a durable command.
    Write,
}

struct Measured {
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    errors: usize,
    /// CPU time the server runtime's threads spent over the whole case (warm-up
    /// included, as are its requests in `all_requests`).
    server_cpu: Duration,
    all_requests: usize,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn server_cpu_per_request(&self) -> Duration {
        per_request(self.server_cpu, self.all_requests)
    }
}

fn per_request(cpu: Duration, requests: usize) -> Duration {
    cpu / u32::try_from(requests.max(1)).unwrap_or(u32::MAX)
}

/// Runs one case and charges it the CPU time the server runtime's threads used meanwhile.
fn measure_server_cpu(case: impl FnOnce() -> Measured) -> Measured {
    let before = server_threads_cpu();
    let mut m = case();
    m.server_cpu = server_threads_cpu().saturating_sub(before);
    m
}

/// On-CPU time of this process's threads named `servers` (the servers' tokio runtime),
/// from Linux's `/proc/self/task/*/schedstat` (nanoseconds, exact, unlike the 10 ms
/// ticks of `stat`). Zero where `/proc` is not there: the column then reads 0.
fn server_threads_cpu() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let mut total = 0u64;
    for task in tasks.flatten() {
        let path = task.path();
        let named_servers = std::fs::read_to_string(path.join("comm"))
            .is_ok_and(|comm| comm.trim_end().starts_with("servers"));
        if !named_servers {
            continue;
        }
        let on_cpu = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| {
                s.split_whitespace()
                    .next()
                    .and_then(|ns| ns.parse::<u64>().ok())
            });
        total += on_cpu.unwrap_or(0);
    }
    Duration::from_nanos(total)
}

/// `CONCURRENCY` workers, each on its own deployment, for `duration` (after a short
/// warm-up that opens the connections).
async fn load(
    http: &reqwest::Client,
    base: &str,
    deployments: &[String],
    op: Op,
    duration: Duration,
) -> Measured {
    let warmup = Duration::from_millis(500);
    let start = Instant::now() + warmup;
    let end = start + duration;
    let mut workers = Vec::with_capacity(CONCURRENCY);
    for d in deployments.iter().take(CONCURRENCY) {
        let (http, base, d) = (http.clone(), base.to_owned(), d.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut paused = false;
            let mut sent = 0;
            loop {
                let t = Instant::now();
                if t >= end {
                    break;
                }
                let request = match op {
                    Op::Read => http.get(format!("{base}/v1/deployment/{d}")),
                    Op::Write => {
                        paused = !paused;
                        http.put(format!("{base}/v1/deployment/pause/{d}"))
                            .body(json!({"DeploymentID": d, "Pause": paused}).to_string())
                    }
                };
                sent += 1;
                let ok = match request.send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if t >= start {
                    latencies.push(t.elapsed());
                    errors += usize::from(!ok);
                }
            }
            (latencies, errors, sent)
        }));
    }
    let mut measured = Measured {
        requests: 0,
        elapsed: duration,
        latencies: Vec::new(),
        errors: 0,
        server_cpu: Duration::ZERO,
        all_requests: 0,
    };
    for w in workers {
        let (latencies, errors, sent) = w.await.expect("worker");
        measured.latencies.extend(latencies);
        measured.errors += errors;
        measured.all_requests += sent;
    }
    measured.requests = measured.latencies.len();
    measured
}
