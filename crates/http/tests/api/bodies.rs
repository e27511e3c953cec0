//! Request bodies on real sockets: a body being received holds no request slot and must
//! keep up a minimum rate (408 beyond), a declared length over the limit is refused at
//! once (413), and a body the handler does not need is still read, so that the
//! kept-alive connection stays usable.

use crate::common::client::Client;
use crate::common::Server;
use rollout_http::{Config, MemoryBackend};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONNECTIONS: &str = "rollout_http_connections_open";
const REQUESTS: &str = "rollout_http_requests_in_flight";
const DEPLOYMENT: &str = "6b4d1ab6-1bbf-4bd6-9bc5-3f7f42f6b2a1";

async fn server(config: Config) -> Server {
    Server::with_config(Arc::new(MemoryBackend::new()), None, config).await
}

async fn raw(s: &Server, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(s.addr()).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream.write_all(bytes).await.expect("write");
    stream
}

/// One whole response (head and `Content-Length` body), or `None` if the connection
/// closed or failed first. Bounded.
async fn read_response(stream: &mut TcpStream) -> Option<String> {
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&out[..end]).to_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if out.len() >= end + 4 + len {
                    out.truncate(end + 4 + len);
                    return Some(String::from_utf8_lossy(&out).into_owned());
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.expect("the server answered or closed within 20 s")
}

/// Whatever arrives within `wait` (possibly nothing), without failing.
async fn peek(stream: &mut TcpStream, wait: Duration) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(wait, stream.peek(&mut buf)).await {
        Ok(Ok(n)) => buf[..n].to_vec(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn a_body_the_handler_does_not_read_keeps_the_connection_usable() {
    let s = server(Config::default()).await;
    let cases = [
        ("GET with a body", "GET /v1/jobs", 200),
        ("405 with a body", "DELETE /v1/deployments", 405),
        (
            "fail with a body",
            &*format!("PUT /v1/deployment/fail/{DEPLOYMENT}"),
            404,
        ),
        ("unknown path with a body", "POST /v1/nothing-here", 404),
    ];
    for (name, line, status) in cases {
        let body = b"{\"x\": 1}\n\n";
        let head = format!(
            "{line} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut stream = raw(&s, head.as_bytes()).await;
        // The body comes in a later segment, after the server may have answered.
        let _ = peek(&mut stream, Duration::from_millis(300)).await;
        let _ = stream.write_all(body).await;
        let first = read_response(&mut stream).await.expect(name);
        assert!(
            first.starts_with(&format!("HTTP/1.1 {status} ")),
            "{name}: {first}"
        );
        let closing = first.to_lowercase().contains("connection: close");
        let _ = stream
            .write_all(b"GET /v1/agent/health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        let second = read_response(&mut stream).await;
        if closing {
            // Allowed, but then said so: the client knows not to reuse it.
            assert!(second.is_none(), "{name}: {second:?}");
        } else {
            let second = second.unwrap_or_else(|| {
                panic!("{name}: the kept-alive connection was closed without `Connection: close` after: {first}")
            });
            assert!(second.starts_with("HTTP/1.1 200 OK"), "{name}: {second}");
        }
        assert!(
            !closing,
            "{name}: a bounded body should be drained, not answered with close: {first}"
        );
    }
    s.gauge_reaches(REQUESTS, 0).await;
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_at_once_with_413() {
    let s = server(Config {
        max_body_bytes: 1024,
        ..Config::default()
    })
    .await;
    let mut stream = raw(
        &s,
        b"PUT /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n{\"Job\":",
    )
    .await;
    let answer = read_response(&mut stream)
        .await
        .expect("an answer before the body");
    assert!(
        answer.starts_with("HTTP/1.1 413 Payload Too Large"),
        "{answer}"
    );
    assert!(
        answer.to_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(answer.ends_with("Request body too large"), "{answer}");
    // A chunked body that turns out too large is refused when it crosses the limit.
    let mut stream = raw(
        &s,
        b"PUT /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .await;
    let chunk = format!("800\r\n{}\r\n", "x".repeat(0x800));
    let _ = stream.write_all(chunk.as_bytes()).await;
    let answer = read_response(&mut stream).await.expect("an answer");
    assert!(
        answer.starts_with("HTTP/1.1 413 Payload Too Large"),
        "{answer}"
    );
    assert!(
        answer.to_lowercase().contains("connection: close"),
        "{answer}"
    );
    s.gauge_reaches(REQUESTS, 0).await;
    assert_eq!(s.applied_index().await, 0);
}

#[tokio::test]
async fn a_body_slower_than_the_minimum_rate_is_cut_with_408() {
    let s = server(Config {
        body_min_rate_grace: Duration::from_millis(200),
        ..Config::default()
    })
    .await;
    let head = format!(
        "PUT /v1/deployment/pause/{DEPLOYMENT} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{{\r\n"
    );
    let mut stream = raw(&s, head.as_bytes()).await;
    let answer = read_response(&mut stream).await.expect("an answer");
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout"),
        "{answer}"
    );
    assert!(answer.contains("too slowly"), "{answer}");
    assert!(
        answer.to_lowercase().contains("connection: close"),
        "{answer}"
    );
    s.gauge_reaches(REQUESTS, 0).await;
}

/// Issue 12: 1,024 stalled bodies from one address took every request slot, and every
/// other client got 503 for 30 s.
#[tokio::test]
async fn stalled_bodies_from_one_client_leave_other_clients_served() {
    const STALLED: usize = 1024;
    let s = server(Config::default()).await;
    // The other client, on another loopback address (also the one reading metrics, so
    // that 127.0.0.1 holds exactly the stalled connections).
    let other = Client::from_address(s.client.base.clone(), "127.0.0.2".parse().unwrap());
    let gauge = |name: &'static str| {
        let other = other.clone();
        async move {
            let text = other.get("/v1/metrics?format=prometheus").await.text;
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")).map(str::to_owned))
                .and_then(|v| v.trim().parse::<i64>().ok())
                .unwrap_or(-1)
        }
    };
    let head = format!(
        "PUT /v1/deployment/pause/{DEPLOYMENT} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{{\r\n"
    );
    let mut stalled = Vec::with_capacity(STALLED);
    for _ in 0..STALLED {
        stalled.push(raw(&s, head.as_bytes()).await);
    }
    // Every stalled connection is accepted and its request under way.
    let mut open = 0;
    for _ in 0..1500 {
        open = gauge(CONNECTIONS).await;
        if open > STALLED as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(open > STALLED as i64, "only {open} connections open");

    let mut latencies = Vec::new();
    for i in 0..200 {
        let started = Instant::now();
        let r = if i % 4 == 0 {
            other
                .put(
                    "/v1/jobs",
                    crate::common::client::job(&format!("web-{i}"), 1, "app:1", json!({})),
                )
                .await
        } else {
            other.get("/v1/jobs").await
        };
        latencies.push(started.elapsed());
        assert_eq!(r.status, 200, "request {i} from 127.0.0.2: {}", r.text);
    }
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100 - 1];
    let p50 = latencies[latencies.len() / 2];
    println!(
        "with {STALLED} stalled bodies from 127.0.0.1, 200 requests from 127.0.0.2: p50 {p50:?}, p99 {p99:?}, max {:?}",
        latencies.last().unwrap()
    );
    drop(stalled);
    for _ in 0..1500 {
        if gauge(REQUESTS).await == 0 && gauge(CONNECTIONS).await <= 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("slots or connections leaked");
}
