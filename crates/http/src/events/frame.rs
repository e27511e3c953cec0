//! One write's events, rendered once as Nomad's event JSON (`http-api.md` §9).
//!
//! Rendering is the costly part of a stream (a deployment or an allocation is a few
//! kilobytes of JSON), so it happens once per write, whatever the number of
//! subscribers: each subscriber only filters the rendered events and joins the ones it
//! wants into a frame.

use crate::acl::views::{PolicyView, TokenView};
use rollout_engine::model::{Allocation, Deployment, Evaluation, Job, SharedStr};
use rollout_engine::namespace::Namespace;
use rollout_engine::node::Node;
use rollout_engine::{Actor, Change, Event, State, Topic};
use rollout_store::Committed;
use serde::Serialize;
use std::sync::Arc;
use uuid::Uuid;

/// The events of one log entry, rendered: one write, or the several writes a cluster's
/// leader gathered into one entry (they share its index). As in Nomad, a frame is one
/// index, so a client that resumes after an index has seen every event at it.
pub(crate) struct Frame {
    /// The entry's index: every event of the frame has it.
    pub index: u64,
    pub events: Vec<Rendered>,
    /// The state after the entry: tokens are re-checked against it.
    pub state: Arc<State>,
    /// The entry changed ACL tokens or policies: subscribers' rights may have changed.
    pub acl_changed: bool,
}

/// One event: what subscribers filter on, and its JSON.
pub(crate) struct Rendered {
    pub topic: Topic,
    pub key: SharedStr,
    pub filter_keys: Vec<String>,
    pub namespace: Arc<str>,
    pub json: String,
}

/// The payload, keyed by the object's kind (`{"Deployment": {…}}`).
#[derive(Serialize)]
enum Payload<'a> {
    Deployment(&'a Deployment),
    Allocation(AllocationPayload<'a>),
    Evaluation(&'a Evaluation),
    Job(&'a Job),
    #[serde(rename = "ACLToken")]
    AclToken(Box<TokenView>),
    #[serde(rename = "ACLPolicy")]
    AclPolicy(Box<PolicyView>),
    Namespace(Arc<Namespace>),
    Node(Arc<Node>),
}

/// An allocation as events carry it: without its job (`"Job": null`, as Nomad strips it).
#[derive(Serialize)]
struct AllocationPayload<'a> {
    #[serde(flatten)]
    alloc: &'a Allocation,
    #[serde(rename = "Job")]
    job: Option<()>,
}

/// The event object, keys in Nomad's (alphabetical) order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EventJson<'a> {
    /// Who made the write (rollout's own key, issue 16: Nomad's clients ignore keys they
    /// do not know). Left out for a write whose envelope records no actor.
    #[serde(skip_serializing_if = "Option::is_none")]
    actor: Option<&'a Actor>,
    filter_keys: Option<&'a [String]>,
    index: u64,
    key: &'a str,
    namespace: &'a str,
    payload: Payload<'a>,
    topic: &'static str,
    #[serde(rename = "Type")]
    event_type: &'static str,
}

/// The writes of `commits` grouped by log entry (consecutive writes at one index), in
/// order: what [`render`] takes.
pub(crate) fn entries(commits: &[Committed]) -> impl Iterator<Item = &[Committed]> {
    commits.chunk_by(|a, b| a.outcome.index == b.outcome.index)
}

/// Renders every event the stream carries of one log entry's writes (in order; at least
/// one, all at the same index), each event with its own write's actor and states.
pub(crate) fn render(entry: &[Committed]) -> Frame {
    let index = entry.first().map_or(0, |c| c.outcome.index);
    let mut acl_changed = false;
    let mut events = Vec::new();
    for c in entry {
        events.extend(c.outcome.events.iter().filter_map(|e| {
            acl_changed |= matches!(e.topic, Topic::AclToken | Topic::AclPolicy);
            render_event(index, c.actor.as_ref(), e, &c.before, &c.state)
        }));
    }
    Frame {
        index,
        events,
        state: entry
            .last()
            .map_or_else(|| Arc::new(State::default()), |c| c.state.clone()),
        acl_changed,
    }
}

/// The stream's rendering of one change; `None` for changes Nomad's stream does not
/// carry: deleted deployments, evaluations and allocations (garbage collection).
fn render_event(
    index: u64,
    actor: Option<&Actor>,
    e: &Event,
    before: &State,
    after: &State,
) -> Option<Rendered> {
    // A deleted object is shown as it was; anything else as it is now.
    let state = if e.change == Change::Deleted {
        before
    } else {
        after
    };
    let id = || e.key.parse::<Uuid>().ok();
    let (payload, filter_keys) = match e.topic {
        Topic::Deployment | Topic::Evaluation | Topic::Allocation
            if e.change == Change::Deleted =>
        {
            return None
        }
        Topic::Deployment => {
            let d = state.deployment(&id()?)?;
            (Payload::Deployment(d), vec![d.job_id.to_string()])
        }
        Topic::Evaluation => {
            let ev = state.eval(&id()?)?;
            let keys = vec![ev.job_id.to_string(), optional_id(ev.deployment_id)];
            (Payload::Evaluation(ev), keys)
        }
        Topic::Allocation => {
            let a = state.alloc(&id()?)?;
            let keys = vec![a.job_id.to_string(), optional_id(a.deployment_id)];
            let payload = AllocationPayload {
                alloc: a,
                job: None,
            };
            (Payload::Allocation(payload), keys)
        }
        Topic::Job => {
            let job = state.job(&e.namespace, &e.key)?;
            (Payload::Job(job), Vec::new())
        }
        Topic::AclToken => {
            let t = state.acl_token(&id()?)?;
            (
                Payload::AclToken(Box::new(TokenView::new(t, None))),
                Vec::new(),
            )
        }
        Topic::AclPolicy => {
            let p = state.acl_policy(&e.key)?;
            (Payload::AclPolicy(Box::new(PolicyView::new(p))), Vec::new())
        }
        Topic::Namespace => (Payload::Namespace(state.namespace(&e.key)?), Vec::new()),
        Topic::Node => (Payload::Node(state.node(&e.key)?), Vec::new()),
    };
    let json = EventJson {
        actor,
        filter_keys: (!filter_keys.is_empty()).then_some(filter_keys.as_slice()),
        index,
        key: &e.key,
        namespace: &e.namespace,
        payload,
        topic: e.topic.name(),
        event_type: e.event_type,
    };
    // Serialising plain data cannot fail; an object that somehow does is left out
    // rather than breaking the stream.
    let json = serde_json::to_string(&json).ok()?;
    Some(Rendered {
        topic: e.topic,
        key: e.key.clone(),
        filter_keys,
        namespace: e.namespace.clone(),
        json,
    })
}

/// A deployment ID as Nomad's `FilterKeys` carry it: `""` for none.
fn optional_id(id: Option<Uuid>) -> String {
    id.map(|d| d.to_string()).unwrap_or_default()
}
