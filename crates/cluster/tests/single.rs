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
