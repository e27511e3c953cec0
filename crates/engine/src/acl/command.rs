//! The ACL commands' payloads (variants of [`crate::Command`]).
//!
//! Token accessors and secrets are chosen by the caller, as Nomad's RPC layer chooses
//! them before the Raft write: the accessor travels in the command, the secret only as
//! its [`SecretHash`] (see [`super::token`]).

use super::policy::{JobAcl, PolicyRules};
use super::token::SecretHash;
use crate::model::{DurationNs, UnixNanos};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST /v1/acl/bootstrap`: the first management token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BootstrapAcl {
    /// The new token's accessor (`AccessorID`), chosen by the caller.
    #[serde(rename = "AccessorID")]
    pub accessor_id: Uuid,
    /// The hash of the new token's secret; the secret itself is never written.
    pub secret_hash: SecretHash,
    /// To bootstrap again, the index of the previous bootstrap (Nomad's reset file);
    /// 0 for the first bootstrap.
    #[serde(default)]
    pub reset_index: u64,
}

/// `PUT /v1/acl/policy/:name`: create or replace policies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UpsertAclPolicies {
    /// The policies to create or replace, by name.
    pub policies: Vec<AclPolicyWrite>,
}

/// One policy as written: the rules text and the document parsed from it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AclPolicyWrite {
    /// The policy's name (`Name`): its key.
    pub name: String,
    /// Free text (`Description`).
    pub description: String,
    /// The rules as the user wrote them (`Rules`, HCL or JSON), kept verbatim for reads.
    pub rules: String,
    /// `Rules` parsed (HCL or JSON) by the caller; validated and normalised by `apply`.
    pub document: PolicyRules,
    /// The workload the policy is bound to (`JobACL`), if any.
    #[serde(rename = "JobACL")]
    pub job_acl: Option<JobAcl>,
}

/// `DELETE /v1/acl/policy/:name`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeleteAclPolicies {
    /// The names of the policies to delete; all must exist.
    pub names: Vec<String>,
}

/// `PUT /v1/acl/token` (create) and `/v1/acl/token/:accessor` (update).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UpsertAclTokens {
    /// The tokens to create or update.
    pub tokens: Vec<AclTokenWrite>,
}

/// One token as written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AclTokenWrite {
    /// The token's accessor (`AccessorID`): new for a create, existing for an update.
    #[serde(rename = "AccessorID")]
    pub accessor_id: Uuid,
    /// Set for a new token (the accessor must be unused); `None` updates an existing
    /// token, which keeps its secret.
    pub secret_hash: Option<SecretHash>,
    /// Free text (`Name`).
    pub name: String,
    /// `client` or `management` (validated by `apply`).
    #[serde(rename = "Type")]
    pub token_type: String,
    /// Policy names granted to a client token (`Policies`).
    pub policies: Vec<String>,
    /// How many role links the request named: rollout has no roles, so any is refused.
    pub roles: usize,
    /// `Global`: replicated to every region in Nomad; stored and returned here.
    pub global: bool,
    /// When the token expires (`ExpirationTime`), if ever.
    pub expiration_time: Option<UnixNanos>,
    /// The requested time to live (`ExpirationTTL`); the caller turns it into an expiration
    /// time.
    #[serde(rename = "ExpirationTTL")]
    pub expiration_ttl: DurationNs,
}

/// `DELETE /v1/acl/token/:accessor`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeleteAclTokens {
    /// The accessors of the tokens to delete; all must exist.
    #[serde(rename = "AccessorIDs")]
    pub accessor_ids: Vec<Uuid>,
}
