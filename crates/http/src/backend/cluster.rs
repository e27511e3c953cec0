//! The replicated [`Backend`]: a member of a rollout cluster (`rollout-cluster`).
//!
//! A write is proposed through the leader (forwarded from a follower) and answered once
//! it is committed and applied on this node, so a read here right after sees it. State,
//! blocking queries, the event stream's feed and history are this node's: every member
//! applies the same log, so every member shows the same thing once it caught up.

use super::{Backend, BackendError, BoxFuture, ClusterView, HistoryIter, ServerView};
use rollout_cluster::{ClusterError, Node};
use rollout_engine::model::UnixNanos;
use rollout_engine::{Actor, Command, Outcome, State};
use rollout_store::{Committed, HistoryError};
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

/// A [`Backend`] over a cluster [`Node`].
pub struct ClusterBackend {
    node: Arc<Node>,
}

impl ClusterBackend {
    /// Serves the engine held by `node`.
    pub fn new(node: Arc<Node>) -> ClusterBackend {
        ClusterBackend { node }
    }

    /// The node itself.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }
}

impl Backend for ClusterBackend {
    fn submit_as(
        &self,
        command: Command,
        actor: Option<Actor>,
    ) -> BoxFuture<'_, Result<Outcome, BackendError>> {
        Box::pin(async move {
            self.node
                .write_as(command, actor)
                .await
                .map_err(backend_error)
        })
    }

    fn state(&self) -> State {
        self.node.state()
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.node.subscribe_index()
    }

    fn commits(&self) -> broadcast::Receiver<Arc<[Committed]>> {
        self.node.commits()
    }

    fn history(&self, from: u64) -> Result<HistoryIter, HistoryError> {
        Ok(Box::new(self.node.history(from)?))
    }

    /// The clock this node stamps with when it leads, never behind the state's time:
    /// what the next write will see, whichever node stamps it, to within clock skew.
    fn now_ns(&self) -> UnixNanos {
        self.node.stamp().now().max(self.node.state().now())
    }

    fn cluster(&self) -> Option<ClusterView> {
        let members = self.node.members();
        let mut voters: Vec<String> = members
            .iter()
            .filter(|m| m.voter)
            .map(|m| m.addr.clone())
            .collect();
        voters.sort();
        let leader = self.node.current_leader();
        Some(ClusterView {
            leader_id: leader.as_ref().map(|l| l.id),
            leader: leader.map(|l| l.addr),
            voters,
            last_contact: self.node.last_contact(),
            id: self.node.id(),
            servers: members
                .into_iter()
                .map(|m| ServerView {
                    id: m.id,
                    addr: m.addr,
                    voter: m.voter,
                })
                .collect(),
            configuration_index: self.node.configuration_index(),
        })
    }

    fn consistent_read(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            self.node
                .ensure_linearizable()
                .await
                .map(|_| ())
                .map_err(backend_error)
        })
    }

    fn remove_peer(&self, id: u64) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            self.node
                .remove_member(id)
                .await
                .map(|_| ())
                .map_err(backend_error)
        })
    }

    fn is_leader(&self) -> bool {
        self.node.is_leader()
    }
}

/// The cluster's answers as the API words them: a refusal is the engine's; no leader
/// is Nomad's 500; a write whose fate is unknown is a fault the client must hear about
/// (it may have been applied: retrying blindly could apply it twice).
fn backend_error(e: ClusterError) -> BackendError {
    match e {
        ClusterError::Refused { error, .. } => BackendError::Rejected(error),
        ClusterError::NoLeader | ClusterError::NotLeader { .. } => BackendError::NoLeader,
        e @ (ClusterError::Duplicate { .. }
        | ClusterError::Indeterminate { .. }
        | ClusterError::OutcomeUnknown { .. }
        | ClusterError::Timeout { .. }
        // The API checks the ID against the configuration first; this is a race with
        // another removal.
        | ClusterError::UnknownMember(_)
        | ClusterError::Internal(_)) => BackendError::Internal(e.to_string()),
    }
}
