//! A three-node cluster over real TCP on 127.0.0.1: election, writes through every node,
//! failover, catch-up by snapshot, the cluster secret, exactly-once writes.

mod common;

use common::{eventually, fingerprint, register, settings, Cluster};
use rollout_cluster::{ClusterError, NodeId, RaftSettings, RequestId};
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_elect_one_leader_that_all_report() {
    let cluster = Cluster::start(settings()).await;
    let leader = cluster.agreed_leader().await;
    let addr = cluster.addrs[(leader - 1) as usize].to_string();
    for node in cluster.running() {
        let seen = node.leader().unwrap();
        assert_eq!((seen.id, seen.addr.as_str()), (leader, addr.as_str()));
        assert!(node.known_leader());
        assert_eq!(node.is_leader(), node.id() == leader);
        let members = node.members();
        assert_eq!(members.len(), 3);
        assert!(members.iter().all(|m| m.voter));
        let addrs: BTreeSet<String> = members.iter().map(|m| m.addr.clone()).collect();
        let expected: BTreeSet<String> = cluster.addrs.iter().map(|a| a.to_string()).collect();
        assert_eq!(addrs, expected);
    }
    assert_eq!(
        cluster.node(leader).last_contact(),
        Some(std::time::Duration::ZERO)
    );
    for node in cluster.running().filter(|n| n.id() != leader) {
        eventually("a follower hears from the leader", || async {
            node.last_contact().map(|_| ())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_every_node_apply_everywhere_in_log_order() {
    let cluster = Cluster::start(settings()).await;
    let mut last_index = 0;
    for round in 0..4 {
        for id in 1..=3 {
            let node = cluster.node(id);
            let outcome = node
                .write(register(&format!("web-{id}-{round}")))
                .await
                .unwrap();
            // Sequential writes: each acknowledged at a higher index, and visible on the
            // node that answered as soon as it answers.
            assert!(
                outcome.index > last_index,
                "{} after {last_index}",
                outcome.index
            );
            last_index = outcome.index;
            assert!(node
                .state()
                .job("default", &format!("web-{id}-{round}"))
                .is_some());
            assert_eq!(node.state().index(), outcome.index);
        }
    }
    let print = cluster.quiet_fingerprint().await;
    for node in cluster.running() {
        let state = node.state();
        assert_eq!(state.jobs(None).count(), 12);
        assert_eq!(state.index(), last_index);
        assert_eq!(fingerprint(&state), print);
    }
}

/// 64 writes at once, through every node: the leader gathers them into far fewer
/// entries than writes; the writes of one entry share its index; every write is applied
/// once, on every node; each member's history replays them with the states the live
/// feed showed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_entries_and_apply_once_everywhere() {
    const WRITES: usize = 64;
    let cluster = std::sync::Arc::new(Cluster::start(settings()).await);
    let leader = cluster.agreed_leader().await;
    let before = cluster.node(leader).applied_index();
    let mut feed = cluster.node(leader).commits();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(WRITES));
    let writes: Vec<_> = (0..WRITES)
        .map(|n| {
            let (cluster, start) = (cluster.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let node = cluster.node(1 + (n % 3) as NodeId);
                node.write(register(&format!("burst-{n}"))).await.unwrap()
            })
        })
        .collect();
    let mut indexes = Vec::new();
    for w in writes {
        indexes.push(w.await.unwrap().index);
    }
    let print = cluster.quiet_fingerprint().await;
    let entries: BTreeSet<u64> = indexes.iter().copied().collect();
    assert!(
        entries.len() <= WRITES / 4,
        "{WRITES} concurrent writes took {} entries",
        entries.len()
    );
    for node in cluster.running() {
        let state = node.state();
        assert_eq!(fingerprint(&state), print);
        for (n, index) in indexes.iter().enumerate() {
            let job = state.job("default", &format!("burst-{n}")).unwrap();
            assert_eq!((job.version, job.job_modify_index), (0, *index));
        }
    }
    // The feed showed each write once, in log order; a history replayed from the log
    // gives the same writes with the same states, on every member.
    let mut live = Vec::new();
    while live.len() < WRITES {
        live.extend(feed.recv().await.unwrap().iter().cloned());
    }
    for node in cluster.running() {
        let replayed: Vec<_> = node
            .history(before + 1)
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
        assert_eq!(replayed.len(), WRITES);
        for (a, b) in replayed.iter().zip(&live) {
            assert_eq!(a.outcome.index, b.outcome.index);
            assert_eq!(fingerprint(&a.before), fingerprint(&b.before));
            assert_eq!(fingerprint(&a.state), fingerprint(&b.state));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_index_is_the_engine_index_with_gaps_for_entries_without_a_command() {
    let cluster = Cluster::start(settings()).await;
    let leader = cluster.agreed_leader().await;
    let first = cluster.node(leader).write(register("a")).await.unwrap();
    // The membership entry and the leader's blank entry come first: the engine's first
    // command is not at index 1, and the engine accepts the gap.
    assert!(first.index > 1, "first command at {}", first.index);
    let state = cluster.node(leader).state();
    assert_eq!(state.index(), first.index);
    assert_eq!(
        state.job("default", "a").unwrap().job_modify_index,
        first.index
    );
    assert_eq!(cluster.node(leader).applied_index(), first.index);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linearizable_read_on_a_follower_sees_every_acknowledged_write() {
    let cluster = Cluster::start(settings()).await;
    let leader = cluster.agreed_leader().await;
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    let other = (1..=3).find(|id| *id != leader && *id != follower).unwrap();
    let written = cluster
        .node(other)
        .write(register("read-me"))
        .await
        .unwrap();
    let read_index = cluster.node(follower).ensure_linearizable().await.unwrap();
    assert!(read_index >= written.index);
    assert!(cluster.node(follower).applied_index() >= read_index);
    assert!(cluster
        .node(follower)
        .state()
        .job("default", "read-me")
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_shutdown_elects_a_new_leader_and_loses_no_acknowledged_write() {
    let mut cluster = Cluster::start(settings()).await;
    let old = cluster.agreed_leader().await;
    let mut acknowledged = Vec::new();
    let mut last_index = 0;
    for n in 0..6 {
        let via = (n % 3) + 1;
        let outcome = cluster
            .node(via)
            .write(register(&format!("before-{n}")))
            .await
            .unwrap();
        assert!(outcome.index > last_index);
        last_index = outcome.index;
        acknowledged.push(format!("before-{n}"));
    }
    cluster.stop(old).await;
    let new = cluster.agreed_leader().await;
    assert_ne!(new, old);
    let survivors: Vec<NodeId> = (1..=3).filter(|id| *id != old).collect();
    for n in 0..6 {
        let via = survivors[n % 2];
        let outcome = cluster
            .node(via)
            .write(register(&format!("after-{n}")))
            .await
            .unwrap();
        // Indexes never go back, across the leader change too.
        assert!(
            outcome.index > last_index,
            "{} after {last_index}",
            outcome.index
        );
        last_index = outcome.index;
        acknowledged.push(format!("after-{n}"));
    }
    let print = cluster.quiet_fingerprint().await;
    for node in cluster.running() {
        let state = node.state();
        for job in &acknowledged {
            assert!(
                state.job("default", job).is_some(),
                "{job} missing on node {}",
                node.id()
            );
        }
        assert_eq!(fingerprint(&state), print);
    }
    // The old leader comes back as a follower and converges on the same state.
    cluster.restart(old).await;
    let print_after = cluster.quiet_fingerprint().await;
    assert_eq!(print_after, print);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_node_catches_up_through_a_snapshot_install() {
    let raft = RaftSettings {
        snapshot_every_entries: 20,
        entries_kept_after_snapshot: 5,
        ..settings()
    };
    let mut cluster = Cluster::start(raft).await;
    let leader = cluster.agreed_leader().await;
    let lagging = (1..=3).find(|id| *id != leader).unwrap();
    cluster.node(leader).write(register("early")).await.unwrap();
    cluster.quiet_fingerprint().await;
    cluster.stop(lagging).await;
    let mut last = 0;
    for n in 0..120 {
        last = cluster
            .node(leader)
            .write(register(&format!("while-away-{n}")))
            .await
            .unwrap()
            .index;
    }
    // The leader's log no longer holds what the lagging node misses.
    let leader_node = cluster.node(leader);
    eventually("the leader purges its log below a snapshot", || async {
        let m = leader_node.metrics().borrow().clone();
        m.purged.filter(|p| p.index > 10).map(|_| ())
    })
    .await;
    cluster.restart(lagging).await;
    let print = cluster.quiet_fingerprint().await;
    let caught_up = cluster.node(lagging);
    assert!(
        caught_up.snapshots_installed() >= 1,
        "no snapshot was installed"
    );
    assert!(caught_up.applied_index() >= last);
    assert_eq!(fingerprint(&caught_up.state()), print);
    assert!(caught_up.state().job("default", "while-away-119").is_some());
    // And it keeps applying new writes from the log afterwards.
    let next = cluster
        .node(lagging)
        .write(register("after-catch-up"))
        .await
        .unwrap();
    assert!(next.index > last);
    cluster.quiet_fingerprint().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_request_id_is_applied_once() {
    let cluster = Cluster::start(settings()).await;
    let id = RequestId::random().unwrap();
    let first = cluster
        .node(1)
        .write_with_id(id, register("once"))
        .await
        .unwrap();
    let print = cluster.quiet_fingerprint().await;
    for via in 1..=3 {
        match cluster.node(via).write_with_id(id, register("once")).await {
            Err(ClusterError::Duplicate {
                request_id,
                first_index,
            }) => {
                assert_eq!(request_id, id);
                assert_eq!(first_index, first.index);
            }
            other => panic!("expected a duplicate, got {other:?}"),
        }
    }
    // The duplicates took log entries but changed no state.
    assert_eq!(cluster.quiet_fingerprint().await, print);
    for node in cluster.running() {
        assert_eq!(node.state().index(), first.index);
        assert!(node.applied_index() > first.index);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_command_changes_nothing_and_answers_the_engine_error() {
    let cluster = Cluster::start(settings()).await;
    cluster.node(2).write(register("x")).await.unwrap();
    let print = cluster.quiet_fingerprint().await;
    let missing =
        rollout_engine::Command::FailDeployment(rollout_engine::command::FailDeployment {
            deployment_id: uuid::Uuid::from_u128(42),
        });
    match cluster.node(3).write(missing).await {
        Err(ClusterError::Refused { error, .. }) => {
            assert_eq!(error.kind(), rollout_engine::ErrorKind::NotFound)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(cluster.quiet_fingerprint().await, print);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_quorum_writes_answer_no_cluster_leader_and_change_nothing() {
    let mut cluster = Cluster::start(settings()).await;
    let leader = cluster.agreed_leader().await;
    cluster.node(leader).write(register("kept")).await.unwrap();
    cluster.quiet_fingerprint().await;
    let alone = (1..=3).find(|id| *id != leader).unwrap();
    let before = fingerprint(&cluster.node(alone).state());
    for id in (1..=3).filter(|id| *id != alone) {
        cluster.stop(id).await;
    }
    for _ in 0..2 {
        let err = cluster
            .node(alone)
            .write(register("lost"))
            .await
            .unwrap_err();
        assert!(matches!(err, ClusterError::NoLeader), "{err:?}");
        assert_eq!(err.to_string(), "No cluster leader");
    }
    assert_eq!(fingerprint(&cluster.node(alone).state()), before);
    assert!(cluster.node(alone).state().job("default", "lost").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_without_the_secret_cannot_vote_append_install_or_forward() {
    use rollout_cluster::transport::path;
    let cluster = Cluster::start(settings()).await;
    let leader = cluster.agreed_leader().await;
    let term = cluster.node(leader).metrics().borrow().current_term;
    let http = reqwest::Client::new();
    for addr in &cluster.addrs {
        for p in [
            path::APPEND,
            path::VOTE,
            path::SNAPSHOT,
            path::FORWARD_WRITE,
            path::READ_INDEX,
        ] {
            for secret in [None, Some("wrong"), Some("test-cluster-secreT")] {
                let mut req = http.post(format!("http://{addr}{p}")).body(vec![0x80]);
                if let Some(s) = secret {
                    req = req.header(rollout_cluster::secret::SECRET_HEADER, s);
                }
                let status = req.send().await.unwrap().status();
                assert_eq!(
                    status,
                    reqwest::StatusCode::UNAUTHORIZED,
                    "{p} with {secret:?}"
                );
            }
        }
    }
    // A member restarted with another secret — its log and its address are a real
    // member's — cannot take part: the leader's appends are refused by it, its own
    // campaigns are refused by the others, so it applies nothing more and never leads.
    let mut cluster = cluster;
    let outsider = (1..=3).find(|id| *id != leader).unwrap();
    cluster
        .node(leader)
        .write(register("before"))
        .await
        .unwrap();
    cluster.quiet_fingerprint().await;
    cluster.stop(outsider).await;
    cluster
        .restart_with_secret(outsider, "not-the-secret")
        .await;
    let stuck_at = cluster.node(outsider).applied_index();
    for n in 0..5 {
        cluster
            .node(leader)
            .write(register(&format!("without-{n}")))
            .await
            .unwrap();
    }
    // Long enough for several of its election timeouts.
    eventually("the outsider campaigns on its own", || async {
        let m = cluster.node(outsider).metrics().borrow().clone();
        (m.current_term >= term + 3).then_some(())
    })
    .await;
    let out = cluster.node(outsider);
    assert_eq!(out.applied_index(), stuck_at);
    assert!(out.state().job("default", "without-0").is_none());
    assert!(!out.is_leader());
    assert_eq!(out.leader(), None);
    for id in (1..=3).filter(|id| *id != outsider) {
        let m = cluster.node(id).metrics().borrow().clone();
        assert_ne!(m.current_leader, Some(outsider));
        assert_ne!(m.vote.leader_id.node_id, outsider, "node {id} voted for it");
    }
    // With the secret again it rejoins and catches up.
    cluster.stop(outsider).await;
    cluster.restart(outsider).await;
    cluster.quiet_fingerprint().await;
    assert!(cluster
        .node(outsider)
        .state()
        .job("default", "without-4")
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_cluster_restart_recovers_every_acknowledged_write() {
    let raft = RaftSettings {
        snapshot_every_entries: 15,
        entries_kept_after_snapshot: 3,
        ..settings()
    };
    let mut cluster = Cluster::start(raft).await;
    for n in 0..40 {
        let via = (n % 3) + 1;
        cluster
            .node(via)
            .write(register(&format!("job-{n}")))
            .await
            .unwrap();
    }
    let print = cluster.quiet_fingerprint().await;
    let index_before = cluster.node(1).state().index();
    for id in 1..=3 {
        cluster.stop(id).await;
    }
    for id in 1..=3 {
        cluster.restart(id).await;
    }
    // Each node comes back from its snapshot and the committed log after it, elects
    // a leader again and holds the same state.
    cluster.agreed_leader().await;
    assert_eq!(cluster.quiet_fingerprint().await, print);
    for node in cluster.running() {
        assert_eq!(node.state().jobs(None).count(), 40);
    }
    let next = cluster
        .node(2)
        .write(register("after-restart"))
        .await
        .unwrap();
    assert!(next.index > index_before);
}

/// Concurrent writers while the leader is shut down: every write is retried with its
/// own request ID until it is acknowledged (or found already applied), and afterwards
/// every acknowledged write is on every node, applied exactly once (its job's modify
/// index is the index it was acknowledged at).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_shutdown_under_concurrent_writes_applies_each_write_once() {
    use std::sync::Arc;
    let mut cluster = Cluster::start(settings()).await;
    let old = cluster.agreed_leader().await;
    let survivors: Vec<NodeId> = (1..=3).filter(|id| *id != old).collect();
    let nodes: Vec<Arc<rollout_cluster::Node>> = {
        // Writers use the survivors only, so that no writer is left holding a stopped
        // node; the leader is still among the members they write through.
        let mut v = Vec::new();
        for id in &survivors {
            let i = (*id - 1) as usize;
            v.push(Arc::new(cluster.nodes[i].take().unwrap()));
        }
        v
    };
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let node = nodes[w % nodes.len()].clone();
            let done = done.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for n in 0..15 {
                    let job = format!("w{w}-{n}");
                    let id = RequestId::random().unwrap();
                    let index = loop {
                        match node.write_with_id(id, register(&job)).await {
                            Ok(outcome) => break outcome.index,
                            Err(ClusterError::Duplicate { first_index, .. }) => break first_index,
                            Err(_) => {
                                tokio::time::sleep(std::time::Duration::from_millis(100)).await
                            }
                        }
                    };
                    acked.push((job, index));
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                acked
            })
        })
        .collect();
    eventually("some writes acknowledged", || async {
        (done.load(std::sync::atomic::Ordering::SeqCst) >= 10).then_some(())
    })
    .await;
    cluster.stop(old).await;
    // The failover happens in the middle of the load, not after it.
    assert!(done.load(std::sync::atomic::Ordering::SeqCst) < 60);
    let mut acked = Vec::new();
    for writer in writers {
        acked.extend(writer.await.unwrap());
    }
    for (i, node) in survivors.iter().zip(nodes) {
        cluster.nodes[(*i - 1) as usize] = Some(Arc::try_unwrap(node).unwrap());
    }
    let print = cluster.quiet_fingerprint().await;
    assert_eq!(acked.len(), 60);
    for node in cluster.running() {
        let state = node.state();
        assert_eq!(fingerprint(&state), print);
        for (job, index) in &acked {
            let stored = state
                .job("default", job)
                .unwrap_or_else(|| panic!("{job} missing"));
            assert_eq!(
                stored.job_modify_index, *index,
                "{job} applied more than once"
            );
        }
    }
}

/// Issue 16: the leader puts the write's actor in the proposal — also for a write a
/// follower forwarded — so every member's log, and so its history, records it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_members_history_records_the_actor_of_each_write_forwarded_or_not() {
    use rollout_engine::Actor;
    let cluster = Cluster::start(settings()).await;
    let accessor = uuid::Uuid::from_u128(0x3f2a_0000_0000_4000_8000_0000_0000_0001);
    let mut written = Vec::new();
    for id in 1..=3u64 {
        let actor = Actor::operator(Some(accessor), format!("token-{id}"));
        let outcome = cluster
            .node(id)
            .write_as(register(&format!("web-{id}")), Some(actor.clone()))
            .await
            .unwrap();
        written.push((outcome.index, Some(actor)));
    }
    let plain = cluster.node(1).write(register("plain")).await.unwrap();
    written.push((plain.index, None));
    let last = plain.index;
    for node in cluster.running() {
        node.await_applied(last).await.unwrap();
        let seen: Vec<_> = node
            .history(1)
            .unwrap()
            .map(Result::unwrap)
            .filter(|c| written.iter().any(|(i, _)| *i == c.outcome.index))
            .map(|c| (c.outcome.index, c.actor))
            .collect();
        assert_eq!(seen, written, "node {}", node.id());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_added_to_a_running_cluster_catches_up_and_becomes_a_voter() {
    let mut cluster = Cluster::start(settings()).await;
    let leader = cluster.agreed_leader().await;
    for n in 0..20 {
        cluster
            .node(leader)
            .write(register(&format!("before-{n}")))
            .await
            .unwrap();
    }
    let new = cluster.start_new_node().await;
    // It finds the cluster through one member, a follower, as `--retry-join` does, and
    // asks to be added: the follower points it to the leader.
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    let join = vec![cluster.addrs[(follower - 1) as usize].to_string()];
    let (_stop, stop) = tokio::sync::watch::channel(false);
    tokio::time::timeout(
        common::WAIT,
        cluster
            .node(new)
            .bootstrap_expect(3, &join, std::time::Duration::from_millis(200), stop),
    )
    .await
    .expect("joined in time")
    .unwrap();
    let members = cluster.node(leader).members();
    assert_eq!(members.len(), 4, "{members:?}");
    assert!(members.iter().all(|m| m.voter), "{members:?}");
    // It holds everything written before it came, and takes writes itself.
    let print = cluster.quiet_fingerprint().await;
    assert_eq!(fingerprint(&cluster.node(new).state()), print);
    assert!(cluster
        .node(new)
        .state()
        .job("default", "before-19")
        .is_some());
    let through_new = cluster
        .node(new)
        .write(register("through-the-new-one"))
        .await;
    assert!(through_new.is_ok(), "{through_new:?}");
    cluster.quiet_fingerprint().await;
    // Asking again is answered at once with the configuration it is in.
    let again = cluster
        .node(new)
        .add_member(new, &cluster.addrs[(new - 1) as usize].to_string())
        .await;
    assert!(again.is_ok(), "{again:?}");
    assert_eq!(cluster.node(leader).members().len(), 4);
}
