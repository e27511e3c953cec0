//! Many threads submitting at once: group commit must keep every caller's answer its
//! own, and the log's order must be the order commands were applied in.

mod common;

use common::*;
use rollout_engine::{apply, Envelope, State};
use rollout_store::workload;
use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};

const THREADS: usize = 16;
const PER_THREAD: usize = 40;

#[test]
fn concurrent_submitters_each_get_their_own_outcome_in_log_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path(), options(11)));
    let barrier = Arc::new(Barrier::new(THREADS));
    let started = std::time::Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let mut results = Vec::new();
                for k in 0..PER_THREAD {
                    // Every fifth command is one the engine rejects, interleaved with the
                    // accepted ones of other threads in the same batches.
                    let (job, command) = if k % 5 == 4 {
                        (
                            None,
                            workload::fail_unknown_deployment((t * 1000 + k) as u64),
                        )
                    } else {
                        let job = format!("t{t}-job{}", k % 3);
                        let cmd = workload::register(&job, 1, &format!("app:{k}"));
                        (Some(job), cmd)
                    };
                    let result = store.submit(command.clone());
                    results.push((job, command, result));
                }
                results
            })
        })
        .collect();
    let mut by_index: BTreeMap<u64, (String, rollout_store::Committed)> = BTreeMap::new();
    let mut rejected = 0;
    for h in handles {
        for (job, command, result) in h.join().unwrap() {
            match (job, result) {
                (Some(job), Ok(c)) => {
                    // The outcome belongs to this caller's command: the deployment it
                    // created is for this caller's job, in the state it was handed.
                    let d = &c.outcome.deployments_created;
                    assert_eq!(d.len(), 1, "{command:?}");
                    assert_eq!(c.state.deployment(&d[0]).unwrap().job_id, job);
                    assert_eq!(c.state.index(), c.outcome.index);
                    assert!(by_index.insert(c.outcome.index, (job, c)).is_none());
                }
                (None, Err(e)) => {
                    assert!(e.rejection().is_some(), "{e}");
                    rejected += 1;
                }
                (job, other) => panic!("unexpected result for {job:?}: {other:?}"),
            }
        }
    }
    eprintln!("submitted in {:?}: {:?}", started.elapsed(), store.stats());
    let accepted = THREADS * PER_THREAD - rejected;
    assert_eq!(rejected, THREADS * PER_THREAD / 5);
    assert_eq!(by_index.len(), accepted);
    let stats = store.stats();
    assert_eq!(stats.committed as usize, accepted);
    assert!(
        stats.batches < accepted as u64,
        "no batching happened: {stats:?}"
    );

    // Replaying the log in order gives, at each index, the very outcome and state that
    // index's caller received: log order is apply order.
    let log: Vec<Envelope> = store.read_log(1, usize::MAX).unwrap();
    assert_eq!(log.len(), accepted);
    let mut state = State::new();
    for env in &log {
        let (next, outcome) = apply(&state, env).unwrap();
        let (job, committed) = &by_index[&env.index];
        assert_eq!(outcome, committed.outcome, "index {}", env.index);
        assert!(
            next == *committed.state,
            "state differs at index {}",
            env.index
        );
        let rollout_engine::Command::RegisterJob(r) = &env.command else {
            panic!("only registrations are accepted here")
        };
        assert_eq!(&r.job.id, job);
        state = next;
    }
    assert_eq!(bytes(&state), bytes(&store.state()));
}
