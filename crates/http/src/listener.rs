//! The accept loop and the connections: what `axum::serve` does, plus the bounds a
//! service facing untrusted clients needs (DESIGN.md: "put a limit on everything").
//!
//! - **Connections** are counted in total and per remote IP; beyond either cap a new
//!   connection gets one short canned answer (503, or 429 for a client over its share,
//!   as Nomad's `http_max_conns_per_client` does) and is closed: no task, no buffer.
//! - **Header read timeout** (hyper's): a request's headers must arrive in time, and the
//!   same clock bounds an idle kept-alive connection, so slowloris-style partial headers
//!   cannot pin a connection.
//! - **Write timeout**: a response write that makes no progress for that long (a client
//!   that stopped reading) fails, and the connection closes.
//! - The body read timeout is the body extractor's (`decode.rs`); a client that goes
//!   away mid-request or mid-blocking-query drops the handler's future with the
//!   connection, and with it every slot the request held.
//!
//! HTTP/1.1 only, as Nomad's agent serves it.

use crate::limits::{Limiter, PerClient, Refusal};
use crate::server::{Api, Config};
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;
use tower::ServiceExt;

/// How long to pause accepting after an accept error such as EMFILE (out of file
/// descriptors): long enough for connections to close, short enough not to be noticed.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// How long graceful shutdown waits for in-flight requests before it drops them.
const GRACEFUL_SHUTDOWN_MAX: Duration = Duration::from_secs(30);

/// Accepts connections until `shutdown` resolves, then lets in-flight requests finish
/// (bounded by [`GRACEFUL_SHUTDOWN_MAX`]).
pub async fn run(
    listener: TcpListener,
    api: Api,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let connections = api.limiter().connections().clone();
    run_router(listener, api.router(), api.config(), connections, shutdown).await
}

/// Serves any router through this loop, with the connection bounds and timeouts of
/// `config` — the API's serving path without the API's own work. `serve` is this around
/// [`Api::router`] plus the API's background tasks (the deadline timer, the commit feed);
/// an embedder mounting extra routes next to the API's, or a benchmark measuring what
/// HTTP alone costs on this very path, serves its router with it.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let connections = Limiter::new(config).connections().clone();
    run_router(listener, router, config, connections, shutdown).await
}

async fn run_router(
    listener: TcpListener,
    router: Router,
    config: &Config,
    connections: Arc<PerClient>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Per-connection errors (a peer that reset before accept) and
                    // resource exhaustion alike: the listener itself stays usable.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let held = match connections.enter(remote.ip()) {
            Ok(held) => held,
            Err(refusal) => {
                refuse(&stream, &refusal);
                tracing::debug!(client = %remote, ?refusal, "connection refused: at the connection limit");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(WriteTimeout::new(stream, config.write_timeout));
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            router.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // Timeouts, resets and malformed requests: the client's doing, not ours.
                tracing::debug!(client = %remote, error = %e, "connection ended with an error");
            }
            drop(held);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(GRACEFUL_SHUTDOWN_MAX) => {
            tracing::warn!("graceful shutdown timed out; dropping the remaining connections");
        }
    }
    Ok(())
}

/// The whole answer to a connection over a cap: written once without waiting (a fresh
/// socket's send buffer takes it), then the socket is dropped.
fn refuse(stream: &TcpStream, refusal: &Refusal) {
    let answer: &[u8] = match refusal {
        Refusal::Client => b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 36\r\n\r\ntoo many connections from this client",
        Refusal::Total => b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 20\r\n\r\ntoo many connections",
    };
    let _ = stream.try_write(answer);
}

/// A stream whose writes fail once one has made no progress for `timeout`: a client that
/// stops reading cannot hold a connection (and the response it holds) forever. Reads are
/// not timed here: a blocking query legitimately reads nothing for minutes, and the
/// header and body read timeouts bound the reads that matter.
struct WriteTimeout {
    stream: TcpStream,
    timeout: Duration,
    /// Armed when a write returns `Pending`, disarmed when one makes progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl WriteTimeout {
    fn new(stream: TcpStream, timeout: Duration) -> WriteTimeout {
        WriteTimeout {
            stream,
            timeout,
            stalled: None,
        }
    }

    /// After a write returned `Pending`: fail if the stall has lasted too long, else make
    /// sure the timer will wake the task.
    fn poll_stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let timeout = self.timeout;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.stalled = None;
                Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "write made no progress within the write timeout",
                ))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn on_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match result {
            Poll::Pending => match self.poll_stalled(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl AsyncRead for WriteTimeout {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteTimeout {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.on_write(cx, result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.on_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_flush(cx);
        this.on_write(cx, result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_shutdown(cx);
        this.on_write(cx, result)
    }
}
