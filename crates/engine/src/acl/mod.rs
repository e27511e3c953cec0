//! ACLs as Nomad has them (`http-api.md` §8): policies that grant namespace
//! capabilities, client and management tokens, the anonymous policy, bootstrap.
//!
//! ACL state lives in the engine like everything else, so it is written through the
//! command log, snapshotted and replayed. The pieces:
//! - [`Capability`]: capability names, shorthand expansion;
//! - [`policy`]: the rules document, its validation and normalisation, the stored row;
//! - [`AclToken`]: the stored token (with a [`SecretHash`] of its secret, never the
//!   secret);
//! - [`Acl`]: a token's policies compiled, and the namespace rule (closest glob, `deny`
//!   wins);
//! - the commands ([`BootstrapAcl`], [`UpsertAclPolicies`], [`UpsertAclTokens`], …) and
//!   their application.
//!
//! Resolving a request's token is a read: [`resolve`].

pub(crate) mod capability;
pub(crate) mod command;
pub(crate) mod compiled;
pub mod policy;
pub(crate) mod tables;
pub(crate) mod token;
pub(crate) mod write;

pub use capability::{Capability, CapabilitySet};
pub use command::{
    AclPolicyWrite, AclTokenWrite, BootstrapAcl, DeleteAclPolicies, DeleteAclTokens,
    UpsertAclPolicies, UpsertAclTokens,
};
pub use compiled::{Acl, Level, ALL_NAMESPACES};
pub use policy::{AclPolicy, JobAcl, PolicyRules};
pub use tables::{AclIndexes, AclTables};
pub use token::{AclToken, SecretHash, TokenType};
pub use write::BOOTSTRAP_TOKEN_NAME;

use crate::model::UnixNanos;
use crate::state::State;
use std::sync::Arc;

/// The policy every request without a token gets (§8.2).
pub const ANONYMOUS_POLICY: &str = "anonymous";

/// Who a request is, once its token is resolved.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The token presented; `None` for the anonymous token.
    pub token: Option<Arc<AclToken>>,
    /// The capabilities the token's policies grant (management: everything).
    pub acl: Acl,
}

/// Why a token does not resolve: Nomad answers every case with `Permission denied`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unresolved {
    /// No token has this secret (unknown, deleted, or not a secret at all).
    Unknown,
    /// The token expired.
    Expired,
}

/// Resolves a presented secret (`""` = none) against `state` at time `now`: the
/// anonymous token, or the token with that secret and its compiled ACL.
pub fn resolve(state: &State, secret: &str, now: UnixNanos) -> Result<Resolved, Unresolved> {
    if secret.is_empty() {
        return Ok(Resolved {
            token: None,
            acl: token_acl(state, None),
        });
    }
    let token = state
        .acl_token_by_secret(secret)
        .ok_or(Unresolved::Unknown)?;
    if token.is_expired(now) {
        return Err(Unresolved::Expired);
    }
    Ok(Resolved {
        acl: token_acl(state, Some(token)),
        token: Some(token.clone()),
    })
}

/// The ACL a token grants: everything for management, the union of its (existing)
/// policies for a client, the `anonymous` policy for no token.
pub fn token_acl(state: &State, token: Option<&AclToken>) -> Acl {
    match token {
        Some(t) if t.is_management() => Acl::management(),
        Some(t) => Acl::compile(
            t.policies
                .iter()
                .filter_map(|name| state.acl_policy(name))
                .map(|p| &p.parsed),
        ),
        None => Acl::compile(state.acl_policy(ANONYMOUS_POLICY).map(|p| &p.parsed)),
    }
}
