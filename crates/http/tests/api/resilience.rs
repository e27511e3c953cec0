//! The server against hostile or broken clients: slow headers, trickled bodies, clients
//! that stop reading or vanish mid-request, too many connections, bursts beyond
//! capacity. Each test ends by checking that what the misbehaving client held
//! (connections, request slots, blocking-query waiters) came back: nothing leaks.

use crate::common::client::job;
use crate::common::Server;
use rollout_engine::{Actor, Command, Outcome, State};
use rollout_http::{
    Backend, BackendError, BoxFuture, Config, HistoryIter, MemoryBackend, RequestLimits,
};
use rollout_store::{Committed, HistoryError};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{broadcast, watch, Semaphore};

const CONNECTIONS: &str = "rollout_http_connections_open";
const REQUESTS: &str = "rollout_http_requests_in_flight";
const BLOCKING: &str = "rollout_blocking_queries_in_flight";

async fn server(config: Config) -> Server {
    Server::with_config(Arc::new(MemoryBackend::new()), None, config).await
}

/// A raw connection that has sent `bytes`.
async fn raw(s: &Server, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(s.addr()).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    stream
}

/// Everything the server sends until it closes the connection (bounded).
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn partial_headers_are_cut_off_at_the_header_read_timeout() {
    let s = server(Config {
        header_read_timeout: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    let started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..20 {
        slow.push(raw(&s, b"GET /v1/jobs HTTP/1.1\r\nHost: x\r\nX-Slow: ").await);
    }
    // Meanwhile everyone else is served.
    assert_eq!(s.get("/v1/jobs").await.status, 200);
    for stream in &mut slow {
        read_until_closed(stream).await;
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    // Only the metrics reader's own connection is left.
    s.gauge_reaches(CONNECTIONS, 1).await;
    println!("20 slowloris connections closed {elapsed:?} after they opened");
}

#[tokio::test]
async fn a_request_head_with_too_many_headers_is_refused() {
    let s = server(Config::default()).await;
    let mut head = String::from("GET /v1/jobs HTTP/1.1\r\nHost: x\r\n");
    for i in 0..200 {
        head.push_str(&format!("X-Filler-{i}: y\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = raw(&s, head.as_bytes()).await;
    let answer = read_until_closed(&mut stream).await;
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large"),
        "{answer}"
    );
    s.gauge_reaches(CONNECTIONS, 1).await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let s = server(Config {
        header_read_timeout: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    let mut stream = raw(&s, b"GET /v1/agent/health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
}

#[tokio::test]
async fn a_trickled_body_gets_408_at_the_body_read_timeout() {
    let s = server(Config {
        body_read_timeout: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    let d = "6b4d1ab6-1bbf-4bd6-9bc5-3f7f42f6b2a1";
    let head = format!(
        "PUT /v1/deployment/pause/{d} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{\"Deploy"
    );
    let mut stream = raw(&s, head.as_bytes()).await;
    let answer = read_until_closed(&mut stream).await;
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout"),
        "{answer}"
    );
    assert!(
        answer.ends_with("request body not received within 0.3s"),
        "{answer}"
    );
    s.gauge_reaches(REQUESTS, 0).await;
    s.gauge_reaches(CONNECTIONS, 1).await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_at_the_write_timeout() {
    const PAD_BYTES: usize = 12 << 20;
    let s = server(Config {
        write_timeout: Duration::from_millis(300),
        max_body_bytes: 32 << 20,
        limits: RequestLimits {
            max_job_spec_bytes: 32 << 20,
            ..RequestLimits::default()
        },
        ..Config::default()
    })
    .await;
    let mut spec = job("web", 1, "app:1", json!({}));
    spec["Job"]["Meta"] = json!({"pad": "x".repeat(PAD_BYTES)});
    s.register(spec).await;
    // A small receive window, and then no reads at all: the response (over 12 MiB) cannot
    // fit in the socket buffers, so the server's write stalls.
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut stream = socket
        .connect(s.addr().parse().expect("addr"))
        .await
        .expect("connect");
    stream
        .write_all(b"GET /v1/job/web HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    s.gauge_reaches(REQUESTS, 0).await;
    // The stalled connection is closed: only the metrics reader's is left.
    s.gauge_reaches(CONNECTIONS, 1).await;
    let received = read_until_closed(&mut stream).await;
    assert!(received.len() < PAD_BYTES, "{} bytes", received.len());
    println!(
        "stalled reader got {} of > {PAD_BYTES} bytes before the write timeout",
        received.len()
    );
}

#[tokio::test]
async fn a_client_gone_mid_blocking_query_leaves_no_waiter_behind() {
    let s = server(Config {
        max_blocking_queries_per_client: 1,
        ..Config::default()
    })
    .await;
    s.register(job("web", 1, "app:1", json!({}))).await;
    let index = s.get("/v1/jobs").await.index();
    let request = format!("GET /v1/jobs?index={index}&wait=60s HTTP/1.1\r\nHost: x\r\n\r\n");
    for _ in 0..3 {
        let stream = raw(&s, request.as_bytes()).await;
        s.gauge_reaches(BLOCKING, 1).await;
        drop(stream);
        s.gauge_reaches(BLOCKING, 0).await;
    }
    // The client's single slot came back: it may block again.
    let r = s.get(&format!("/v1/jobs?index={index}&wait=50ms")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    s.gauge_reaches(REQUESTS, 0).await;
}

#[tokio::test]
async fn a_client_gone_mid_body_leaves_nothing_behind() {
    let s = server(Config::default()).await;
    let mut streams = Vec::new();
    for _ in 0..10 {
        streams.push(
            raw(
                &s,
                b"PUT /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"Job\": {\"ID\": ",
            )
            .await,
        );
    }
    s.gauge_reaches(CONNECTIONS, 11).await;
    drop(streams);
    s.gauge_reaches(CONNECTIONS, 1).await;
    s.gauge_reaches(REQUESTS, 0).await;
    assert_eq!(s.applied_index().await, 0);
}

#[tokio::test]
async fn connections_beyond_the_per_client_cap_get_429_and_are_closed() {
    let s = server(Config {
        max_connections_per_client: 3,
        ..Config::default()
    })
    .await;
    let a = raw(&s, b"").await;
    let _b = raw(&s, b"").await;
    // The metrics reader's connection is the third.
    s.gauge_reaches(CONNECTIONS, 3).await;
    let mut refused = raw(&s, b"GET /v1/jobs HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let answer = read_until_closed(&mut refused).await;
    assert!(
        answer.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
        "{answer}"
    );
    assert!(answer.contains("Retry-After: 1\r\n"), "{answer}");
    assert!(
        answer.ends_with("\r\n\r\ntoo many connections from this client"),
        "{answer}"
    );
    drop(a);
    s.gauge_reaches(CONNECTIONS, 2).await;
    let mut ok = raw(
        &s,
        b"GET /v1/agent/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let answer = read_until_closed(&mut ok).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
}

#[tokio::test]
async fn connections_beyond_the_total_cap_get_503_and_are_closed() {
    let s = server(Config {
        max_connections: 2,
        ..Config::default()
    })
    .await;
    let _a = raw(&s, b"").await;
    s.gauge_reaches(CONNECTIONS, 2).await;
    let mut refused = raw(&s, b"GET /v1/jobs HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let answer = read_until_closed(&mut refused).await;
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{answer}"
    );
    assert!(answer.contains("Retry-After: 1\r\n"), "{answer}");
    assert!(answer.ends_with("too many connections"), "{answer}");
}

/// A backend whose writes wait at a gate the test opens: requests pile up in flight.
struct Gated {
    inner: MemoryBackend,
    gate: Arc<Semaphore>,
}

impl Backend for Gated {
    fn submit_as(
        &self,
        command: Command,
        actor: Option<Actor>,
    ) -> BoxFuture<'_, Result<Outcome, BackendError>> {
        Box::pin(async move {
            let _pass = self.gate.acquire().await.expect("gate");
            self.inner.submit_as(command, actor).await
        })
    }
    fn state(&self) -> State {
        self.inner.state()
    }
    fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.subscribe()
    }
    fn commits(&self) -> broadcast::Receiver<Arc<[Committed]>> {
        self.inner.commits()
    }
    fn history(&self, from: u64) -> Result<HistoryIter, HistoryError> {
        self.inner.history(from)
    }
    fn now_ns(&self) -> i64 {
        self.inner.now_ns()
    }
}

#[tokio::test]
async fn requests_beyond_the_concurrency_limit_get_503_with_retry_after() {
    let gate = Arc::new(Semaphore::new(0));
    let backend = Gated {
        inner: MemoryBackend::new(),
        gate: gate.clone(),
    };
    let config = Config {
        max_concurrent_requests: 2,
        ..Config::default()
    };
    let s = Server::with_config(Arc::new(backend), None, config).await;
    let mut writes = Vec::new();
    for i in 0..2 {
        let client = s.client.clone();
        writes.push(tokio::spawn(async move {
            client
                .put("/v1/jobs", job(&format!("job-{i}"), 1, "app:1", json!({})))
                .await
        }));
    }
    // Metrics stay readable at capacity.
    s.gauge_reaches(REQUESTS, 2).await;
    for path in ["/v1/jobs", "/v1/deployments"] {
        let r = s.get(path).await;
        assert_eq!(r.status, 503, "{}", r.text);
        assert_eq!(
            r.text,
            "too many requests in flight (at most 2); retry later"
        );
        assert_eq!(r.header("Retry-After").as_deref(), Some("1"));
        assert_eq!(
            r.header("Content-Type").as_deref(),
            Some("text/plain; charset=utf-8")
        );
    }
    gate.add_permits(2);
    for w in writes {
        assert_eq!(w.await.unwrap().status, 200);
    }
    s.gauge_reaches(REQUESTS, 0).await;
    assert_eq!(s.get("/v1/jobs").await.status, 200);
    // The refusals were counted under their route: the metrics step runs around the
    // concurrency limit in the admission layer.
    let scrape = s.get("/v1/metrics?format=prometheus").await.text;
    for route in ["/v1/jobs", "/v1/deployments"] {
        let line = format!(
            "rollout_http_requests_total{{method=\"GET\",route=\"{route}\",status=\"503\"}} 1"
        );
        assert!(scrape.contains(&line), "{line} missing from:\n{scrape}");
    }
    gate.add_permits(1000);
}

#[tokio::test]
async fn a_blocking_query_holds_no_request_slot_while_it_waits() {
    let gate = Arc::new(Semaphore::new(1000));
    let backend = Gated {
        inner: MemoryBackend::new(),
        gate,
    };
    let config = Config {
        max_concurrent_requests: 2,
        ..Config::default()
    };
    let s = Server::with_config(Arc::new(backend), None, config).await;
    s.register(job("web", 1, "app:1", json!({}))).await;
    let index = s.get("/v1/jobs").await.index();
    let mut waiters = Vec::new();
    for _ in 0..5 {
        let client = s.client.clone();
        let path = format!("/v1/jobs?index={index}&wait=30s");
        waiters.push(tokio::spawn(async move { client.get(&path).await }));
    }
    s.gauge_reaches(BLOCKING, 5).await;
    assert_eq!(s.gauge(REQUESTS).await, 0);
    // Five watchers, a limit of two, and writes still go through.
    s.register(job("other", 1, "app:1", json!({}))).await;
    for w in waiters {
        assert_eq!(w.await.unwrap().status, 200);
    }
}

#[tokio::test]
async fn a_full_store_queue_answers_503_with_retry_after_and_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let options = rollout_store::Options {
        queue_capacity: 1,
        ..rollout_store::Options::default()
    };
    let store = rollout_store::Store::open(dir.path(), options).expect("open");
    let backend = rollout_http::StoreBackend::new(Arc::new(store));
    let s = Server::with_config(Arc::new(backend), None, Config::default()).await;
    let mut acknowledged = Vec::new();
    let mut overloaded = 0;
    // Bursts until the queue overflows at least once (the first burst almost always does).
    for burst in 0..20 {
        let mut writes = Vec::new();
        for i in 0..64 {
            let client = s.client.clone();
            let id = format!("job-{burst}-{i}");
            writes.push(tokio::spawn(async move {
                let r = client
                    .put("/v1/jobs", job(&id, 1, "app:1", json!({})))
                    .await;
                (id, r)
            }));
        }
        for w in writes {
            let (id, r) = w.await.unwrap();
            match r.status {
                200 => acknowledged.push((id, r.index())),
                503 => {
                    assert_eq!(r.header("Retry-After").as_deref(), Some("1"));
                    assert!(r.text.contains("queue is full"), "{}", r.text);
                    overloaded += 1;
                }
                other => panic!("{other}: {}", r.text),
            }
        }
        if overloaded > 0 {
            break;
        }
    }
    assert!(overloaded > 0, "the queue never overflowed");
    for (id, index) in &acknowledged {
        let j = s.job(id).await;
        assert_eq!(j["JobModifyIndex"].as_u64(), Some(*index), "{id}");
    }
    println!(
        "{} writes acknowledged, {overloaded} answered 503 (queue capacity 1)",
        acknowledged.len()
    );
}
