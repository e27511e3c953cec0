//! A small HTTP client for rollout's API, and an external scheduler/client that drives
//! the engine through the ingest endpoints (R6) — what any embedder in any language
//! would do. Shared by the in-process tests (crates/http) and the binary's end-to-end
//! tests (crates/cli).
#![allow(dead_code)]

use rollout_engine::model::time::format_rfc3339;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The time clients stamp health reports with (Unix ns).
pub type ClientClock = Arc<dyn Fn() -> i64 + Send + Sync>;

#[derive(Clone)]
pub struct Client {
    pub base: String,
    http: reqwest::Client,
    clock: ClientClock,
    /// Sent as `X-Nomad-Token` when set.
    token: Option<String>,
}

/// One answer, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} (status {})", self.text, self.status))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub fn index(&self) -> u64 {
        self.header("X-Nomad-Index")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no X-Nomad-Index: {self:?}"))
    }

    /// Asserts a 200 and returns the JSON body.
    pub fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "{}", self.text);
        self.json()
    }
}

impl Client {
    pub fn new(base: String) -> Client {
        // Half the agent's default header read timeout (10 s).
        Client::with_pool_idle_timeout(base, Duration::from_secs(5))
    }

    /// A client that drops pooled connections idle for `idle`. A server closes kept-alive
    /// connections that stay idle past its header read timeout; a client that reuses one
    /// at that instant sees the close instead of an answer, so well-behaved clients keep
    /// their idle timeout below the server's.
    pub fn with_pool_idle_timeout(base: String, idle: Duration) -> Client {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(128)
            .pool_idle_timeout(idle)
            .build()
            .expect("client");
        let clock: ClientClock = Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as i64)
        });
        Client {
            base,
            http,
            clock,
            token: None,
        }
    }

    /// A client whose connections come from `local` (another loopback address, so that
    /// the server counts it as another client).
    pub fn from_address(base: String, local: std::net::IpAddr) -> Client {
        let mut c = Client::new(base);
        c.http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(128)
            .pool_idle_timeout(Duration::from_secs(5))
            .local_address(local)
            .build()
            .expect("client");
        c
    }

    /// The same client, sending `secret` as `X-Nomad-Token`.
    pub fn with_token(&self, secret: &str) -> Client {
        let mut c = self.clone();
        c.token = Some(secret.to_owned());
        c
    }

    /// The engine's last applied index, read from `/v1/metrics` (no token needed).
    pub async fn applied_index(&self) -> u64 {
        let text = self.get("/v1/metrics?format=prometheus").await.text;
        text.lines()
            .find_map(|l| l.strip_prefix("rollout_applied_index "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no rollout_applied_index in {text}"))
    }

    /// Health reports stamped by `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: ClientClock) -> Client {
        self.clock = clock;
        self
    }

    pub async fn request(&self, method: &str, path: &str, body: Option<String>) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(token) = &self.token {
            req = req.header("X-Nomad-Token", token);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        Resp {
            status,
            headers,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request("GET", path, None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.request("PUT", path, Some(body.to_string())).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.request("POST", path, Some(body.to_string())).await
    }

    pub async fn put_raw(&self, path: &str, body: &str) -> Resp {
        self.request("PUT", path, Some(body.to_owned())).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.request("DELETE", path, None).await
    }

    // --- the API, as an operator uses it ------------------------------------------------

    /// Registers a job body (`{"Job": …}`) and returns the response.
    pub async fn register(&self, body: Value) -> Value {
        self.put("/v1/jobs", body).await.ok()
    }

    /// Creates namespace `name` (jobs can only be registered into one that exists).
    pub async fn create_namespace(&self, name: &str) {
        let r = self
            .put(&format!("/v1/namespace/{name}"), json!({"Name": name}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    pub async fn deployment(&self, id: &str) -> Value {
        self.get(&format!("/v1/deployment/{id}")).await.ok()
    }

    pub async fn latest_deployment(&self, job: &str) -> Value {
        self.get(&format!("/v1/job/{job}/deployment")).await.ok()
    }

    pub async fn latest_deployment_id(&self, job: &str) -> String {
        self.latest_deployment(job).await["ID"]
            .as_str()
            .expect("deployment")
            .to_owned()
    }

    pub async fn job(&self, id: &str) -> Value {
        self.get(&format!("/v1/job/{id}")).await.ok()
    }

    pub async fn promote(&self, deployment: &str) -> Resp {
        self.put(
            &format!("/v1/deployment/promote/{deployment}"),
            json!({"DeploymentID": deployment, "All": true}),
        )
        .await
    }

    pub async fn pause(&self, deployment: &str, pause: bool) -> Resp {
        self.put(
            &format!("/v1/deployment/pause/{deployment}"),
            json!({"DeploymentID": deployment, "Pause": pause}),
        )
        .await
    }

    pub async fn fail(&self, deployment: &str) -> Resp {
        self.request("PUT", &format!("/v1/deployment/fail/{deployment}"), None)
            .await
    }

    pub async fn set_health(
        &self,
        deployment: &str,
        healthy: &[String],
        unhealthy: &[String],
    ) -> Resp {
        self.put(
            &format!("/v1/deployment/allocation-health/{deployment}"),
            json!({
                "DeploymentID": deployment,
                "HealthyAllocationIDs": healthy,
                "UnhealthyAllocationIDs": unhealthy,
            }),
        )
        .await
    }

    // --- the external scheduler and clients (R6) ----------------------------------------

    /// Plans, binds and submits every pending evaluation, then acknowledges it; repeats
    /// until none is pending. Returns the allocations placed.
    pub async fn schedule(&self) -> Vec<String> {
        let mut placed = Vec::new();
        for _ in 0..20 {
            let evals = self
                .get("/v1/evaluations?status=pending&namespace=*")
                .await
                .ok();
            let evals = evals.as_array().expect("list").clone();
            if evals.is_empty() {
                break;
            }
            for eval in evals {
                let id = eval["ID"].as_str().expect("eval ID");
                let plan = self.get(&format!("/v1/engine/plan/{id}")).await.ok();
                if !plan_is_empty(&plan) {
                    let result = self.post("/v1/engine/plan", bind(&plan)).await.ok();
                    for a in result["AllocIDs"].as_array().expect("AllocIDs") {
                        placed.push(a.as_str().expect("id").to_owned());
                    }
                }
                self.post(
                    &format!("/v1/evaluation/{id}/ack"),
                    json!({"Status": "complete"}),
                )
                .await
                .ok();
            }
        }
        placed
    }

    /// Client reports: the allocations run, with the given health (None = no health).
    pub async fn report(&self, allocs: &[String], healthy: Option<bool>) -> Value {
        let now_ns = (self.clock)();
        let now = format_rfc3339(now_ns);
        let updates: Vec<Value> = allocs
            .iter()
            .map(|id| {
                let mut u = json!({"ID": id, "ClientStatus": "running", "ModifyTime": now_ns});
                if let Some(h) = healthy {
                    u["DeploymentStatus"] = json!({"Healthy": h, "Timestamp": now});
                }
                u
            })
            .collect();
        self.post(
            "/v1/engine/allocations/update",
            json!({"Allocations": updates}),
        )
        .await
        .ok()
    }

    /// Schedules and reports healthy until nothing is left to place.
    pub async fn converge(&self) -> Vec<String> {
        let mut all = Vec::new();
        for _ in 0..20 {
            let placed = self.schedule().await;
            if placed.is_empty() {
                break;
            }
            self.report(&placed, Some(true)).await;
            all.extend(placed);
        }
        all
    }
}

fn plan_is_empty(plan: &Value) -> bool {
    let empty = |k: &str| plan[k].as_array().is_none_or(|a| a.is_empty());
    empty("Placements") && empty("InPlaceUpdates") && empty("Stops") && empty("RescheduleLater")
}

/// A plan result that does all of the plan on node `node-1`.
pub fn bind(plan: &Value) -> Value {
    let placements: Vec<Value> = plan["Placements"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            json!({
                "Name": p["Name"], "TaskGroup": p["TaskGroup"], "JobVersion": p["JobVersion"],
                "Canary": p["Canary"], "PreviousAllocation": p["PreviousAllocation"],
                "NodeID": "node-1", "NodeName": "n1",
            })
        })
        .collect();
    let in_place: Vec<Value> = plan["InPlaceUpdates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| u["AllocID"].clone())
        .collect();
    let stops: Vec<Value> = plan["Stops"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| json!({"AllocID": s["AllocID"]}))
        .collect();
    json!({
        "EvalID": plan["EvalID"],
        "SnapshotIndex": plan["SnapshotIndex"],
        "DeploymentID": plan["DeploymentID"],
        "Allocations": placements,
        "InPlaceUpdates": in_place,
        "Stops": stops,
    })
}

/// A service job with one group `web` running `image`.
pub fn job(id: &str, count: i64, image: &str, update: Value) -> Value {
    json!({
        "Job": {
            "ID": id,
            "TaskGroups": [{
                "Name": "web",
                "Count": count,
                "Update": update,
                "Tasks": [{"Name": "app", "Driver": "docker", "Config": {"image": image}}]
            }]
        }
    })
}
