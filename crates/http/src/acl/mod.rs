//! ACLs at the HTTP edge (`http-api.md` §8): resolving a request's token
//! ([`auth`]), parsing policy rules ([`rules`]) and the ACL objects' JSON ([`views`]).
//! The ACL state and every rule about it live in the engine (`rollout_engine::acl`); the
//! ACL endpoints are in `routes::acl`.

pub mod auth;
mod hcl1;
pub mod rules;
pub mod views;

pub use auth::{Access, Identity};

use crate::error::ApiError;
use uuid::Uuid;

/// A fresh random (version 4) UUID from the operating system: token accessors and
/// secrets. Secrets must never come from the engine's entropy, which is logged.
pub fn random_uuid() -> Result<Uuid, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("no entropy: {e}")))?;
    Ok(uuid::Builder::from_random_bytes(bytes).into_uuid())
}
