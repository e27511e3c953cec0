//! Three nodes over a lossy network: requests and answers lost, duplicated, delayed and
//! reordered at random, links cut one way and a leader isolated, while four clients
//! write and read four keys through random nodes. The recorded history must be
//! linearizable (each key a register: `common/linearizability.rs`), and once the network
//! heals every node must hold the same state.
//!
//! Seeded: `ROLLOUT_FAULT_SEED=N cargo test -p rollout-cluster --test faults` reruns a
//! seed (the faults and the clients' choices come from it; the interleaving does not).

mod common;
#[path = "common/linearizability.rs"]
mod linearizability;

use common::{settings, Cluster};
use linearizability::{linearizable, Event, Op};
use rand_chacha::rand_core::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rollout_cluster::transport::faults::{NetFaults, NetRates};
use rollout_cluster::{ClusterError, Node};
use rollout_engine::command::RegisterJob;
use rollout_engine::testing::{service_job, update};
use rollout_engine::Command;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEYS: usize = 4;
const CLIENTS: usize = 4;
const OPS_PER_CLIENT: usize = 40;

fn seed() -> u64 {
    std::env::var("ROLLOUT_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_203)
}

/// Writing `value` to `key`: registering job `key` with the value in its meta.
fn write(key: &str, value: u32) -> Command {
    let mut job = service_job(key, 1, update(1, 0));
    job.meta = Some([("v".to_string(), value.to_string())].into_iter().collect());
    Command::RegisterJob(RegisterJob {
        job,
        ..RegisterJob::default()
    })
}

/// The value of `key` a consistent read on `node` sees.
async fn read(node: &Node, key: &str) -> Result<Option<u32>, ClusterError> {
    node.ensure_linearizable().await?;
    let state = node.state();
    Ok(state
        .job("default", key)
        .and_then(|j| j.meta.as_ref()?.get("v")?.parse().ok()))
}

#[derive(Default)]
struct Recorded {
    by_key: BTreeMap<usize, Vec<Event>>,
    writes_ok: usize,
    writes_unknown: usize,
    reads_ok: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_through_lost_duplicated_and_reordered_messages_and_partitions_is_linearizable() {
    let seed = seed();
    eprintln!("ROLLOUT_FAULT_SEED={seed}");
    let faults = NetFaults::new(seed);
    let cluster = Arc::new(Cluster::start_with_faults(settings(), Some(faults.clone())).await);
    faults.set_rates(NetRates {
        drop_request: 0.03,
        drop_response: 0.03,
        duplicate: 0.05,
        delay: 0.3,
        max_delay: Duration::from_millis(40),
    });
    let epoch = Instant::now();
    let now = move || epoch.elapsed().as_nanos() as u64;
    let recorded = Arc::new(Mutex::new(Recorded::default()));

    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let cluster = cluster.clone();
            let recorded = recorded.clone();
            tokio::spawn(async move {
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (c as u64 + 1) << 32);
                for n in 0..OPS_PER_CLIENT {
                    let key = (rng.next_u64() % KEYS as u64) as usize;
                    let node = cluster.node(1 + rng.next_u64() % 3);
                    let name = format!("k{key}");
                    let invoked = now();
                    if rng.next_u64() % 2 == 0 {
                        let value = (c * OPS_PER_CLIENT + n + 1) as u32;
                        let result = node.write(write(&name, value)).await;
                        let answered = now();
                        let mut r = recorded.lock().unwrap();
                        let answered = match result {
                            Ok(_) => {
                                r.writes_ok += 1;
                                Some(answered)
                            }
                            // Nothing was proposed: the write did not happen.
                            Err(ClusterError::NoLeader) => continue,
                            Err(ClusterError::Refused { error, .. }) => {
                                panic!("a registration was refused: {error}")
                            }
                            // Its fate is unknown: it may take effect, once, or never.
                            Err(_) => {
                                r.writes_unknown += 1;
                                None
                            }
                        };
                        r.by_key.entry(key).or_default().push(Event {
                            op: Op::Write(value),
                            invoked,
                            answered,
                        });
                    } else if let Ok(value) = read(node, &name).await {
                        let answered = now();
                        let mut r = recorded.lock().unwrap();
                        r.reads_ok += 1;
                        r.by_key.entry(key).or_default().push(Event {
                            op: Op::Read(value),
                            invoked,
                            answered: Some(answered),
                        });
                    }
                }
            })
        })
        .collect();

    // The nemesis: one-way cuts and an isolated leader while the clients run.
    let addrs: Vec<String> = cluster.addrs.iter().map(|a| a.to_string()).collect();
    let leader = cluster.agreed_leader().await;
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    let (l, f) = (
        addrs[(leader - 1) as usize].clone(),
        addrs[(follower - 1) as usize].clone(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    faults.cut_one_way(&l, &f);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    faults.heal();
    faults.isolate(&l, &addrs);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    faults.heal();
    faults.cut_one_way(&f, &l);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    faults.heal();

    for client in clients {
        tokio::time::timeout(Duration::from_secs(240), client)
            .await
            .expect("the clients finish")
            .unwrap();
    }
    faults.set_rates(NetRates::default());
    faults.heal();
    cluster.quiet_fingerprint().await;

    let injected = faults.injected();
    let r = recorded.lock().unwrap();
    eprintln!(
        "{} writes acknowledged, {} of unknown fate, {} reads; faults injected: {injected:?}",
        r.writes_ok, r.writes_unknown, r.reads_ok
    );
    assert!(
        injected.dropped_requests > 0 && injected.dropped_responses > 0,
        "{injected:?}"
    );
    assert!(
        injected.duplicated > 0 && injected.delayed > 0,
        "{injected:?}"
    );
    assert!(
        r.writes_ok > 0 && r.reads_ok > 0,
        "the clients made no progress"
    );
    for (key, events) in &r.by_key {
        assert!(
            linearizable(events),
            "the history of k{key} is not linearizable (seed {seed}): {events:#?}"
        );
    }
    // Every value an acknowledged write set is the one of some write (no invented state),
    // and every node ends with the same value per key.
    for key in 0..KEYS {
        let name = format!("k{key}");
        let values: Vec<Option<u32>> = cluster
            .running()
            .map(|n| {
                n.state()
                    .job("default", &name)
                    .and_then(|j| j.meta.as_ref()?.get("v")?.parse().ok())
            })
            .collect();
        assert!(values.iter().all(|v| *v == values[0]), "k{key}: {values:?}");
    }
}

#[test]
fn the_checker_accepts_linearizable_histories_and_refuses_the_others() {
    let ev = |op, invoked, answered| Event {
        op,
        invoked,
        answered,
    };
    assert!(linearizable(&[
        ev(Op::Read(None), 0, Some(1)),
        ev(Op::Write(1), 2, Some(3)),
        ev(Op::Read(Some(1)), 4, Some(5)),
    ]));
    // A stale read after an acknowledged newer write.
    assert!(!linearizable(&[
        ev(Op::Write(1), 0, Some(1)),
        ev(Op::Write(2), 2, Some(3)),
        ev(Op::Read(Some(1)), 4, Some(5)),
    ]));
    // Concurrent writes take effect in either order.
    assert!(linearizable(&[
        ev(Op::Write(1), 0, Some(10)),
        ev(Op::Write(2), 1, Some(9)),
        ev(Op::Read(Some(1)), 11, Some(12)),
    ]));
    // A write of unknown fate may take effect late, or never — but not twice.
    assert!(linearizable(&[
        ev(Op::Write(1), 0, Some(1)),
        ev(Op::Write(2), 2, None),
        ev(Op::Read(Some(1)), 3, Some(4)),
        ev(Op::Read(Some(2)), 5, Some(6)),
    ]));
    assert!(linearizable(&[
        ev(Op::Write(2), 0, None),
        ev(Op::Read(None), 5, Some(6))
    ]));
    assert!(!linearizable(&[
        ev(Op::Write(1), 0, None),
        ev(Op::Read(Some(1)), 1, Some(2)),
        ev(Op::Write(3), 3, Some(4)),
        ev(Op::Read(Some(1)), 5, Some(6)),
    ]));
}
