//! Three in-process nodes on 127.0.0.1, talking over real TCP.

#![allow(dead_code)]

use rollout_cluster::transport::faults::NetFaults;
use rollout_cluster::{ClusterSecret, Node, NodeConfig, NodeId, RaftSettings};
use rollout_engine::command::RegisterJob;
use rollout_engine::testing::{service_job, update};
use rollout_engine::{Command, State};
use rollout_store::codec::state_fingerprint;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Bound on every wait in these tests (elections, replication, catch-up). Generous:
/// the machine running them may be busy.
pub const WAIT: Duration = Duration::from_secs(30);

pub const SECRET: &str = "test-cluster-secret";

/// Timings for a loaded 2-core machine: elections in about a second.
pub fn settings() -> RaftSettings {
    RaftSettings {
        heartbeat_ms: 100,
        election_timeout_min_ms: 600,
        election_timeout_max_ms: 1200,
        ..RaftSettings::default()
    }
}

pub fn config(
    id: NodeId,
    listen: SocketAddr,
    dir: &std::path::Path,
    raft: RaftSettings,
) -> NodeConfig {
    let mut config = NodeConfig::new(id, listen, dir, ClusterSecret::new(SECRET).unwrap());
    config.raft = raft;
    config.leader_wait = Duration::from_secs(3);
    config.write_timeout = Duration::from_secs(10);
    config
}

pub struct Cluster {
    pub nodes: Vec<Option<Node>>,
    pub addrs: Vec<SocketAddr>,
    pub dirs: Vec<tempfile::TempDir>,
    pub raft: RaftSettings,
    /// The network fault plan every node's calls go through, if any.
    pub faults: Option<Arc<NetFaults>>,
}

impl Cluster {
    /// Starts three nodes on free ports, bootstraps them once from node 1 and waits
    /// until every node knows the same leader.
    pub async fn start(raft: RaftSettings) -> Cluster {
        Cluster::start_with_faults(raft, None).await
    }

    /// [`Cluster::start`] with every node's calls to its peers going through `faults`.
    pub async fn start_with_faults(raft: RaftSettings, faults: Option<Arc<NetFaults>>) -> Cluster {
        let mut nodes = Vec::new();
        let mut addrs = Vec::new();
        let mut dirs = Vec::new();
        for id in 1..=3 {
            let dir = tempfile::tempdir().unwrap();
            let mut c = config(id, "127.0.0.1:0".parse().unwrap(), dir.path(), raft.clone());
            c.net_faults = faults.clone();
            let node = Node::start(c).await.unwrap();
            addrs.push(node.addr());
            nodes.push(Some(node));
            dirs.push(dir);
        }
        let members: BTreeMap<NodeId, String> = addrs
            .iter()
            .enumerate()
            .map(|(i, a)| (i as NodeId + 1, a.to_string()))
            .collect();
        nodes[0]
            .as_ref()
            .unwrap()
            .bootstrap(&members)
            .await
            .unwrap();
        let cluster = Cluster {
            nodes,
            addrs,
            dirs,
            raft,
            faults,
        };
        cluster.agreed_leader().await;
        cluster
    }

    /// Starts one more node (the next ID) on a free port, not bootstrapped: a server
    /// about to be added to the running cluster. Returns its ID.
    pub async fn start_new_node(&mut self) -> NodeId {
        let id = self.nodes.len() as NodeId + 1;
        let dir = tempfile::tempdir().unwrap();
        let node = Node::start(config(
            id,
            "127.0.0.1:0".parse().unwrap(),
            dir.path(),
            self.raft.clone(),
        ))
        .await
        .unwrap();
        self.addrs.push(node.addr());
        self.nodes.push(Some(node));
        self.dirs.push(dir);
        id
    }

    pub fn node(&self, id: NodeId) -> &Node {
        self.nodes[(id - 1) as usize]
            .as_ref()
            .expect("node is running")
    }

    pub fn running(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().flatten()
    }

    /// Waits until every running node names the same running leader; returns its ID.
    pub async fn agreed_leader(&self) -> NodeId {
        eventually("one leader known to every running node", || async {
            let leaders: Vec<_> = self.running().map(|n| n.leader().map(|l| l.id)).collect();
            let first = leaders[0]?;
            let running = self.nodes[(first - 1) as usize].is_some();
            (running && leaders.iter().all(|l| *l == Some(first))).then_some(first)
        })
        .await
    }

    pub async fn stop(&mut self, id: NodeId) {
        let node = self.nodes[(id - 1) as usize]
            .take()
            .expect("node is running");
        node.shutdown().await;
    }

    /// Restarts node `id` from its data directory on its old address.
    pub async fn restart(&mut self, id: NodeId) {
        self.restart_with_secret(id, SECRET).await;
    }

    /// Restarts node `id` from its data directory on its old address, holding `secret`.
    pub async fn restart_with_secret(&mut self, id: NodeId, secret: &str) {
        let i = (id - 1) as usize;
        assert!(self.nodes[i].is_none(), "node {id} is running");
        let mut config = config(id, self.addrs[i], self.dirs[i].path(), self.raft.clone());
        config.secret = ClusterSecret::new(secret).unwrap();
        config.net_faults = self.faults.clone();
        self.nodes[i] = Some(Node::start(config).await.unwrap());
    }

    /// Waits until every running node has applied the same index and holds the same
    /// state, byte for byte; returns the fingerprint.
    pub async fn quiet_fingerprint(&self) -> String {
        eventually("equal state on every running node", || async {
            let applied: Vec<u64> = self.running().map(|n| n.applied_index()).collect();
            if applied.iter().any(|a| *a != applied[0]) {
                return None;
            }
            let prints: Vec<String> = self.running().map(|n| fingerprint(&n.state())).collect();
            prints
                .iter()
                .all(|p| *p == prints[0])
                .then(|| prints[0].clone())
        })
        .await
    }
}

pub fn fingerprint(state: &State) -> String {
    state_fingerprint(state).unwrap()
}

/// A registration of job `id` (a new job, or a new version of it with `image`).
pub fn register(id: &str) -> Command {
    Command::RegisterJob(RegisterJob {
        job: service_job(id, 2, update(1, 0)),
        ..RegisterJob::default()
    })
}

/// Polls `check` every 50 ms until it gives a value, failing the test after [`WAIT`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what} after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
