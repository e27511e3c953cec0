//! The anchor's store contents, built as rollout state.
//!
//! Objects follow `gomemdb-workloads.md` field by field where rollout's model has the
//! field (allocations carry their job *version* instead of a pointer to the job, which is
//! how rollout shares job objects). Everything is deterministic: IDs come from a seeded
//! generator, times from the anchor's epoch.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rollout_engine::command::{FailDeployment, PromoteDeployment, SetAllocHealth};
use rollout_engine::model::*;
use rollout_engine::state::Tables;
use rollout_engine::{
    Command, DeploymentEngine, EngineConfig, Entropy, Envelope, SeededStamp, State, TableIndexes,
    VirtualClock,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

/// 2025-01-01T00:00:00Z.
pub const EPOCH_NS: i64 = 1_735_689_600 * SECOND_NS;
/// The time every measured write happens at: epoch + 30 days.
pub const OP_TIME_NS: i64 = EPOCH_NS + 30 * 24 * HOUR_NS;

pub fn ts(i: i64) -> i64 {
    EPOCH_NS + i * SECOND_NS
}

/// Deterministic UUIDs.
pub struct Ids(ChaCha8Rng);

impl Ids {
    pub fn new(seed: u64) -> Ids {
        Ids(ChaCha8Rng::seed_from_u64(seed))
    }
    pub fn uuid(&mut self) -> Uuid {
        let mut b = [0u8; 16];
        self.0.fill_bytes(&mut b);
        uuid::Builder::from_random_bytes(b).into_uuid()
    }
}

fn group_update() -> UpdateStrategy {
    UpdateStrategy {
        max_parallel: Some(1),
        health_check: Some("checks".into()),
        min_healthy_time: Some(10 * SECOND_NS),
        healthy_deadline: Some(5 * MINUTE_NS),
        progress_deadline: Some(10 * MINUTE_NS),
        auto_revert: Some(true),
        auto_promote: Some(false),
        canary: Some(0),
        stagger: Some(30 * SECOND_NS),
    }
}

fn task_group(job: &str, name: &str, version: u64) -> TaskGroup {
    TaskGroup {
        name: name.into(),
        count: Some(50),
        update: Some(group_update()),
        restart_policy: Some(RestartPolicy {
            attempts: Some(2),
            interval: Some(30 * MINUTE_NS),
            delay: Some(15 * SECOND_NS),
            mode: Some("fail".into()),
            render_templates: None,
        }),
        reschedule_policy: Some(ReschedulePolicy::service_default()),
        ephemeral_disk: Some(json!({"SizeMB": 300, "Sticky": false, "Migrate": false})),
        services: Some(vec![json!({
            "Name": format!("{job}-{name}"),
            "PortLabel": "http",
            "Provider": "consul",
            "Tags": ["v1", "http"],
            "Checks": [{"Name": "alive", "Type": "http", "Path": "/health", "Interval": 10_000_000_000i64, "Timeout": 2_000_000_000i64}]
        })]),
        tasks: vec![Task {
            name: "app".into(),
            driver: "docker".into(),
            config: Some(json!({
                "image": format!("registry.example.com/{job}/{name}:1.{version}"),
                "command": "/usr/local/bin/app",
                "ports": "http"
            })),
            env: Some(BTreeMap::from([
                ("LOG_LEVEL".to_string(), "info".to_string()),
                ("PORT".to_string(), "8080".to_string()),
            ])),
            resources: Some(Resources {
                cpu: Some(500),
                memory_mb: Some(256),
                memory_max_mb: Some(0),
                ..Default::default()
            }),
            kill_timeout: Some(5 * SECOND_NS),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A job version as the anchor builds it.
pub fn job(id: &str, version: u64, stable: bool, modify_index: u64) -> Job {
    Job {
        region: "global".into(),
        namespace: "default".into(),
        id: id.into(),
        name: id.into(),
        job_type: "service".into(),
        priority: 50,
        datacenters: Some(vec!["dc1".into()]),
        node_pool: "default".into(),
        constraints: Some(
            json!([{"LTarget": "${attr.kernel.name}", "RTarget": "linux", "Operand": "="}]),
        ),
        task_groups: vec![
            task_group(id, "web", version),
            task_group(id, "api", version),
        ],
        update: UpdateStrategy {
            stagger: Some(30 * SECOND_NS),
            max_parallel: Some(1),
            ..Default::default()
        },
        meta: Some(BTreeMap::from([
            ("owner".to_string(), "team-a".to_string()),
            ("tier".to_string(), "1".to_string()),
        ])),
        stable,
        version,
        status: "running".into(),
        submit_time: ts(version as i64),
        create_index: 10,
        modify_index,
        job_modify_index: modify_index,
        ..Default::default()
    }
}

fn task_states(started: i64) -> BTreeMap<String, TaskState> {
    let events = [
        ("Received", "Task received by client"),
        ("Task Setup", "Building Task Directory"),
        ("Started", "Task started by client"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (t, m))| TaskEvent {
        event_type: (*t).into(),
        time: started + i as i64 * SECOND_NS,
        message: (*m).into(),
        display_message: (*m).into(),
        details: Some(SmallMap::from([("message".to_string(), (*m).to_string())])),
        ..Default::default()
    })
    .collect();
    BTreeMap::from([(
        "app".to_string(),
        TaskState {
            state: "running".into(),
            started_at: Timestamp(started),
            events: Some(events),
            ..Default::default()
        },
    )])
}

/// An allocation as the anchor builds it.
#[allow(clippy::too_many_arguments)]
pub fn allocation(
    ids: &mut Ids,
    nodes: &[Uuid],
    job: &str,
    version: u64,
    n: usize,
    deployment: Uuid,
    eval: Uuid,
    status: Option<AllocDeploymentStatus>,
    index: u64,
) -> Allocation {
    let group = if n % 2 == 0 { "web" } else { "api" };
    let node = (ids.uuid().as_u128() % nodes.len() as u128) as usize;
    Allocation {
        id: ids.uuid(),
        namespace: "default".into(),
        eval_id: Some(eval),
        name: alloc_name(job, group, n as u64 / 2).into(),
        node_id: nodes[node].to_string().into(),
        node_name: format!("node-{node:04}").into(),
        job_id: job.into(),
        job_version: version,
        task_group: group.into(),
        allocated_resources: Some(Opaque::new(&json!({
            "Tasks": {"app": {"Cpu": {"CpuShares": 500}, "Memory": {"MemoryMB": 256, "MemoryMaxMB": 0}}},
            "Shared": {"DiskMB": 300}
        }))),
        metrics: Some(Opaque::new(&json!({
            "NodesEvaluated": 10, "NodesFiltered": 0, "NodesInPool": 1000,
            "NodesAvailable": {"dc1": 1000}, "NodesExhausted": 0,
            "ScoreMetaData": [{"NodeID": nodes[node].to_string(), "Scores": {"binpack": 0.31, "job-anti-affinity": 0}, "NormScore": 0.31}],
            "AllocationTime": 150000, "CoalescedFailures": 0
        }))),
        desired_status: "run".into(),
        client_status: "running".into(),
        client_description: "Tasks are running".into(),
        task_states: Some(task_states(ts(index as i64)).into()),
        deployment_id: Some(deployment),
        deployment_status: status,
        create_index: index,
        modify_index: index,
        alloc_modify_index: index,
        create_time: ts(index as i64),
        modify_time: ts(index as i64),
        ..Default::default()
    }
}

fn group_state(desired: u64, healthy: i64, created: i64) -> DeploymentState {
    DeploymentState {
        auto_revert: true,
        progress_deadline: 10 * MINUTE_NS,
        require_progress_by: Timestamp(created).plus(10 * MINUTE_NS),
        desired_total: desired,
        placed_allocs: desired,
        healthy_allocs: healthy,
        ..Default::default()
    }
}

pub fn deployment(
    ids: &mut Ids,
    job: &Job,
    version: u64,
    status: &str,
    index: u64,
    web: DeploymentState,
    api: DeploymentState,
) -> Deployment {
    Deployment {
        id: ids.uuid(),
        namespace: "default".into(),
        job_id: job.id.clone(),
        job_version: version,
        job_modify_index: job.modify_index,
        job_spec_modify_index: job.job_modify_index,
        job_create_index: job.create_index,
        task_groups: SmallMap::from([("web".to_string(), web), ("api".to_string(), api)]),
        status: status.into(),
        status_description: if status == "running" {
            description::RUNNING.into()
        } else {
            description::SUCCESSFUL.into()
        },
        eval_priority: 50,
        create_index: index,
        modify_index: index,
        create_time: ts(index as i64),
        modify_time: ts(index as i64),
        ..Default::default()
    }
}

fn eval(ids: &mut Ids, job: &str, deployment: Uuid, index: u64) -> Evaluation {
    Evaluation {
        id: ids.uuid(),
        namespace: "default".into(),
        priority: 50,
        eval_type: "service".into(),
        triggered_by: "job-register".into(),
        job_id: job.into(),
        job_modify_index: index,
        deployment_id: Some(deployment),
        status: "complete".into(),
        queued_allocations: Some(BTreeMap::from([
            ("web".to_string(), 0),
            ("api".to_string(), 0),
        ])),
        create_index: index,
        modify_index: index,
        create_time: ts(index as i64),
        modify_time: ts(index as i64),
        ..Default::default()
    }
}

/// Rows plus a running index counter.
#[derive(Default)]
pub struct Builder {
    pub rows: Tables,
    pub index: u64,
    pub nodes: Vec<Uuid>,
}

impl Builder {
    pub fn new(ids: &mut Ids) -> Builder {
        Builder {
            rows: Tables::default(),
            index: 100,
            nodes: (0..1000).map(|_| ids.uuid()).collect(),
        }
    }

    fn next_index(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    /// Job versions `versions` of `id`, each a distinct object; the last is the job row.
    pub fn job_versions(
        &mut self,
        id: &str,
        versions: std::ops::Range<u64>,
        stable: impl Fn(u64) -> bool,
    ) -> Arc<Job> {
        let mut last = None;
        for v in versions {
            let idx = self.next_index();
            let j = Arc::new(job(id, v, stable(v), idx));
            self.rows.job_versions.push(j.clone());
            last = Some(j);
        }
        let j = last.expect("at least one version");
        self.rows.jobs.push(j.clone());
        j
    }

    pub fn build(self, config: EngineConfig) -> State {
        let i = self.index;
        State::from_tables(
            i,
            config,
            TableIndexes {
                jobs: i,
                job_version: i,
                deployment: i,
                allocs: i,
                evals: i,
            },
            self.rows,
        )
    }
}

/// The background store: 1,000 jobs × 6 versions, 10,000 deployments, 100,000
/// allocations, 10,000 evaluations.
pub fn background(ids: &mut Ids, b: &mut Builder, jobs: usize) {
    for j in 0..jobs {
        let name = format!("svc-{j:04}");
        let job = b.job_versions(&name, 4..10, |_| true);
        for v in 0..10u64 {
            let idx = b.next_index();
            let running = v == 9 && j % 10 == 0;
            let created = ts(idx as i64);
            let d = deployment(
                ids,
                &job,
                v,
                if running { "running" } else { "successful" },
                idx,
                group_state(50, 50, created),
                group_state(50, 50, created),
            );
            let e = eval(ids, &name, d.id, idx);
            if v == 9 {
                for n in 0..100 {
                    let idx = b.next_index();
                    let status = AllocDeploymentStatus {
                        healthy: Some(true),
                        canary: false,
                        modify_index: idx,
                        timestamp: Timestamp(ts(idx as i64)),
                    };
                    let nodes = b.nodes.clone();
                    b.rows.allocations.push(Arc::new(allocation(
                        ids,
                        &nodes,
                        &name,
                        9,
                        n,
                        d.id,
                        e.id,
                        Some(status),
                        idx,
                    )));
                }
            }
            b.rows.deployments.push(Arc::new(d));
            b.rows.evaluations.push(Arc::new(e));
        }
    }
}

/// Workload (a)'s target: a running deployment with `n` fresh allocations.
pub struct HealthTarget {
    pub deployment: Uuid,
    pub allocs: Vec<Uuid>,
}

pub fn health_target(ids: &mut Ids, b: &mut Builder, n: usize) -> HealthTarget {
    let name = format!("health-{n}");
    let job = b.job_versions(&name, 4..10, |v| v < 9);
    let idx = b.next_index();
    let created = ts(idx as i64);
    let web = n.div_ceil(2) as u64;
    let api = (n / 2) as u64;
    let d = deployment(
        ids,
        &job,
        9,
        "running",
        idx,
        group_state(web, 0, created),
        group_state(api, 0, created),
    );
    let e = eval(ids, &name, d.id, idx);
    let mut allocs = Vec::with_capacity(n);
    for i in 0..n {
        let idx = b.next_index();
        let nodes = b.nodes.clone();
        let a = allocation(ids, &nodes, &name, 9, i, d.id, e.id, None, idx);
        allocs.push(a.id);
        b.rows.allocations.push(Arc::new(a));
    }
    let id = d.id;
    b.rows.deployments.push(Arc::new(d));
    b.rows.evaluations.push(Arc::new(e));
    HealthTarget {
        deployment: id,
        allocs,
    }
}

/// Workload (b)'s target: a running deployment with `c` healthy canaries.
pub fn canary_target(ids: &mut Ids, b: &mut Builder, c: usize) -> Uuid {
    let name = format!("canary-{c}");
    let job = b.job_versions(&name, 4..10, |v| v < 9);
    let idx = b.next_index();
    let created = ts(idx as i64);
    let mut d = deployment(
        ids,
        &job,
        9,
        "running",
        idx,
        group_state(10, 0, created),
        group_state(10, 0, created),
    );
    d.status_description = description::RUNNING_NEEDS_PROMOTION.into();
    let e = eval(ids, &name, d.id, idx);
    let mut placed: BTreeMap<&str, Vec<Uuid>> = BTreeMap::new();
    for i in 0..c {
        let idx = b.next_index();
        let nodes = b.nodes.clone();
        let status = AllocDeploymentStatus {
            healthy: Some(true),
            canary: true,
            modify_index: idx,
            timestamp: Timestamp(ts(idx as i64)),
        };
        let a = allocation(ids, &nodes, &name, 9, i, d.id, e.id, Some(status), idx);
        placed
            .entry(if i % 2 == 0 { "web" } else { "api" })
            .or_default()
            .push(a.id);
        b.rows.allocations.push(Arc::new(a));
    }
    for (group, ids) in placed {
        if let Some(g) = d.task_groups.get_mut(group) {
            g.desired_canaries = ids.len() as u64;
            g.placed_canaries = Some(ids);
            g.placed_allocs = g.desired_canaries;
            g.healthy_allocs = g.desired_canaries as i64;
        }
    }
    let id = d.id;
    b.rows.deployments.push(Arc::new(d));
    b.rows.evaluations.push(Arc::new(e));
    id
}

/// Workload (c)'s target: a job with `v` versions (all but the newest stable) and a
/// running, auto-reverting deployment of the newest one.
pub fn revert_target(ids: &mut Ids, b: &mut Builder, v: u64) -> Uuid {
    let name = format!("revert-{v}");
    let job = b.job_versions(&name, 0..v, |x| x + 2 <= v);
    let mut running = Uuid::nil();
    for version in v - 10..v {
        let idx = b.next_index();
        let created = ts(idx as i64);
        let status = if version == v - 1 {
            "running"
        } else {
            "successful"
        };
        let d = deployment(
            ids,
            &job,
            version,
            status,
            idx,
            group_state(5, 5, created),
            group_state(5, 5, created),
        );
        let e = eval(ids, &name, d.id, idx);
        if version == v - 1 {
            running = d.id;
            for n in 0..10 {
                let idx = b.next_index();
                let nodes = b.nodes.clone();
                let st = AllocDeploymentStatus {
                    healthy: Some(true),
                    canary: false,
                    modify_index: idx,
                    timestamp: Timestamp(ts(idx as i64)),
                };
                b.rows.allocations.push(Arc::new(allocation(
                    ids,
                    &nodes,
                    &name,
                    v - 1,
                    n,
                    d.id,
                    e.id,
                    Some(st),
                    idx,
                )));
            }
        }
        b.rows.deployments.push(Arc::new(d));
        b.rows.evaluations.push(Arc::new(e));
    }
    running
}

/// The bench store: background plus every write target.
pub struct BenchStore {
    pub state: State,
    pub health: BTreeMap<usize, HealthTarget>,
    pub canary: BTreeMap<usize, Uuid>,
    pub revert: BTreeMap<u64, Uuid>,
}

pub const HEALTH_N: [usize; 4] = [10, 100, 1_000, 10_000];
pub const CANARY_C: [usize; 3] = [1, 10, 100];
pub const REVERT_V: [u64; 2] = [10, 100];

pub fn bench_store(background_jobs: usize) -> BenchStore {
    let mut ids = Ids::new(42);
    let mut b = Builder::new(&mut ids);
    background(&mut ids, &mut b, background_jobs);
    let health = HEALTH_N
        .iter()
        .map(|n| (*n, health_target(&mut ids, &mut b, *n)))
        .collect();
    let canary = CANARY_C
        .iter()
        .map(|c| (*c, canary_target(&mut ids, &mut b, *c)))
        .collect();
    let revert = REVERT_V
        .iter()
        .map(|v| (*v, revert_target(&mut ids, &mut b, *v)))
        .collect();
    // JobTrackedVersions = V for workload (c): the largest V keeps every version.
    let config = EngineConfig {
        job_tracked_versions: 100,
    };
    BenchStore {
        state: b.build(config),
        health,
        canary,
        revert,
    }
}

/// A store holding only `d` deployments (10 per job name), for the read workloads.
pub fn deployments_only(d: usize) -> (State, Vec<Uuid>) {
    let mut ids = Ids::new(7);
    let mut b = Builder::new(&mut ids);
    let mut out = Vec::with_capacity(d);
    for j in 0..d / 10 {
        let job = job(&format!("svc-{j:06}"), 9, true, 10);
        for v in 0..10 {
            let idx = b.next_index();
            let created = ts(idx as i64);
            let dep = deployment(
                &mut ids,
                &job,
                v,
                "successful",
                idx,
                group_state(50, 50, created),
                group_state(50, 50, created),
            );
            out.push(dep.id);
            b.rows.deployments.push(Arc::new(dep));
        }
    }
    (b.build(EngineConfig::default()), out)
}

/// An engine over a prepared state whose clock shows the op time: measured writes go
/// through [`DeploymentEngine::dry_run`] (apply to the prepared state, keep nothing), so
/// every iteration starts from the same state, as the anchor's do.
pub fn engine(state: &State) -> DeploymentEngine {
    DeploymentEngine::from_state(
        state.clone(),
        SeededStamp::new(state.index(), VirtualClock::new(OP_TIME_NS)),
    )
}

/// The envelope of a measured write, for the raw-`apply` baseline: index I+1 at the op
/// time.
pub fn envelope(state: &State, command: Command) -> Envelope {
    Envelope::new(
        state.index() + 1,
        OP_TIME_NS,
        Entropy::from_u64(state.index()),
        command,
    )
}

/// Workload (a): op number `i` marks `ids[s..s+k]` healthy, `s = (i·k) mod (n−k+1)`.
pub fn set_health_command(t: &HealthTarget, i: usize, k: usize) -> Command {
    let n = t.allocs.len();
    let s = (i * k) % (n - k + 1);
    Command::SetAllocHealth(SetAllocHealth {
        deployment_id: t.deployment,
        healthy_allocation_ids: t.allocs[s..s + k].to_vec(),
        unhealthy_allocation_ids: vec![],
    })
}

pub fn promote_command(deployment: Uuid) -> Command {
    Command::PromoteDeployment(PromoteDeployment {
        deployment_id: deployment,
        all: true,
        groups: None,
    })
}

pub fn fail_command(deployment: Uuid) -> Command {
    Command::FailDeployment(FailDeployment {
        deployment_id: deployment,
    })
}
