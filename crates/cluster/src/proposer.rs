//! The leader's proposer: the writes that arrive while earlier entries are committing
//! go into the next entry together.
//!
//! openraft 0.9 appends every client write to the log as its own entry, so a leader that
//! proposed each write by itself paid one disk write and one replication round per
//! command. The proposer keeps at most [`IN_FLIGHT`] entries being committed at a time;
//! while they are, the writes that come in — from this node's clients and forwarded by
//! followers — queue up, and the next entry carries all of them (up to [`MAX_BATCH`]).
//! A lone write goes out at once, so batching adds no latency when there is no load;
//! under load one fsync and one round trip cover a whole batch: the durable store's
//! group commit, on the Raft path.
//!
//! The proposals of one entry share its index ([`crate::types::Batch`]); each is still
//! applied on its own, once per request ID, and answered to its own caller.

use crate::transport::ForwardReply;
use crate::types::{Batch, Proposal, TypeConfig};
use openraft::error::{ClientWriteError, RaftError};
use openraft::raft::ClientWriteResponse;
use openraft::{BasicNode, Raft};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Entries being committed at once. Two keep the disk and the network busy (one entry
/// is written while the previous one's acknowledgements come back) and still leave the
/// writes arriving meanwhile to queue for the next entry.
pub const IN_FLIGHT: usize = 2;

/// The most proposals one entry carries: a bound on an entry's size, and so on one
/// replication message and on the work one apply does before its callers hear back.
pub const MAX_BATCH: usize = 256;

/// Writes waiting for an entry; beyond this, proposing waits (the HTTP layer's own
/// concurrency limit is far below it).
const QUEUE: usize = 4 * MAX_BATCH;

struct Queued {
    proposal: Proposal,
    reply: oneshot::Sender<ForwardReply>,
}

/// Hands proposals to the batching task.
pub(crate) struct Proposer {
    queue: mpsc::Sender<Queued>,
}

impl Proposer {
    /// Starts the batching task; it ends when the proposer is dropped.
    pub(crate) fn start(raft: Raft<TypeConfig>, write_timeout: Duration) -> Proposer {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(rx, raft, write_timeout));
        Proposer { queue }
    }

    /// Proposes `proposal` in the next entry and answers once that entry is committed
    /// and applied on this node (or why not).
    pub(crate) async fn propose(&self, proposal: Proposal) -> ForwardReply {
        let (reply, answer) = oneshot::channel();
        if self.queue.send(Queued { proposal, reply }).await.is_err() {
            return ForwardReply::Failed("the node is shutting down".into());
        }
        match answer.await {
            Ok(reply) => reply,
            // The task ended with the write queued: it may have been proposed.
            Err(_) => ForwardReply::Indeterminate("the node shut down during the write".into()),
        }
    }
}

async fn run(mut rx: mpsc::Receiver<Queued>, raft: Raft<TypeConfig>, write_timeout: Duration) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // Waiting for a slot is what lets a batch grow: everything that arrives while
        // the entries in flight commit joins this one.
        let Ok(slot) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            let (proposals, replies): (Vec<_>, Vec<_>) =
                batch.into_iter().map(|q| (q.proposal, q.reply)).unzip();
            let written =
                tokio::time::timeout(write_timeout, raft.client_write(Batch::from(proposals)))
                    .await;
            let reply = reply_to(written, write_timeout);
            drop(slot);
            for tx in replies {
                // A caller that gave up just misses the answer.
                let _ = tx.send(reply.clone());
            }
        });
    }
}

type Written = Result<
    Result<ClientWriteResponse<TypeConfig>, RaftError<u64, ClientWriteError<u64, BasicNode>>>,
    tokio::time::error::Elapsed,
>;

/// What every caller of an entry hears of its fate.
fn reply_to(written: Written, write_timeout: Duration) -> ForwardReply {
    match written {
        Ok(Ok(response)) => ForwardReply::Committed {
            index: response.log_id.index,
        },
        // Either never appended here, or appended and then truncated by a new leader:
        // in both cases it will not be applied.
        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(to)))) => {
            ForwardReply::NotLeader {
                leader_id: to.leader_id,
                leader_addr: to.leader_node.map(|n| n.addr),
            }
        }
        Ok(Err(e)) => ForwardReply::Indeterminate(e.to_string()),
        Err(_) => ForwardReply::Indeterminate(format!(
            "not committed within {} ms",
            write_timeout.as_millis()
        )),
    }
}
