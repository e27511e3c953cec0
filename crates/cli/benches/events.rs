//! Event stream fan-out on loopback: durable write throughput with no subscriber, with
//! 1,000 subscribers to a job nobody writes to (what routing costs), with 1,000 that each
//! follow one job's deployments (`topic=Deployment:job-N`,
//! the CI deploy gate), and with 1,000 that follow every deployment; and the time from a
//! write's acknowledgement to its frame reaching each subscriber (p50/p99). Prints a
//! Markdown table for BENCHMARKS.md; asserts no timings, only that every subscriber got
//! every frame it asked for, in order, and that nothing failed.
//!
//! ```sh
//! cargo bench -p rollout --bench events   # ROLLOUT_BENCH_ROUNDS=3 rounds of ROLLOUT_BENCH_SECONDS=3 per case
//! ```
//!
//! Same wiring as the `http` bench: the agent's API in-process over a durable store in a
//! temporary directory (a write is answered after its fsync), 64 writers pausing and
//! resuming their own deployment, servers and clients on separate two-worker runtimes.
//! Subscribers are raw sockets reading NDJSON lines, as any client would.

mod common;

use rollout_http::{serve, Config};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const WRITERS: usize = 64;
const SUBSCRIBERS: usize = 1000;

/// When each write was acknowledged, by index.
type Acks = Arc<Mutex<HashMap<u64, Instant>>>;

fn main() {
    let seconds = common::knob("ROLLOUT_BENCH_SECONDS", 3);
    let rounds = common::knob("ROLLOUT_BENCH_ROUNDS", 3);
    let duration = Duration::from_secs(seconds);
    // Two sockets per subscriber in this one process.
    let _ = rlimit::increase_nofile_limit(16_384);
    let servers = common::runtime("servers");
    let clients = common::runtime("clients");
    let durable = common::durable_api(Config {
        max_connections: 8192,
        max_connections_per_client: 8192,
        ..Config::default()
    });
    let api = durable.api.clone();
    let addr = servers.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(serve(listener, api, std::future::pending()));
        addr
    });
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(WRITERS)
        .build()
        .expect("client");
    let deployments = clients.block_on(common::setup(&http, &format!("http://{addr}"), WRITERS));

    println!(
        "# Event stream fan-out: {WRITERS} writers, {SUBSCRIBERS} subscribers, {rounds} rounds of {seconds} s per case ({} cores)\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut cases: Vec<(&str, Option<Filter>, Vec<Round>)> = vec![
        ("no subscriber", None, Vec::new()),
        (
            "1,000 subscribers to a job nobody writes to",
            Some(Filter::Idle),
            Vec::new(),
        ),
        (
            "1,000 subscribers, one job's deployments each",
            Some(Filter::OneJob),
            Vec::new(),
        ),
        (
            "1,000 subscribers, every deployment",
            Some(Filter::All),
            Vec::new(),
        ),
    ];
    for round in 1..=rounds {
        for (name, filter, results) in &mut cases {
            let r = clients.block_on(measure(&http, &addr, &deployments, *filter, duration));
            eprintln!(
                "round {round}: {name}: {:.0} writes/s, {} frames delivered",
                r.rate(),
                r.delivered.len()
            );
            results.push(r);
        }
    }
    let baseline = median(&cases[0].2);
    println!("| case | durable writes/s (median round) | vs no subscriber | frames delivered/s | ack → delivery p50 | p99 | errors |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, filter, results) in &cases {
        let rate = median(results);
        let delivered: usize = results.iter().map(|r| r.delivered.len()).sum();
        let per_s = delivered as f64 / (duration.as_secs_f64() * results.len() as f64);
        let (p50, p99) = if filter.is_some_and(|f| f != Filter::Idle) {
            let mut all: Vec<Duration> = results.iter().flat_map(|r| r.delivered.clone()).collect();
            all.sort();
            (
                format!("{:.2} ms", pct(&all, 0.50).as_secs_f64() * 1e3),
                format!("{:.2} ms", pct(&all, 0.99).as_secs_f64() * 1e3),
            )
        } else {
            ("—".into(), "—".into())
        };
        let errors: usize = results.iter().map(|r| r.errors).sum();
        println!(
            "| {name} | {rate:.0} | {:.2}× | {per_s:.0} | {p50} | {p99} | {errors} |",
            rate / baseline
        );
        assert_eq!(errors, 0, "{name}: failures");
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Filter {
    /// Subscribed, but to a job without writes: what routing alone costs.
    Idle,
    OneJob,
    All,
}

struct Round {
    writes: usize,
    elapsed: Duration,
    /// Ack → delivery, one per frame delivered.
    delivered: Vec<Duration>,
    errors: usize,
}

impl Round {
    fn rate(&self) -> f64 {
        self.writes as f64 / self.elapsed.as_secs_f64()
    }
}

fn median(rounds: &[Round]) -> f64 {
    let mut rates: Vec<f64> = rounds.iter().map(Round::rate).collect();
    rates.sort_by(f64::total_cmp);
    rates.get(rates.len() / 2).copied().unwrap_or(0.0)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted
        .get(i.min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// One subscriber: connects, waits for `{}`, then records when each frame arrives.
async fn subscribe(addr: String, path: String) -> (TcpStream, BufReader<TcpStream>) {
    let mut s = TcpStream::connect(&addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .expect("request");
    let read = s.into_std().expect("std");
    let write = read.try_clone().expect("clone");
    let (read, write) = (
        TcpStream::from_std(read).expect("tokio"),
        TcpStream::from_std(write).expect("tokio"),
    );
    let mut reader = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.expect("line");
        if line.starts_with("{}") {
            return (write, reader);
        }
    }
}

async fn measure(
    http: &reqwest::Client,
    addr: &str,
    deployments: &[String],
    filter: Option<Filter>,
    duration: Duration,
) -> Round {
    // Subscribers first, all listening before the writes start.
    let mut subscribers = Vec::new();
    if let Some(filter) = filter {
        let mut connecting = Vec::new();
        for i in 0..SUBSCRIBERS {
            let topic = match filter {
                Filter::Idle => format!("Deployment:idle-{i}"),
                Filter::OneJob => format!("Deployment:job-{}", i % WRITERS),
                Filter::All => "Deployment".to_string(),
            };
            let path = format!("/v1/event/stream?topic={topic}&index=-1");
            connecting.push(tokio::spawn(subscribe(addr.to_string(), path)));
        }
        for c in connecting {
            subscribers.push(c.await.expect("subscriber"));
        }
    }
    let acks: Acks = Arc::default();
    // Each reader records (index, arrival) into its own list; the lists are read once the
    // readers are stopped.
    let mut readers = Vec::new();
    for (keep, mut reader) in subscribers {
        let got: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
        let sink = got.clone();
        let task = tokio::spawn(async move {
            let _keep = keep;
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let index = line
                    .trim_end()
                    .strip_suffix('}')
                    .and_then(|l| l.rfind("\"Index\":").map(|i| &l[i + 8..]))
                    .and_then(|at| at.parse::<u64>().ok());
                if let Some(index) = index {
                    sink.lock().unwrap().push((index, Instant::now()));
                }
            }
        });
        readers.push((task, got));
    }

    let start = Instant::now();
    let end = start + duration;
    let mut workers = Vec::new();
    for d in deployments.iter().take(WRITERS) {
        let (http, addr, d, acks) = (http.clone(), addr.to_string(), d.clone(), acks.clone());
        workers.push(tokio::spawn(async move {
            let (mut writes, mut errors, mut paused) = (0, 0, false);
            while Instant::now() < end {
                paused = !paused;
                let r = http
                    .put(format!("http://{addr}/v1/deployment/pause/{d}"))
                    .body(json!({"DeploymentID": d, "Pause": paused}).to_string())
                    .send()
                    .await;
                let body = match r {
                    Ok(r) if r.status().is_success() => r.bytes().await.ok(),
                    _ => None,
                };
                let index = body
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    .and_then(|v| v["Index"].as_u64());
                match index {
                    Some(i) => {
                        acks.lock().unwrap().insert(i, Instant::now());
                        writes += 1;
                    }
                    None => errors += 1,
                }
            }
            (writes, errors)
        }));
    }
    let mut round = Round {
        writes: 0,
        elapsed: duration,
        delivered: Vec::new(),
        errors: 0,
    };
    for w in workers {
        let (writes, errors) = w.await.expect("writer");
        round.writes += writes;
        round.errors += errors;
    }
    // Let the last frames arrive, then close every stream.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let acks = acks.lock().unwrap().clone();
    for (task, got) in readers {
        task.abort();
        let _ = task.await;
        let got = std::mem::take(&mut *got.lock().unwrap());
        // In index order, each once.
        assert!(
            got.windows(2).all(|w| w[0].0 < w[1].0),
            "frames out of order"
        );
        for (index, at) in got {
            if let Some(ack) = acks.get(&index) {
                round.delivered.push(at.saturating_duration_since(*ack));
            }
        }
    }
    round
}
