//! Three `rollout agent` processes as one Raft cluster (docs/cluster.md): bootstrapped
//! from their flags, writes through every member, a `kill -9` of the leader under a
//! write load.

use crate::common::client::{job, Client};
use crate::common::Agent;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// Bound on waiting for an election or for replication on a loaded machine.
const WAIT: Duration = Duration::from_secs(30);

/// A free loopback port for a peer address: the members must know each other's
/// before any of them starts.
fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

struct Cluster {
    agents: Vec<Option<Agent>>,
    /// Each member's flags, to restart it as it was.
    args: Vec<Vec<String>>,
    peers: Vec<String>,
    _dirs: Vec<tempfile::TempDir>,
    _secret: tempfile::NamedTempFile,
}

impl Cluster {
    /// Starts three members, each told about the other two, expecting three.
    async fn start() -> Cluster {
        Cluster::start_with(&[]).await
    }

    /// Like [`Cluster::start`], with `extra` flags on every member (`--dev`: the
    /// simulated fleet, driven by the leader).
    async fn start_with(extra: &[&str]) -> Cluster {
        let secret = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(secret.path(), "cluster-test-secret\n").unwrap();
        let peers: Vec<String> = (0..3).map(|_| free_addr()).collect();
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut agents = Vec::new();
        let mut all_args = Vec::new();
        for i in 0..3 {
            let mut args = vec![
                "--data-dir".to_string(),
                dirs[i].path().to_str().unwrap().to_string(),
                "--cluster-addr".into(),
                peers[i].clone(),
                "--bootstrap-expect".into(),
                "3".into(),
                "--cluster-secret-file".into(),
                secret.path().to_str().unwrap().to_string(),
            ];
            for (j, peer) in peers.iter().enumerate() {
                if j != i {
                    args.extend(["--retry-join".to_string(), peer.clone()]);
                }
            }
            args.extend(extra.iter().map(|s| s.to_string()));
            let borrowed: Vec<&str> = args.iter().map(String::as_str).collect();
            agents.push(Some(Agent::start(&borrowed).await));
            all_args.push(args);
        }
        Cluster {
            agents,
            args: all_args,
            peers,
            _dirs: dirs,
            _secret: secret,
        }
    }

    fn running(&self) -> impl Iterator<Item = &Agent> {
        self.agents.iter().flatten()
    }

    /// The leader's peer address once every running member names the same one.
    async fn agreed_leader(&self) -> String {
        self.agreed_leader_other_than("").await
    }

    /// Like [`Cluster::agreed_leader`], waiting for one other than `old` (the survivors
    /// name the killed leader until their election timeout passes).
    async fn agreed_leader_other_than(&self, old: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let mut seen = BTreeSet::new();
            for agent in self.running() {
                let r = agent.get("/v1/status/leader").await;
                seen.insert((r.status == 200).then(|| r.json().as_str().map(str::to_owned)));
            }
            if let [Some(Some(leader))] = seen.into_iter().collect::<Vec<_>>().as_slice() {
                if leader != old {
                    return leader.clone();
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "no agreed leader");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `kill -9` of member `i`.
    async fn kill(&mut self, i: usize) {
        let mut killed = self.agents[i].take().expect("running");
        killed.child.start_kill().unwrap();
        killed.wait().await;
    }

    /// Starts member `i` again with its flags and data directory.
    async fn restart(&mut self, i: usize) {
        assert!(self.agents[i].is_none(), "member {i} is running");
        let args: Vec<&str> = self.args[i].iter().map(String::as_str).collect();
        self.agents[i] = Some(Agent::start(&args).await);
    }

    fn index_of(&self, peer: &str) -> usize {
        self.peers
            .iter()
            .position(|p| p == peer)
            .expect("a member's address")
    }
}

/// The IDs of the jobs a member holds.
async fn job_ids(client: &Client) -> BTreeSet<String> {
    let jobs = client.get("/v1/jobs").await.ok();
    jobs.as_array()
        .unwrap()
        .iter()
        .map(|j| j["ID"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until a member holds at least `ids`.
async fn holds(client: &Client, ids: &BTreeSet<String>) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let held = job_ids(client).await;
        if ids.is_subset(&held) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "missing {:?}",
            ids.difference(&held).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The three members bootstrap once from their flags, agree on one leader, list the
/// three peer addresses, and a write through any member (forwarded to the leader) is
/// answered after it is applied there and is then read on every member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_agents_bootstrap_once_and_take_writes_through_every_member() {
    let cluster = Cluster::start().await;
    let leader = cluster.agreed_leader().await;
    let mut sorted = cluster.peers.clone();
    sorted.sort();
    for agent in cluster.running() {
        assert_eq!(agent.get("/v1/status/peers").await.ok(), json!(sorted));
        let health = agent.get("/v1/agent/health").await;
        assert_eq!(health.status, 200, "{}", health.text);
    }
    let mut ids = BTreeSet::new();
    for (i, agent) in cluster.running().enumerate() {
        let id = format!("through-{i}");
        let r = agent.put("/v1/jobs", job(&id, 1, "app:1", json!({}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        // Applied on the member asked before it answers: its own read sees it.
        assert!(job_ids(agent).await.contains(&id));
        ids.insert(id);
    }
    for agent in cluster.running() {
        holds(agent, &ids).await;
        let r = agent.get("/v1/jobs").await;
        assert_eq!(r.header("X-Nomad-KnownLeader").as_deref(), Some("true"));
        let contact: u64 = r.header("X-Nomad-LastContact").unwrap().parse().unwrap();
        assert!(contact < WAIT.as_millis() as u64);
    }
    // Every member lists the same configuration: three voters, one of them leading.
    for agent in cluster.running() {
        let c = agent.get("/v1/operator/raft/configuration").await.ok();
        let servers = c["Servers"].as_array().unwrap();
        let mut addrs: Vec<&str> = servers
            .iter()
            .map(|s| s["Address"].as_str().unwrap())
            .collect();
        addrs.sort();
        assert_eq!(addrs, sorted);
        assert!(servers.iter().all(|s| s["Voter"] == true));
        let leading: Vec<&str> = servers
            .iter()
            .filter(|s| s["Leader"] == true)
            .map(|s| s["Address"].as_str().unwrap())
            .collect();
        assert_eq!(leading, [leader.as_str()]);
        // The bootstrap configuration is openraft's entry 0.
        assert!(c["Index"].is_u64(), "{c}");
    }
    // The leader answers 0 for its last contact with itself.
    let leading = &cluster.agents[cluster.index_of(&leader)];
    let r = leading.as_ref().unwrap().get("/v1/jobs").await;
    assert_eq!(r.header("X-Nomad-LastContact").as_deref(), Some("0"));
}

/// A server started later with `--retry-join` naming one member finds a running
/// cluster, asks to be added, catches up and becomes a voter: four peers everywhere,
/// the earlier writes on it, and writes through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fourth_agent_with_retry_join_joins_the_running_cluster() {
    let cluster = Cluster::start().await;
    cluster.agreed_leader().await;
    let first = cluster.running().next().unwrap();
    let r = first
        .put("/v1/jobs", job("before", 1, "app:1", json!({})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let dir = tempfile::tempdir().unwrap();
    let peer = free_addr();
    let fourth = Agent::start(&[
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--cluster-addr",
        &peer,
        "--cluster-secret-file",
        cluster._secret.path().to_str().unwrap(),
        "--retry-join",
        &cluster.peers[2],
    ])
    .await;
    let mut sorted: Vec<String> = cluster.peers.iter().cloned().chain([peer]).collect();
    sorted.sort();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let r = fourth.get("/v1/status/peers").await;
        if r.status == 200 && r.json() == json!(sorted) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never four peers: {} {}",
            r.status,
            r.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    holds(&fourth, &["before".to_string()].into_iter().collect()).await;
    let r = fourth
        .put("/v1/jobs", job("through-the-fourth", 1, "app:1", json!({})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for agent in cluster.running() {
        holds(
            agent,
            &["through-the-fourth".to_string()].into_iter().collect(),
        )
        .await;
        assert_eq!(agent.get("/v1/status/peers").await.ok(), json!(sorted));
    }
}

/// A member killed while 20,000 entries are written (two writers through the leader,
/// each pausing and resuming its own deployment until the index has gone up by 20,000:
/// the leader gathers concurrent writes into one entry, and more writers would only make
/// fuller entries, not more of them), then restarted,
/// catches up through a snapshot install — the leader keeps only 100 entries below its
/// snapshots — and holds the leader's state at the leader's index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_20000_entries_behind_catches_up_through_a_snapshot_install() {
    const WRITERS: usize = 2;
    const ENTRIES: u64 = 20_000;
    let mut cluster = Cluster::start_with(&["--log-retention", "100"]).await;
    let leader = cluster.agreed_leader().await;
    let leading = cluster.index_of(&leader);
    let lagging = (0..3).find(|i| *i != leading).unwrap();
    let client = cluster.agents[leading].as_ref().unwrap().client.clone();
    let mut deployments = Vec::new();
    for w in 0..WRITERS {
        let id = format!("toggle-{w}");
        let r = client
            .put("/v1/jobs", job(&id, 1, "app:1", json!({})))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let d = client.get(&format!("/v1/job/{id}/deployment")).await.ok();
        deployments.push(d["ID"].as_str().unwrap().to_owned());
    }
    cluster.kill(lagging).await;
    let start = client.get("/v1/deployments").await.index();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let writers: Vec<_> = deployments
        .into_iter()
        .map(|d| {
            let client = client.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut pause = true;
                while !*stop.borrow() {
                    let r = client
                        .put(
                            &format!("/v1/deployment/pause/{d}"),
                            json!({"DeploymentID": d, "Pause": pause}),
                        )
                        .await;
                    assert_eq!(r.status, 200, "{}", r.text);
                    pause = !pause;
                }
            })
        })
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    // The deployments' index: every pause and resume writes that table.
    while client.get("/v1/deployments").await.index() < start + ENTRIES {
        assert!(tokio::time::Instant::now() < deadline, "writing too slowly");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop_tx.send_replace(true);
    for w in writers {
        w.await.unwrap();
    }
    let target = client.get("/v1/deployments").await.index();

    cluster.restart(lagging).await;
    let member = cluster.agents[lagging].as_ref().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let r = member.get("/v1/deployments?stale").await;
        if r.status == 200 && r.index() >= target {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still behind: {} at {}",
            r.status,
            r.index()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        member
            .log_line("snapshot installed from the leader")
            .is_some(),
        "caught up without a snapshot install"
    );
    let mine = member
        .get(&format!("/v1/jobs?stale&at_index={target}"))
        .await;
    let theirs = client.get(&format!("/v1/jobs?at_index={target}")).await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert_eq!(mine.json(), theirs.json());
}

/// `kill -9` of the leader while two writers submit through the followers: a new
/// leader is elected, every acknowledged write is on both survivors, each survivor's
/// index never went back, and once quiet they hold the same jobs at the same index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_leader_under_load_loses_no_acknowledged_write() {
    let mut cluster = Cluster::start().await;
    let leader = cluster.agreed_leader().await;
    let dead = cluster.index_of(&leader);
    let survivors: Vec<usize> = (0..3).filter(|i| *i != dead).collect();
    let clients: Vec<Client> = survivors
        .iter()
        .map(|i| cluster.agents[*i].as_ref().unwrap().client.clone())
        .collect();

    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut writers = Vec::new();
    for (w, client) in clients.iter().cloned().enumerate() {
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut last_index = 0;
            let mut n = 0;
            while !*stop.borrow() {
                let id = format!("w{w}-{n}");
                n += 1;
                let r = client
                    .put("/v1/jobs", job(&id, 1, "app:1", json!({})))
                    .await;
                match r.status {
                    200 => {
                        let index = r.json()["Index"].as_u64().unwrap();
                        assert!(
                            index > last_index,
                            "index went back: {index} after {last_index}"
                        );
                        last_index = index;
                        acknowledged.push(id);
                    }
                    // No leader yet, or a forwarded write whose fate is unknown: not
                    // acknowledged, so not counted.
                    500 => tokio::time::sleep(Duration::from_millis(20)).await,
                    other => panic!("unexpected {other}: {}", r.text),
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut killed = cluster.agents[dead].take().unwrap();
    killed.child.start_kill().unwrap();
    killed.wait().await;
    cluster.agreed_leader_other_than(&leader).await;
    // Writes go on under the new leader for a while.
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop_tx.send_replace(true);
    let mut acknowledged = BTreeSet::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(!acknowledged.is_empty(), "no write was acknowledged at all");
    for client in &clients {
        holds(client, &acknowledged).await;
    }
    let bodies: Vec<Value> = futures_bodies(&clients).await;
    assert_eq!(bodies[0], bodies[1], "survivors differ once quiet");
}

/// `/v1/jobs` and its index on each member, once both show the same index.
async fn futures_bodies(clients: &[Client]) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut answers = Vec::new();
        for client in clients {
            let r = client.get("/v1/jobs").await;
            answers.push((r.index(), r.ok()));
        }
        if answers.windows(2).all(|w| w[0].0 == w[1].0) {
            return answers
                .into_iter()
                .map(|(i, body)| json!([i, body]))
                .collect();
        }
        assert!(tokio::time::Instant::now() < deadline, "indexes never met");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A member left without a quorum changes nothing: writes and default (consistent)
/// reads answer Nomad's 500 `No cluster leader`, health says so, and `?stale` still
/// reads what the member holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_quorum_writes_and_consistent_reads_answer_no_cluster_leader() {
    let mut cluster = Cluster::start().await;
    let leader = cluster.agreed_leader().await;
    let dead = cluster.index_of(&leader);
    let survivor = (0..3).find(|i| *i != dead).unwrap();
    let client = cluster.agents[survivor].as_ref().unwrap().client.clone();
    let r = client
        .put("/v1/jobs", job("before", 1, "app:1", json!({})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The consistent read after the write sees it.
    assert!(job_ids(&client).await.contains("before"));
    for i in 0..3 {
        if i != survivor {
            let mut agent = cluster.agents[i].take().unwrap();
            agent.child.start_kill().unwrap();
            agent.wait().await;
        }
    }
    // Once the member has heard from no leader for an election timeout, its health
    // says so (until then Raft still names the dead leader).
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let health = client.get("/v1/agent/health").await;
        if health.status == 500 {
            assert_eq!(health.json()["server"]["message"], "No cluster leader");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still healthy: {health:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = client.get("/v1/jobs").await;
    assert_eq!((r.status, r.text.as_str()), (500, "No cluster leader"));
    let r = client
        .put("/v1/jobs", job("after", 1, "app:1", json!({})))
        .await;
    assert_eq!((r.status, r.text.as_str()), (500, "No cluster leader"));
    let stale = client.get("/v1/jobs?stale").await;
    let body = stale.ok();
    let ids: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["ID"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["before"]);
    assert_eq!(
        stale.header("X-Nomad-KnownLeader").as_deref(),
        Some("false")
    );
}

/// `DELETE /v1/operator/raft/peer` through a follower takes another member out of the
/// configuration via the leader: the others list two servers, and writes still commit
/// on the two (a majority of the new configuration). Unknown or missing peers are 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_peer_leaves_a_working_cluster_of_two() {
    let mut cluster = Cluster::start().await;
    let leader = cluster.agreed_leader().await;
    let followers: Vec<usize> = (0..3).filter(|i| cluster.peers[*i] != leader).collect();
    let (asker, removed) = (followers[0], followers[1]);
    let client = cluster.agents[asker].as_ref().unwrap().client.clone();
    let r = client.delete("/v1/operator/raft/peer").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.starts_with("Must specify either ?id"), "{}", r.text);
    let r = client
        .delete("/v1/operator/raft/peer?address=127.0.0.1:1")
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (
            400,
            "address \"127.0.0.1:1\" was not found in the Raft configuration"
        )
    );
    let c = client.get("/v1/operator/raft/configuration").await.ok();
    let id = c["Servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Address"] == cluster.peers[removed].as_str())
        .map(|s| s["ID"].as_str().unwrap().to_owned())
        .unwrap();
    let r = client
        .delete(&format!("/v1/operator/raft/peer?id={id}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut gone = cluster.agents[removed].take().unwrap();
    gone.child.start_kill().unwrap();
    gone.wait().await;
    for agent in cluster.running() {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let c = agent.get("/v1/operator/raft/configuration").await.ok();
            if c["Servers"].as_array().unwrap().len() == 2 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "still three: {c}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let r = client
        .put("/v1/jobs", job("after-removal", 1, "app:1", json!({})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// `rollout operator raft list-peers` prints Nomad's table of the three members, one
/// leading; `remove-peer -peer-address` of an unknown address fails with the API's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_raft_list_peers_prints_the_configuration() {
    let cluster = Cluster::start().await;
    let leader = cluster.agreed_leader().await;
    let agent = cluster.running().next().unwrap();
    let out = tokio::process::Command::new(crate::common::BIN)
        .args(["operator", "raft", "list-peers", "-address"])
        .arg(format!("http://{}", agent.addr))
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["Node", "ID", "Address", "State", "Voter", "RaftProtocol"]
    );
    let leading: Vec<&str> = lines[1..]
        .iter()
        .filter(|l| l.contains(" leader "))
        .copied()
        .collect();
    assert_eq!(leading.len(), 1, "{text}");
    assert!(leading[0].contains(&leader), "{text}");
    for peer in &cluster.peers {
        assert!(text.contains(peer.as_str()), "{text}");
    }
    let out = tokio::process::Command::new(crate::common::BIN)
        .args([
            "operator",
            "raft",
            "remove-peer",
            "-peer-address",
            "127.0.0.1:1",
            "-address",
        ])
        .arg(format!("http://{}", agent.addr))
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("address \"127.0.0.1:1\" was not found in the Raft configuration"),
        "{err}"
    );
}

/// A progress deadline armed under a leader that is killed before it falls still
/// fires: the new leader arms the deadlines of the state it inherits (its ticker and
/// its simulated fleet take over), so the deployment fails with the deadline's
/// description on every survivor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_progress_deadline_that_falls_during_a_failover_still_fires() {
    const SECOND_NS: u64 = 1_000_000_000;
    let mut cluster = Cluster::start_with(&["--dev"]).await;
    let leader = cluster.agreed_leader().await;
    let dead = cluster.index_of(&leader);
    let survivor = (0..3).find(|i| *i != dead).unwrap();
    let client = cluster.agents[survivor].as_ref().unwrap().client.clone();
    // Manual health: nothing becomes healthy, so only the deadline can end it.
    let update = json!({"MaxParallel": 1, "HealthCheck": "manual", "MinHealthyTime": 0,
                        "HealthyDeadline": 6 * SECOND_NS, "ProgressDeadline": 8 * SECOND_NS});
    let r = client
        .put("/v1/jobs", job("deadline", 1, "app:1", update))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut killed = cluster.agents[dead].take().unwrap();
    killed.child.start_kill().unwrap();
    killed.wait().await;
    cluster.agreed_leader_other_than(&leader).await;
    for agent in cluster.running() {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let list = agent.get("/v1/job/deadline/deployments").await.ok();
            let d = &list[0];
            if d["Status"] == "failed" {
                assert_eq!(d["StatusDescription"], "Failed due to progress deadline");
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "never failed: {d}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A single agent's data directory and a cluster member's keep their state in different
/// files: each kind of agent refuses to start over the other's, saying what to do,
/// instead of starting empty beside the real state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_refuses_a_data_directory_of_the_other_kind() {
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "cluster-test-secret\n").unwrap();
    let refused = |args: Vec<String>| async move {
        let out = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::process::Command::new(crate::common::BIN)
                .arg("agent")
                .args(&args)
                .args(["--http-addr", "127.0.0.1:0"])
                .output(),
        )
        .await
        .expect("the agent exits")
        .unwrap();
        assert!(!out.status.success(), "{out:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    let member_args = |dir: &std::path::Path| {
        vec![
            "--data-dir".to_string(),
            dir.to_str().unwrap().to_string(),
            "--cluster-addr".into(),
            free_addr(),
            "--cluster-secret-file".into(),
            secret.path().to_str().unwrap().to_string(),
        ]
    };

    // A single agent's directory, with a write in it.
    let single = tempfile::tempdir().unwrap();
    let agent = Agent::with_data_dir(single.path()).await;
    let r = agent
        .put("/v1/jobs", job("kept", 1, "app:1", json!({})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    agent.stop().await;
    let err = refused(member_args(single.path())).await;
    assert!(
        err.contains(
            "holds a single agent's store (rollout.redb): a new cluster member would start empty"
        ),
        "{err}"
    );
    assert!(!single.path().join("cluster").exists());
    // The single agent still starts there, with its write.
    let agent = Agent::with_data_dir(single.path()).await;
    let r = agent.get("/v1/job/kept").await;
    assert_eq!(r.status, 200, "{}", r.text);
    agent.stop().await;

    // A member's directory.
    let member = tempfile::tempdir().unwrap();
    let mut args = member_args(member.path());
    args.extend(["--bootstrap-expect".into(), "1".into()]);
    let borrowed: Vec<&str> = args.iter().map(String::as_str).collect();
    Agent::start(&borrowed).await.stop().await;
    let err = refused(vec![
        "--data-dir".into(),
        member.path().to_str().unwrap().into(),
    ])
    .await;
    assert!(
        err.contains("is a cluster member's data directory (it has cluster/)"),
        "{err}"
    );
    assert!(!member.path().join(rollout_store::DB_FILE).exists());
}

/// Concurrent writes to a cluster member share Raft entries; the event stream still
/// carries one frame per index with every event of every write at it — live and
/// replayed alike — so a client resuming after an index has seen all of its events.
/// (Before, the second write of an entry was dropped from the stream.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_carries_every_write_of_a_shared_entry_in_one_frame() {
    use crate::common::event_lines::Lines;
    const WRITES: usize = 32;
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "cluster-test-secret\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (dir_arg, secret_arg, peer) = (
        dir.path().to_str().unwrap().to_string(),
        secret.path().to_str().unwrap().to_string(),
        free_addr(),
    );
    let agent = Agent::start(&[
        "--data-dir",
        &dir_arg,
        "--cluster-addr",
        &peer,
        "--cluster-secret-file",
        &secret_arg,
        "--bootstrap-expect",
        "1",
    ])
    .await;
    let all = "/v1/event/stream?namespace=*&topic=Job";
    let mut live = Lines::open(&agent.addr, &format!("{all}&index=0"), None).await;
    assert_eq!(live.next().await, Some(json!({})));
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(WRITES));
    let writes: Vec<_> = (0..WRITES)
        .map(|n| {
            let (client, start) = (agent.client.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let r = client
                    .put(
                        "/v1/jobs",
                        job(&format!("burst-{n}"), 1, "app:1", json!({})),
                    )
                    .await;
                assert_eq!(r.status, 200, "{}", r.text);
                r.json()["JobModifyIndex"].as_u64().unwrap()
            })
        })
        .collect();
    let mut indexes = BTreeSet::new();
    for w in writes {
        indexes.insert(w.await.unwrap());
    }
    assert!(
        indexes.len() < WRITES,
        "{WRITES} concurrent writes, each its own entry: {indexes:?}"
    );
    let last = *indexes.last().unwrap();
    let frames = live.until_index(last).await;
    let keys = |frames: &[Value]| -> BTreeSet<String> {
        frames
            .iter()
            .flat_map(|f| f["Events"].as_array().unwrap().clone())
            .map(|e| e["Key"].as_str().unwrap().to_string())
            .filter(|k| k.starts_with("burst-"))
            .collect()
    };
    assert_eq!(keys(&frames).len(), WRITES, "{frames:?}");
    let at: Vec<u64> = frames
        .iter()
        .map(|f| f["Index"].as_u64().unwrap())
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "one frame per index: {at:?}"
    );
    for f in &frames {
        let index = f["Index"].as_u64().unwrap();
        assert!(f["Events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["Index"].as_u64() == Some(index)));
    }
    // Replayed from the log: the same frames.
    let mut replayed = Lines::open(&agent.addr, &format!("{all}&index=0"), None).await;
    replayed.next().await;
    assert_eq!(replayed.until_index(last).await, frames);
    // Resuming after an entry's index gives none of its writes again, and the next
    // entries whole.
    let first = at[0];
    let mut resumed = Lines::open(&agent.addr, &format!("{all}&after_index={first}"), None).await;
    resumed.next().await;
    let rest = resumed.until_index(last).await;
    assert_eq!(rest, frames[1..].to_vec());
    agent.stop().await;
}
