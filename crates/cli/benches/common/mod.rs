//! What the HTTP benches share: their knobs, runtimes, the agent's API over a durable
//! store, and the jobs they load.
// Each bench compiles this module on its own and uses a part of it.
#![allow(dead_code)]

use rollout_http::{Api, Config, StoreBackend};
use rollout_store::{Options, Store};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::runtime::Runtime;

/// The agent's allocator (`rollout`'s main.rs), so that the benches measure the API as
/// the binary runs it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A bench knob from the environment (`ROLLOUT_BENCH_SECONDS=10`), else `default`.
pub fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The agent's API over a durable store in a temporary directory (kept while this lives).
pub struct DurableApi {
    pub api: Api,
    /// For benches that read the store's statistics or set up through it.
    pub store: Arc<Store>,
    _dir: tempfile::TempDir,
}

/// [`DurableApi`] with `config`.
pub fn durable_api(config: Config) -> DurableApi {
    durable_api_with(Options::default(), config)
}

/// [`DurableApi`] over a store opened with `options`.
pub fn durable_api_with(options: Options, config: Config) -> DurableApi {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(Store::open(dir.path(), options).expect("open store"));
    let api = Api::new(Arc::new(StoreBackend::new(store.clone())), config);
    DurableApi {
        api,
        store,
        _dir: dir,
    }
}

/// A two-worker runtime: servers and load clients each get one, sharing the cores alike.
pub fn runtime(name: &str) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Registers jobs `job-0` … `job-{n-1}` (three allocations, one canary per update) at
/// `base` (`http://host:port`) and returns their deployments' IDs.
pub async fn setup(http: &reqwest::Client, base: &str, n: usize) -> Vec<String> {
    let mut deployments = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("job-{i}");
        let job = json!({"Job": {"ID": id, "TaskGroups": [{"Name": "web", "Count": 3,
            "Update": {"Canary": 1, "MaxParallel": 1},
            "Tasks": [{"Name": "app", "Driver": "docker", "Config": {"image": "app:1"}}]}]}});
        let r = http
            .put(format!("{base}/v1/jobs"))
            .body(job.to_string())
            .send()
            .await
            .expect("register");
        assert!(r.status().is_success(), "register: {}", r.status());
        let body = http
            .get(format!("{base}/v1/job/{id}/deployment"))
            .send()
            .await
            .expect("deployment")
            .bytes()
            .await
            .expect("body");
        let d: Value = serde_json::from_slice(&body).expect("JSON");
        deployments.push(d["ID"].as_str().expect("deployment ID").to_owned());
    }
    deployments
}
