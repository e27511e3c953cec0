//! `GET /v1/deployment/:id/history` (rollout's own): every write that changed a
//! deployment or one of its allocations, in order, with what changed and the rules that
//! decided it — re-derived from the log by the deterministic engine, so it is exactly
//! what happened, not a reconstruction from logs.

use crate::acl::Identity;
use crate::error::ApiError;
use crate::ids;
use crate::query::QueryOptions;
use crate::server::Api;
use rollout_engine::model::{Deployment, SharedStr};
use rollout_engine::{Actor, Decision, Topic};
use rollout_store::{Committed, HistoryError};
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// One write in a deployment's history.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryEntry {
    /// The write's index.
    pub index: u64,
    /// The write's time (Unix nanoseconds, like `ModifyTime`).
    pub time: i64,
    /// The write's type, as the event stream names it (`DeploymentAllocHealth`, …).
    #[serde(rename = "Type")]
    pub write_type: &'static str,
    /// Who made the write, as its envelope records (issue 16): `{"Kind": "operator",
    /// "AccessorID": …, "Name": …}` for an API write with an ACL token, `{"Kind":
    /// "client"}` and so on; `null` for a write logged before actors were recorded.
    pub actor: Option<Actor>,
    /// `Status` before and after, when it changed.
    pub status: Option<Transition<String>>,
    /// `StatusDescription` after the write.
    pub status_description: String,
    /// Per group, the counters this write changed.
    pub groups: BTreeMap<String, BTreeMap<&'static str, Transition<i64>>>,
    /// The decisions of the write about this deployment and its allocations: the rule
    /// and the reason of each change.
    pub decisions: Vec<DecisionView>,
}

/// A value before and after a write.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Transition<T> {
    pub from: T,
    pub to: T,
}

/// A decision of the engine's trace, in the API's casing.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecisionView {
    pub topic: &'static str,
    pub key: SharedStr,
    pub change: &'static str,
    pub rule: &'static str,
    pub reason: String,
}

impl DecisionView {
    fn new(d: &Decision) -> DecisionView {
        DecisionView {
            topic: d.topic.name(),
            key: d.key.clone(),
            change: match d.change {
                rollout_engine::Change::Created => "Created",
                rollout_engine::Change::Updated => "Updated",
                rollout_engine::Change::Deleted => "Deleted",
            },
            rule: d.rule,
            reason: d.reason.to_string(),
        }
    }
}

/// The history of deployment `id` as `who` may see it: 404 for an unknown deployment or
/// one in a namespace the token may not read; 410 when its first writes are older than
/// the retained history.
pub async fn history(
    api: &Api,
    id: &str,
    q: &QueryOptions,
    who: &Identity,
) -> Result<(u64, Vec<HistoryEntry>), ApiError> {
    let id = ids::parse("deployment", id)?;
    who.require_read(&q.namespace)?;
    let state = api.state();
    let Some(d) = state.deployment(&id).filter(|d| who.can_read(&d.namespace)) else {
        return Err(ApiError::not_found("deployment not found"));
    };
    let (from, through) = (d.create_index, state.index());
    let backend = api.backend().clone();
    let entries = tokio::task::spawn_blocking(move || -> Result<_, HistoryError> {
        let mut entries = Vec::new();
        for c in backend.history(from)? {
            let c = c?;
            if c.outcome.index > through {
                break;
            }
            if let Some(e) = entry(&c, &id) {
                entries.push(e);
            }
        }
        Ok(entries)
    })
    .await
    .map_err(|e| ApiError::internal(format!("deployment history failed: {e}")))?;
    match entries {
        Ok(entries) => Ok((through, entries)),
        Err(HistoryError::TooOld { oldest, .. }) => Err(ApiError::new(
            axum::http::StatusCode::GONE,
            format!(
                "the history of deployment {id} starts at index {from}, older than the retained history (the oldest index available is {})",
                oldest.saturating_sub(1)
            ),
        )),
        Err(e) => Err(ApiError::internal(format!(
            "cannot replay the history of deployment {id}: {e}"
        ))),
    }
}

/// The entry of one write, if it changed the deployment or one of its allocations.
fn entry(c: &Committed, id: &Uuid) -> Option<HistoryEntry> {
    let key = id.to_string();
    let concerns = |d: &Decision| match d.topic {
        Topic::Deployment => d.key == key,
        Topic::Allocation => d.key.parse::<Uuid>().ok().is_some_and(|a| {
            let of = |s: &rollout_engine::State| {
                s.alloc(&a).is_some_and(|a| a.deployment_id == Some(*id))
            };
            of(&c.state) || of(&c.before)
        }),
        _ => false,
    };
    let decisions: Vec<DecisionView> = c
        .outcome
        .trace
        .iter()
        .filter(|d| concerns(d))
        .map(DecisionView::new)
        .collect();
    if decisions.is_empty() {
        return None;
    }
    let after = c.state.deployment(id);
    let before = c.before.deployment(id);
    let status = match (before, after) {
        (Some(b), Some(a)) if b.status != a.status => Some(Transition {
            from: b.status.clone(),
            to: a.status.clone(),
        }),
        (None, Some(a)) => Some(Transition {
            from: String::new(),
            to: a.status.clone(),
        }),
        _ => None,
    };
    Some(HistoryEntry {
        index: c.outcome.index,
        time: c.state.now(),
        write_type: c.outcome.events.first().map_or("", |e| e.event_type),
        actor: c.actor.clone(),
        status,
        status_description: after
            .map(|a| a.status_description.clone())
            .unwrap_or_default(),
        groups: counter_changes(before.map(|b| &**b), after.map(|a| &**a)),
        decisions,
    })
}

/// The group counters that differ between two versions of a deployment.
fn counter_changes(
    before: Option<&Deployment>,
    after: Option<&Deployment>,
) -> BTreeMap<String, BTreeMap<&'static str, Transition<i64>>> {
    let mut out = BTreeMap::new();
    let Some(after) = after else {
        return out;
    };
    for (name, g) in &after.task_groups {
        let old = before.and_then(|b| b.task_groups.get(name));
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let pairs = [
            (
                "PlacedAllocs",
                old.map_or(0, |o| n(o.placed_allocs)),
                n(g.placed_allocs),
            ),
            (
                "HealthyAllocs",
                old.map_or(0, |o| o.healthy_allocs),
                g.healthy_allocs,
            ),
            (
                "UnhealthyAllocs",
                old.map_or(0, |o| n(o.unhealthy_allocs)),
                n(g.unhealthy_allocs),
            ),
            (
                "DesiredCanaries",
                old.map_or(0, |o| n(o.desired_canaries)),
                n(g.desired_canaries),
            ),
            (
                "DesiredTotal",
                old.map_or(0, |o| n(o.desired_total)),
                n(g.desired_total),
            ),
            (
                "PlacedCanaries",
                old.map_or(0, |o| n(o.placed_canaries_slice().len() as u64)),
                n(g.placed_canaries_slice().len() as u64),
            ),
            (
                "Promoted",
                old.map_or(0, |o| i64::from(o.promoted)),
                i64::from(g.promoted),
            ),
        ];
        let changed: BTreeMap<&'static str, Transition<i64>> = pairs
            .into_iter()
            .filter(|(_, from, to)| from != to)
            .map(|(k, from, to)| (k, Transition { from, to }))
            .collect();
        if !changed.is_empty() {
            out.insert(name.to_string(), changed);
        }
    }
    out
}
