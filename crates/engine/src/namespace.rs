//! Namespaces as Nomad has them (`docs/http-api.md` R11): named, described places for
//! jobs. `default` always exists; a job can only be registered into a namespace that
//! exists (NS1); a namespace is deleted only when it holds no live job (NS3).
//!
//! The table is part of the state like every other, so namespaces are written through
//! the command log, snapshotted and replayed.

use crate::format::go_quote;
use crate::outcome::{Change, Topic};
use crate::state::State;
use crate::tx::{EventKey, Tx};
use crate::{Error, Result};
use imbl::OrdMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The namespace every job without one is in; it cannot be deleted.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The description the `default` namespace has until someone changes it.
pub const DEFAULT_NAMESPACE_DESCRIPTION: &str = "Default shared namespace";

/// The longest description Nomad accepts.
pub const MAX_NAMESPACE_DESCRIPTION_LEN: usize = 256;

/// A namespace (Nomad's `Namespace`); every key is always on the wire.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Namespace {
    /// Its name (`Name`): `^[a-zA-Z0-9-]{1,128}$`.
    pub name: String,
    /// Free text (`Description`), at most 256 bytes.
    pub description: String,
    /// The quota it is bound to (`Quota`): stored and echoed (quotas are Nomad
    /// Enterprise's).
    pub quota: String,
    /// Task drivers and network modes it allows (`Capabilities`): stored and echoed.
    pub capabilities: Option<Value>,
    /// Operator metadata (`Meta`).
    pub meta: Option<BTreeMap<String, String>>,
    /// Node pool defaults (`NodePoolConfiguration`): stored and echoed.
    pub node_pool_configuration: Option<Value>,
    /// Vault defaults (`VaultConfiguration`): stored and echoed.
    pub vault_configuration: Option<Value>,
    /// Consul defaults (`ConsulConfiguration`): stored and echoed.
    pub consul_configuration: Option<Value>,
    /// Index of its creation.
    pub create_index: u64,
    /// Index of its last change.
    pub modify_index: u64,
}

impl Namespace {
    /// The `default` namespace as it is before anyone writes it.
    fn implicit_default() -> Namespace {
        Namespace {
            name: DEFAULT_NAMESPACE.to_string(),
            description: DEFAULT_NAMESPACE_DESCRIPTION.to_string(),
            create_index: 1,
            modify_index: 1,
            ..Namespace::default()
        }
    }
}

/// `PUT /v1/namespace/:name` (Nomad's `NamespaceUpsertRequest`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UpsertNamespaces {
    /// The namespaces to create or update.
    pub namespaces: Vec<Namespace>,
}

/// `DELETE /v1/namespace/:name` (Nomad's `NamespaceDeleteRequest`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeleteNamespaces {
    /// The names of the namespaces to delete.
    pub namespaces: Vec<String>,
    /// The region the request was made in, for the refusal's text (`global` when
    /// empty).
    pub region: String,
}

/// The namespace table and its index.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Namespaces {
    /// Index of the last write to the table (`namespaces`).
    pub(crate) index: u64,
    pub(crate) rows: OrdMap<Arc<str>, Arc<Namespace>>,
}

/// What snapshots carry of the table.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct NamespacesData {
    #[serde(default)]
    pub index: u64,
    #[serde(default)]
    pub rows: Vec<Arc<Namespace>>,
}

impl Namespaces {
    pub(crate) fn to_data(&self) -> NamespacesData {
        NamespacesData {
            index: self.index,
            rows: self.rows.values().cloned().collect(),
        }
    }

    pub(crate) fn from_data(data: NamespacesData) -> Namespaces {
        Namespaces {
            index: data.index,
            rows: data
                .rows
                .into_iter()
                .map(|n| (Arc::from(n.name.as_str()), n))
                .collect(),
        }
    }
}

impl State {
    /// The namespace named `name`; `default` always exists.
    pub fn namespace(&self, name: &str) -> Option<Arc<Namespace>> {
        match self.t().namespaces.rows.get(name) {
            Some(n) => Some(n.clone()),
            None if name == DEFAULT_NAMESPACE => Some(Arc::new(Namespace::implicit_default())),
            None => None,
        }
    }

    /// Every namespace, by name (`default` included).
    pub fn namespaces(&self) -> Vec<Arc<Namespace>> {
        let mut all: Vec<Arc<Namespace>> = self.t().namespaces.rows.values().cloned().collect();
        if !self.t().namespaces.rows.contains_key(DEFAULT_NAMESPACE) {
            all.push(Arc::new(Namespace::implicit_default()));
            all.sort_by(|a, b| a.name.cmp(&b.name));
        }
        all
    }

    /// The index of the last namespace write (1 before any: the implicit `default`).
    pub fn namespaces_index(&self) -> u64 {
        self.t().namespaces.index.max(1)
    }
}

/// Nomad's namespace name rule, `^[a-zA-Z0-9-]{1,128}$`.
fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// NS2: a namespace's name and description as Nomad validates them.
fn validate(ns: &Namespace) -> Result<()> {
    let mut errors = Vec::new();
    if !valid_name(&ns.name) {
        errors.push(format!(
            "invalid name {}. Must match regex ^[a-zA-Z0-9-]{{1,128}}$",
            go_quote(&ns.name)
        ));
    }
    if ns.description.len() > MAX_NAMESPACE_DESCRIPTION_LEN {
        errors.push(format!(
            "description longer than {MAX_NAMESPACE_DESCRIPTION_LEN}"
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidNamespace(errors))
    }
}

/// NS1: a job may only be registered into a namespace that exists.
pub(crate) fn require_namespace(state: &State, job: &str, namespace: &str) -> Result<()> {
    if state.namespace(namespace).is_some() {
        Ok(())
    } else {
        Err(Error::NonexistentNamespace {
            job: job.to_string(),
            namespace: namespace.to_string(),
        })
    }
}

/// `Namespace.UpsertNamespaces`: every namespace validated first, then written; an
/// existing one keeps its `CreateIndex`.
pub(crate) fn upsert(tx: &mut Tx, c: &UpsertNamespaces) -> Result<()> {
    if c.namespaces.is_empty() {
        return Err(Error::MissingNamespaces);
    }
    for ns in &c.namespaces {
        validate(ns)?;
    }
    for ns in &c.namespaces {
        let existing = tx.state.t().namespaces.rows.get(ns.name.as_str()).cloned();
        let mut row = ns.clone();
        row.create_index = existing.as_ref().map_or(tx.index, |e| e.create_index);
        row.modify_index = tx.index;
        let change = if existing.is_some() {
            Change::Updated
        } else {
            Change::Created
        };
        let name: Arc<str> = Arc::from(row.name.as_str());
        let reason = format!("namespace {} was written", go_quote(&row.name));
        tx.state
            .t_mut()
            .namespaces
            .rows
            .insert(name.clone(), Arc::new(row));
        tx.acl_event(
            Topic::Namespace,
            change,
            EventKey::Name(name),
            ("NS2", reason),
        );
    }
    tx.state.t_mut().namespaces.index = tx.index;
    Ok(())
}

/// `Namespace.DeleteNamespaces`: refused for `default` and for a namespace that holds a
/// job that is not dead (NS3); all named namespaces must exist.
pub(crate) fn delete(tx: &mut Tx, c: &DeleteNamespaces) -> Result<()> {
    if c.namespaces.is_empty() {
        return Err(Error::MissingNamespaces);
    }
    for name in &c.namespaces {
        if name == DEFAULT_NAMESPACE {
            return Err(Error::CantDeleteDefaultNamespace);
        }
        if !tx.state.t().namespaces.rows.contains_key(name.as_str()) {
            return Err(Error::NamespaceNotFound);
        }
        let live = tx
            .state
            .jobs(Some(name))
            .any(|j| j.status != crate::model::job_status::DEAD);
        if live {
            return Err(Error::NamespaceHasJobs {
                namespace: name.clone(),
                region: if c.region.is_empty() {
                    "global".to_string()
                } else {
                    c.region.clone()
                },
            });
        }
    }
    for name in &c.namespaces {
        let key: Arc<str> = Arc::from(name.as_str());
        tx.state.t_mut().namespaces.rows.remove(name.as_str());
        let reason = format!("namespace {} was deleted", go_quote(name));
        tx.acl_event(
            Topic::Namespace,
            Change::Deleted,
            EventKey::Name(key),
            ("NS3", reason),
        );
    }
    tx.state.t_mut().namespaces.index = tx.index;
    Ok(())
}
