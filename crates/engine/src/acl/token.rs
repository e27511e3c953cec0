//! ACL tokens: the stored row, the hash of a secret, and Nomad's token validation.
//!
//! The engine never sees a token's secret. Whoever creates a token draws the secret
//! from a real random source, hands it to the user once, and sends the engine only
//! [`SecretHash::of`] it: if secrets were derived from the envelope's entropy they would
//! be recoverable from the command log, which is kept on disk. Lookups by secret hash
//! the presented secret the same way.

use super::command::AclTokenWrite;
use crate::format::go_duration;
use crate::model::{DurationNs, UnixNanos, HOUR_NS, MINUTE_NS};
use blake2::{Blake2b256, Digest};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// The longest token name Nomad accepts.
pub const MAX_NAME_LEN: usize = 256;
/// Nomad's default `acl.token_min_expiration_ttl`.
pub const MIN_EXPIRATION_TTL_NS: DurationNs = MINUTE_NS;
/// Nomad's default `acl.token_max_expiration_ttl`.
pub const MAX_EXPIRATION_TTL_NS: DurationNs = 24 * HOUR_NS;

/// `client` or `management`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TokenType {
    /// Holds the capabilities of its policies.
    #[serde(rename = "client")]
    Client,
    /// May do everything, everywhere.
    #[serde(rename = "management")]
    Management,
}

impl TokenType {
    /// The token type named `s` (`client` or `management`), if it is one.
    pub fn parse(s: &str) -> Option<TokenType> {
        match s {
            "client" => Some(TokenType::Client),
            "management" => Some(TokenType::Management),
            _ => None,
        }
    }

    /// The type's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Client => "client",
            TokenType::Management => "management",
        }
    }
}

/// A keyed BLAKE2b-256 of a token secret: what the state stores instead of the secret.
///
/// Secrets are random UUIDs (122 bits), so a fast hash is as good as a slow one here:
/// there is nothing to brute-force. Equality is constant-time.
#[derive(Clone, Copy, PartialOrd, Ord)]
pub struct SecretHash(pub [u8; 32]);

/// Domain separation: these hashes are of nothing else.
const SECRET_DOMAIN: &[u8] = b"rollout acl token secret v1\0";

impl SecretHash {
    /// The hash of `secret`, as stored and looked up.
    pub fn of(secret: &str) -> SecretHash {
        let mut h = Blake2b256::new();
        h.update(SECRET_DOMAIN);
        h.update(secret.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(&h.finalize());
        SecretHash(out)
    }

    /// Whether `secret` hashes to this, compared in constant time.
    pub fn matches(&self, secret: &str) -> bool {
        self.0.ct_eq(&SecretHash::of(secret).0).into()
    }
}

impl PartialEq for SecretHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SecretHash {}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Short and harmless: a hash prefix, never anything secret.
        write!(f, "SecretHash({}…)", hex::encode(&self.0[..2]))
    }
}

impl Serialize for SecretHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        crate::command::serialize_32(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for SecretHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The same encoding as `Entropy`: 32 bytes, hex when human-readable.
        crate::command::deserialize_32(deserializer, "secret hash").map(SecretHash)
    }
}

/// A stored token. Its secret is not here: only [`SecretHash`] of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AclToken {
    /// The token's public ID (`AccessorID`).
    #[serde(rename = "AccessorID")]
    pub accessor_id: Uuid,
    /// The hash of its secret (see [`SecretHash`]).
    pub secret_hash: SecretHash,
    /// Free text (`Name`).
    pub name: String,
    /// `client` or `management` (`Type`).
    #[serde(rename = "Type")]
    pub token_type: TokenType,
    /// Policy names (client tokens); policies that do not exist grant nothing.
    pub policies: Vec<String>,
    /// `Global`: replicated to every region in Nomad; stored and returned here.
    pub global: bool,
    /// BLAKE2b-256 of the user-set fields, as Nomad's `ACLToken.SetHash`.
    pub hash: [u8; 32],
    /// When the token was created (`CreateTime`).
    pub create_time: UnixNanos,
    /// When it expires (`ExpirationTime`), if ever.
    pub expiration_time: Option<UnixNanos>,
    /// The time to live it was created with (`ExpirationTTL`), 0 for none.
    #[serde(rename = "ExpirationTTL")]
    pub expiration_ttl: DurationNs,
    /// `CreateIndex`: the index that created the token.
    pub create_index: u64,
    /// `ModifyIndex`: the index that last wrote it.
    pub modify_index: u64,
}

impl AclToken {
    /// Whether this is a management token.
    pub fn is_management(&self) -> bool {
        self.token_type == TokenType::Management
    }

    /// Expired tokens resolve to nothing (`ACLToken.IsExpired`).
    pub fn is_expired(&self, now: UnixNanos) -> bool {
        self.expiration_time.is_some_and(|t| t < now)
    }

    /// Nomad's token hash: name, type, policies, `global`/`local`, role IDs (rollout
    /// has no roles).
    pub fn compute_hash(
        name: &str,
        token_type: TokenType,
        policies: &[String],
        global: bool,
    ) -> [u8; 32] {
        let mut h = Blake2b256::new();
        h.update(name.as_bytes());
        h.update(token_type.as_str().as_bytes());
        for p in policies {
            h.update(p.as_bytes());
        }
        h.update(if global { b"global" as &[u8] } else { b"local" });
        let mut out = [0u8; 32];
        out.copy_from_slice(&h.finalize());
        out
    }
}

/// `ACLToken.Validate`: the problems of a token write, in Nomad's order and words.
/// `create_time` is the new token's (the write's time); `existing` is the stored token
/// for an update. For a new token, `w.expiration_time` is already derived from the TTL.
pub fn validate_token(
    w: &AclTokenWrite,
    create_time: UnixNanos,
    existing: Option<&AclToken>,
) -> Vec<String> {
    let (name, token_type, policies, roles, global) =
        (&w.name, &w.token_type, &w.policies, w.roles, w.global);
    let (expiration_time, ttl) = (w.expiration_time, w.expiration_ttl);
    let mut errors = Vec::new();
    if name.len() > MAX_NAME_LEN {
        errors.push("token name too long".to_string());
    }
    match TokenType::parse(token_type) {
        Some(TokenType::Client) => {
            if policies.is_empty() && roles == 0 {
                errors.push("client token missing policies or roles".to_string());
            }
        }
        Some(TokenType::Management) => {
            if !policies.is_empty() || roles != 0 {
                errors.push(
                    "management token cannot be associated with policies or roles".to_string(),
                );
            }
        }
        None => errors.push("token type must be client or management".to_string()),
    }
    if roles != 0 {
        // rollout has no ACL roles: a link could never resolve.
        errors.push("ACL roles are not supported".to_string());
    }
    match existing {
        None => {
            if ttl < 0 {
                errors.push(format!(
                    "token expiration TTL '{}' should not be negative",
                    go_duration(ttl)
                ));
            }
            if let Some(at) = expiration_time {
                if create_time > at {
                    errors.push("expiration time cannot be before create time".to_string());
                }
                let expires_in = at.saturating_sub(create_time);
                if expires_in > MAX_EXPIRATION_TTL_NS {
                    errors.push(format!(
                        "expiration time cannot be more than {} in the future (was {})",
                        go_duration(MAX_EXPIRATION_TTL_NS),
                        go_duration(expires_in)
                    ));
                } else if expires_in < MIN_EXPIRATION_TTL_NS {
                    errors.push(format!(
                        "expiration time cannot be less than {} in the future (was {})",
                        go_duration(MIN_EXPIRATION_TTL_NS),
                        go_duration(expires_in)
                    ));
                }
            }
        }
        Some(old) => {
            if old.global != global {
                errors.push("cannot toggle global mode".to_string());
            }
            if old.expiration_ttl != ttl {
                errors.push("cannot update expiration TTL".to_string());
            }
            // Nomad compares the two pointers (so any expiring token fails here);
            // rollout compares the times.
            if old.expiration_time != expiration_time {
                errors.push("cannot update expiration time".to_string());
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hashes() {
        let h = SecretHash::of("a");
        assert!(h.matches("a"));
        assert!(!h.matches("b"));
        assert_eq!(h, SecretHash::of("a"));
        assert_ne!(h, SecretHash::of("A"));
        assert!(!format!("{h:?}").contains('a') || format!("{h:?}").len() < 24);
    }

    #[test]
    fn client_and_management_rules() {
        let v = |t: &str, p: &[&str]| {
            let w = AclTokenWrite {
                name: "n".into(),
                token_type: t.into(),
                policies: p.iter().map(|s| s.to_string()).collect(),
                ..AclTokenWrite::default()
            };
            validate_token(&w, 0, None)
        };
        assert!(v("client", &["a"]).is_empty());
        assert_eq!(v("client", &[]), ["client token missing policies or roles"]);
        assert_eq!(
            v("management", &["a"]),
            ["management token cannot be associated with policies or roles"]
        );
        assert_eq!(v("", &[]), ["token type must be client or management"]);
        assert!(v("management", &[]).is_empty());
    }

    #[test]
    fn expiration_bounds() {
        let v = |at: i64, ttl: i64| {
            let w = AclTokenWrite {
                token_type: "management".into(),
                expiration_time: Some(at),
                expiration_ttl: ttl,
                ..AclTokenWrite::default()
            };
            validate_token(&w, 0, None)
        };
        assert!(v(HOUR_NS, HOUR_NS).is_empty());
        assert_eq!(
            v(10 * 1_000_000_000, 0),
            ["expiration time cannot be less than 1m0s in the future (was 10s)"]
        );
        assert_eq!(
            v(48 * HOUR_NS, 0),
            ["expiration time cannot be more than 24h0m0s in the future (was 48h0m0s)"]
        );
    }
}
