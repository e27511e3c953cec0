//! `rollout agent --cluster-addr …`: the agent as a member of a replicated cluster.
//!
//! The engine state lives in a Raft node (`rollout-cluster`) in `DATA_DIR/cluster`; the
//! HTTP API serves it through [`ClusterBackend`]. The node's ID is chosen at random the
//! first time and kept in `DATA_DIR/cluster/node-id`, so a restart is the same member.
//! With `--bootstrap-expect N` and `--retry-join`, the first N nodes that find each
//! other bootstrap once; a restarted member just rejoins.

use rollout_cluster::{ClusterSecret, Node, NodeConfig, NodeId, RequestId};
use rollout_engine::EngineConfig;
use rollout_http::{Backend, ClusterBackend};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The member's own directory inside its data directory: the Raft log, snapshot and ID.
pub const CLUSTER_DIR: &str = "cluster";

/// The file holding this member's node ID, inside its cluster directory.
const NODE_ID_FILE: &str = "node-id";

/// How often an unbootstrapped node asks its `--retry-join` addresses again.
const RETRY_JOIN_INTERVAL: Duration = Duration::from_secs(1);

/// What the agent needs to start a member.
pub struct MemberSettings {
    pub data_dir: PathBuf,
    pub cluster_addr: SocketAddr,
    pub secret_file: PathBuf,
    pub bootstrap_expect: usize,
    pub retry_join: Vec<String>,
    pub engine_config: EngineConfig,
    /// Entries kept in the Raft log below its newest snapshot (`--log-retention`).
    pub log_retention_entries: u64,
}

/// A running member: its node and the task that bootstraps it.
pub struct Member {
    node: Arc<Node>,
    bootstrap: JoinHandle<()>,
}

impl Member {
    /// Starts the node and, in the background, the bootstrap (`--bootstrap-expect`).
    pub async fn start(
        settings: MemberSettings,
        stop: watch::Receiver<bool>,
    ) -> Result<Member, String> {
        let dir = settings.data_dir.join(CLUSTER_DIR);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let id = node_id(&dir)?;
        let secret = read_secret(&settings.secret_file)?;
        let mut config = NodeConfig::new(id, settings.cluster_addr, &dir, secret);
        config.engine_config = settings.engine_config;
        config.raft.entries_kept_after_snapshot = settings.log_retention_entries;
        let node = Node::start(config)
            .await
            .map_err(|e| format!("cannot start the cluster node: {e}"))?;
        let node = Arc::new(node);
        tracing::info!(
            node_id = id,
            cluster_addr = %node.addr(),
            bootstrap_expect = settings.bootstrap_expect,
            retry_join = ?settings.retry_join,
            "cluster member started"
        );
        let bootstrap = {
            let node = node.clone();
            tokio::spawn(async move {
                let joined = node
                    .bootstrap_expect(
                        settings.bootstrap_expect,
                        &settings.retry_join,
                        RETRY_JOIN_INTERVAL,
                        stop,
                    )
                    .await;
                if let Err(e) = joined {
                    tracing::error!(error = %e, "cluster bootstrap failed");
                }
            })
        };
        Ok(Member { node, bootstrap })
    }

    /// The HTTP API's backend over this member.
    pub fn backend(&self) -> Arc<dyn Backend> {
        Arc::new(ClusterBackend::new(self.node.clone()))
    }

    /// Stops Raft and the peer API (acknowledged writes are durable already).
    pub async fn close(self) {
        self.bootstrap.abort();
        self.node.shutdown().await;
    }
}

/// This member's ID: read from `dir/node-id`, or chosen at random and saved there
/// (atomically, so a crash leaves either no file or the whole ID).
fn node_id(dir: &Path) -> Result<NodeId, String> {
    let path = dir.join(NODE_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse::<NodeId>().map_err(|e| {
            format!(
                "{}: not a node ID ({e}); delete it only if this directory never joined a cluster",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let random =
                RequestId::random().map_err(|e| format!("no entropy for a node ID: {e}"))?;
            // Never 0: some tools read 0 as "none".
            let id = random.0.as_u64_pair().0.max(1);
            let tmp = dir.join(format!("{NODE_ID_FILE}.tmp"));
            rollout_store::write_atomically(dir, &tmp, &path, id.to_string().as_bytes(), None)
                .map_err(|(path, e)| format!("cannot write {}: {e}", path.display()))?;
            Ok(id)
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The shared cluster secret from `--cluster-secret-file`.
fn read_secret(path: &Path) -> Result<ClusterSecret, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the cluster secret file {}: {e}",
            path.display()
        )
    })?;
    ClusterSecret::new(&text).map_err(|e| format!("{}: {e}", path.display()))
}
