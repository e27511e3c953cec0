//! Writes the seed corpora (`fuzz/seeds/<target>/`) and dictionaries (`fuzz/dicts/`)
//! from the test suites:
//!
//! - `engine_commands`: the engine tests' scenarios (canary → promote, auto-revert,
//!   pause/fail, deadlines, reverts, GC, ACLs) as action programs, plus programs drawn
//!   from the property test's action distribution (`crates/engine/tests/properties.rs`)
//!   with a fixed seed;
//! - `store_records`: the log records and snapshots those programs produce, and the
//!   store tests' workload commands (`rollout_store::workload`);
//! - `json_bodies`: the body of every write endpoint as the HTTP tests send it (the
//!   tests' `job()` shape, raw bodies found in `crates/http/tests`), in Nomad's casing
//!   and in the odd casings the decoding tests use;
//! - `query_params`: every `/v1/…` path literal of the HTTP and CLI tests, placeholders
//!   filled with the fixture's IDs;
//! - `dicts/json.dict`: every JSON field name of the engine's model (`rename = "…"`).
//!
//! Run from the repository root: `cargo run --manifest-path fuzz/Cargo.toml --example
//! gen_seeds`. It replaces the seed directories; output is deterministic.

use rollout_engine::{Command, Entropy, Envelope, State};
use rollout_fuzz::encode::{encode, raw, step};
use rollout_fuzz::engine::*;
use rollout_fuzz::http::{fixture, CLIENT_ACCESSOR, MANAGEMENT_SECRET, POLICY};
use rollout_fuzz::{bodies, queries, records};
use rollout_store::codec;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Empties `fuzz/seeds/<target>` and returns a writer for it.
fn seeds(target: &str) -> impl FnMut(&str, &[u8]) {
    let dir = root().join("seeds").join(target);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create seed dir");
    let mut seen = BTreeSet::new();
    move |name: &str, bytes: &[u8]| {
        if seen.insert(bytes.to_vec()) {
            fs::write(dir.join(name), bytes).expect("write seed");
        }
    }
}

// --- engine programs ---------------------------------------------------------------------

fn register(job: u8, image: u8, count: u8, canary: u8) -> Action {
    Action::Register(Register {
        job,
        image,
        count,
        canary,
        progress_deadline: 2,
        ..Default::default()
    })
}

/// Schedule every pending evaluation (all placements) and acknowledge it, a few rounds.
fn schedule_all(rounds: u8) -> Vec<Action> {
    (0..rounds)
        .flat_map(|_| {
            [
                Action::Schedule(Schedule {
                    eval: 0,
                    keep: 255,
                    ..Default::default()
                }),
                Action::Ack(Ack { eval: 0, status: 0 }),
            ]
        })
        .collect()
}

/// Every allocation reports running and healthy (or unhealthy), four per update.
fn clients(healthy: bool, upto: u8) -> Vec<Action> {
    (0..upto)
        .step_by(4)
        .map(|alloc| {
            Action::Client(Client {
                alloc,
                count: 3,
                status: 1,
                health: if healthy { 1 } else { 2 },
                ..Default::default()
            })
        })
        .collect()
}

fn scenarios() -> Vec<(&'static str, Vec<Step>)> {
    let mut out: Vec<(&'static str, Vec<Action>)> = Vec::new();
    let rollout = |image: u8, canary: u8| -> Vec<Action> {
        let mut v = vec![register(0, image, 2, canary)];
        v.extend(schedule_all(2));
        v.extend(clients(true, 12));
        v.extend(schedule_all(2));
        v.extend(clients(true, 12));
        v
    };
    // flow.rs: a stable version, then canaries, promotion and the rolling update.
    let mut v = rollout(0, 0);
    v.extend(rollout(1, 1));
    v.push(Action::Promote(Promote {
        deployment: 1,
        all: true,
        groups: 0,
    }));
    for _ in 0..3 {
        v.extend(schedule_all(2));
        v.extend(clients(true, 16));
    }
    out.push(("canary_promote", v));
    // Auto-revert: the new version's allocations fail.
    let mut v = rollout(0, 0);
    v.push(Action::Register(Register {
        image: 2,
        count: 2,
        auto_revert: true,
        // Not progress-based: the first unhealthy allocation fails the deployment.
        progress_deadline: 0,
        ..Default::default()
    }));
    v.extend(schedule_all(2));
    v.extend(clients(false, 12));
    v.extend(schedule_all(2));
    out.push(("auto_revert", v));
    // operator.rs: pause, resume, fail, manual health.
    let mut v = rollout(0, 0);
    v.push(register(0, 3, 2, 1));
    v.extend(schedule_all(1));
    v.push(Action::Pause(Pause {
        deployment: 1,
        pause: true,
    }));
    v.push(Action::SetHealth(SetHealth {
        deployment: 1,
        alloc: 0,
        healthy: 1,
        count: 1,
        garbage: 0,
    }));
    v.push(Action::Pause(Pause {
        deployment: 1,
        pause: false,
    }));
    v.push(Action::Fail(Fail { deployment: 1 }));
    v.extend(schedule_all(2));
    out.push(("pause_fail", v));
    // watcher.rs: progress deadlines pass.
    let mut v = vec![register(1, 0, 3, 1)];
    v.extend(schedule_all(1));
    v.push(Action::Tick(Tick { advance_s: 700 }));
    v.push(Action::Tick(Tick { advance_s: 700 }));
    v.extend(schedule_all(2));
    out.push(("deadline", v));
    // jobs.rs: versions, revert, stability, stop and purge.
    let mut v = rollout(0, 0);
    v.extend(rollout(1, 0));
    v.push(Action::Stable(Stable {
        job: 0,
        version: 0,
        stable: true,
        ..Default::default()
    }));
    v.push(Action::Revert(Revert {
        job: 0,
        version: 0,
        ..Default::default()
    }));
    v.extend(schedule_all(2));
    v.push(Action::Stop(Stop {
        job: 0,
        purge: false,
        ..Default::default()
    }));
    v.extend(schedule_all(1));
    v.push(Action::Stop(Stop {
        job: 0,
        purge: true,
        ..Default::default()
    }));
    out.push(("revert_stop_purge", v));
    // GC after a long time.
    let mut v = rollout(0, 0);
    v.extend(rollout(2, 0));
    v.push(Action::Warp(Warp {
        mode: 0,
        value: 2 * 3_600_000_000_000,
    }));
    v.push(Action::Gc(Gc {
        evaluations: false,
        threshold: 0,
    }));
    v.push(Action::Gc(Gc {
        evaluations: true,
        threshold: 0,
    }));
    v.push(Action::Reap(Reap {
        deployment: 0,
        count: 2,
        garbage: true,
    }));
    out.push(("gc", v));
    // acl.rs: bootstrap, policies, tokens.
    out.push((
        "acl",
        vec![
            Action::Acl(Acl::Bootstrap {
                accessor: 0,
                reset_index: 0,
            }),
            Action::Acl(Acl::UpsertPolicy {
                name: 0,
                rules: 0,
                job_acl: 0,
            }),
            Action::Acl(Acl::UpsertPolicy {
                name: 1,
                rules: 2,
                job_acl: 1,
            }),
            Action::Acl(Acl::UpsertToken {
                accessor: 1,
                new: true,
                token_type: 0,
                policies: 1,
                roles: 0,
                global: false,
                expiration: 3,
            }),
            Action::Acl(Acl::UpsertToken {
                accessor: 1,
                new: false,
                token_type: 0,
                policies: 2,
                roles: 0,
                global: true,
                expiration: 0,
            }),
            Action::Acl(Acl::DeletePolicy { name: 0 }),
            Action::Acl(Acl::DeleteToken { accessor: 1 }),
            Action::Acl(Acl::Bootstrap {
                accessor: 2,
                reset_index: 1,
            }),
        ],
    ));
    // Hostile registrations and client timestamps.
    let mut v = rollout(0, 1);
    v.push(Action::Register(Register {
        image: 1,
        count: 2,
        canary: 1,
        mutations: [
            Mutation {
                kind: 4,
                value: i64::MAX,
            },
            Mutation {
                kind: 5,
                value: i64::MAX,
            },
        ],
        ..Default::default()
    }));
    v.extend(schedule_all(1));
    v.push(Action::Client(Client {
        alloc: 0,
        count: 3,
        status: 1,
        health: 1,
        time: 7,
        ..Default::default()
    }));
    v.push(Action::Warp(Warp {
        mode: 2,
        value: i64::MAX,
    }));
    v.push(Action::Tick(Tick { advance_s: 65535 }));
    out.push(("extremes", v));
    let mut programs: Vec<(&'static str, Vec<Step>)> = out
        .into_iter()
        .map(|(n, v)| (n, v.into_iter().map(step).collect()))
        .collect();
    // The log's JSON format, as the raw-command action carries it.
    let tick = serde_json::to_vec(&Command::Tick).unwrap();
    let gc = serde_json::to_vec(&Command::GcDeployments(
        rollout_engine::command::GcDeployments { threshold_ns: 1 },
    ))
    .unwrap();
    programs.push((
        "raw_json",
        vec![raw(&tick), raw(&gc), raw(b"{\"Tick\":null}")],
    ));
    programs
}

/// A fixed-seed ChaCha stream, so the corpus is reproducible.
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
    fn u8(&mut self) -> u8 {
        self.next() as u8
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One action drawn with the property test's weights.
fn random_action(r: &mut Rng) -> Action {
    let weights: [(u64, u8); 14] = [
        (3, 0),
        (6, 1),
        (6, 2),
        (2, 3),
        (2, 4),
        (1, 5),
        (1, 6),
        (3, 7),
        (3, 9),
        (1, 10),
        (1, 11),
        (1, 12),
        (1, 13),
        (1, 16),
    ];
    let total: u64 = weights.iter().map(|w| w.0).sum();
    let mut x = r.below(total);
    let kind = weights
        .iter()
        .find(|(w, _)| {
            if x < *w {
                true
            } else {
                x -= w;
                false
            }
        })
        .map_or(7, |w| w.1);
    match kind {
        0 => Action::Register(Register {
            job: r.u8() % 2,
            image: r.u8() % 4,
            count: r.u8() % 4,
            canary: r.u8() % 3,
            auto_revert: r.u8() & 1 == 1,
            auto_promote: r.u8() & 1 == 1,
            progress_deadline: r.u8() % 3,
            ..Default::default()
        }),
        1 => Action::Schedule(Schedule {
            eval: r.u8(),
            keep: r.u8(),
            ..Default::default()
        }),
        2 => Action::Client(Client {
            alloc: r.u8(),
            status: r.u8() % 7,
            health: r.u8() % 3,
            ..Default::default()
        }),
        3 => Action::SetHealth(SetHealth {
            deployment: r.u8(),
            alloc: r.u8(),
            healthy: r.u8(),
            count: 1,
            garbage: 0,
        }),
        4 => Action::Promote(Promote {
            deployment: r.u8(),
            all: r.u8() & 1 == 1,
            groups: 1,
        }),
        5 => Action::Pause(Pause {
            deployment: r.u8(),
            pause: r.u8() & 1 == 1,
        }),
        6 => Action::Fail(Fail { deployment: r.u8() }),
        7 => Action::Tick(Tick {
            advance_s: r.below(900) as u16,
        }),
        9 => Action::Ack(Ack {
            eval: r.u8(),
            status: r.u8() % 4,
        }),
        10 => Action::Revert(Revert {
            job: r.u8() % 2,
            version: r.u8() % 6,
            ..Default::default()
        }),
        11 => Action::Stable(Stable {
            job: r.u8() % 2,
            version: r.u8() % 6,
            stable: r.u8() & 1 == 1,
            ..Default::default()
        }),
        12 => Action::Stop(Stop {
            job: r.u8() % 2,
            purge: r.u8() & 1 == 1,
            ..Default::default()
        }),
        13 => Action::Gc(Gc::default()),
        _ => Action::Garbage(Garbage { which: r.u8() }),
    }
}

/// Runs a program the way the target does and returns its log and final state.
fn execute(steps: &[Step]) -> (Vec<Envelope>, State) {
    let (engine, log) = drive(steps, |_, _, _, _, _| {});
    (log, engine.into_state())
}

// --- main -----------------------------------------------------------------------------------

fn main() {
    let programs = scenarios();
    let mut rng = Rng::seeded(0x005e_ed0f_f022);
    let random: Vec<Vec<Step>> = (0..40)
        .map(|_| {
            let n = 20 + rng.below(70) as usize;
            (0..n).map(|_| step(random_action(&mut rng))).collect()
        })
        .collect();

    // engine_commands
    let mut put = seeds("engine_commands");
    for (name, p) in &programs {
        rollout_fuzz::engine::run(&encode(p));
        let (log, state) = execute(p);
        let statuses: Vec<String> = state
            .deployments_in_namespace(None)
            .iter()
            .map(|d| d.status.clone())
            .collect();
        println!(
            "{name}: {} steps, {} accepted, deployments {statuses:?}, {} allocations",
            p.len(),
            log.len(),
            state.allocs_in_namespace(None).len()
        );
        put(&format!("scenario_{name}"), &encode(p));
    }
    for (i, p) in random.iter().enumerate() {
        rollout_fuzz::engine::run(&encode(p));
        put(&format!("property_{i:02}"), &encode(p));
    }

    // store_records: records of every kind of command the programs wrote, snapshots of
    // their final states, the store tests' workload commands, the engine config.
    let mut put = seeds("store_records");
    let mut kinds = BTreeSet::new();
    let mut all = programs
        .iter()
        .map(|(n, p)| (n.to_string(), p.clone()))
        .collect::<Vec<_>>();
    all.extend(
        random
            .iter()
            .take(8)
            .enumerate()
            .map(|(i, p)| (format!("property_{i:02}"), p.clone())),
    );
    for (name, p) in &all {
        let (log, state) = execute(p);
        for env in &log {
            if kinds.insert(env.command.name()) {
                let record = codec::encode_log_record(env).unwrap();
                let mut framed = vec![0u8];
                framed.extend_from_slice(&record);
                put(&format!("record_{}", env.command.name()), &framed);
                let mut payload = vec![2u8];
                payload.extend_from_slice(&record[5..]);
                put(&format!("payload_{}", env.command.name()), &payload);
            }
        }
        if matches!(
            name.as_str(),
            "canary_promote" | "acl" | "gc" | "property_00"
        ) {
            let snap = codec::encode_snapshot(&state).unwrap();
            let mut framed = vec![1u8];
            framed.extend_from_slice(&snap);
            put(&format!("snapshot_{name}"), &framed);
            let mut payload = vec![3u8];
            payload.extend_from_slice(&codec::encode_state(&state).unwrap());
            put(&format!("state_{name}"), &payload);
        }
    }
    let workload = [
        rollout_store::workload::register("web", 3, "app:1"),
        rollout_store::workload::fail_unknown_deployment(1),
        rollout_store::workload::client_running(uuid::Uuid::from_u128(1), T0, true),
        rollout_store::workload::mixed(5, 3),
    ];
    for (i, cmd) in workload.into_iter().enumerate() {
        let env = Envelope::new(1 + i as u64, T0, Entropy::from_u64(i as u64), cmd);
        let mut framed = vec![0u8];
        framed.extend_from_slice(&codec::encode_log_record(&env).unwrap());
        put(&format!("workload_{i}"), &framed);
    }
    let mut meta = vec![4u8];
    meta.extend_from_slice(&codec::encode_meta(&rollout_engine::EngineConfig::default()).unwrap());
    put("meta_engine_config", &meta);
    put("empty_snapshot", &{
        let mut v = vec![1u8];
        v.extend(records::snapshot(
            0,
            &codec::encode_state(&State::new()).unwrap(),
        ));
        v
    });

    write_bodies();
    write_queries();
    write_dict();
}

// --- json_bodies ----------------------------------------------------------------------------

fn endpoint(route: &str) -> u8 {
    bodies::ENDPOINTS
        .iter()
        .position(|(r, _)| *r == route)
        .unwrap_or_else(|| panic!("no endpoint {route}")) as u8
}

/// Lower-cases every object key: the decoder must match fields case-insensitively.
fn lowercase_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.to_lowercase(), lowercase_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(lowercase_keys).collect()),
        v => v.clone(),
    }
}

fn write_bodies() {
    let fx = fixture();
    let mut put = seeds("json_bodies");
    let d = fx.deployment.to_string();
    let job = |image: &str, update: Value| {
        json!({"Job": {"ID": "web", "TaskGroups": [{"Name": "web", "Count": 3, "Update": update,
            "Tasks": [{"Name": "app", "Driver": "docker", "Config": {"image": image}}]}]}})
    };
    let plan = rollout_engine::plan(&fx.state, &fx.eval, rollout_fuzz::http::NOW)
        .map(|p| serde_json::to_value(p.accept_on_node("node-1", "n1")).unwrap())
        .unwrap_or(json!({}));
    let full_job =
        serde_json::to_value(fx.state.job("default", "web").map(|j| (**j).clone())).unwrap();
    let cases: Vec<(&str, &str, Value)> = vec![
        ("/v1/jobs", "register", job("app:3", json!({"Canary": 1, "MaxParallel": 1}))),
        ("/v1/jobs", "register_full", json!({"Job": full_job, "EnforceIndex": true, "JobModifyIndex": 1})),
        ("/v1/jobs", "register_auto", job("app:4", json!({"Canary": 2, "AutoPromote": true, "AutoRevert": true, "HealthCheck": "task_states", "MinHealthyTime": 1_000_000_000u64, "HealthyDeadline": 60_000_000_000u64, "ProgressDeadline": 600_000_000_000u64}))),
        ("/v1/job/{}", "register_at", job("app:5", json!({}))),
        ("/v1/job/{}/revert", "revert", json!({"JobID": "web", "JobVersion": 0, "EnforcePriorVersion": 1})),
        ("/v1/job/{}/stable", "stable", json!({"JobID": "web", "JobVersion": 0, "Stable": true})),
        ("/v1/deployment/pause/{}", "pause", json!({"DeploymentID": d, "Pause": true})),
        ("/v1/deployment/promote/{}", "promote", json!({"DeploymentID": d, "All": true})),
        ("/v1/deployment/promote/{}", "promote_groups", json!({"DeploymentID": d, "Groups": ["web"]})),
        ("/v1/deployment/allocation-health/{}", "health", json!({"DeploymentID": d, "HealthyAllocationIDs": [fx.canary], "UnhealthyAllocationIDs": []})),
        ("/v1/deployment/unblock/{}", "unblock", json!({"DeploymentID": d})),
        ("/v1/deployment/fail/{}", "fail", json!({"DeploymentID": d})),
        ("/v1/engine/plan", "plan", plan),
        ("/v1/engine/allocations/update", "client", json!({"Allocations": [{"ID": fx.canary, "ClientStatus": "running", "DeploymentStatus": {"Healthy": true, "Timestamp": "2023-11-14T22:20:00Z"}, "ModifyTime": rollout_fuzz::http::NOW}]})),
        ("/v1/evaluation/{}/ack", "ack", json!({"Status": "complete", "StatusDescription": "done"})),
        ("/v1/acl/bootstrap", "bootstrap", json!({"BootstrapSecret": MANAGEMENT_SECRET})),
        ("/v1/acl/policy/{}", "policy", json!({"Name": POLICY, "Description": "d", "Rules": "namespace \"default\" { policy = \"write\" }", "JobACL": {"Namespace": "default", "JobID": "web"}})),
        ("/v1/acl/token", "token", json!({"Name": "t", "Type": "client", "Policies": [POLICY], "ExpirationTTL": "1h"})),
        ("/v1/acl/token/{}", "token_update", json!({"AccessorID": CLIENT_ACCESSOR, "Name": "t2", "Type": "client", "Policies": [POLICY], "ExpirationTime": "2030-01-01T00:00:00Z"})),
        ("rules", "rules_hcl", json!("namespace \"default\" {\n  policy = \"read\"\n  capabilities = [\"submit-job\"]\n}\nnode { policy = \"read\" }\nagent { policy = \"deny\" }")),
        ("rules", "rules_json", json!("{\"namespace\": {\"default\": {\"policy\": \"write\"}}}")),
    ];
    for (route, name, body) in cases {
        let e = endpoint(route);
        // Flags: management token when ACLs matter, else ACLs off.
        let flags = if route.starts_with("/v1/acl") { 1 } else { 0 };
        let text = match (&body, route) {
            (Value::String(s), "rules") => s.clone().into_bytes(),
            _ => serde_json::to_vec(&body).unwrap(),
        };
        let mut input = vec![e, flags];
        input.extend_from_slice(&text);
        bodies::run(&input);
        put(name, &input);
        if route != "rules" {
            let mut lower = vec![e, flags | 4];
            lower.extend_from_slice(&serde_json::to_vec(&lowercase_keys(&body)).unwrap());
            put(&format!("{name}_lowercase"), &lower);
        }
    }
    // Raw bodies the HTTP tests send (`r#"{…}"#` literals), placeholders filled.
    for (file, text) in test_sources(&["crates/http/tests"]) {
        for (i, lit) in raw_literals(&text).into_iter().enumerate() {
            let body = fill(&lit);
            if !body.trim_start().starts_with('{') {
                continue;
            }
            let e = if body.to_lowercase().contains("pause") {
                endpoint("/v1/deployment/pause/{}")
            } else if body.to_lowercase().contains("taskgroups") {
                endpoint("/v1/jobs")
            } else {
                endpoint("/v1/deployment/promote/{}")
            };
            let mut input = vec![e, 0];
            input.extend_from_slice(body.as_bytes());
            put(&format!("test_{file}_{i}"), &input);
        }
    }
}

// --- query_params ---------------------------------------------------------------------------

fn write_queries() {
    let mut put = seeds("query_params");
    let raw_route = queries::ENDPOINTS
        .iter()
        .position(|(_, r, _)| *r == "raw")
        .unwrap() as u8;
    let mut n = 0;
    for (_, text) in test_sources(&["crates/http/tests", "crates/cli/tests"]) {
        for lit in string_literals(&text) {
            if !lit.starts_with("/v1/") {
                continue;
            }
            let filled = fill(&lit);
            let (path, query) = filled.split_once('?').unwrap_or((&filled, ""));
            // The matching route with the fixture's own ID, else the raw path.
            let found = queries::ENDPOINTS
                .iter()
                .position(|(m, r, _)| *m == axum::http::Method::GET && route_matches(r, path));
            let input = match found {
                Some(e) => [&[e as u8, 0][..], query.as_bytes()].concat(),
                None => [
                    &[raw_route, 0][..],
                    path.as_bytes(),
                    b"\n",
                    query.as_bytes(),
                ]
                .concat(),
            };
            queries::run(&input);
            put(&format!("test_{n:03}"), &input);
            n += 1;
        }
    }
    let extra: &[(u8, &str)] = &[
        (
            0,
            "prefix=ab&namespace=*&per_page=1&next_token=1.x&reverse=true",
        ),
        (0, "index=1000&wait=1s"),
        (0, "index=1&wait=10m&stale"),
        (3, "namespace=other&prefix=a"),
        (10, "prefix=0&per_page=2"),
        (13, "prefix=00000000-0000&namespace=*"),
        (23, "purge=true&global=false"),
        (27, "2023-11-14T22:13:20.123456789+01:00"),
        (27, "abcd-ef01"),
    ];
    for (i, (e, q)) in extra.iter().enumerate() {
        let e = *e as usize % queries::ENDPOINTS.len();
        let input = [&[e as u8, 0][..], q.as_bytes()].concat();
        queries::run(&input);
        put(&format!("extra_{i}"), &input);
    }
    // With ACLs: the management token, a client token, anonymous.
    for flags in 1..4u8 {
        put(&format!("acl_{flags}"), &[18, flags]);
        put(&format!("acl_self_{flags}"), &[20, flags]);
        put(&format!("acl_deployments_{flags}"), &[0, flags]);
    }
}

fn route_matches(route: &str, path: &str) -> bool {
    let r: Vec<&str> = route.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    r.len() == p.len() && r.iter().zip(&p).all(|(a, b)| *a == "{}" || a == b)
}

// --- reading the test sources ---------------------------------------------------------------

fn test_sources(dirs: &[&str]) -> Vec<(String, String)> {
    let repo = root().join("..");
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.iter().map(|d| repo.join(d)).collect();
    while let Some(p) = stack.pop() {
        let Ok(entries) = fs::read_dir(&p) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            if e.is_dir() {
                stack.push(e);
            } else if e.extension().is_some_and(|x| x == "rs") {
                let name = e.file_stem().unwrap().to_string_lossy().into_owned();
                out.push((name, fs::read_to_string(&e).unwrap_or_default()));
            }
        }
    }
    out.sort();
    out
}

/// Plain `"…"` string literals (no escapes handled beyond `\"`).
fn string_literals(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('"') {
        let after = &rest[i + 1..];
        let Some(j) = after.find('"') else { break };
        out.push(after[..j].to_string());
        rest = &after[j + 1..];
    }
    out
}

/// `r#"…"#` raw string literals.
fn raw_literals(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("r#\"") {
        let after = &rest[i + 3..];
        let Some(j) = after.find("\"#") else { break };
        out.push(after[..j].to_string());
        rest = &after[j + 2..];
    }
    out
}

/// Replaces `{…}` format placeholders with the fixture's values (a deployment ID, an
/// allocation, an index, a token) and unescapes `{{ }}`.
fn fill(lit: &str) -> String {
    let fx = fixture();
    let mut out = String::new();
    let mut chars = lit.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                out.push_str(&match name.as_str() {
                    "a" | "alloc" => fx.alloc.to_string(),
                    "index" => "5".into(),
                    "token" | "next" => format!("{}.{}", 10, fx.deployment),
                    "e" | "eval" => fx.eval.to_string(),
                    "job" => fx.job.clone(),
                    "accessor" => CLIENT_ACCESSOR.to_string(),
                    _ => fx.deployment.to_string(),
                });
            }
            c => out.push(c),
        }
    }
    out
}

// --- dictionaries ---------------------------------------------------------------------------

/// One libFuzzer dictionary line: printable ASCII as is, everything else `\xNN`.
fn dict_entry(token: &str) -> String {
    let mut line = String::from("\"");
    for b in token.bytes() {
        match b {
            b'"' | b'\\' => line.push_str(&format!("\\x{b:02X}")),
            0x20..=0x7e => line.push(b as char),
            _ => line.push_str(&format!("\\x{b:02X}")),
        }
    }
    line.push_str("\"\n");
    line
}

/// The JSON names serde gives the fields of structs marked `rename_all = "PascalCase"`
/// that carry no `rename` of their own (those are read from the `rename` attribute), as
/// serde spells them: each `_`-separated word capitalised. Skipped and flattened fields
/// have no name of their own.
fn pascal_case_fields(text: &str, names: &mut BTreeSet<String>) {
    let mut lines = text.lines();
    let mut rename_all = false;
    while let Some(line) = lines.next() {
        let t = line.trim();
        if t.starts_with("#[serde(") && t.contains("rename_all = \"PascalCase\"") {
            rename_all = true;
            continue;
        }
        if t.starts_with("#[") || t.starts_with("//") {
            continue;
        }
        let is_struct = t.contains("struct ") && t.ends_with('{');
        if !(rename_all && is_struct) {
            rename_all = false;
            continue;
        }
        rename_all = false;
        // The struct's body: attributes (possibly over several lines), comments, fields.
        let (mut attrs, mut in_attr, mut depth) = (String::new(), false, 1usize);
        for line in lines.by_ref() {
            let t = line.trim();
            if in_attr || (depth == 1 && t.starts_with("#[")) {
                attrs.push_str(t);
                in_attr = !t.ends_with(']');
                continue;
            }
            if depth == 1 && t.starts_with('}') {
                break;
            }
            if depth == 1 && !t.starts_with("//") {
                let decl = t
                    .strip_prefix("pub(crate) ")
                    .or_else(|| t.strip_prefix("pub "))
                    .unwrap_or(t);
                if let Some((field, _)) = decl.split_once(':') {
                    let own_name = attrs.contains("rename = \"")
                        || attrs.contains("skip)")
                        || attrs.contains("skip,")
                        || attrs.contains("flatten");
                    if !own_name && !field.is_empty() {
                        names.insert(pascal_case(field.trim_start_matches("r#")));
                    }
                    attrs.clear();
                }
            }
            depth = (depth + t.matches('{').count()).saturating_sub(t.matches('}').count());
        }
    }
}

/// serde's `PascalCase` rule for a snake_case field name.
fn pascal_case(field: &str) -> String {
    let mut out = String::new();
    let mut capitalize = true;
    for c in field.chars() {
        if c == '_' {
            capitalize = true;
        } else if capitalize {
            out.extend(c.to_uppercase());
            capitalize = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn write_dict() {
    let mut names = BTreeSet::new();
    for (_, text) in test_sources(&["crates/engine/src", "crates/http/src"]) {
        let mut rest = text.as_str();
        while let Some(i) = rest.find("rename = \"") {
            let after = &rest[i + 10..];
            let Some(j) = after.find('"') else { break };
            names.insert(after[..j].to_string());
            rest = &after[j..];
        }
        pascal_case_fields(&text, &mut names);
    }
    let mut dict = String::from(
        "# JSON field names of the engine's model and the HTTP request types, generated by\n\
         # examples/gen_seeds.rs from their `rename = \"…\"` and `rename_all = \"PascalCase\"`\n\
         # attributes; plus JSON syntax.\n",
    );
    for n in &names {
        dict.push_str(&dict_entry(&format!("\"{n}\"")));
    }
    for tok in [
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "null",
        "true",
        "false",
        "\"\"",
        "-1",
        "1e309",
        "18446744073709551616",
        "0.5",
        "\"2023-11-14T22:13:20Z\"",
        "\\u212a",
        "\u{212a}",
    ] {
        dict.push_str(&dict_entry(tok));
    }
    // The fixture's IDs, so bodies can name live objects.
    let fx = fixture();
    for id in [
        fx.deployment,
        fx.old_deployment,
        fx.eval,
        fx.canary,
        fx.alloc,
        CLIENT_ACCESSOR,
    ] {
        dict.push_str(&dict_entry(&format!("\"{id}\"")));
    }
    let dir = root().join("dicts");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("json.dict"), dict).unwrap();
    let mut q = String::from("# Query parameter names and values of the HTTP API.\n");
    for t in [
        "prefix=",
        "namespace=",
        "index=",
        "wait=",
        "per_page=",
        "next_token=",
        "reverse=true",
        "stale",
        "pretty",
        "filter=",
        "purge=true",
        "global=true",
        "job=",
        "status=",
        "&",
        "=",
        "%",
        "%00",
        "*",
        "ms",
        "us",
        "µs",
        "h",
        "m",
        "s",
    ] {
        q.push_str(&dict_entry(t));
    }
    fs::write(dir.join("query.dict"), q).unwrap();
}
