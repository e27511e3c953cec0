//! The `engine_commands` target: command sequences decoded from bytes, applied to a
//! state, every invariant checked after every step.
//!
//! The input is a stream of [`Action`]s (decoded with `arbitrary`, one after another
//! until the bytes run out). As in the engine's property test
//! (`crates/engine/tests/properties.rs`), an action is interpreted against the current
//! state — "the n-th deployment", "the n-th pending evaluation", "the plan of that
//! evaluation" — so that most commands are meaningful and reach deep states, and a share
//! are deliberately wrong: unknown IDs, tampered plans, hostile job specs and client
//! timestamps, absurd GC thresholds, ACL writes with bad names, and raw JSON commands.

use crate::invariants;
use arbitrary::{Arbitrary, Unstructured};
use rollout_engine::acl::{
    AclPolicyWrite, AclTokenWrite, BootstrapAcl, DeleteAclPolicies, DeleteAclTokens, JobAcl,
    SecretHash, UpsertAclPolicies, UpsertAclTokens,
};
use rollout_engine::command::*;
use rollout_engine::model::{
    Job, ReschedulePolicy, SmallMap, Task, TaskGroup, TaskState, Timestamp, UpdateStrategy,
    HOUR_NS, MINUTE_NS, SECOND_NS,
};
use rollout_engine::{
    apply, invariants as engine_invariants, plan, Applied, Command, DeploymentEngine, EngineConfig,
    Envelope, SeededStamp, State, VirtualClock,
};
use uuid::Uuid;

/// 2023-11-14T22:13:20Z, the tests' epoch.
pub const T0: i64 = 1_700_000_000_000_000_000;
/// Upper bound on actions per input: long enough for several rollouts, short enough
/// that one input runs in milliseconds.
pub const MAX_ACTIONS: usize = 96;
/// Largest raw JSON command taken from the input.
const MAX_RAW_LEN: usize = 255;

/// One step of a fuzz program.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Register(Register),
    Schedule(Schedule),
    Client(Client),
    SetHealth(SetHealth),
    Promote(Promote),
    Pause(Pause),
    Fail(Fail),
    Tick(Tick),
    Warp(Warp),
    Ack(Ack),
    Revert(Revert),
    Stable(Stable),
    Stop(Stop),
    Gc(Gc),
    Reap(Reap),
    Acl(Acl),
    Garbage(Garbage),
    /// `len` bytes follow the action: a `Command` as JSON (the log's human format).
    RawJson(RawJson),
}

#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Register {
    pub job: u8,
    pub namespace: u8,
    pub image: u8,
    pub count: u8,
    pub canary: u8,
    pub max_parallel: u8,
    pub auto_revert: bool,
    pub auto_promote: bool,
    pub progress_deadline: u8,
    pub health_check: u8,
    pub groups: u8,
    pub mutations: [Mutation; 2],
}

/// A hostile edit of a registration: `kind` picks the field, `value` is its new value.
#[derive(Arbitrary, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mutation {
    pub kind: u8,
    pub value: i64,
}

#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    pub eval: u8,
    /// Bits choose the placements kept (> 200: all of them).
    pub keep: u8,
    pub tamper: u8,
    pub value: u8,
}

#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Client {
    pub alloc: u8,
    /// 1 + `count % 4` allocations from `alloc` on (duplicates when there are few).
    pub count: u8,
    pub status: u8,
    /// 0: no deployment status, 1: healthy, 2: unhealthy, 3: status without health.
    pub health: u8,
    pub canary: bool,
    /// How the client's timestamps are chosen (see [`client_time`]).
    pub time: u8,
    pub time_value: i64,
    pub task_states: u8,
}

#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct SetHealth {
    pub deployment: u8,
    pub alloc: u8,
    /// Bit i: the i-th chosen allocation is healthy (else unhealthy).
    pub healthy: u8,
    pub count: u8,
    pub garbage: u8,
}

#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Promote {
    pub deployment: u8,
    pub all: bool,
    pub groups: u8,
}

#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Pause {
    pub deployment: u8,
    pub pause: bool,
}

#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Fail {
    pub deployment: u8,
}

#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Tick {
    pub advance_s: u16,
}

/// Moves the clock in ways a real clock should not: far ahead, backwards, anywhere.
#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Warp {
    pub mode: u8,
    pub value: i64,
}

#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Ack {
    pub eval: u8,
    pub status: u8,
}

#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Revert {
    pub job: u8,
    pub namespace: u8,
    pub version: u8,
    /// 0: no `EnforcePriorVersion`, else `Some(enforce - 1)`.
    pub enforce: u8,
}

#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stable {
    pub job: u8,
    pub namespace: u8,
    pub version: u8,
    pub stable: bool,
}

#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stop {
    pub job: u8,
    pub namespace: u8,
    pub purge: bool,
    pub eval_priority: u8,
}

#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Gc {
    pub evaluations: bool,
    pub threshold: u8,
}

#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Reap {
    pub deployment: u8,
    pub count: u8,
    pub garbage: bool,
}

#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Acl {
    Bootstrap {
        accessor: u8,
        reset_index: u8,
    },
    UpsertPolicy {
        name: u8,
        rules: u8,
        job_acl: u8,
    },
    DeletePolicy {
        name: u8,
    },
    UpsertToken {
        accessor: u8,
        new: bool,
        token_type: u8,
        policies: u8,
        roles: u8,
        global: bool,
        expiration: u8,
    },
    DeleteToken {
        accessor: u8,
    },
}

#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct Garbage {
    pub which: u8,
}

#[derive(Arbitrary, Clone, Debug, Default, PartialEq, Eq)]
pub struct RawJson {
    pub len: u8,
}

/// An action with the bytes that follow it in the input (only `RawJson` has any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub action: Action,
    pub tail: Vec<u8>,
}

/// Decodes the input into steps. Never fails: running out of bytes ends the program.
pub fn decode(data: &[u8]) -> Vec<Step> {
    let mut u = Unstructured::new(data);
    let mut steps = Vec::new();
    while !u.is_empty() && steps.len() < MAX_ACTIONS {
        let Ok(action) = Action::arbitrary(&mut u) else {
            break;
        };
        let tail = match &action {
            Action::RawJson(r) => {
                let n = (r.len as usize).min(MAX_RAW_LEN).min(u.len());
                u.bytes(n).map(<[u8]>::to_vec).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        steps.push(Step { action, tail });
    }
    steps
}

// --- tables of names: fixed choices keep programs meaningful, odd ones probe validation --

const NAMESPACES: [&str; 3] = ["default", "default", "other"];
const WEIRD_STRINGS: [&str; 12] = [
    "",
    " ",
    "web",
    "job0",
    "a/b",
    "..",
    "*",
    "web[0]",
    "\u{0}",
    "ünïcödé-☃",
    "with space",
    "a-very-long-name-that-goes-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on",
];
const POLICY_NAMES: [&str; 5] = ["readonly", "writer", "ops", "bad name!", ""];
const POLICY_RULES: [&str; 6] = [
    r#"namespace "default" { policy = "write" }"#,
    "namespace \"*\" { policy = \"read\" }\nnode { policy = \"read\" }",
    r#"namespace "default" { capabilities = ["submit-job", "read-job", "list-jobs"] }"#,
    "",
    "namespace {",
    r#"operator { policy = "deny" }"#,
];

fn job_name(job: u8) -> String {
    format!("job{}", job % 3)
}

fn namespace(n: u8) -> &'static str {
    NAMESPACES[n as usize % NAMESPACES.len()]
}

fn weird_string(v: i64) -> String {
    WEIRD_STRINGS[v.unsigned_abs() as usize % WEIRD_STRINGS.len()].to_owned()
}

fn accessor(n: u8) -> Uuid {
    match n % 5 {
        4 => Uuid::nil(),
        i => Uuid::from_u128(0xacc0_0000_0000_4000_8000_0000_0000_0000 + i as u128),
    }
}

fn nth<T: Clone>(items: &[T], pick: u8) -> Option<T> {
    (!items.is_empty()).then(|| items[pick as usize % items.len()].clone())
}

/// A UUID nothing in the state has.
fn unknown_id(n: u8) -> Uuid {
    Uuid::from_u128(0xbad0 + n as u128)
}

/// A service job with `groups` task groups, as the engine tests build them.
pub fn base_job(r: &Register) -> Job {
    let count = 1 + (r.count % 5) as i64;
    let canary = (r.canary % 4) as i64;
    let update = UpdateStrategy {
        max_parallel: Some(1 + (r.max_parallel % 3) as i64),
        canary: Some(canary),
        auto_revert: Some(r.auto_revert),
        auto_promote: Some(r.auto_promote && canary > 0),
        progress_deadline: Some(
            [0, 2 * MINUTE_NS, 10 * MINUTE_NS][r.progress_deadline as usize % 3],
        ),
        healthy_deadline: Some(MINUTE_NS),
        min_healthy_time: Some(SECOND_NS),
        health_check: Some(
            ["checks", "task_states", "manual", "checks"][r.health_check as usize % 4].into(),
        ),
        ..Default::default()
    };
    let groups = 1 + r.groups % 2;
    let task_groups = (0..groups)
        .map(|g| TaskGroup {
            name: ["web", "api"][g as usize].into(),
            count: Some(count),
            update: Some(update.clone()),
            reschedule_policy: Some(ReschedulePolicy {
                attempts: Some(2),
                interval: Some(10 * MINUTE_NS),
                delay: Some(5 * SECOND_NS),
                delay_function: Some("constant".into()),
                unlimited: Some(false),
                max_delay: Some(0),
            }),
            tasks: vec![Task {
                name: "app".into(),
                driver: "docker".into(),
                config: Some(serde_json::json!({ "image": format!("app:{}", r.image % 4) })),
                kill_timeout: Some(1_000_000),
                ..Task::default()
            }],
            ..TaskGroup::default()
        })
        .collect();
    let id = job_name(r.job);
    Job {
        id: id.clone(),
        name: id,
        namespace: namespace(r.namespace).into(),
        job_type: "service".into(),
        priority: 50,
        task_groups,
        ..Job::default()
    }
}

/// Applies one hostile edit to a registration.
fn mutate(req: &mut RegisterJob, m: Mutation) {
    let v = m.value;
    let job = &mut req.job;
    match m.kind % 32 {
        // Beyond the engine's limit the registration is refused; below it, stay small:
        // a valid count of 90 000 is legal but makes every later step slow.
        1 => first_group(job).into_iter().for_each(|g| {
            g.count = Some(if (0..=1_000_000).contains(&v) {
                v % 50
            } else {
                v
            })
        }),
        2 => update(job).into_iter().for_each(|u| u.canary = Some(v)),
        3 => update(job)
            .into_iter()
            .for_each(|u| u.max_parallel = Some(v)),
        4 => update(job)
            .into_iter()
            .for_each(|u| u.progress_deadline = Some(v)),
        5 => update(job)
            .into_iter()
            .for_each(|u| u.min_healthy_time = Some(v)),
        6 => update(job)
            .into_iter()
            .for_each(|u| u.healthy_deadline = Some(v)),
        7 => job.id = weird_string(v),
        8 => {
            if let Some(g) = first_group(job) {
                g.name = weird_string(v);
            }
        }
        9 => {
            // Two groups with one name.
            if let Some(g) = job.task_groups.first().cloned() {
                job.task_groups.push(g);
            }
        }
        10 => first_group(job).into_iter().for_each(|g| g.tasks.clear()),
        11 => job.namespace = weird_string(v),
        12 => {
            // The update block on the job only: canonicalisation must copy it down.
            if let Some(u) = first_group(job).and_then(|g| g.update.take()) {
                job.update = u;
            }
        }
        13 => job.priority = v,
        14 => job.task_groups.clear(),
        15 => {
            if let Some(g) = first_group(job) {
                let t = g.tasks.first().cloned().unwrap_or_default();
                g.tasks.push(t);
            }
        }
        16 => {
            if let Some(p) = first_group(job).and_then(|g| g.reschedule_policy.as_mut()) {
                p.attempts = Some(v);
                p.interval = Some(v.wrapping_mul(3));
                p.delay = Some(v.wrapping_neg());
                p.delay_function = Some(
                    ["exponential", "fibonacci", "constant", "bogus"]
                        [v.unsigned_abs() as usize % 4]
                        .into(),
                );
                p.unlimited = Some(v & 1 == 1);
                p.max_delay = Some(v);
            }
        }
        17 => req.eval_priority = v,
        18 => {
            req.enforce_index = true;
            req.job_modify_index = v.unsigned_abs() % 64;
        }
        19 => {
            job.job_type =
                ["batch", "system", "sysbatch", "", "bogus"][v.unsigned_abs() as usize % 5].into()
        }
        20 => update(job).into_iter().for_each(|u| u.stagger = Some(v)),
        21 => {
            for t in first_group(job)
                .into_iter()
                .flat_map(|g| g.tasks.iter_mut())
            {
                t.kill_timeout = Some(v);
                t.shutdown_delay = Some(v.wrapping_neg());
            }
        }
        22 => update(job)
            .into_iter()
            .for_each(|u| u.health_check = Some(weird_string(v))),
        23 => job.stop = true,
        24 => {
            // A group with no update block at all (not a rolling group).
            if let Some(g) = first_group(job) {
                g.update = None;
            }
        }
        25 => {
            // Change nothing but meta: a non-destructive (in-place) update.
            job.meta = Some([("rev".to_owned(), v.to_string())].into_iter().collect());
        }
        26 => job.version = v.unsigned_abs(),
        27 => {
            if let Some(g) = first_group(job) {
                g.max_client_disconnect = Some(v);
                g.stop_after_client_disconnect = Some(v);
            }
        }
        28 => job.all_at_once = true,
        29 => {
            // Many groups: work proportional to the spec.
            let template = job.task_groups.first().cloned().unwrap_or_default();
            for i in 0..(v.unsigned_abs() % 12) {
                let mut g = template.clone();
                g.name = format!("g{i}");
                job.task_groups.push(g);
            }
        }
        30 => job.submit_time = v,
        _ => {}
    }
}

fn first_group(job: &mut Job) -> Option<&mut TaskGroup> {
    job.task_groups.first_mut()
}

fn update(job: &mut Job) -> Option<&mut UpdateStrategy> {
    first_group(job).and_then(|g| g.update.as_mut())
}

/// What the client says the time is.
fn client_time(now: i64, mode: u8, value: i64) -> i64 {
    match mode % 8 {
        0..=3 => now,
        4 => now.saturating_sub(value.unsigned_abs() as i64 % HOUR_NS),
        5 => value,
        6 => 0,
        _ => i64::MAX,
    }
}

/// The driver's view of the state: IDs to pick from.
struct Picks {
    deployments: Vec<Uuid>,
    allocs: Vec<Uuid>,
    evals: Vec<Uuid>,
}

impl Picks {
    fn of(state: &State) -> Picks {
        Picks {
            deployments: state
                .deployments_in_namespace(None)
                .iter()
                .map(|d| d.id)
                .collect(),
            allocs: state
                .allocs_in_namespace(None)
                .iter()
                .map(|a| a.id)
                .collect(),
            evals: state.pending_evals().iter().map(|e| e.id).collect(),
        }
    }
}

fn schedule(state: &State, now: i64, picks: &Picks, s: &Schedule) -> Command {
    let Some(eval) = nth(&picks.evals, s.eval) else {
        return Command::Tick;
    };
    let Ok(p) = plan(state, &eval, now) else {
        return Command::Tick;
    };
    let mut r = p.accept_on_node("node-1", "n1");
    let mut i = 0;
    r.allocations.retain(|_| {
        i += 1;
        s.keep & (1 << ((i - 1) % 8)) != 0 || s.keep > 200
    });
    let v = s.value;
    match s.tamper % 16 {
        1 => r.allocations.iter_mut().for_each(|a| a.node_id.clear()),
        2 => {
            if let Some(a) = r.allocations.first().cloned() {
                r.allocations.push(a);
            }
        }
        3 => r
            .allocations
            .iter_mut()
            .for_each(|a| a.job_version = v as u64),
        4 => r.stops.push(AllocStop {
            alloc_id: nth(&picks.allocs, v).unwrap_or(unknown_id(v)),
            description: "fuzz".into(),
        }),
        5 => r.allocations.iter_mut().for_each(|a| a.canary = !a.canary),
        6 => r.snapshot_index = v as u64,
        7 => r.deployment_id = nth(&picks.deployments, v),
        8 => r.allocations.iter_mut().for_each(|a| {
            a.previous_allocation = Some(nth(&picks.allocs, v).unwrap_or(unknown_id(v)))
        }),
        9 => r
            .allocations
            .iter_mut()
            .for_each(|a| a.task_group = weird_string(v as i64)),
        10 => r
            .in_place_updates
            .push(nth(&picks.allocs, v).unwrap_or(unknown_id(v))),
        11 => r
            .allocations
            .iter_mut()
            .for_each(|a| a.name = format!("web[{}]", 1000 + v as u32)),
        12 => r
            .allocations
            .iter_mut()
            .for_each(|a| a.name = weird_string(v as i64)),
        13 => r.eval_id = nth(&picks.evals, v.wrapping_add(1)).unwrap_or(unknown_id(v)),
        14 => {
            if let Some(s) = r.stops.first().cloned() {
                r.stops.push(s);
            }
        }
        _ => {}
    }
    Command::ApplyPlanResult(r)
}

fn client(now: i64, picks: &Picks, c: &Client) -> Command {
    const STATUSES: [&str; 10] = [
        "pending", "running", "running", "running", "failed", "lost", "complete", "unknown", "",
        "bogus",
    ];
    let ts = client_time(now, c.time, c.time_value);
    let n = 1 + c.count % 4;
    let allocations = (0..n)
        .map(|i| ClientAllocUpdate {
            id: nth(&picks.allocs, c.alloc.wrapping_add(i)).unwrap_or(unknown_id(c.alloc)),
            client_status: STATUSES[c.status as usize % STATUSES.len()].into(),
            client_description: String::new(),
            deployment_status: match c.health % 4 {
                0 => None,
                h => Some(ClientDeploymentStatus {
                    healthy: match h {
                        1 => Some(true),
                        2 => Some(false),
                        _ => None,
                    },
                    timestamp: Timestamp(ts),
                    canary: c.canary,
                }),
            },
            task_states: match c.task_states % 4 {
                0 => None,
                k => {
                    let mut m = SmallMap::new();
                    m.insert(
                        "app".into(),
                        TaskState {
                            state: ["running", "dead", "pending"][k as usize - 1].into(),
                            failed: k == 2,
                            started_at: Timestamp(ts),
                            finished_at: Timestamp(if k == 2 { ts } else { 0 }),
                            restarts: c.time_value.unsigned_abs() % 8,
                            ..Default::default()
                        },
                    );
                    Some(m)
                }
            },
            modify_time: ts,
        })
        .collect();
    Command::UpdateAllocsFromClient(ClientAllocUpdates { allocations })
}

fn set_health(state: &State, picks: &Picks, h: &SetHealth) -> Command {
    let d = nth(&picks.deployments, h.deployment);
    let ids: Vec<Uuid> = d
        .map(|d| state.deployment_allocs(&d).map(|a| a.id).collect())
        .unwrap_or_default();
    let mut healthy = Vec::new();
    let mut unhealthy = Vec::new();
    for i in 0..(h.count % 4) {
        let Some(id) = nth(&ids, h.alloc.wrapping_add(i)) else {
            break;
        };
        if h.healthy & (1 << i) != 0 {
            healthy.push(id);
        } else {
            unhealthy.push(id);
        }
    }
    match h.garbage % 8 {
        1 => healthy.push(unknown_id(h.garbage)),
        2 => unhealthy.extend(healthy.first().copied()),
        3 => healthy.extend(nth(&picks.allocs, h.alloc)),
        _ => {}
    }
    Command::SetAllocHealth(SetAllocHealth {
        deployment_id: if h.garbage % 8 == 4 {
            unknown_id(4)
        } else {
            d.unwrap_or(unknown_id(h.deployment))
        },
        healthy_allocation_ids: healthy,
        unhealthy_allocation_ids: unhealthy,
    })
}

fn acl(a: &Acl) -> Command {
    match a {
        Acl::Bootstrap {
            accessor: n,
            reset_index,
        } => Command::BootstrapAcl(BootstrapAcl {
            accessor_id: accessor(*n),
            secret_hash: SecretHash::of(&format!("secret-{n}")),
            reset_index: *reset_index as u64,
        }),
        Acl::UpsertPolicy {
            name,
            rules,
            job_acl,
        } => {
            let text = POLICY_RULES[*rules as usize % POLICY_RULES.len()];
            Command::UpsertAclPolicies(UpsertAclPolicies {
                policies: vec![AclPolicyWrite {
                    name: POLICY_NAMES[*name as usize % POLICY_NAMES.len()].into(),
                    description: String::new(),
                    rules: text.into(),
                    document: rollout_http::acl::rules::parse_rules(text).unwrap_or_default(),
                    job_acl: match job_acl % 4 {
                        0 => None,
                        1 => Some(JobAcl {
                            namespace: "default".into(),
                            job_id: "job0".into(),
                            ..Default::default()
                        }),
                        2 => Some(JobAcl {
                            group: "web".into(),
                            ..Default::default()
                        }),
                        _ => Some(JobAcl::default()),
                    },
                }],
            })
        }
        Acl::DeletePolicy { name } => Command::DeleteAclPolicies(DeleteAclPolicies {
            names: vec![POLICY_NAMES[*name as usize % POLICY_NAMES.len()].into()],
        }),
        Acl::UpsertToken {
            accessor: n,
            new,
            token_type,
            policies,
            roles,
            global,
            expiration,
        } => Command::UpsertAclTokens(UpsertAclTokens {
            tokens: vec![AclTokenWrite {
                accessor_id: accessor(*n),
                secret_hash: new.then(|| SecretHash::of(&format!("secret-{n}"))),
                name: format!("token-{n}"),
                token_type: ["client", "management", "", "bogus"][*token_type as usize % 4].into(),
                policies: (0..policies % 3)
                    .map(|i| {
                        POLICY_NAMES[(*policies as usize + i as usize) % POLICY_NAMES.len()].into()
                    })
                    .collect(),
                roles: (*roles % 4 == 3) as usize,
                global: *global,
                expiration_time: match expiration % 4 {
                    1 => Some(T0 + HOUR_NS),
                    2 => Some(0),
                    _ => None,
                },
                expiration_ttl: match expiration % 4 {
                    3 => MINUTE_NS,
                    _ => 0,
                },
            }],
        }),
        Acl::DeleteToken { accessor: n } => Command::DeleteAclTokens(DeleteAclTokens {
            accessor_ids: vec![accessor(*n)],
        }),
    }
}

fn garbage(picks: &Picks, which: u8) -> Command {
    match which % 4 {
        0 => Command::PromoteDeployment(PromoteDeployment {
            deployment_id: Uuid::from_u128(which as u128),
            all: true,
            groups: None,
        }),
        1 => Command::SetAllocHealth(SetAllocHealth {
            deployment_id: nth(&picks.deployments, which).unwrap_or(unknown_id(which)),
            healthy_allocation_ids: vec![Uuid::from_u128(7)],
            unhealthy_allocation_ids: vec![],
        }),
        2 => Command::ApplyPlanResult(PlanResult {
            eval_id: nth(&picks.evals, which).unwrap_or(unknown_id(which)),
            allocations: vec![PlacedAllocation {
                name: "nope[9]".into(),
                task_group: "web".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        _ => Command::RegisterJob(RegisterJob {
            job: Job {
                id: "bad job".into(),
                ..Default::default()
            },
            ..Default::default()
        }),
    }
}

/// Turns an action into a command against the current state (`None`: no command, the
/// action only moved the clock or its bytes were not a command).
pub fn command(state: &State, now: i64, step: &Step) -> Option<Command> {
    let picks = Picks::of(state);
    let c = match &step.action {
        Action::Register(r) => {
            let mut req = RegisterJob {
                job: base_job(r),
                ..Default::default()
            };
            for m in r.mutations {
                mutate(&mut req, m);
            }
            Command::RegisterJob(req)
        }
        Action::Schedule(s) => schedule(state, now, &picks, s),
        Action::Client(c) => client(now, &picks, c),
        Action::SetHealth(h) => set_health(state, &picks, h),
        Action::Promote(p) => Command::PromoteDeployment(PromoteDeployment {
            deployment_id: nth(&picks.deployments, p.deployment)
                .unwrap_or(unknown_id(p.deployment)),
            all: p.all,
            groups: match p.groups % 6 {
                0 => None,
                1 => Some(vec!["web".into()]),
                2 => Some(vec![]),
                3 => Some(vec!["nope".into()]),
                4 => Some(vec!["web".into(), "api".into()]),
                _ => Some(vec!["api".into(), "api".into()]),
            },
        }),
        Action::Pause(p) => Command::PauseDeployment(PauseDeployment {
            deployment_id: nth(&picks.deployments, p.deployment)
                .unwrap_or(unknown_id(p.deployment)),
            pause: p.pause,
        }),
        Action::Fail(f) => Command::FailDeployment(FailDeployment {
            deployment_id: nth(&picks.deployments, f.deployment)
                .unwrap_or(unknown_id(f.deployment)),
        }),
        Action::Tick(_) | Action::Warp(_) => Command::Tick,
        Action::Ack(a) => Command::UpdateEvalStatus(UpdateEvalStatus {
            eval_id: nth(&picks.evals, a.eval).unwrap_or(unknown_id(a.eval)),
            status: [
                "complete", "complete", "failed", "canceled", "pending", "blocked", "",
            ][a.status as usize % 7]
                .into(),
            status_description: String::new(),
        }),
        Action::Revert(r) => Command::RevertJob(RevertJob {
            job_id: job_name(r.job),
            namespace: namespace(r.namespace).into(),
            job_version: (r.version % 8) as u64,
            enforce_prior_version: r.enforce.checked_sub(1).map(|v| (v % 8) as u64),
        }),
        Action::Stable(s) => Command::SetJobStability(SetJobStability {
            job_id: job_name(s.job),
            namespace: namespace(s.namespace).into(),
            job_version: (s.version % 8) as u64,
            stable: s.stable,
        }),
        Action::Stop(s) => Command::DeregisterJob(DeregisterJob {
            job_id: job_name(s.job),
            namespace: namespace(s.namespace).into(),
            purge: s.purge,
            eval_priority: [0, 50, 101, -1][s.eval_priority as usize % 4],
        }),
        Action::Gc(g) => {
            let threshold_ns =
                [HOUR_NS, 1_000_000, 0, -1, i64::MAX, i64::MIN][g.threshold as usize % 6];
            if g.evaluations {
                Command::GcEvaluations(GcEvaluations { threshold_ns })
            } else {
                Command::GcDeployments(GcDeployments { threshold_ns })
            }
        }
        Action::Reap(r) => {
            let mut deployments: Vec<Uuid> = (0..r.count % 4)
                .filter_map(|i| nth(&picks.deployments, r.deployment.wrapping_add(i)))
                .collect();
            if r.garbage {
                deployments.push(unknown_id(r.count));
            }
            Command::ReapDeployments(ReapDeployments { deployments })
        }
        Action::Acl(a) => acl(a),
        Action::Garbage(g) => garbage(&picks, g.which),
        Action::RawJson(_) => return serde_json::from_slice(&step.tail).ok(),
    };
    Some(c)
}

/// The clock after an action: +100 ms per step, `Tick` and `Warp` move it further.
pub fn advance(now: i64, action: &Action) -> i64 {
    match action {
        Action::Tick(t) => now.saturating_add(t.advance_s as i64 * SECOND_NS),
        Action::Warp(w) => match w.mode % 4 {
            // Far ahead: up to ~10 days.
            0 => now.saturating_add((w.value.unsigned_abs() % (10 * 24 * HOUR_NS as u64)) as i64),
            // Backwards (a clock that jumped back; the store clamps, the engine must cope).
            1 => now.saturating_sub((w.value.unsigned_abs() % HOUR_NS as u64) as i64),
            // Anywhere non-negative, including the end of time.
            2 => w.value & i64::MAX,
            _ => now.saturating_add(100_000_000),
        },
        _ => now.saturating_add(100_000_000),
    }
}

/// What one step of a program did.
pub enum Stepped<'a> {
    /// The step made no command (say, it picks from an empty table).
    NoCommand,
    /// The engine accepted the command.
    Applied(&'a Applied),
    /// The engine refused the command.
    Rejected {
        command: &'a Command,
        error: &'a rollout_engine::Error,
    },
}

/// Runs a program through a [`DeploymentEngine`] as the target does — the virtual clock
/// set to each step's time, entropy seeded with 0 — calling `each` after every step with
/// the step, the state before it, what happened and the engine after it. Returns the
/// engine and the log of accepted envelopes.
pub fn drive(
    steps: &[Step],
    mut each: impl FnMut(usize, &Step, &State, Stepped<'_>, &DeploymentEngine),
) -> (DeploymentEngine, Vec<Envelope>) {
    let clock = VirtualClock::new(T0);
    let mut engine =
        DeploymentEngine::new(EngineConfig::default(), SeededStamp::new(0, clock.clone()));
    let mut now = T0;
    let mut log: Vec<Envelope> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        now = advance(now, &step.action);
        clock.set(now);
        let before = engine.state().clone();
        let Some(cmd) = command(&before, now, step) else {
            each(i, step, &before, Stepped::NoCommand, &engine);
            continue;
        };
        match engine.submit(cmd.clone()) {
            Ok(applied) => {
                each(i, step, &before, Stepped::Applied(&applied), &engine);
                log.push(applied.envelope);
            }
            Err(error) => {
                let stepped = Stepped::Rejected {
                    command: &cmd,
                    error: &error,
                };
                each(i, step, &before, stepped, &engine);
            }
        }
    }
    (engine, log)
}

/// Runs a program, panicking (with the step and the broken rule) on any violation.
pub fn run(data: &[u8]) {
    let steps = decode(data);
    let (engine, log) = drive(&steps, |i, _, before, stepped, engine| {
        match stepped {
            Stepped::NoCommand => return,
            Stepped::Applied(applied) => check_accepted(i, before, applied),
            Stepped::Rejected { command, error } => {
                assert!(
                    *engine.state() == *before,
                    "step {i}: a rejection changed the state"
                );
                // The same rejection again (a dry run applies the same command at the
                // same time to the same state).
                match engine.dry_run(command.clone()) {
                    Err(again) => assert_eq!(error.to_string(), again.to_string()),
                    Ok(_) => panic!(
                        "step {i}: {} was rejected, then accepted: {error}",
                        command.name()
                    ),
                }
                // A rejection has Nomad's text and a kind; a well-formed envelope (index
                // above the state's) is never the embedder's fault.
                assert_ne!(
                    error.kind(),
                    rollout_engine::ErrorKind::Internal,
                    "step {i}: internal error for a well-formed envelope: {error}"
                );
            }
        }
        // Reads the driver and the HTTP layer do after every write.
        let _ = engine.next_deadline();
        for e in engine.state().pending_evals() {
            let _ = engine.plan(&e.id);
        }
    });
    let state = engine.state();
    if let Err(e) = invariants::check_log(state, &log) {
        panic!("after {} steps: {e}", steps.len());
    }
}

/// An accepted step: applying its envelope again gives the same state and outcome, and
/// the engine's invariants hold — of the step, of the transition, of the whole state.
fn check_accepted(i: usize, before: &State, applied: &Applied) {
    let name = applied.envelope.command.name();
    // Compared as values (serialising every step would dominate the run); the bytes are
    // compared once per program, between the live state and a replay of the log.
    match apply(before, &applied.envelope) {
        Ok((state, outcome)) => {
            assert!(
                state == applied.state,
                "step {i}: applying {name} twice gave different states"
            );
            assert_eq!(
                outcome, applied.outcome,
                "step {i}: applying twice gave different outcomes"
            );
        }
        Err(e) => panic!("step {i}: {name} applied once, then failed: {e}"),
    }
    let checked = engine_invariants::check_applied(
        before,
        &applied.envelope,
        &applied.state,
        &applied.outcome,
    )
    .and_then(|()| engine_invariants::check_transition(before, &applied.state))
    .and_then(|()| applied.state.check_invariants());
    if let Err(v) = checked {
        panic!("step {i} ({name}): {v}");
    }
}
