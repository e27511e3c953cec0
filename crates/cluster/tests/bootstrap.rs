//! `bootstrap_expect` with `retry_join`: nodes that find each other bootstrap once.

mod common;

use common::{config, register, settings};
use rollout_cluster::Node;
use std::time::Duration;

/// Three fresh nodes, each naming only some of the others, find the whole set through
/// each other's answers; exactly one bootstraps, all three become voters of one cluster
/// and a write through any of them is applied on all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_that_find_each_other_bootstrap_one_cluster() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let id = 10 + i as u64;
        let node = Node::start(config(
            id,
            "127.0.0.1:0".parse().unwrap(),
            dir.path(),
            settings(),
        ))
        .await
        .unwrap();
        nodes.push(node);
    }
    let addr = |i: usize| nodes[i].addr().to_string();
    // 10 knows 11; 11 knows 12; 12 knows 10: nobody names both others.
    let joins = [vec![addr(1)], vec![addr(2)], vec![addr(0)]];
    let (_stop, stopping) = tokio::sync::watch::channel(false);
    let nodes = std::sync::Arc::new(nodes);
    let mut tasks = Vec::new();
    for (i, join) in joins.into_iter().enumerate() {
        let nodes = nodes.clone();
        let stopping = stopping.clone();
        tasks.push(tokio::spawn(async move {
            nodes[i]
                .bootstrap_expect(3, &join, Duration::from_millis(100), stopping)
                .await
        }));
    }
    for task in tasks {
        tokio::time::timeout(common::WAIT, task)
            .await
            .expect("bootstrap within the bound")
            .unwrap()
            .unwrap();
    }
    for node in nodes.iter() {
        let members = node.members();
        assert_eq!(members.len(), 3, "{members:?}");
        assert!(members.iter().all(|m| m.voter));
    }
    let outcome = nodes[2].write(register("found")).await.unwrap();
    for node in nodes.iter() {
        node.await_applied(outcome.index).await.unwrap();
        assert!(node.state().jobs(None).any(|j| j.id == "found"));
    }
    for node in nodes.iter() {
        node.shutdown().await;
    }
}
