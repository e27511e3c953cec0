//! The past, re-derived (`Store::history`) and the live feed (`Store::commits`): what
//! the event stream is built on. A replay must give the very outcomes the writer gave.

mod common;

use common::*;
use rollout_engine::command::GcDeployments;
use rollout_engine::Command;
use rollout_store::workload::{self, mixed};
use rollout_store::{Committed, HistoryError, Options, Store};
use std::collections::BTreeMap;
use tokio::sync::broadcast::error::TryRecvError;

/// Submits `n` mixed commands plus a scheduling pass; returns every accepted write by
/// index, as the writer answered it.
fn fill(store: &Store, n: u64) -> BTreeMap<u64, Committed> {
    let mut seen = BTreeMap::new();
    for i in 0..n {
        if let Ok(c) = store.submit(mixed(i, 4)) {
            seen.insert(c.outcome.index, c);
        }
    }
    seen
}

fn assert_same(replayed: &Committed, live: &Committed) {
    assert_eq!(
        replayed.outcome, live.outcome,
        "index {}",
        live.outcome.index
    );
    assert_eq!(bytes(&replayed.state), bytes(&live.state));
    assert_eq!(bytes(&replayed.before), bytes(&live.before));
}

#[test]
fn history_replays_exactly_the_outcomes_the_writer_gave() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), options(11));
    let live = fill(&store, 60);
    let last = store.state().index();
    for from in [1, 2, 17, last] {
        let history = store.history(from).unwrap();
        assert_eq!((history.start(), history.through()), (from, last));
        let replayed: Vec<Committed> = history.map(Result::unwrap).collect();
        assert_eq!(replayed.len() as u64, last - from + 1);
        for r in &replayed {
            assert_same(r, &live[&r.outcome.index]);
        }
    }
    // Nothing after the committed index yet: an empty history, not an error.
    assert_eq!(store.history(last + 1).unwrap().count(), 0);
    // Index 0 is index 1.
    assert_eq!(store.history(0).unwrap().start(), 1);
}

#[test]
fn history_starts_from_a_snapshot_and_names_the_oldest_index_after_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || Options {
        snapshot_every_entries: 20,
        log_retention: rollout_store::LogRetention::Entries(5),
        snapshots_retained: 2,
        ..options(12)
    };
    let store = open(dir.path(), opts());
    let mut live = fill(&store, 150);
    // The cancelled deployments hold their history back (it is kept while they are in
    // the state): collect them, as the agent's GC does.
    let gc = store
        .submit(Command::GcDeployments(GcDeployments { threshold_ns: 0 }))
        .unwrap();
    live.insert(gc.outcome.index, gc);
    store.snapshot_now().unwrap();
    // Let the writer act on the truncation request.
    let c = store.submit(Command::Tick).unwrap();
    live.insert(c.outcome.index, c);
    let stats = store.stats();
    assert!(stats.truncated_through > 0, "{stats:?}");
    let last = store.state().index();

    let err = match store.history(1) {
        Err(e) => e,
        Ok(h) => panic!("history from 1 after truncation started at {}", h.start()),
    };
    let HistoryError::TooOld { requested, oldest } = err else {
        panic!("expected TooOld, got {err}");
    };
    assert_eq!(requested, 1);
    assert!(
        oldest > stats.truncated_through && oldest <= last,
        "{oldest}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "index 1 is older than the retained history: the oldest index that can be replayed is {oldest}"
        )
    );
    let replayed: Vec<Committed> = store.history(oldest).unwrap().map(Result::unwrap).collect();
    assert_eq!(replayed.first().map(|c| c.outcome.index), Some(oldest));
    for r in &replayed {
        assert_same(r, &live[&r.outcome.index]);
    }
    // After a restart too: the same bytes from the files alone.
    drop(store);
    let store = open(dir.path(), opts());
    for r in store.history(oldest).unwrap().map(Result::unwrap) {
        assert_same(&r, &live[&r.outcome.index]);
    }
}

#[test]
fn the_live_feed_carries_every_committed_write_after_its_state_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), options(13));
    let mut rx = store.commits();
    let mut answered = Vec::new();
    for i in 0..30 {
        if let Ok(c) = store.submit(mixed(i, 3)) {
            answered.push(c);
        }
    }
    workload::schedule(&store, T0, 5).unwrap();
    let mut fed = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(batch) => {
                for c in batch.iter() {
                    // Published before it was sent.
                    assert!(store.state().index() >= c.outcome.index);
                    fed.push(c.clone());
                }
            }
            Err(TryRecvError::Empty) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let indexes: Vec<u64> = fed.iter().map(|c| c.outcome.index).collect();
    assert_eq!(indexes, (1..=store.state().index()).collect::<Vec<_>>());
    for (a, f) in answered.iter().zip(&fed) {
        assert_eq!(a.outcome, f.outcome);
    }
    // Each write's `before` is the previous write's state.
    for pair in fed.windows(2) {
        assert_eq!(bytes(&pair[1].before), bytes(&pair[0].state));
    }
}
