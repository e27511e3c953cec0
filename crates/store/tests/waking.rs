//! Waking blocking queries happens off the write path (a waker thread signals after the
//! writer has answered): what must still hold is that every waiter wakes, that none
//! misses the write it waits for, and that an answered write is already readable.

mod common;

use common::*;
use rollout_engine::Command;
use std::sync::Arc;
use std::time::Duration;

const WAITERS: u64 = 2_000;
const WRITES: u64 = 40;

/// What a blocking query does: subscribe, read, and while the state is older than the
/// index it waits for, wait for a change and read again.
async fn wait_like_a_blocking_query(store: Arc<rollout_store::Store>, target: u64) -> u64 {
    let mut changes = store.subscribe();
    loop {
        // A signal never runs ahead of the published state: what was signalled before
        // the state is read is already in it. (Read the other way round, a write landing
        // between the two reads would look like a signal ahead of its state.)
        let signalled = *changes.borrow_and_update();
        let state = store.state();
        assert!(state.index() >= signalled);
        if state.index() >= target {
            return state.index();
        }
        if changes.changed().await.is_err() {
            return store.state().index();
        }
    }
}

#[test]
fn every_blocking_waiter_wakes_for_the_write_it_waits_for() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path(), options(31)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        // Each waiter waits for one of the writes to come, spread over all of them.
        let waiters: Vec<_> = (0..WAITERS)
            .map(|w| tokio::spawn(wait_like_a_blocking_query(store.clone(), w % WRITES + 1)))
            .collect();
        tokio::task::yield_now().await;
        for _ in 0..WRITES {
            let committed = store.submit_async(Command::Tick).await.unwrap();
            // Answered means readable: the state was published before the reply.
            assert!(store.state().index() >= committed.outcome.index);
            tokio::task::yield_now().await;
        }
        for (w, waiter) in waiters.into_iter().enumerate() {
            let woke_at = tokio::time::timeout(Duration::from_secs(60), waiter)
                .await
                .unwrap_or_else(|_| panic!("waiter {w} was never woken"))
                .unwrap();
            assert!(woke_at > w as u64 % WRITES, "waiter {w} woke at {woke_at}");
        }
    });
}

#[test]
fn threads_waiting_for_an_index_wake_for_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path(), options(32)));
    let waiters: Vec<_> = (1..=20u64)
        .map(|target| {
            let store = store.clone();
            std::thread::spawn(move || {
                store
                    .wait_for_index(target, Duration::from_secs(60))
                    .index()
                    >= target
            })
        })
        .collect();
    for _ in 0..20 {
        store.submit(Command::Tick).unwrap();
    }
    for w in waiters {
        assert!(w.join().unwrap(), "a thread waited out its timeout");
    }
}

#[test]
fn dropping_the_store_ends_every_wait() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), options(33));
    let mut changes = store.subscribe();
    drop(store);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        // The waker thread exits with the store and drops the channel's sender.
        let ended = tokio::time::timeout(Duration::from_secs(60), changes.changed())
            .await
            .expect("the wait did not end with the store");
        assert!(ended.is_err());
    });
}
