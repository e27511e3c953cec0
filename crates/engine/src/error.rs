//! The engine's one error type. Every message is the exact text of the spec (§5); the
//! [`ErrorKind`] tells an HTTP layer which status code to use (§8 decision 13).

use crate::format::{go_quote, multierror};
use thiserror::Error;
use uuid::Uuid;

/// How a caller should classify an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed or incomplete input (HTTP 400).
    BadRequest,
    /// The addressed object does not exist (HTTP 404).
    NotFound,
    /// The current state refuses the request (HTTP 409).
    Conflict,
    /// The caller broke the engine's contract (say, an index that does not increase): a
    /// bug in the embedder, not in the request (HTTP 500).
    Internal,
}

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Error {
    // --- §5.2, endpoint checks -------------------------------------------------------------
    #[error("must specify at least one healthy/unhealthy allocation ID")]
    MissingAllocationIds,
    #[error("deployment not found")]
    DeploymentNotFound,
    #[error("can't fail terminal deployment")]
    CantFailTerminal,
    #[error("can't pause terminal deployment")]
    CantPauseTerminal,
    #[error("can't resume terminal deployment")]
    CantResumeTerminal,
    #[error("can't promote terminal deployment")]
    CantPromoteTerminal,
    #[error("can't set health of allocations for a terminal deployment")]
    CantSetHealthTerminal,

    // --- §5.4, store checks ----------------------------------------------------------------
    #[error("Deployment ID {} couldn't be updated as it does not exist", quote_id(.0))]
    DeploymentDoesNotExist(Uuid),
    #[error("Deployment {} has terminal status {}:", quote_id(.id), go_quote(.status))]
    DeploymentTerminal { id: Uuid, status: String },
    #[error("unknown alloc {}", go_quote(.0))]
    UnknownAlloc(String),
    #[error("alloc {} is not part of deployment {}", quote_id(.alloc), quote_id(.deployment))]
    AllocNotInDeployment { alloc: Uuid, deployment: Uuid },
    /// `Task group %q has %d/%d healthy allocations`, one line per group, sorted by group.
    #[error("{}", multierror(.0))]
    UnhealthyCanaries(Vec<String>),
    #[error("deployment promotion cannot be undone")]
    PromotionCannotBeUndone,

    // --- §5.5, job RPCs --------------------------------------------------------------------
    #[error("missing job ID for revert")]
    MissingJobIdForRevert,
    #[error("missing job ID for marking job as stable")]
    MissingJobIdForStable,
    #[error("job {} not found", go_quote(.0))]
    JobNotFound(String),
    #[error("can't revert to current version")]
    RevertToCurrentVersion,
    #[error("job {} in namespace {} at version {version} not found", go_quote(.job), go_quote(.namespace))]
    JobVersionNotFound {
        job: String,
        namespace: String,
        version: u64,
    },
    #[error("Current job has version {current}; enforcing version {enforced}")]
    EnforcePriorVersion { current: u64, enforced: u64 },
    #[error("Enforcing job modify index {expected}: job exists with conflicting job modify index: {actual}")]
    EnforceIndexConflict { expected: u64, actual: u64 },
    #[error("Enforcing job modify index 0: job already exists")]
    EnforceIndexJobExists,
    #[error("Enforcing job modify index {0}: job does not exist")]
    EnforceIndexJobMissing(u64),
    /// Job validation failures (§1.8), in go-multierror form.
    #[error("{}", multierror(.0))]
    InvalidJob(Vec<String>),

    // --- reads -----------------------------------------------------------------------------
    #[error("index error: Input (without hyphens) must be even length")]
    OddLengthPrefix,
    #[error("index error: Invalid UUID: {0}")]
    InvalidPrefix(String),

    // --- rollout's own -------------------------------------------------------------------
    #[error("index {index} must be greater than the last applied index {last}")]
    IndexNotIncreasing { index: u64, last: u64 },
    #[error("eval not found")]
    EvalNotFound,
    #[error("alloc not found")]
    AllocNotFound,
    #[error("evaluation {} is {}, not pending", quote_id(.id), go_quote(.status))]
    EvalNotPending { id: Uuid, status: String },
    #[error("invalid evaluation status {}: must be \"complete\", \"failed\" or \"canceled\"", go_quote(.0))]
    InvalidEvalStatus(String),
    #[error("stale plan for evaluation {}: {reason}", quote_id(.eval))]
    StalePlan { eval: Uuid, reason: String },
    #[error("invalid allocation update for {}: {reason}", quote_id(.alloc))]
    InvalidClientUpdate { alloc: Uuid, reason: String },

    // --- ACLs (§8) -------------------------------------------------------------------------
    #[error("ACL bootstrap already done (reset index: {0})")]
    AclBootstrapDone(u64),
    #[error("Invalid bootstrap reset index (specified {specified}, reset index: {reset})")]
    AclBootstrapResetIndex { specified: u64, reset: u64 },
    #[error("must specify as least one policy")]
    MissingAclPolicies,
    #[error("must specify as least one token")]
    MissingAclTokens,
    #[error("policy {index} invalid: {}", multierror(.errors))]
    InvalidAclPolicy { index: usize, errors: Vec<String> },
    #[error("token {index} invalid: {}", multierror(.errors))]
    InvalidAclToken { index: usize, errors: Vec<String> },
    #[error("ACL policy not found")]
    AclPolicyNotFound,
    #[error("cannot find token {0}")]
    AclTokenNotFound(Uuid),
    #[error("Cannot delete nonexistent tokens: {}", join_ids(.0))]
    AclTokensNonexistent(Vec<Uuid>),
    #[error("ACL token accessor {0} already exists")]
    AclAccessorExists(Uuid),
    #[error("ACL token secret is already in use")]
    AclSecretInUse,
}

fn join_ids(ids: &[Uuid]) -> String {
    ids.iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn quote_id(id: &Uuid) -> String {
    go_quote(&id.hyphenated().to_string())
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        use Error::*;
        match self {
            MissingAllocationIds
            | MissingJobIdForRevert
            | MissingJobIdForStable
            | InvalidJob(_)
            | OddLengthPrefix
            | InvalidPrefix(_)
            | AllocNotInDeployment { .. }
            | InvalidEvalStatus(_)
            | InvalidClientUpdate { .. }
            | AclBootstrapDone(_)
            | AclBootstrapResetIndex { .. }
            | MissingAclPolicies
            | MissingAclTokens
            | InvalidAclPolicy { .. }
            | InvalidAclToken { .. }
            | AclTokensNonexistent(_)
            | AclSecretInUse => ErrorKind::BadRequest,
            DeploymentNotFound
            | DeploymentDoesNotExist(_)
            | UnknownAlloc(_)
            | JobNotFound(_)
            | JobVersionNotFound { .. }
            | EvalNotFound
            | AllocNotFound
            | AclPolicyNotFound
            | AclTokenNotFound(_) => ErrorKind::NotFound,
            CantFailTerminal
            | CantPauseTerminal
            | CantResumeTerminal
            | CantPromoteTerminal
            | CantSetHealthTerminal
            | DeploymentTerminal { .. }
            | UnhealthyCanaries(_)
            | PromotionCannotBeUndone
            | RevertToCurrentVersion
            | EnforcePriorVersion { .. }
            | EnforceIndexConflict { .. }
            | EnforceIndexJobExists
            | EnforceIndexJobMissing(_)
            | EvalNotPending { .. }
            | StalePlan { .. }
            | AclAccessorExists(_) => ErrorKind::Conflict,
            IndexNotIncreasing { .. } => ErrorKind::Internal,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
