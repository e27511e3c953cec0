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

/// Why a command was refused or a read failed. Each message is the text Nomad answers
/// with (§5), so an API layer can pass it through; [`Error::kind`] gives the status class.
/// A refused command changes nothing.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Error {
    // --- §5.2, endpoint checks -------------------------------------------------------------
    /// Allocation health named no allocation (M1).
    #[error("must specify at least one healthy/unhealthy allocation ID")]
    MissingAllocationIds,
    /// An operator write named a deployment that does not exist.
    #[error("deployment not found")]
    DeploymentNotFound,
    /// Failing a deployment that already finished (F1).
    #[error("can't fail terminal deployment")]
    CantFailTerminal,
    /// Pausing a deployment that already finished (S1).
    #[error("can't pause terminal deployment")]
    CantPauseTerminal,
    /// Resuming a deployment that already finished (S1).
    #[error("can't resume terminal deployment")]
    CantResumeTerminal,
    /// Promoting a deployment that already finished (P1).
    #[error("can't promote terminal deployment")]
    CantPromoteTerminal,
    /// Setting allocation health in a deployment that already finished (M1).
    #[error("can't set health of allocations for a terminal deployment")]
    CantSetHealthTerminal,

    // --- §5.4, store checks ----------------------------------------------------------------
    /// The store's check that the deployment exists (a write raced with its deletion).
    #[error("Deployment ID {} couldn't be updated as it does not exist", quote_id(.0))]
    DeploymentDoesNotExist(Uuid),
    /// The store's check that the deployment is still active.
    #[error("Deployment {} has terminal status {}:", quote_id(.id), go_quote(.status))]
    DeploymentTerminal {
        /// The deployment.
        id: Uuid,
        /// Its terminal status.
        status: String,
    },
    /// Allocation health named an allocation that does not exist (M2).
    #[error("unknown alloc {}", go_quote(.0))]
    UnknownAlloc(String),
    /// Allocation health named an allocation of another deployment (M2).
    #[error("alloc {} is not part of deployment {}", quote_id(.alloc), quote_id(.deployment))]
    AllocNotInDeployment {
        /// The allocation.
        alloc: Uuid,
        /// The deployment the request named.
        deployment: Uuid,
    },
    /// `Task group %q has %d/%d healthy allocations`, one line per group, sorted by group:
    /// promotion with canaries that are not all healthy (P5).
    #[error("{}", multierror(.0))]
    UnhealthyCanaries(Vec<String>),
    /// Setting a promoted group's `Promoted` back to false.
    #[error("deployment promotion cannot be undone")]
    PromotionCannotBeUndone,

    // --- §5.5, job RPCs --------------------------------------------------------------------
    /// A revert with an empty job ID.
    #[error("missing job ID for revert")]
    MissingJobIdForRevert,
    /// A stability change with an empty job ID.
    #[error("missing job ID for marking job as stable")]
    MissingJobIdForStable,
    /// The job does not exist.
    #[error("job {} not found", go_quote(.0))]
    JobNotFound(String),
    /// EV1: evaluating a periodic job (its launches are evaluated, not the job).
    #[error("can't evaluate periodic job")]
    CantEvaluatePeriodic,
    /// EV1: evaluating a parameterized job (its dispatches are evaluated).
    #[error("can't evaluate parameterized job")]
    CantEvaluateParameterized,
    /// A revert to the version that is already current.
    #[error("can't revert to current version")]
    RevertToCurrentVersion,
    /// A revert or stability change named a version that is not (or no longer) kept.
    #[error("job {} in namespace {} at version {version} not found", go_quote(.job), go_quote(.namespace))]
    JobVersionNotFound {
        /// The job's ID.
        job: String,
        /// The job's namespace.
        namespace: String,
        /// The version asked for.
        version: u64,
    },
    /// A revert's `EnforcePriorVersion` does not match the current version.
    #[error("Current job has version {current}; enforcing version {enforced}")]
    EnforcePriorVersion {
        /// The current version.
        current: u64,
        /// The version the request enforced.
        enforced: u64,
    },
    /// A registration's `EnforceIndex` does not match the job's `JobModifyIndex`.
    #[error("Enforcing job modify index {expected}: job exists with conflicting job modify index: {actual}")]
    EnforceIndexConflict {
        /// The index the request enforced.
        expected: u64,
        /// The job's `JobModifyIndex`.
        actual: u64,
    },
    /// A registration enforcing index 0 (create only) found the job.
    #[error("Enforcing job modify index 0: job already exists")]
    EnforceIndexJobExists,
    /// A registration enforcing a non-zero index found no job.
    #[error("Enforcing job modify index {0}: job does not exist")]
    EnforceIndexJobMissing(u64),
    /// Job validation failures (§1.8), in go-multierror form.
    #[error("{}", multierror(.0))]
    InvalidJob(Vec<String>),

    // --- namespaces (R11) ---------------------------------------------------------------
    /// NS1: a registration into a namespace that does not exist.
    #[error("job {} is in nonexistent namespace {}", go_quote(.job), go_quote(.namespace))]
    NonexistentNamespace {
        /// The job's ID.
        job: String,
        /// The namespace it names.
        namespace: String,
    },
    /// NS2: a namespace write with an invalid name or description (go-multierror form).
    #[error("{}", multierror(.0))]
    InvalidNamespace(Vec<String>),
    /// A namespace write or delete that names no namespace.
    #[error("must specify at least one namespace")]
    MissingNamespaces,
    /// NS3: deleting `default`.
    #[error("can not delete default namespace")]
    CantDeleteDefaultNamespace,
    /// Deleting a namespace that does not exist.
    #[error("namespace not found")]
    NamespaceNotFound,
    /// NS3: deleting a namespace that still holds a job that is not dead.
    #[error("namespace {} has non-terminal jobs in regions: [{region}]", go_quote(.namespace))]
    NamespaceHasJobs {
        /// The namespace.
        namespace: String,
        /// The region the request was made in.
        region: String,
    },

    // --- nodes (R12) --------------------------------------------------------------------
    /// N1: a node registration Nomad would refuse (go-multierror form).
    #[error("{}", multierror(.0))]
    InvalidNode(Vec<String>),
    /// A node write that names no node.
    #[error("must specify at least one node")]
    MissingNodes,
    /// A write or read of a node that does not exist.
    #[error("node not found")]
    NodeNotFound,
    /// N3: a draining node made eligible.
    #[error("can not set node's scheduling eligibility to eligible while it is draining")]
    EligibleWhileDraining,

    // --- reads -----------------------------------------------------------------------------
    /// An ID prefix with an odd number of hex digits.
    #[error("index error: Input (without hyphens) must be even length")]
    OddLengthPrefix,
    /// An ID prefix that is not hex, or longer than an ID.
    #[error("index error: Invalid UUID: {0}")]
    InvalidPrefix(String),

    // --- rollout's own -------------------------------------------------------------------
    /// The envelope's index is not above the state's: a bug in the caller, which must
    /// assign increasing indexes.
    #[error("index {index} must be greater than the last applied index {last}")]
    IndexNotIncreasing {
        /// The envelope's index.
        index: u64,
        /// The state's last applied index.
        last: u64,
    },
    /// A command given as the continuation of a log entry
    /// ([`apply_in_entry`](crate::apply_in_entry)) whose index is not the state's:
    /// a bug in the caller, which must apply an entry's commands at the entry's index.
    #[error("index {index} must equal the index {last} of the entry being applied")]
    IndexNotShared {
        /// The envelope's index.
        index: u64,
        /// The state's last applied index (the entry's).
        last: u64,
    },
    /// The embedder's [`Stamp`](crate::Stamp) could not supply entropy: nothing was
    /// applied (guessable IDs are worse than a refused write).
    #[error("no entropy for the next command: {0}")]
    NoEntropy(String),
    /// An acknowledgement or plan named an evaluation that does not exist.
    #[error("eval not found")]
    EvalNotFound,
    /// A client update named an allocation that does not exist.
    #[error("alloc not found")]
    AllocNotFound,
    /// An acknowledgement of an evaluation that is not pending any more.
    #[error("evaluation {} is {}, not pending", quote_id(.id), go_quote(.status))]
    EvalNotPending {
        /// The evaluation.
        id: Uuid,
        /// Its status.
        status: String,
    },
    /// An acknowledgement with a status that does not finish an evaluation.
    #[error("invalid evaluation status {}: must be \"complete\", \"failed\" or \"canceled\"", go_quote(.0))]
    InvalidEvalStatus(String),
    /// A plan result that does not match the plan the engine computes now: the state
    /// moved on since the scheduler planned, so it must plan again.
    #[error("stale plan for evaluation {}: {reason}", quote_id(.eval))]
    StalePlan {
        /// The evaluation the plan was for.
        eval: Uuid,
        /// What does not match.
        reason: String,
    },
    /// A client update with a client status Nomad does not know.
    #[error("invalid allocation update for {}: {reason}", quote_id(.alloc))]
    InvalidClientUpdate {
        /// The allocation.
        alloc: Uuid,
        /// What is wrong with the update.
        reason: String,
    },

    // --- ACLs (§8) -------------------------------------------------------------------------
    /// A second bootstrap without the reset index (carries the index to reset with).
    #[error("ACL bootstrap already done (reset index: {0})")]
    AclBootstrapDone(u64),
    /// A bootstrap with a reset index that is not the last bootstrap's.
    #[error("Invalid bootstrap reset index (specified {specified}, reset index: {reset})")]
    AclBootstrapResetIndex {
        /// The index the request gave.
        specified: u64,
        /// The index it must give.
        reset: u64,
    },
    /// A policy write with no policy.
    #[error("must specify as least one policy")]
    MissingAclPolicies,
    /// A token write with no token.
    #[error("must specify as least one token")]
    MissingAclTokens,
    /// A policy that does not validate.
    #[error("policy {index} invalid: {}", multierror(.errors))]
    InvalidAclPolicy {
        /// Its position in the request.
        index: usize,
        /// What is wrong with it.
        errors: Vec<String>,
    },
    /// A token that does not validate.
    #[error("token {index} invalid: {}", multierror(.errors))]
    InvalidAclToken {
        /// Its position in the request.
        index: usize,
        /// What is wrong with it.
        errors: Vec<String>,
    },
    /// The policy does not exist.
    #[error("ACL policy not found")]
    AclPolicyNotFound,
    /// No token has this accessor.
    #[error("cannot find token {0}")]
    AclTokenNotFound(Uuid),
    /// A token delete named tokens that do not exist.
    #[error("Cannot delete nonexistent tokens: {}", join_ids(.0))]
    AclTokensNonexistent(Vec<Uuid>),
    /// A token create with an accessor already in use.
    #[error("ACL token accessor {0} already exists")]
    AclAccessorExists(Uuid),
    /// A token create with a secret already in use.
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
    /// The class of the error, for choosing a status code.
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
            | AclSecretInUse
            | NonexistentNamespace { .. }
            | InvalidNamespace(_)
            | MissingNamespaces
            | CantDeleteDefaultNamespace
            | InvalidNode(_)
            | MissingNodes
            | EligibleWhileDraining
            | CantEvaluatePeriodic
            | CantEvaluateParameterized => ErrorKind::BadRequest,
            DeploymentNotFound
            | DeploymentDoesNotExist(_)
            | UnknownAlloc(_)
            | JobNotFound(_)
            | JobVersionNotFound { .. }
            | EvalNotFound
            | AllocNotFound
            | AclPolicyNotFound
            | AclTokenNotFound(_)
            | NamespaceNotFound
            | NodeNotFound => ErrorKind::NotFound,
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
            | AclAccessorExists(_)
            | NamespaceHasJobs { .. } => ErrorKind::Conflict,
            IndexNotIncreasing { .. } | IndexNotShared { .. } | NoEntropy(_) => ErrorKind::Internal,
        }
    }
}

/// The engine's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
