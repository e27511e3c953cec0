//! In-process servers on real loopback sockets.
#![allow(dead_code)]

pub mod acl_matrix;
pub mod client;
pub mod event_lines;

use client::Client;
use rollout_engine::{SeededStamp, VirtualClock};
use rollout_http::{serve, Api, Backend, Config, MemoryBackend};
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// 2023-11-14T22:13:20Z: the clock of deterministic servers.
pub const T0: i64 = 1_700_000_000_000_000_000;

pub struct Server {
    pub client: Client,
    pub api: Api,
    /// Set for deterministic servers.
    pub clock: Option<VirtualClock>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Real clock, OS entropy.
    pub async fn start() -> Server {
        Server::with_backend(Arc::new(MemoryBackend::new()), None).await
    }

    /// A manual clock at [`T0`] and seeded IDs: the same requests give the same bytes.
    pub async fn deterministic(seed: u64) -> Server {
        let clock = VirtualClock::new(T0);
        let backend = MemoryBackend::with_stamp(SeededStamp::new(seed, clock.clone()));
        Server::with_backend(Arc::new(backend), Some(clock)).await
    }

    /// Real clock, OS entropy, ACLs enforced.
    pub async fn with_acls() -> Server {
        Server::with_config(
            Arc::new(MemoryBackend::new()),
            None,
            Config {
                acl_enabled: true,
                ..Config::default()
            },
        )
        .await
    }

    async fn with_backend(backend: Arc<MemoryBackend>, clock: Option<VirtualClock>) -> Server {
        Server::with_config(backend, clock, Config::default()).await
    }

    pub async fn with_config(
        backend: Arc<dyn Backend>,
        clock: Option<VirtualClock>,
        config: Config,
    ) -> Server {
        // Half the server's idle cut-off: never reuse a connection the server may be closing.
        let idle = config.header_read_timeout / 2;
        let api = Api::new(backend, config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, api.clone(), async {
            let _ = stopped.await;
        }));
        let mut client = Client::with_pool_idle_timeout(format!("http://{addr}"), idle);
        if let Some(clock) = &clock {
            let clock = clock.clone();
            client = client.with_clock(Arc::new(move || clock.now()));
        }
        Server {
            client,
            api,
            clock,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Graceful shutdown; returns when the server has stopped.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server");
        }
    }

    /// The address the server listens on (`127.0.0.1:port`).
    pub fn addr(&self) -> String {
        self.client.base.trim_start_matches("http://").to_owned()
    }

    /// A gauge of `/v1/metrics`.
    pub async fn gauge(&self, name: &str) -> i64 {
        let text = self.get("/v1/metrics?format=prometheus").await.text;
        let prefix = format!("{name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    }

    /// Waits (bounded) until the gauge `name` reads `value`.
    pub async fn gauge_reaches(&self, name: &str, value: i64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let now = self.gauge(name).await;
            if now == value {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name} stayed at {now}, expected {value}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub fn advance(&self, ns: i64) {
        if let Some(clock) = &self.clock {
            clock.advance(ns);
        }
    }
}

impl std::ops::Deref for Server {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}
