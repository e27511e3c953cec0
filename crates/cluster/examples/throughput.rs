//! Durable writes per second through a cluster on loopback: one node and three nodes,
//! with 1 and 64 concurrent submitters, in the same run.
//!
//! ```text
//! cargo run --release -p rollout-cluster --example throughput [WRITES_PER_CASE]
//! ```
//!
//! Every write is a job registration, acknowledged once committed by a quorum (every
//! entry fsynced on a majority) and applied on the node that was asked. Writes go
//! through the leader, so the figures measure replication, not forwarding.

use rollout_cluster::{ClusterSecret, Node, NodeConfig, NodeId};
use rollout_engine::command::RegisterJob;
use rollout_engine::testing::{service_job, update};
use rollout_engine::Command;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn register(id: &str) -> Command {
    Command::RegisterJob(RegisterJob {
        job: service_job(id, 2, update(1, 0)),
        ..RegisterJob::default()
    })
}

async fn start(size: u64, dirs: &[tempfile::TempDir]) -> Vec<Arc<Node>> {
    let secret = ClusterSecret::new("throughput").expect("secret");
    let mut nodes = Vec::new();
    for id in 1..=size {
        let config = NodeConfig::new(
            id,
            "127.0.0.1:0".parse().expect("addr"),
            dirs[(id - 1) as usize].path(),
            secret.clone(),
        );
        nodes.push(Arc::new(Node::start(config).await.expect("start")));
    }
    let members: BTreeMap<NodeId, String> = nodes
        .iter()
        .map(|n| (n.id(), n.addr().to_string()))
        .collect();
    nodes[0].bootstrap(&members).await.expect("bootstrap");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !nodes.iter().any(|n| n.is_leader()) {
        assert!(Instant::now() < deadline, "no leader");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    nodes
}

async fn run(size: u64, submitters: usize, writes: usize) -> f64 {
    let dirs: Vec<_> = (0..size)
        .map(|_| tempfile::tempdir().expect("dir"))
        .collect();
    let nodes = start(size, &dirs).await;
    let leader = nodes
        .iter()
        .find(|n| n.is_leader())
        .expect("leader")
        .clone();
    let started = Instant::now();
    let tasks: Vec<_> = (0..submitters)
        .map(|s| {
            let leader = leader.clone();
            tokio::spawn(async move {
                for n in (s..writes).step_by(submitters) {
                    leader
                        .write(register(&format!("job-{n}")))
                        .await
                        .expect("write");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("submitter");
    }
    let rate = writes as f64 / started.elapsed().as_secs_f64();
    for node in &nodes {
        node.shutdown().await;
    }
    rate
}

#[tokio::main]
async fn main() {
    let writes: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000);
    println!("{writes} durable writes per case");
    for size in [1, 3] {
        for submitters in [1, 64] {
            let rate = run(size, submitters, writes).await;
            println!("nodes={size} submitters={submitters:>2}: {rate:>8.0} writes/s");
        }
    }
}
