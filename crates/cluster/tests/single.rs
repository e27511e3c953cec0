//! One node is a cluster of one: the same code path as three, bootstrapped with itself.

mod common;

use common::{config, register, settings};
use rollout_cluster::Node;
use std::collections::BTreeMap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_is_a_cluster_of_one_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(config(
        1,
        "127.0.0.1:0".parse().unwrap(),
        dir.path(),
        settings(),
    ))
    .await
    .unwrap();
    let addr = node.addr();
    let members: BTreeMap<_, _> = [(1, addr.to_string())].into_iter().collect();
    node.bootstrap(&members).await.unwrap();
    let mut last = 0;
    for n in 0..10 {
        let outcome = node.write(register(&format!("solo-{n}"))).await.unwrap();
        assert!(outcome.index > last);
        last = outcome.index;
    }
    assert!(node.is_leader());
    assert_eq!(node.last_contact(), Some(std::time::Duration::ZERO));
    assert_eq!(
        node.ensure_linearizable().await.unwrap(),
        node.applied_index()
    );
    let print = common::fingerprint(&node.state());
    node.shutdown().await;
    drop(node);

    // Back from its data directory: a second bootstrap is a no-op, it leads again and
    // holds the same state.
    let node = Node::start(config(1, addr, dir.path(), settings()))
        .await
        .unwrap();
    common::eventually("the committed log re-applied", || async {
        (node.applied_index() >= last).then_some(())
    })
    .await;
    assert_eq!(common::fingerprint(&node.state()), print);
    node.bootstrap(&members).await.unwrap();
    let next = node.write(register("after-restart")).await.unwrap();
    assert!(next.index > last);
    assert_eq!(node.state().jobs(None).count(), 11);
    node.shutdown().await;
}

/// A node's history is what its state machine applied: the same writes with the same
/// indexes and states, a refused command and a retried request ID left out, as the
/// commit feed showed them live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_replays_what_the_state_machine_applied() {
    use rollout_cluster::{ClusterError, RequestId};
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(config(
        1,
        "127.0.0.1:0".parse().unwrap(),
        dir.path(),
        settings(),
    ))
    .await
    .unwrap();
    let members: BTreeMap<_, _> = [(1, node.addr().to_string())].into_iter().collect();
    node.bootstrap(&members).await.unwrap();
    let mut feed = node.commits();
    for n in 0..5 {
        node.write(register(&format!("h-{n}"))).await.unwrap();
    }
    let refused = node
        .write(rollout_engine::Command::PromoteDeployment(
            Default::default(),
        ))
        .await;
    assert!(
        matches!(refused, Err(ClusterError::Refused { .. })),
        "{refused:?}"
    );
    let id = RequestId::random().unwrap();
    node.write_with_id(id, register("retried")).await.unwrap();
    let again = node.write_with_id(id, register("retried")).await;
    assert!(
        matches!(again, Err(ClusterError::Duplicate { .. })),
        "{again:?}"
    );

    let mut live = Vec::new();
    while live.len() < 6 {
        live.extend(feed.recv().await.unwrap().iter().cloned());
    }
    let replayed: Vec<_> = node.history(1).unwrap().map(Result::unwrap).collect();
    assert_eq!(replayed.len(), live.len());
    for (r, l) in replayed.iter().zip(&live) {
        assert_eq!(r.outcome.index, l.outcome.index);
        assert_eq!(r.command, l.command);
        assert_eq!(common::fingerprint(&r.state), common::fingerprint(&l.state));
        assert_eq!(
            common::fingerprint(&r.before),
            common::fingerprint(&l.before)
        );
    }
    // From the middle: the writes from that index on, nothing before.
    let from = live[3].outcome.index;
    let tail: Vec<u64> = node
        .history(from)
        .unwrap()
        .map(|c| c.unwrap().outcome.index)
        .collect();
    assert_eq!(
        tail,
        live[3..]
            .iter()
            .map(|c| c.outcome.index)
            .collect::<Vec<_>>()
    );
    node.shutdown().await;
}

/// Below the node's snapshot the log may be gone: the history says which index is the
/// oldest it can replay, and replays from there to the state the node holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_starts_after_the_snapshot_and_names_the_oldest_index() {
    let dir = tempfile::tempdir().unwrap();
    let raft = rollout_cluster::RaftSettings {
        snapshot_every_entries: 10,
        entries_kept_after_snapshot: 2,
        ..settings()
    };
    let node = Node::start(config(1, "127.0.0.1:0".parse().unwrap(), dir.path(), raft))
        .await
        .unwrap();
    let members: BTreeMap<_, _> = [(1, node.addr().to_string())].into_iter().collect();
    node.bootstrap(&members).await.unwrap();
    for n in 0..25 {
        node.write(register(&format!("s-{n}"))).await.unwrap();
    }
    let mut metrics = node.metrics();
    let snapshot = common::eventually("a snapshot", || {
        let index = metrics.borrow_and_update().snapshot.map(|id| id.index);
        async move { index.filter(|i| *i >= 10) }
    })
    .await;
    let Err(rollout_store::HistoryError::TooOld { requested, oldest }) = node.history(1) else {
        panic!("history from 1 must be too old once a snapshot was built");
    };
    assert_eq!((requested, oldest), (1, snapshot + 1));
    let last = node
        .history(oldest)
        .unwrap()
        .map(Result::unwrap)
        .last()
        .expect("writes after the snapshot");
    assert_eq!(last.outcome.index, node.state().index());
    assert_eq!(
        common::fingerprint(&last.state),
        common::fingerprint(&node.state())
    );
    node.shutdown().await;
}
