//! Every input the engine accepts, and the envelope that carries its non-determinism.
//!
//! Request-shaped commands use Nomad's JSON field names, so a command log written as JSON
//! reads like the API calls that produced it.

use crate::model::id::empty_as_none;
use crate::model::{DesiredTransition, Job, SmallMap, TaskState, Timestamp, UnixNanos};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

/// One command plus everything about it that is not a pure function of the state: the
/// index it is applied at, the time, and entropy for new IDs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Must be greater than the state's last index.
    pub index: u64,
    /// Wall-clock time of the write, Unix nanoseconds.
    pub now: UnixNanos,
    /// Seed for every ID the command creates.
    pub entropy: Entropy,
    /// What to apply.
    pub command: Command,
    /// Who submitted the command: the audit trail. Never read by [`apply`](crate::apply) —
    /// the same commands give the same state whoever sent them — only recorded, so that
    /// history, the event stream and log exports can say who did what. Absent in logs
    /// written before it existed (and for commands nobody attributed): those decode as
    /// `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
}

impl Envelope {
    /// An envelope for `command`, applied at `index` and time `now` (Unix nanoseconds), new
    /// IDs drawn from `entropy`; no actor (see [`Envelope::with_actor`]).
    pub fn new(index: u64, now: UnixNanos, entropy: Entropy, command: Command) -> Envelope {
        Envelope {
            index,
            now,
            entropy,
            command,
            actor: None,
        }
    }

    /// The same envelope, attributed to `actor`.
    pub fn with_actor(mut self, actor: Option<Actor>) -> Envelope {
        self.actor = actor;
        self
    }
}

/// The kinds of [`Actor`]: who, in rollout's deployment, submits commands.
pub mod actor_kind {
    /// A person or program calling the HTTP API (with an ACL token when ACLs are on).
    pub const OPERATOR: &str = "operator";
    /// The scheduler: plan results, evaluation acknowledgements.
    pub const SCHEDULER: &str = "scheduler";
    /// A client node: allocation updates, node registrations and heartbeats.
    pub const CLIENT: &str = "client";
    /// The deployment watcher: progress deadlines and other timers.
    pub const WATCHER: &str = "watcher";
    /// Garbage collection.
    pub const GC: &str = "gc";
}

/// Who submitted a command (issue 16: every envelope records its actor).
///
/// For an operator that is the ACL token's `AccessorID` and `Name` — never its secret,
/// which would otherwise end up in every log, export and event stream. Serialized with
/// Nomad-style field names; empty fields are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Actor {
    /// One of [`actor_kind`]; kept a string so that a log written by a newer build with a
    /// kind this one does not know still decodes.
    pub kind: String,
    /// The ACL token's accessor ID, for an operator with a token.
    #[serde(
        rename = "AccessorID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub accessor_id: Option<Uuid>,
    /// The ACL token's name (may be empty even with an accessor).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

impl Actor {
    fn of_kind(kind: &str) -> Actor {
        Actor {
            kind: kind.to_string(),
            accessor_id: None,
            name: String::new(),
        }
    }

    /// An operator identified by an ACL token's accessor ID and name (`accessor_id` is
    /// `None` for the anonymous token).
    pub fn operator(accessor_id: Option<Uuid>, name: impl Into<String>) -> Actor {
        Actor {
            kind: actor_kind::OPERATOR.to_string(),
            accessor_id,
            name: name.into(),
        }
    }

    /// An operator without a token: ACLs off, or the anonymous token.
    pub fn anonymous_operator() -> Actor {
        Actor::of_kind(actor_kind::OPERATOR)
    }

    /// The scheduler.
    pub fn scheduler() -> Actor {
        Actor::of_kind(actor_kind::SCHEDULER)
    }

    /// A client node.
    pub fn client() -> Actor {
        Actor::of_kind(actor_kind::CLIENT)
    }

    /// The deployment watcher.
    pub fn watcher() -> Actor {
        Actor::of_kind(actor_kind::WATCHER)
    }

    /// Garbage collection.
    pub fn gc() -> Actor {
        Actor::of_kind(actor_kind::GC)
    }

    /// Human-readable: `operator ci-token (accessor 3f2a…)`, `operator`, `client`.
    pub fn describe(&self) -> String {
        let mut out = self.kind.clone();
        if !self.name.is_empty() {
            out.push(' ');
            out.push_str(&self.name);
        }
        if let Some(id) = self.accessor_id {
            out.push_str(&format!(" (accessor {id})"));
        }
        out
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// 32 bytes of caller-supplied randomness (hex in human-readable formats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Entropy(pub [u8; 32]);

impl Entropy {
    /// Entropy derived from a number: for tests and simulations that want readable seeds.
    pub fn from_u64(seed: u64) -> Entropy {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        Entropy(bytes)
    }
}

impl Serialize for Entropy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_32(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for Entropy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_32(deserializer, "entropy").map(Entropy)
    }
}

/// Writes 32 bytes ([`Entropy`], an ACL secret hash): lower-case hex in human-readable
/// formats, a byte string in binary ones.
pub(crate) fn serialize_32<S: Serializer>(
    bytes: &[u8; 32],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        serializer.serialize_str(&hex::encode(bytes))
    } else {
        serializer.serialize_bytes(bytes)
    }
}

/// Reads what [`serialize_32`] writes; `what` names the value in errors.
pub(crate) fn deserialize_32<'de, D: Deserializer<'de>>(
    deserializer: D,
    what: &str,
) -> Result<[u8; 32], D::Error> {
    use serde::de::Error;
    if deserializer.is_human_readable() {
        let s = String::deserialize(deserializer)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&s, &mut out)
            .map_err(|e| D::Error::custom(format!("{what} must be 64 hex digits: {e}")))?;
        Ok(out)
    } else {
        serde_bytes_vec(deserializer)?
            .try_into()
            .map_err(|_| D::Error::custom(format!("{what} must be 32 bytes")))
    }
}

/// Reads a byte string from a binary format (accepts both bytes and a sequence of u8).
fn serde_bytes_vec<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("bytes")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::new();
            while let Some(b) = seq.next_element::<u8>()? {
                out.push(b);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_bytes(V)
}

/// Every write the engine accepts. Each variant's payload uses Nomad's JSON field names,
/// so a command log written as JSON reads like the API calls that produced it.
// A registration carries a whole job and is far larger than the other commands; commands
// are built once and moved into an envelope, so boxing it would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Register (create or update) a job: `PUT /v1/jobs`.
    RegisterJob(RegisterJob),
    /// Stop (or purge) a job: `DELETE /v1/job/:id`.
    DeregisterJob(DeregisterJob),
    /// Re-register an older version: `PUT /v1/job/:id/revert`.
    RevertJob(RevertJob),
    /// Flip a version's `Stable` flag: `PUT /v1/job/:id/stable`.
    SetJobStability(SetJobStability),
    /// Evaluate a job again: `POST /v1/job/:id/evaluate` (EV1).
    EvaluateJob(EvaluateJob),
    /// A scheduler's answer to a plan: placements, in-place updates and stops.
    ApplyPlanResult(PlanResult),
    /// Client-side allocation updates: status and automatic health (A9).
    UpdateAllocsFromClient(ClientAllocUpdates),
    /// `POST /v1/allocation/:id/stop` (AS1).
    StopAllocation(StopAllocation),
    /// `PUT /v1/deployment/allocation-health/:id` (M1–M5).
    SetAllocHealth(SetAllocHealth),
    /// `PUT /v1/deployment/promote/:id` (P1–P12).
    PromoteDeployment(PromoteDeployment),
    /// `PUT /v1/deployment/pause/:id` (S1–S6).
    PauseDeployment(PauseDeployment),
    /// `PUT /v1/deployment/fail/:id` (F1–F5).
    FailDeployment(FailDeployment),
    /// Time passed: expire progress deadlines that are due (§3.10).
    Tick,
    /// A scheduler finished with an evaluation.
    UpdateEvalStatus(UpdateEvalStatus),
    /// Delete the listed deployments (`Deployment.Reap`, G1).
    ReapDeployments(ReapDeployments),
    /// Periodic deployment GC (G2).
    GcDeployments(GcDeployments),
    /// Periodic evaluation GC.
    GcEvaluations(GcEvaluations),
    /// Periodic allocation GC.
    GcAllocations(GcAllocations),

    // --- ACLs (http-api §8): the payloads live in `crate::acl::command` ---------------
    /// `POST /v1/acl/bootstrap`.
    BootstrapAcl(crate::acl::BootstrapAcl),
    /// `PUT /v1/acl/policy/:name`.
    UpsertAclPolicies(crate::acl::UpsertAclPolicies),
    /// `DELETE /v1/acl/policy/:name`.
    DeleteAclPolicies(crate::acl::DeleteAclPolicies),
    /// `PUT /v1/acl/token[/:accessor]`.
    UpsertAclTokens(crate::acl::UpsertAclTokens),
    /// `DELETE /v1/acl/token/:accessor`.
    DeleteAclTokens(crate::acl::DeleteAclTokens),

    // --- namespaces (R11): the payloads live in `crate::namespace` -------------------
    /// `PUT /v1/namespace/:name`.
    UpsertNamespaces(crate::namespace::UpsertNamespaces),
    /// `DELETE /v1/namespace/:name`.
    DeleteNamespaces(crate::namespace::DeleteNamespaces),

    // --- nodes (R12): the payloads live in `crate::node` -----------------------------
    /// A node registers or reports a change (ingest API).
    RegisterNode(crate::node::RegisterNode),
    /// `PUT /v1/node/:id/eligibility`.
    UpdateNodeEligibility(crate::node::UpdateNodeEligibility),
    /// Nodes leave the cluster (ingest API).
    DeregisterNodes(crate::node::DeregisterNodes),
}

impl Command {
    /// The event `Type` of every change this command makes: the name Nomad's event
    /// stream gives the write (`DeploymentStatusUpdate`, `PlanResult`, …). Writes Nomad
    /// emits no events for have a name of rollout's own (`JobStabilityUpdated`, the GC
    /// kinds); `docs/http-api.md` §9 lists them.
    pub fn message_type(&self) -> &'static str {
        match self {
            Command::RegisterJob(_) | Command::RevertJob(_) => "JobRegistered",
            Command::DeregisterJob(_) => "JobDeregistered",
            Command::SetJobStability(_) => "JobStabilityUpdated",
            Command::EvaluateJob(_) => "EvaluationUpdated",
            Command::ApplyPlanResult(_) => "PlanResult",
            Command::UpdateAllocsFromClient(_) => "AllocationUpdated",
            Command::StopAllocation(_) => "AllocationUpdateDesiredStatus",
            Command::SetAllocHealth(_) => "DeploymentAllocHealth",
            Command::PromoteDeployment(_) => "DeploymentPromotion",
            Command::PauseDeployment(_) | Command::FailDeployment(_) | Command::Tick => {
                "DeploymentStatusUpdate"
            }
            Command::UpdateEvalStatus(_) => "EvaluationUpdated",
            Command::ReapDeployments(_) | Command::GcDeployments(_) => "DeploymentDeleted",
            Command::GcEvaluations(_) => "EvalDeleted",
            Command::GcAllocations(_) => "AllocDeleted",
            Command::BootstrapAcl(_) => "ACLTokenUpserted",
            Command::UpsertAclPolicies(_) => "ACLPolicyUpserted",
            Command::DeleteAclPolicies(_) => "ACLPolicyDeleted",
            Command::UpsertAclTokens(_) => "ACLTokenUpserted",
            Command::DeleteAclTokens(_) => "ACLTokenDeleted",
            Command::UpsertNamespaces(_) => "NamespaceUpserted",
            Command::DeleteNamespaces(_) => "NamespaceDeleted",
            Command::RegisterNode(_) => "NodeRegistration",
            Command::UpdateNodeEligibility(_) => "NodeEligibility",
            Command::DeregisterNodes(_) => "NodeDeregistration",
        }
    }

    /// A short name for metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::RegisterJob(_) => "register_job",
            Command::DeregisterJob(_) => "deregister_job",
            Command::RevertJob(_) => "revert_job",
            Command::SetJobStability(_) => "set_job_stability",
            Command::EvaluateJob(_) => "evaluate_job",
            Command::ApplyPlanResult(_) => "apply_plan_result",
            Command::UpdateAllocsFromClient(_) => "update_allocs_from_client",
            Command::StopAllocation(_) => "stop_allocation",
            Command::SetAllocHealth(_) => "set_alloc_health",
            Command::PromoteDeployment(_) => "promote_deployment",
            Command::PauseDeployment(_) => "pause_deployment",
            Command::FailDeployment(_) => "fail_deployment",
            Command::Tick => "tick",
            Command::UpdateEvalStatus(_) => "update_eval_status",
            Command::ReapDeployments(_) => "reap_deployments",
            Command::GcDeployments(_) => "gc_deployments",
            Command::GcEvaluations(_) => "gc_evaluations",
            Command::GcAllocations(_) => "gc_allocations",
            Command::BootstrapAcl(_) => "acl_bootstrap",
            Command::UpsertAclPolicies(_) => "acl_upsert_policies",
            Command::DeleteAclPolicies(_) => "acl_delete_policies",
            Command::UpsertAclTokens(_) => "acl_upsert_tokens",
            Command::DeleteAclTokens(_) => "acl_delete_tokens",
            Command::UpsertNamespaces(_) => "upsert_namespaces",
            Command::DeleteNamespaces(_) => "delete_namespaces",
            Command::RegisterNode(_) => "register_node",
            Command::UpdateNodeEligibility(_) => "update_node_eligibility",
            Command::DeregisterNodes(_) => "deregister_nodes",
        }
    }
}

/// `PUT /v1/jobs` and `PUT /v1/job/:id`: register a job, or a new version of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RegisterJob {
    /// The job as submitted; the engine canonicalizes and validates it.
    pub job: Job,
    /// Only register if the job's `JobModifyIndex` equals [`Self::job_modify_index`].
    pub enforce_index: bool,
    /// The `JobModifyIndex` to enforce when `EnforceIndex` is set (0: the job must not
    /// exist).
    pub job_modify_index: u64,
    /// Priority of the evaluation (and of the deployment it creates); 0 = the job's.
    pub eval_priority: i64,
}

/// `POST /v1/allocation/:id/stop`: stop one allocation and let the scheduler replace it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct StopAllocation {
    /// The allocation (`AllocID`).
    #[serde(rename = "AllocID")]
    pub alloc_id: Uuid,
    /// Stop without the group's shutdown delay (`NoShutdownDelay`).
    pub no_shutdown_delay: bool,
}

/// `DELETE /v1/job/:id`: stop a job (or purge it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeregisterJob {
    /// The job's ID (`JobID`).
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The job's namespace.
    pub namespace: String,
    /// Remove the job, its versions, deployments and allocations instead of stopping it.
    pub purge: bool,
    /// Priority of the evaluation; 0 = the job's.
    pub eval_priority: i64,
}

/// `PUT /v1/job/:id/revert`: re-register an older version as the newest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RevertJob {
    /// The job's ID (`JobID`).
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The job's namespace.
    pub namespace: String,
    /// The version to go back to (`JobVersion`).
    pub job_version: u64,
    /// Refuse unless the current version is this one (`EnforcePriorVersion`).
    pub enforce_prior_version: Option<u64>,
}

/// `PUT /v1/job/:id/stable`: mark a version stable or unstable (auto-revert targets).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SetJobStability {
    /// The job's ID (`JobID`).
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The job's namespace.
    pub namespace: String,
    /// The version whose flag changes (`JobVersion`).
    pub job_version: u64,
    /// The new value of its `Stable` flag.
    pub stable: bool,
}

/// `POST /v1/job/:id/evaluate`: a new evaluation of the job's current version (EV1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct EvaluateJob {
    /// The job's ID (`JobID`).
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The job's namespace.
    pub namespace: String,
}

// The deployment writes below name their deployment with a plain `Uuid`: it is required,
// so decoding fails without it (no struct-level `default`). Callers that accept Nomad's
// request bodies check for a missing or empty `DeploymentID` themselves (the HTTP layer
// answers `DeploymentID must be specified`). Logs written while the ID was an
// `Option<Uuid>` decode unchanged: the engine refused commands without one, so only
// present IDs were ever logged, and `Some(id)` has the same encoding as `id`.

/// Manual health of a deployment's allocations (M1–M5): for groups with
/// `health_check = "manual"`, or to override automatic health.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetAllocHealth {
    /// The deployment the allocations belong to (required).
    #[serde(rename = "DeploymentID")]
    pub deployment_id: Uuid,
    /// Allocations to mark healthy.
    #[serde(rename = "HealthyAllocationIDs", default)]
    pub healthy_allocation_ids: Vec<Uuid>,
    /// Allocations to mark unhealthy (which may fail the deployment and auto-revert).
    #[serde(rename = "UnhealthyAllocationIDs", default)]
    pub unhealthy_allocation_ids: Vec<Uuid>,
}

/// Promote a deployment's canaries (P1–P12), all groups or some.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PromoteDeployment {
    /// The deployment to promote (required).
    #[serde(rename = "DeploymentID")]
    pub deployment_id: Uuid,
    /// Promote every group (`All`).
    #[serde(default)]
    pub all: bool,
    /// Promote only these groups (`Groups`), when `All` is false.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

/// Pause (`Pause: true`) or resume (`false`) a deployment (S1–S6).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PauseDeployment {
    /// The deployment to pause or resume (required).
    #[serde(rename = "DeploymentID")]
    pub deployment_id: Uuid,
    /// `true` pauses, `false` resumes.
    #[serde(default)]
    pub pause: bool,
}

/// Fail a deployment by hand (F1–F5); auto-revert applies as for any failure.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailDeployment {
    /// The deployment to fail (required).
    #[serde(rename = "DeploymentID")]
    pub deployment_id: Uuid,
}

/// A scheduler finished with an evaluation (`PUT /v1/evaluation/:id/ack`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UpdateEvalStatus {
    /// The evaluation (`EvalID`); it must be pending.
    #[serde(rename = "EvalID")]
    pub eval_id: Uuid,
    /// `complete`, `failed` or `canceled`.
    pub status: String,
    /// Why, in words (`StatusDescription`).
    pub status_description: String,
}

/// `Deployment.Reap`: delete these deployments (G1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ReapDeployments {
    /// The IDs of the deployments to delete.
    pub deployments: Vec<Uuid>,
}

/// Deployment garbage collection (G2): terminal deployments past a threshold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct GcDeployments {
    /// Terminal deployments untouched for at least this long are removed (Nomad's
    /// `deployment_gc_threshold`, 1 h by default; force-GC uses 1 ms).
    pub threshold_ns: i64,
}

/// Evaluation garbage collection: finished evaluations past a threshold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct GcEvaluations {
    /// Finished evaluations untouched for at least this long are removed (Nomad's
    /// `eval_gc_threshold`, 1 h by default). The newest evaluation of each job is kept.
    pub threshold_ns: i64,
}

/// Allocation garbage collection: finished allocations past a threshold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct GcAllocations {
    /// Finished allocations untouched for at least this long are removed (Nomad removes
    /// them with their evaluations after `eval_gc_threshold`, 1 h by default).
    pub threshold_ns: i64,
}

/// Client-side updates for a batch of allocations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ClientAllocUpdates {
    /// One update per allocation.
    pub allocations: Vec<ClientAllocUpdate>,
}

/// What a client may change about an allocation (A9).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ClientAllocUpdate {
    /// The allocation (`ID`).
    #[serde(rename = "ID")]
    pub id: Uuid,
    /// The client's view of it (`ClientStatus`: `pending`, `running`, `complete`, `failed`,
    /// `lost`).
    pub client_status: String,
    /// Free text (`ClientDescription`).
    pub client_description: String,
    /// Health the client measured (automatic health), if any.
    pub deployment_status: Option<ClientDeploymentStatus>,
    /// Task states as the client reports them (`TaskStates`).
    pub task_states: Option<SmallMap<TaskState>>,
    /// Client-reported time of the change (becomes the allocation's `ModifyTime`).
    pub modify_time: UnixNanos,
}

/// The client's health verdict on an allocation (`DeploymentStatus`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ClientDeploymentStatus {
    /// Healthy, unhealthy, or not decided yet (`Healthy`).
    pub healthy: Option<bool>,
    /// When the verdict was reached (`Timestamp`).
    pub timestamp: Timestamp,
    /// Only adopted when the allocation had no deployment status at all (A9).
    pub canary: bool,
}

/// A scheduler's result for one evaluation's plan (`POST /v1/engine/plan`). Each item must
/// match an item of the plan the engine computes for the evaluation at apply time;
/// anything else makes the whole result stale.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PlanResult {
    /// The evaluation the plan was for (`EvalID`).
    #[serde(rename = "EvalID")]
    pub eval_id: Uuid,
    /// The state index the plan was computed from (becomes the eval's `SnapshotIndex`).
    pub snapshot_index: u64,
    /// The deployment the scheduler planned for, if any; must still be the plan's.
    #[serde(rename = "DeploymentID", with = "empty_as_none")]
    pub deployment_id: Option<Uuid>,
    /// Placements, each bound to a node.
    pub allocations: Vec<PlacedAllocation>,
    /// Allocations updated in place to the job's version.
    pub in_place_updates: Vec<Uuid>,
    /// Allocations stopped.
    pub stops: Vec<AllocStop>,
}

/// A placement bound to a node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PlacedAllocation {
    /// The allocation's name (`Name`, `job.group[index]`), as planned.
    pub name: String,
    /// Its task group (`TaskGroup`), as planned.
    pub task_group: String,
    /// The job version it runs (`JobVersion`), as planned.
    pub job_version: u64,
    /// Whether it is a canary (`Canary`), as planned.
    pub canary: bool,
    /// The allocation it replaces (`PreviousAllocation`), as planned.
    #[serde(with = "empty_as_none")]
    pub previous_allocation: Option<Uuid>,
    /// The node it was placed on (`NodeID`).
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// That node's name (`NodeName`).
    pub node_name: String,
    /// Resources the scheduler allocated (`AllocatedResources`), stored verbatim.
    pub allocated_resources: Option<Value>,
    /// Placement metrics (`Metrics`), stored verbatim.
    pub metrics: Option<Value>,
}

/// An allocation stopped by a plan result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocStop {
    /// The allocation (`AllocID`).
    #[serde(rename = "AllocID")]
    pub alloc_id: Uuid,
    /// Optional; the plan's own description is used when empty.
    pub description: String,
}

/// Desired transitions written by the watcher (allow-replacement, W6).
pub type TransitionMap = BTreeMap<Uuid, DesiredTransition>;
