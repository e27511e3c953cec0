//! What the HTTP benches share: their runtimes and the jobs they load.

use serde_json::{json, Value};
use tokio::runtime::Runtime;

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
