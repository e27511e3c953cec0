//! The ACL tables of a [`State`]: policies by name, tokens by accessor, and the derived
//! secret-hash → accessor index. Reads are public; writes go through [`super::write`].

use super::policy::AclPolicy;
use super::token::{AclToken, SecretHash};
use crate::state::State;
use imbl::OrdMap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

/// The ACL part of the engine state.
#[derive(Clone, Debug, Default)]
pub struct AclTables {
    /// The index of the last bootstrap (Nomad's reset index); 0 = never bootstrapped.
    pub(crate) bootstrap_index: u64,
    /// Index of the last write to the policy table (`acl_policy`).
    pub(crate) policy_index: u64,
    /// Index of the last write to the token table (`acl_token`).
    pub(crate) token_index: u64,
    pub(crate) policies: OrdMap<Arc<str>, Arc<AclPolicy>>,
    pub(crate) tokens: OrdMap<Uuid, Arc<AclToken>>,
    /// Derived: secret hash → accessor.
    pub(crate) by_secret: OrdMap<SecretHash, Uuid>,
}

impl PartialEq for AclTables {
    fn eq(&self, other: &Self) -> bool {
        // `by_secret` is derived from `tokens`.
        self.bootstrap_index == other.bootstrap_index
            && self.policy_index == other.policy_index
            && self.token_index == other.token_index
            && self.policies == other.policies
            && self.tokens == other.tokens
    }
}

impl AclTables {
    pub(crate) fn put_token(&mut self, token: Arc<AclToken>) {
        if let Some(old) = self.tokens.get(&token.accessor_id) {
            self.by_secret.remove(&old.secret_hash);
        }
        self.by_secret.insert(token.secret_hash, token.accessor_id);
        self.tokens.insert(token.accessor_id, token);
    }

    pub(crate) fn remove_token(&mut self, accessor: &Uuid) -> Option<Arc<AclToken>> {
        let old = self.tokens.remove(accessor)?;
        self.by_secret.remove(&old.secret_hash);
        Some(old)
    }

    pub(crate) fn put_policy(&mut self, policy: Arc<AclPolicy>) {
        self.policies
            .insert(Arc::from(policy.name.as_str()), policy);
    }

    /// Checks the derived index against the token table.
    pub(crate) fn check_indexes(&self) -> Result<(), String> {
        let mut rebuilt = OrdMap::new();
        for t in self.tokens.values() {
            rebuilt.insert(t.secret_hash, t.accessor_id);
        }
        if rebuilt != self.by_secret {
            return Err("secondary index acl_token_by_secret disagrees with its table".into());
        }
        Ok(())
    }
}

/// The ACL table indexes (`X-Nomad-Index` of ACL reads).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AclIndexes {
    /// The index of the last policy write.
    pub policies: u64,
    /// The index of the last token write.
    pub tokens: u64,
    /// The index of the last bootstrap; 0 when ACLs were never bootstrapped.
    pub bootstrap: u64,
}

impl State {
    /// The ACL tables' indexes (what ACL reads report as `X-Nomad-Index`).
    pub fn acl_indexes(&self) -> AclIndexes {
        AclIndexes {
            policies: self.t().acl.policy_index,
            tokens: self.t().acl.token_index,
            bootstrap: self.t().acl.bootstrap_index,
        }
    }

    /// The policy named `name`.
    pub fn acl_policy(&self, name: &str) -> Option<&Arc<AclPolicy>> {
        self.t().acl.policies.get(name)
    }

    /// Every policy, by name.
    pub fn acl_policies(&self) -> impl Iterator<Item = &Arc<AclPolicy>> + '_ {
        self.t().acl.policies.values()
    }

    /// The token with this accessor.
    pub fn acl_token(&self, accessor: &Uuid) -> Option<&Arc<AclToken>> {
        self.t().acl.tokens.get(accessor)
    }

    /// Every token, in creation order (`CreateIndex`, then accessor).
    pub fn acl_tokens(&self) -> Vec<&Arc<AclToken>> {
        let mut tokens: Vec<&Arc<AclToken>> = self.t().acl.tokens.values().collect();
        tokens.sort_by_key(|t| (t.create_index, t.accessor_id));
        tokens
    }

    /// The token whose secret is `secret`, expired or not. The lookup is by hash, and
    /// the stored hash is then compared in constant time.
    pub fn acl_token_by_secret(&self, secret: &str) -> Option<&Arc<AclToken>> {
        let hash = SecretHash::of(secret);
        let accessor = self.t().acl.by_secret.get(&hash)?;
        let token = self.t().acl.tokens.get(accessor)?;
        token.secret_hash.matches(secret).then_some(token)
    }
}

/// The serialised form of the ACL tables (snapshots): rows only, in key order.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AclTablesData {
    #[serde(default)]
    pub bootstrap_index: u64,
    #[serde(default)]
    pub policy_index: u64,
    #[serde(default)]
    pub token_index: u64,
    #[serde(default)]
    pub policies: Vec<Arc<AclPolicy>>,
    #[serde(default)]
    pub tokens: Vec<Arc<AclToken>>,
}

impl AclTables {
    pub(crate) fn to_data(&self) -> AclTablesData {
        AclTablesData {
            bootstrap_index: self.bootstrap_index,
            policy_index: self.policy_index,
            token_index: self.token_index,
            policies: self.policies.values().cloned().collect(),
            tokens: self.tokens.values().cloned().collect(),
        }
    }

    pub(crate) fn from_data(data: AclTablesData) -> AclTables {
        let mut tables = AclTables {
            bootstrap_index: data.bootstrap_index,
            policy_index: data.policy_index,
            token_index: data.token_index,
            ..AclTables::default()
        };
        for p in data.policies {
            tables.put_policy(p);
        }
        for t in data.tokens {
            tables.put_token(t);
        }
        tables
    }
}
