//! Client nodes as Nomad has them (`docs/http-api.md` R12): where allocations run, as
//! the scheduler and clients that drive the engine report them. rollout schedules
//! nothing itself, so the table is what operators read (`/v1/nodes`, `rollout node
//! status`) and what an allocation's `NodeID` refers to; a node's status does not by
//! itself change its allocations — their clients (or the scheduler) report that.
//!
//! Like every table, nodes are written through the command log, snapshotted and
//! replayed.

use crate::format::go_quote;
use crate::model::Timestamp;
use crate::outcome::{Change, Topic};
use crate::state::State;
use crate::tx::{EventKey, Tx};
use crate::{Error, Result};
use imbl::OrdMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A node's `Status`, as Nomad spells them.
pub mod node_status {
    /// Registered, not yet ready for work.
    pub const INITIALIZING: &str = "initializing";
    /// Heartbeating and taking work.
    pub const READY: &str = "ready";
    /// Missed its heartbeats.
    pub const DOWN: &str = "down";
    /// Lost contact but within its disconnect window.
    pub const DISCONNECTED: &str = "disconnected";
    /// Every valid status.
    pub const ALL: [&str; 4] = [INITIALIZING, READY, DOWN, DISCONNECTED];
}

/// A node's `SchedulingEligibility`.
pub mod eligibility {
    /// New placements may go there.
    pub const ELIGIBLE: &str = "eligible";
    /// No new placements (an operator's choice, or a drain).
    pub const INELIGIBLE: &str = "ineligible";
}

/// The node pool a node without one is in.
pub const DEFAULT_NODE_POOL: &str = "default";

/// How many events a node keeps, oldest dropped first (Nomad keeps ten).
pub const MAX_NODE_EVENTS: usize = 10;

/// A client node (Nomad's `Node`). Blocks rollout stores without interpreting them
/// (resources, drivers, volumes) are kept as JSON and echoed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Node {
    /// Its ID (`ID`), unique; allocations name it in `NodeID`.
    #[serde(rename = "ID")]
    pub id: String,
    /// Its name (`Name`); allocations name it in `NodeName`.
    pub name: String,
    /// The datacenter it is in.
    pub datacenter: String,
    /// The node pool it is in (`default` when registered without one).
    pub node_pool: String,
    /// Its class (`NodeClass`), free text.
    pub node_class: String,
    /// Where its client's HTTP API listens (`HTTPAddr`, `host:port`).
    #[serde(rename = "HTTPAddr")]
    pub http_addr: String,
    /// Whether its client speaks TLS (`TLSEnabled`).
    #[serde(rename = "TLSEnabled")]
    pub tls_enabled: bool,
    /// Fingerprinted attributes (`kernel.name`, `nomad.version`, …).
    pub attributes: BTreeMap<String, String>,
    /// Operator metadata.
    pub meta: BTreeMap<String, String>,
    /// Task drivers and their health (stored and echoed).
    pub drivers: Option<Value>,
    /// Its resources (`NodeResources`, stored and echoed).
    pub node_resources: Option<Value>,
    /// What is reserved for the OS (`ReservedResources`, stored and echoed).
    pub reserved_resources: Option<Value>,
    /// Host volumes (stored and echoed).
    pub host_volumes: Option<Value>,
    /// One of [`node_status::ALL`].
    pub status: String,
    /// Why it has that status.
    pub status_description: String,
    /// When the status last changed, Unix seconds (`StatusUpdatedAt`).
    pub status_updated_at: i64,
    /// [`eligibility::ELIGIBLE`] or [`eligibility::INELIGIBLE`].
    pub scheduling_eligibility: String,
    /// The drain in progress, if any (`DrainStrategy`, stored and echoed): a node being
    /// drained is ineligible.
    pub drain_strategy: Option<Value>,
    /// The last drain's metadata (`LastDrain`, stored and echoed).
    pub last_drain: Option<Value>,
    /// What happened to it, oldest first (at most [`MAX_NODE_EVENTS`]).
    pub events: Vec<NodeEvent>,
    /// Index of its registration.
    pub create_index: u64,
    /// Index of its last change.
    pub modify_index: u64,
}

impl Node {
    /// Whether a drain is in progress (`Drain` of the list stub).
    pub fn draining(&self) -> bool {
        self.drain_strategy.as_ref().is_some_and(|d| !d.is_null())
    }
}

/// One entry of a node's history (Nomad's `NodeEvent`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeEvent {
    /// What happened (`Node registered`).
    pub message: String,
    /// The part of the system it concerns (`Cluster`, `Drain`, …).
    pub subsystem: String,
    /// Further details.
    pub details: Option<BTreeMap<String, String>>,
    /// When it happened.
    pub timestamp: Timestamp,
    /// The index of the write that recorded it.
    pub create_index: u64,
}

/// A node registers or reports a change (Nomad's `Node.Register`): the ingest API's
/// `PUT /v1/engine/node/register`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RegisterNode {
    /// The node as its client describes it.
    pub node: Node,
}

/// `PUT /v1/node/:id/eligibility` (Nomad's `NodeUpdateEligibilityRequest`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UpdateNodeEligibility {
    /// The node (`NodeID`).
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// `eligible` or `ineligible`.
    pub eligibility: String,
}

/// Nodes leave the cluster (Nomad's `Node.BatchDeregister`): the ingest API's
/// `PUT /v1/engine/node/deregister`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeregisterNodes {
    /// The nodes to remove (`NodeIDs`).
    #[serde(rename = "NodeIDs")]
    pub node_ids: Vec<String>,
}

/// The node table and its index.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Nodes {
    /// Index of the last write to the table (`nodes`).
    pub(crate) index: u64,
    pub(crate) rows: OrdMap<Arc<str>, Arc<Node>>,
}

/// What snapshots carry of the table.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct NodesData {
    #[serde(default)]
    pub index: u64,
    #[serde(default)]
    pub rows: Vec<Arc<Node>>,
}

impl Nodes {
    pub(crate) fn to_data(&self) -> NodesData {
        NodesData {
            index: self.index,
            rows: self.rows.values().cloned().collect(),
        }
    }

    pub(crate) fn from_data(data: NodesData) -> Nodes {
        Nodes {
            index: data.index,
            rows: data
                .rows
                .into_iter()
                .map(|n| (Arc::from(n.id.as_str()), n))
                .collect(),
        }
    }
}

impl State {
    /// The node with ID `id`.
    pub fn node(&self, id: &str) -> Option<Arc<Node>> {
        self.t().nodes.rows.get(id).cloned()
    }

    /// Every node, by ID.
    pub fn nodes(&self) -> impl Iterator<Item = &Arc<Node>> + '_ {
        self.t().nodes.rows.values()
    }

    /// The nodes whose ID starts with `prefix`, by ID (a range scan).
    pub fn nodes_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Node>> + 'a {
        self.t()
            .nodes
            .rows
            .range::<_, str>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(id, _)| id.starts_with(prefix))
            .map(|(_, n)| n)
    }

    /// How many nodes there are.
    pub fn node_count(&self) -> usize {
        self.t().nodes.rows.len()
    }

    /// The index of the last node write (0 before any).
    pub fn nodes_index(&self) -> u64 {
        self.t().nodes.index
    }
}

/// N1: a registration as Nomad validates it: an ID, a name, a datacenter, a valid status
/// and eligibility. Go-multierror form, so every problem is named at once.
fn validate(node: &Node) -> Result<()> {
    let mut errors = Vec::new();
    if node.id.is_empty() {
        errors.push("missing node ID for client registration".to_string());
    }
    if node.name.is_empty() {
        errors.push("missing node name for client registration".to_string());
    }
    if node.datacenter.is_empty() {
        errors.push("missing datacenter for client registration".to_string());
    }
    if !node.status.is_empty() && !node_status::ALL.contains(&node.status.as_str()) {
        errors.push(format!(
            "invalid status for node: {}",
            go_quote(&node.status)
        ));
    }
    if !node.scheduling_eligibility.is_empty() && !valid_eligibility(&node.scheduling_eligibility) {
        errors.push(format!(
            "invalid scheduling eligibility {}",
            go_quote(&node.scheduling_eligibility)
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidNode(errors))
    }
}

fn valid_eligibility(e: &str) -> bool {
    e == eligibility::ELIGIBLE || e == eligibility::INELIGIBLE
}

/// N1, N2: defaults Nomad fills in: status `initializing`, pool `default`; a
/// registration without an eligibility keeps the node's (eligible when new), and a
/// draining node is ineligible (N3).
fn with_defaults(mut node: Node, existing: Option<&Node>) -> Node {
    if node.status.is_empty() {
        node.status = node_status::INITIALIZING.to_string();
    }
    if node.node_pool.is_empty() {
        node.node_pool = DEFAULT_NODE_POOL.to_string();
    }
    if node.scheduling_eligibility.is_empty() {
        node.scheduling_eligibility = existing.map_or_else(
            || eligibility::ELIGIBLE.to_string(),
            |n| n.scheduling_eligibility.clone(),
        );
    }
    if node.draining() {
        node.scheduling_eligibility = eligibility::INELIGIBLE.to_string();
    }
    node
}

/// Appends an event, keeping the newest [`MAX_NODE_EVENTS`].
fn push_event(node: &mut Node, tx: &Tx, subsystem: &str, message: String) {
    node.events.push(NodeEvent {
        message,
        subsystem: subsystem.to_string(),
        details: None,
        timestamp: Timestamp(tx.now),
        create_index: tx.index,
    });
    let excess = node.events.len().saturating_sub(MAX_NODE_EVENTS);
    node.events.drain(..excess);
}

/// Writes a row and its event.
fn put(tx: &mut Tx, node: Node, change: Change, why: (&'static str, String)) {
    let id: Arc<str> = Arc::from(node.id.as_str());
    tx.state
        .t_mut()
        .nodes
        .rows
        .insert(id.clone(), Arc::new(node));
    tx.state.t_mut().nodes.index = tx.index;
    tx.acl_event(Topic::Node, change, EventKey::Name(id), why);
}

/// `Node.Register` (N1, N2): a new node gets `CreateIndex` and the event `Node
/// registered`; a known one keeps its `CreateIndex`, history and (unless the
/// registration names one) eligibility, and a status change is recorded in
/// `StatusUpdatedAt` and the history.
pub(crate) fn register(tx: &mut Tx, c: &RegisterNode) -> Result<()> {
    validate(&c.node)?;
    let existing = tx.state.node(&c.node.id);
    let mut node = with_defaults(c.node.clone(), existing.as_deref());
    node.modify_index = tx.index;
    let seconds = tx.now.div_euclid(1_000_000_000);
    let (change, why) = match existing {
        None => {
            node.create_index = tx.index;
            node.status_updated_at = seconds;
            node.events.clear();
            push_event(&mut node, tx, "Cluster", "Node registered".to_string());
            let reason = format!("node {} registered as {}", go_quote(&node.id), node.status);
            (Change::Created, ("N1", reason))
        }
        Some(old) => {
            node.create_index = old.create_index;
            node.events = old.events.clone();
            if old.status == node.status {
                node.status_updated_at = old.status_updated_at;
            } else {
                node.status_updated_at = seconds;
                let message = format!("Node status changed to {}", node.status);
                push_event(&mut node, tx, "Cluster", message);
            }
            let reason = if old.status == node.status {
                format!("node {} updated its registration", go_quote(&node.id))
            } else {
                format!(
                    "node {} went from {} to {}",
                    go_quote(&node.id),
                    old.status,
                    node.status
                )
            };
            (Change::Updated, ("N2", reason))
        }
    };
    put(tx, node, change, why);
    Ok(())
}

/// `Node.UpdateEligibility` (N3): a draining node cannot be made eligible; setting what
/// it already is still writes (Nomad does too), recording nothing in its history.
pub(crate) fn update_eligibility(tx: &mut Tx, c: &UpdateNodeEligibility) -> Result<()> {
    if !valid_eligibility(&c.eligibility) {
        return Err(Error::InvalidNode(vec![format!(
            "invalid scheduling eligibility {}",
            go_quote(&c.eligibility)
        )]));
    }
    let Some(old) = tx.state.node(&c.node_id) else {
        return Err(Error::NodeNotFound);
    };
    if old.draining() && c.eligibility == eligibility::ELIGIBLE {
        return Err(Error::EligibleWhileDraining);
    }
    let mut node = (*old).clone();
    if node.scheduling_eligibility != c.eligibility {
        let message = if c.eligibility == eligibility::ELIGIBLE {
            "Node marked as eligible for scheduling"
        } else {
            "Node marked as ineligible for scheduling"
        };
        push_event(&mut node, tx, "Cluster", message.to_string());
    }
    node.scheduling_eligibility = c.eligibility.clone();
    node.modify_index = tx.index;
    let reason = format!(
        "node {} is {}",
        go_quote(&node.id),
        node.scheduling_eligibility
    );
    put(tx, node, Change::Updated, ("N3", reason));
    Ok(())
}

/// `Node.BatchDeregister` (N4): every named node must exist; their allocations stay as
/// their clients last reported them.
pub(crate) fn deregister(tx: &mut Tx, c: &DeregisterNodes) -> Result<()> {
    if c.node_ids.is_empty() {
        return Err(Error::MissingNodes);
    }
    if c.node_ids.iter().any(|id| tx.state.node(id).is_none()) {
        return Err(Error::NodeNotFound);
    }
    for id in &c.node_ids {
        let key: Arc<str> = Arc::from(id.as_str());
        tx.state.t_mut().nodes.rows.remove(id.as_str());
        let reason = format!("node {} was deregistered", go_quote(id));
        tx.acl_event(
            Topic::Node,
            Change::Deleted,
            EventKey::Name(key),
            ("N4", reason),
        );
    }
    tx.state.t_mut().nodes.index = tx.index;
    Ok(())
}
