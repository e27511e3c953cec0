//! Applying the ACL commands. Each validates everything first and then writes, so a
//! refused command changes nothing (as every command: `apply` drops the transaction).

use super::command::{
    AclTokenWrite, BootstrapAcl, DeleteAclPolicies, DeleteAclTokens, UpsertAclPolicies,
    UpsertAclTokens,
};
use super::policy::{validate_policy, AclPolicy};
use super::token::{validate_token, AclToken, TokenType};
use crate::outcome::{Change, Topic};
use crate::tx::{EventKey, Tx};
use crate::{Error, Result};
use std::sync::Arc;

/// The name Nomad gives the bootstrap token.
pub const BOOTSTRAP_TOKEN_NAME: &str = "Bootstrap Token";

/// `ACL.Bootstrap`: once, unless the caller names the index of the last bootstrap.
pub(crate) fn bootstrap(tx: &mut Tx, c: &BootstrapAcl) -> Result<()> {
    let done_at = tx.state.t().acl.bootstrap_index;
    if done_at != 0 {
        if c.reset_index == 0 {
            return Err(Error::AclBootstrapDone(done_at));
        }
        if c.reset_index != done_at {
            return Err(Error::AclBootstrapResetIndex {
                specified: c.reset_index,
                reset: done_at,
            });
        }
    }
    check_new_token(tx, &c.accessor_id, &c.secret_hash)?;
    let token = AclToken {
        accessor_id: c.accessor_id,
        secret_hash: c.secret_hash,
        name: BOOTSTRAP_TOKEN_NAME.to_string(),
        token_type: TokenType::Management,
        policies: Vec::new(),
        global: true,
        hash: AclToken::compute_hash(BOOTSTRAP_TOKEN_NAME, TokenType::Management, &[], true),
        create_time: tx.now,
        expiration_time: None,
        expiration_ttl: 0,
        create_index: tx.index,
        modify_index: tx.index,
    };
    let accessor = token.accessor_id;
    let acl = &mut tx.state.t_mut().acl;
    acl.put_token(Arc::new(token));
    acl.bootstrap_index = tx.index;
    acl.token_index = tx.index;
    tx.acl_event(
        Topic::AclToken,
        Change::Created,
        EventKey::Id(accessor),
        (
            "§8.5",
            "the ACL system was bootstrapped: a management token was created",
        ),
    );
    Ok(())
}

/// A new token's accessor and secret must both be unused.
fn check_new_token(
    tx: &Tx,
    accessor: &uuid::Uuid,
    secret: &super::token::SecretHash,
) -> Result<()> {
    if tx.state.t().acl.tokens.contains_key(accessor) {
        return Err(Error::AclAccessorExists(*accessor));
    }
    if tx.state.t().acl.by_secret.contains_key(secret) {
        return Err(Error::AclSecretInUse);
    }
    Ok(())
}

/// `ACL.UpsertPolicies`: validate every policy, then write them all.
pub(crate) fn upsert_policies(tx: &mut Tx, c: &UpsertAclPolicies) -> Result<()> {
    if c.policies.is_empty() {
        return Err(Error::MissingAclPolicies);
    }
    let mut rows = Vec::with_capacity(c.policies.len());
    for (index, p) in c.policies.iter().enumerate() {
        let parsed = validate_policy(
            &p.name,
            &p.description,
            &p.rules,
            Ok(&p.document),
            p.job_acl.as_ref(),
        )
        .map_err(|errors| Error::InvalidAclPolicy { index, errors })?;
        rows.push(AclPolicy {
            name: p.name.clone(),
            description: p.description.clone(),
            rules: p.rules.clone(),
            parsed,
            job_acl: p.job_acl.clone(),
            hash: AclPolicy::compute_hash(&p.name, &p.description, &p.rules, p.job_acl.as_ref()),
            create_index: tx.index,
            modify_index: tx.index,
        });
    }
    let mut changes = Vec::with_capacity(rows.len());
    let acl = &mut tx.state.t_mut().acl;
    for mut row in rows {
        let change = match acl.policies.get(row.name.as_str()) {
            Some(old) => {
                row.create_index = old.create_index;
                Change::Updated
            }
            None => Change::Created,
        };
        changes.push((Arc::<str>::from(row.name.as_str()), change));
        acl.put_policy(Arc::new(row));
    }
    acl.policy_index = tx.index;
    for (name, change) in changes {
        tx.acl_event(
            Topic::AclPolicy,
            change,
            EventKey::Name(name),
            ("§8.5", "the policy was written"),
        );
    }
    Ok(())
}

/// `ACL.DeletePolicies`. Unlike Nomad (which answers 200 and bumps the index), an
/// unknown name is refused: R1's 404 for unknown objects, and nothing changes.
pub(crate) fn delete_policies(tx: &mut Tx, c: &DeleteAclPolicies) -> Result<()> {
    if c.names.is_empty() {
        return Err(Error::MissingAclPolicies);
    }
    if c.names
        .iter()
        .any(|n| !tx.state.t().acl.policies.contains_key(n.as_str()))
    {
        return Err(Error::AclPolicyNotFound);
    }
    let acl = &mut tx.state.t_mut().acl;
    for name in &c.names {
        acl.policies.remove(name.as_str());
    }
    acl.policy_index = tx.index;
    for name in &c.names {
        tx.acl_event(
            Topic::AclPolicy,
            Change::Deleted,
            EventKey::Name(Arc::from(name.as_str())),
            ("§8.5", "the policy was deleted"),
        );
    }
    Ok(())
}

/// `ACL.UpsertTokens`: create (the write carries the new secret's hash) or update (it
/// does not; secret, creation time and expiry are kept).
pub(crate) fn upsert_tokens(tx: &mut Tx, c: &UpsertAclTokens) -> Result<()> {
    if c.tokens.is_empty() {
        return Err(Error::MissingAclTokens);
    }
    let mut rows = Vec::with_capacity(c.tokens.len());
    for (index, w) in c.tokens.iter().enumerate() {
        let row = token_row(tx, w)
            .and_then(|r| r.map_err(|errors| Error::InvalidAclToken { index, errors }))?;
        rows.push(row);
    }
    let mut changes = Vec::with_capacity(rows.len());
    let acl = &mut tx.state.t_mut().acl;
    for row in rows {
        let change = if acl.tokens.contains_key(&row.accessor_id) {
            Change::Updated
        } else {
            Change::Created
        };
        changes.push((row.accessor_id, change));
        acl.put_token(Arc::new(row));
    }
    acl.token_index = tx.index;
    for (accessor, change) in changes {
        tx.acl_event(
            Topic::AclToken,
            change,
            EventKey::Id(accessor),
            ("§8.5", "the token was written"),
        );
    }
    Ok(())
}

/// The row a token write produces, or its validation problems.
fn token_row(tx: &Tx, w: &AclTokenWrite) -> Result<Result<AclToken, Vec<String>>> {
    let (existing, secret_hash, create_time, create_index) = match w.secret_hash {
        Some(secret) => {
            check_new_token(tx, &w.accessor_id, &secret)?;
            (None, secret, tx.now, tx.index)
        }
        None => {
            let old = tx
                .state
                .t()
                .acl
                .tokens
                .get(&w.accessor_id)
                .ok_or(Error::AclTokenNotFound(w.accessor_id))?;
            (
                Some(old),
                old.secret_hash,
                old.create_time,
                old.create_index,
            )
        }
    };
    let mut w = w.clone();
    if existing.is_none() && w.expiration_time.is_none() && w.expiration_ttl != 0 {
        // `ACLToken.Canonicalize`: a TTL becomes an expiry time at creation.
        w.expiration_time = Some(create_time.saturating_add(w.expiration_ttl));
    }
    let errors = validate_token(&w, create_time, existing.map(|t| t.as_ref()));
    let Some(token_type) = TokenType::parse(&w.token_type).filter(|_| errors.is_empty()) else {
        return Ok(Err(errors));
    };
    Ok(Ok(AclToken {
        accessor_id: w.accessor_id,
        secret_hash,
        hash: AclToken::compute_hash(&w.name, token_type, &w.policies, w.global),
        name: w.name,
        token_type,
        policies: w.policies,
        global: w.global,
        create_time,
        expiration_time: w.expiration_time,
        expiration_ttl: w.expiration_ttl,
        create_index,
        modify_index: tx.index,
    }))
}

/// `ACL.DeleteTokens`: every accessor must exist.
pub(crate) fn delete_tokens(tx: &mut Tx, c: &DeleteAclTokens) -> Result<()> {
    if c.accessor_ids.is_empty() {
        return Err(Error::MissingAclTokens);
    }
    let missing: Vec<uuid::Uuid> = c
        .accessor_ids
        .iter()
        .filter(|a| !tx.state.t().acl.tokens.contains_key(*a))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(Error::AclTokensNonexistent(missing));
    }
    let acl = &mut tx.state.t_mut().acl;
    for accessor in &c.accessor_ids {
        acl.remove_token(accessor);
    }
    acl.token_index = tx.index;
    for accessor in &c.accessor_ids {
        tx.acl_event(
            Topic::AclToken,
            Change::Deleted,
            EventKey::Id(*accessor),
            ("§8.5", "the token was deleted"),
        );
    }
    Ok(())
}
