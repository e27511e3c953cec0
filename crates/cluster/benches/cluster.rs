//! The replicated cluster's figures (BENCHMARKS.md, "A replicated cluster"), in one run
//! on loopback:
//!
//! - durable writes per second with 1 and 64 concurrent submitters, for the single
//!   agent's store (`rollout-store`, what `rollout agent --data-dir` runs), a cluster of
//!   one and a cluster of three;
//! - failover: from the leader's stop to the first write acknowledged by a survivor;
//! - catch-up: a follower stopped while 20,000 entries are written, restarted, until it
//!   has applied everything (by snapshot install: the leader's log no longer reaches).
//!
//! ```text
//! cargo bench -p rollout-cluster --bench cluster   # ROLLOUT_BENCH_WRITES=5000 ROLLOUT_BENCH_ROUNDS=3 ROLLOUT_BENCH_FAILOVERS=5 ROLLOUT_BENCH_BEHIND=20000
//! ```
//!
//! Every write is a job registration, acknowledged once durable: for the store after its
//! group commit's fsync; for a cluster once committed by a quorum (fsynced on a majority)
//! and applied on the node asked. Throughput writes go through the leader, so they
//! measure replication, not forwarding. Default Raft timings (heartbeat 150 ms, election
//! timeout 600–1,200 ms). The leader is stopped in-process (its Raft shut down, its peer
//! API closed), not killed: survivors see connections refused rather than timeouts, which
//! is what a `kill -9` of a process looks like on one machine too. Prints the figures;
//! asserts only that every write succeeded.

/// The allocator the `rollout` agent ships with, so that these figures are the agent's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use rollout_cluster::{ClusterSecret, Node, NodeConfig, NodeId, RaftSettings};
use rollout_engine::command::{PauseDeployment, RegisterJob};
use rollout_engine::testing::{service_job, update};
use rollout_engine::Command;
use rollout_store::{Options, Store};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn register(id: &str) -> Command {
    Command::RegisterJob(RegisterJob {
        job: service_job(id, 2, update(1, 0)),
        ..RegisterJob::default()
    })
}

fn config(id: NodeId, listen: SocketAddr, dir: &tempfile::TempDir) -> NodeConfig {
    let secret = ClusterSecret::new("cluster-bench").expect("secret");
    let mut config = NodeConfig::new(id, listen, dir.path(), secret);
    config.raft = RaftSettings::default();
    config
}

struct Cluster {
    nodes: Vec<Option<Arc<Node>>>,
    addrs: Vec<SocketAddr>,
    dirs: Vec<tempfile::TempDir>,
}

impl Cluster {
    async fn start(size: u64) -> Cluster {
        let dirs: Vec<_> = (0..size)
            .map(|_| tempfile::tempdir().expect("dir"))
            .collect();
        let mut nodes = Vec::new();
        for id in 1..=size {
            let c = config(
                id,
                "127.0.0.1:0".parse().expect("addr"),
                &dirs[(id - 1) as usize],
            );
            nodes.push(Arc::new(Node::start(c).await.expect("start")));
        }
        let members: BTreeMap<NodeId, String> = nodes
            .iter()
            .map(|n| (n.id(), n.addr().to_string()))
            .collect();
        nodes[0].bootstrap(&members).await.expect("bootstrap");
        let addrs = nodes.iter().map(|n| n.addr()).collect();
        let cluster = Cluster {
            nodes: nodes.into_iter().map(Some).collect(),
            addrs,
            dirs,
        };
        cluster.leader().await;
        cluster
    }

    fn running(&self) -> impl Iterator<Item = &Arc<Node>> {
        self.nodes.iter().flatten()
    }

    /// The running leader, once one is elected.
    async fn leader(&self) -> Arc<Node> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(l) = self.running().find(|n| n.is_leader()) {
                return l.clone();
            }
            assert!(Instant::now() < deadline, "no leader");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn stop(&mut self, id: NodeId) {
        if let Some(node) = self.nodes[(id - 1) as usize].take() {
            node.shutdown().await;
        }
    }

    async fn restart(&mut self, id: NodeId) {
        let i = (id - 1) as usize;
        let c = config(id, self.addrs[i], &self.dirs[i]);
        self.nodes[i] = Some(Arc::new(Node::start(c).await.expect("restart")));
    }

    async fn shutdown(mut self) {
        for id in 1..=self.nodes.len() as NodeId {
            self.stop(id).await;
        }
    }
}

/// Writes `writes` registrations from `submitters` concurrent tasks through `write`;
/// writes per second.
async fn submit_all<F, Fut>(submitters: usize, writes: usize, write: F) -> f64
where
    F: Fn(Command) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..submitters)
        .map(|s| {
            let write = write.clone();
            tokio::spawn(async move {
                for n in (s..writes).step_by(submitters) {
                    write(register(&format!("job-{n}"))).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("submitter");
    }
    writes as f64 / started.elapsed().as_secs_f64()
}

async fn store_rate(submitters: usize, writes: usize) -> f64 {
    let dir = tempfile::tempdir().expect("dir");
    let store = Arc::new(Store::open(dir.path(), Options::default()).expect("store"));
    submit_all(submitters, writes, move |c| {
        let committed = store.submit_async(c);
        async move {
            committed.await.expect("write");
        }
    })
    .await
}

async fn cluster_rate(size: u64, submitters: usize, writes: usize) -> f64 {
    let cluster = Cluster::start(size).await;
    let leader = cluster.leader().await;
    let rate = submit_all(submitters, writes, move |c| {
        let leader = leader.clone();
        async move {
            leader.write(c).await.expect("write");
        }
    })
    .await;
    cluster.shutdown().await;
    rate
}

/// Stops the leader of a three-node cluster and writes through a survivor every 10 ms
/// until one is acknowledged: the time from the stop to that acknowledgement.
async fn failover(round: usize) -> Duration {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.leader().await;
    leader.write(register("before")).await.expect("write");
    let old = leader.id();
    drop(leader);
    let survivor = cluster
        .running()
        .find(|n| n.id() != old)
        .expect("a survivor")
        .clone();
    let stopped = Instant::now();
    cluster.stop(old).await;
    let mut n = 0;
    let took = loop {
        n += 1;
        if survivor
            .write(register(&format!("after-{round}-{n}")))
            .await
            .is_ok()
        {
            break stopped.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    drop(survivor);
    cluster.shutdown().await;
    took
}

/// A follower stopped while `behind` entries are written (64 submitters, until the
/// leader's index has gone up by `behind`: the leader gathers concurrent writes into one
/// entry), restarted: the time from its start until it has applied the leader's index,
/// and whether it took a snapshot install.
async fn catch_up(behind: usize) -> (Duration, u64, bool) {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.leader().await;
    let follower = (1..=3).find(|id| *id != leader.id()).expect("a follower");
    cluster.stop(follower).await;
    // Each submitter pauses and resumes its own deployment, so the state stays the
    // same size however many writes it takes to make `behind` entries.
    let mut deployments = Vec::new();
    for s in 0..64 {
        let job = format!("behind-{s}");
        leader.write(register(&job)).await.expect("register");
        let state = leader.state();
        let d = state
            .latest_job_deployment("default", &job)
            .expect("a deployment");
        deployments.push(d.id);
    }
    let goal = leader.applied_index() + behind as u64;
    let tasks: Vec<_> = deployments
        .into_iter()
        .map(|deployment_id| {
            let writer = leader.clone();
            tokio::spawn(async move {
                let mut pause = true;
                while writer.applied_index() < goal {
                    let toggle = Command::PauseDeployment(PauseDeployment {
                        deployment_id,
                        pause,
                    });
                    writer.write(toggle).await.expect("write");
                    pause = !pause;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("submitter");
    }
    let target = leader.applied_index();
    let started = Instant::now();
    cluster.restart(follower).await;
    let node = cluster.nodes[(follower - 1) as usize]
        .clone()
        .expect("restarted");
    let deadline = Instant::now() + Duration::from_secs(300);
    while node.applied_index() < target {
        assert!(Instant::now() < deadline, "never caught up");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = started.elapsed();
    let installed = node.snapshots_installed() > 0;
    drop((leader, node));
    cluster.shutdown().await;
    (took, target, installed)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let writes = knob("ROLLOUT_BENCH_WRITES", 5_000);
    let failovers = knob("ROLLOUT_BENCH_FAILOVERS", 5);
    let behind = knob("ROLLOUT_BENCH_BEHIND", 20_000);
    println!(
        "# A replicated cluster on loopback ({} cores)\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("{writes} durable writes per case\n");
    let rounds = knob("ROLLOUT_BENCH_ROUNDS", 3).max(1);
    // One submitter: latency-bound, one round. 64 submitters: the three setups take
    // turns for `rounds` rounds, so that a slow moment of the machine falls on all of
    // them; medians, and the median of each round's ratio.
    let single = (
        store_rate(1, writes).await,
        cluster_rate(1, 1, writes).await,
        cluster_rate(3, 1, writes).await,
    );
    let (mut store, mut one, mut three, mut ratios) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        store.push(store_rate(64, writes).await);
        one.push(cluster_rate(1, 64, writes).await);
        three.push(cluster_rate(3, 64, writes).await);
        ratios.push(three[three.len() - 1] / one[one.len() - 1]);
    }
    println!("| | 1 submitter | 64 submitters (median of {rounds}) |");
    println!("|---|---:|---:|");
    println!(
        "| single agent (store) | {:.0}/s | {:.0}/s |",
        single.0,
        median(&mut store)
    );
    println!(
        "| cluster of one | {:.0}/s | {:.0}/s |",
        single.1,
        median(&mut one)
    );
    println!(
        "| cluster of three | {:.0}/s | {:.0}/s |",
        single.2,
        median(&mut three)
    );
    let per_round: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    println!(
        "\nthree nodes ÷ cluster of one at 64 submitters: median {:.2}× (rounds: {}); ÷ single agent: {:.2}×\n",
        median(&mut ratios),
        per_round.join(", "),
        median(&mut three) / median(&mut store)
    );

    let mut times = Vec::new();
    for round in 0..failovers {
        let t = failover(round).await;
        eprintln!("failover {round}: {:.0} ms", t.as_secs_f64() * 1e3);
        times.push(t);
    }
    times.sort();
    println!(
        "failover, leader stop → first acknowledged write ({failovers} rounds): median {:.0} ms, max {:.0} ms\n",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );

    let (took, target, installed) = catch_up(behind).await;
    println!(
        "catch-up of a follower {behind} entries behind (to index {target}): {:.2} s{}",
        took.as_secs_f64(),
        if installed {
            ", through a snapshot install"
        } else {
            ", from the log"
        }
    );
}
