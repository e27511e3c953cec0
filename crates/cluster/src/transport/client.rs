//! The calling side: openraft's network factory over HTTP, and the calls a follower
//! makes to its leader.

use super::faults::NetFaults;
use super::{decode, encode, path, CONTENT_TYPE};
use crate::secret::{ClusterSecret, SECRET_HEADER};
use crate::types::{NodeId, TypeConfig};
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{Backoff, RPCOption};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, RaftNetwork, RaftNetworkFactory};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// The first pause after a peer could not be reached; pauses double up to
/// [`BACKOFF_MAX`] while it stays unreachable.
pub const BACKOFF_FIRST: Duration = Duration::from_millis(50);
/// The longest pause between attempts to reach an unreachable peer.
pub const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Why a call to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No connection could be made: nothing was sent.
    #[error("peer {addr} unreachable: {source}")]
    Unreachable {
        addr: String,
        #[source]
        source: reqwest::Error,
    },
    /// The peer refused our cluster secret.
    #[error("peer {addr} refused the cluster secret")]
    SecretRefused { addr: String },
    /// Sent, but no usable answer came back in time (it may have been acted on).
    #[error("peer {addr}: {message}")]
    Failed { addr: String, message: String },
}

impl CallError {
    /// Whether the request certainly never reached the peer.
    pub fn not_sent(&self) -> bool {
        matches!(self, CallError::Unreachable { .. })
    }
}

/// An HTTP client that presents the cluster secret.
#[derive(Clone, Debug)]
pub struct PeerClient {
    http: reqwest::Client,
    secret: ClusterSecret,
    /// Tests only: the fault plan every call goes through, and this node's address.
    faults: Option<(Arc<NetFaults>, String)>,
}

/// How long a call lost by the fault plan takes to fail: a loss noticed quickly, so
/// that tests under heavy loss still make progress.
const LOST_CALL_FAILS_AFTER: Duration = Duration::from_millis(50);

impl PeerClient {
    /// A client whose connections are given up after `connect_timeout`.
    pub fn new(secret: ClusterSecret, connect_timeout: Duration) -> reqwest::Result<PeerClient> {
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .build()?;
        Ok(PeerClient {
            http,
            secret,
            faults: None,
        })
    }

    /// This client, with every call from `from` (the node's own peer address) going
    /// through `faults`.
    pub fn with_faults(mut self, faults: Arc<NetFaults>, from: String) -> PeerClient {
        self.faults = Some((faults, from));
        self
    }

    /// POSTs `request` to `path` on the peer at `addr` (`host:port`) and decodes the
    /// answer, all within `timeout`.
    pub async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        addr: &str,
        path: &str,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp, CallError> {
        let failed = |message: String| CallError::Failed {
            addr: addr.to_owned(),
            message,
        };
        let body = encode(request).map_err(|e| failed(format!("encoding the request: {e}")))?;
        let Some((faults, from)) = &self.faults else {
            return self.send(addr, path, body, timeout).await;
        };
        let fate = faults.decide(from, addr);
        if !fate.delay.is_zero() {
            tokio::time::sleep(fate.delay).await;
        }
        if fate.drop_request {
            tokio::time::sleep(LOST_CALL_FAILS_AFTER.min(timeout)).await;
            return Err(failed("request lost (injected fault)".into()));
        }
        if let Some(after) = fate.duplicate {
            let copy = self.clone();
            let (addr, path, body) = (addr.to_owned(), path.to_owned(), body.clone());
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let _: Result<serde::de::IgnoredAny, _> =
                    copy.send(&addr, &path, body, timeout).await;
            });
        }
        let answer = self.send(addr, path, body, timeout).await;
        if fate.drop_response {
            return Err(failed("answer lost (injected fault)".into()));
        }
        answer
    }

    async fn send<Resp: DeserializeOwned>(
        &self,
        addr: &str,
        path: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Resp, CallError> {
        let failed = |message: String| CallError::Failed {
            addr: addr.to_owned(),
            message,
        };
        let response = self
            .http
            .post(format!("http://{addr}{path}"))
            .header(SECRET_HEADER, self.secret.header_value())
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    CallError::Unreachable {
                        addr: addr.to_owned(),
                        source: e,
                    }
                } else {
                    failed(e.to_string())
                }
            })?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(CallError::SecretRefused {
                addr: addr.to_owned(),
            });
        }
        let bytes = response.bytes().await.map_err(|e| failed(e.to_string()))?;
        if !status.is_success() {
            return Err(failed(format!(
                "{status}: {}",
                String::from_utf8_lossy(&bytes)
            )));
        }
        decode(&bytes).map_err(|e| failed(format!("answer does not decode: {e}")))
    }
}

/// openraft's network: one [`Peer`] per replication target.
#[derive(Clone, Debug)]
pub struct Network {
    client: PeerClient,
}

impl Network {
    pub fn new(client: PeerClient) -> Network {
        Network { client }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Peer {
        Peer {
            target,
            addr: node.addr.clone(),
            client: self.client.clone(),
        }
    }
}

/// The connection to one peer.
#[derive(Debug)]
pub struct Peer {
    target: NodeId,
    addr: String,
    client: PeerClient,
}

impl Peer {
    async fn rpc<Req, Resp, E>(
        &self,
        path: &str,
        request: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let answer: Result<Resp, RaftError<NodeId, E>> = self
            .client
            .call(&self.addr, path, request, option.hard_ttl())
            .await
            .map_err(|e| match e {
                // Back off: a peer that is down, or that does not share our secret,
                // will not answer the next attempt either.
                CallError::Unreachable { .. } | CallError::SecretRefused { .. } => {
                    RPCError::Unreachable(Unreachable::new(&e))
                }
                CallError::Failed { .. } => RPCError::Network(NetworkError::new(&e)),
            })?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.rpc(path::APPEND, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.rpc(path::SNAPSHOT, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.rpc(path::VOTE, &rpc, &option).await
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(backoff_pauses())
    }
}

/// The pauses between attempts to reach an unreachable peer: doubling from
/// [`BACKOFF_FIRST`] to [`BACKOFF_MAX`].
pub fn backoff_pauses() -> impl Iterator<Item = Duration> + Send + 'static {
    std::iter::successors(Some(BACKOFF_FIRST), |d| Some((*d * 2).min(BACKOFF_MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let pauses: Vec<_> = backoff_pauses().take(8).collect();
        assert_eq!(pauses[0], BACKOFF_FIRST);
        assert_eq!(pauses[1], BACKOFF_FIRST * 2);
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*pauses.last().unwrap(), BACKOFF_MAX);
    }
}
