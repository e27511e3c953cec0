mod common;

use common::*;
use rollout_engine::command::GcDeployments;
use rollout_engine::Command;
use rollout_store::workload::{self, mixed};
use rollout_store::{Options, Store, SubmitError};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn reopen_gives_identical_state_bytes_and_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let (before, indexes) = {
        let store = open(dir.path(), options(1));
        for n in 0..60 {
            let _ = store.submit(mixed(n, 4));
        }
        workload::schedule(&store, T0, 10).unwrap();
        let s = store.state();
        (bytes(&s), s.table_indexes())
    };
    let store = open(dir.path(), options(1));
    let after = store.state();
    assert_eq!(bytes(&after), before);
    assert_eq!(after.table_indexes(), indexes);
    let report = store.recovery_report();
    assert_eq!(report.snapshot_index, None);
    assert_eq!(report.entries_replayed, after.index());
    assert!(report.repairs.is_empty());
    // And a fresh replay of the log agrees with both.
    assert_eq!(bytes(&replay_log(&store)), before);
}

#[test]
fn reopen_from_snapshot_and_truncated_log_gives_identical_state() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || Options {
        snapshot_every_entries: 25,
        log_retention: rollout_store::LogRetention::Entries(10),
        snapshots_retained: 2,
        ..options(2)
    };
    let before = {
        let store = open(dir.path(), opts());
        for n in 0..200 {
            let _ = store.submit(mixed(n, 5));
        }
        // The cancelled deployments hold their history back (it is kept while they are
        // in the state): collect them, as the agent's GC does.
        store
            .submit(Command::GcDeployments(GcDeployments { threshold_ns: 0 }))
            .unwrap();
        let info = store.snapshot_now().unwrap();
        assert!(info.is_some() || store.stats().last_snapshot.is_some());
        // Let the writer process the truncation request.
        let _ = store.submit(Command::Tick).unwrap();
        let stats = store.stats();
        assert!(stats.snapshots_written >= 1, "{stats:?}");
        assert!(stats.truncated_through > 0, "{stats:?}");
        (
            bytes(&store.state()),
            store.state().table_indexes(),
            stats.truncated_through,
        )
    };
    let store = open(dir.path(), opts());
    let report = store.recovery_report().clone();
    assert!(report.snapshot_index.is_some(), "{report:?}");
    assert!(report.entries_replayed < 30, "{report:?}");
    assert_eq!(bytes(&store.state()), before.0);
    assert_eq!(store.state().table_indexes(), before.1);
    // The snapshots left are the base of the retained log and those above it: the oldest
    // is exactly where the log was truncated (so every one is usable), none older remains.
    let snaps = snapshot_indexes(dir.path());
    assert_eq!(snaps.first(), Some(&before.2), "{snaps:?}");
}

#[test]
fn rejected_commands_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), options(3));
    store.submit(workload::register("web", 2, "app:1")).unwrap();
    let before = store.state();
    let err = store
        .submit(workload::fail_unknown_deployment(7))
        .unwrap_err();
    assert!(
        matches!(err, SubmitError::Rejected(_)),
        "expected a rejection, got {err}"
    );
    assert_eq!(err.rejection().unwrap().to_string(), "deployment not found");
    assert!(Arc::ptr_eq(&before, &store.state()));
    assert_log_contiguous(&store, 1);
    // The next accepted command takes the next index: no hole was left.
    let c = store.submit(Command::Tick).unwrap();
    assert_eq!(c.outcome.index, 2);
    assert_eq!(store.stats().rejected, 1);
    drop(store);
    let store = open(dir.path(), options(3));
    assert_log_contiguous(&store, 2);
}

#[test]
fn engine_config_of_a_new_store_is_kept_across_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(4);
    opts.engine_config.job_tracked_versions = 2;
    let store = open(dir.path(), opts);
    store.submit(Command::Tick).unwrap();
    drop(store);
    // A different config on reopen is ignored: replay must start where the log did.
    let store = open(dir.path(), options(4));
    assert_eq!(store.state().config().job_tracked_versions, 2);
}

#[test]
fn readers_wait_for_an_index_without_polling() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path(), options(5)));
    let waiter = {
        let store = store.clone();
        std::thread::spawn(move || store.wait_for_index(3, Duration::from_secs(30)).index())
    };
    let mut rx = store.subscribe();
    for _ in 0..3 {
        store.submit(Command::Tick).unwrap();
    }
    assert!(waiter.join().unwrap() >= 3);
    // The watch is signalled by the waker thread after the writer answered (off the
    // write path), so it may lag the published state a moment: wait for it, bounded.
    // (Asserting it at once raced the waker and failed CI once.)
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let signalled = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|i| *i >= 3))
            .await
            .expect("the watch is signalled for index 3")
            .map(|i| *i)
    });
    assert_eq!(signalled.unwrap(), 3);
    // A wait that cannot be satisfied returns the current state at the timeout.
    let s = store.wait_for_index(100, Duration::from_millis(20));
    assert_eq!(s.index(), 3);
}

#[test]
fn async_submit_and_watch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path(), options(6)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut rx = store.subscribe();
        let pending: Vec<_> = (0..5).map(|_| store.submit_async(Command::Tick)).collect();
        let mut indexes = Vec::new();
        for p in pending {
            indexes.push(p.await.unwrap().outcome.index);
        }
        // Queued in call order, so committed in call order.
        assert_eq!(indexes, vec![1, 2, 3, 4, 5]);
        rx.wait_for(|i| *i >= 5).await.unwrap();
        let err = store
            .submit_async(workload::fail_unknown_deployment(1))
            .await
            .unwrap_err();
        assert!(err.rejection().is_some());
    });
}

#[test]
fn log_time_never_goes_backwards() {
    struct BackwardsClock(std::sync::atomic::AtomicI64);
    impl rollout_engine::Stamp for BackwardsClock {
        fn now(&self) -> i64 {
            self.0
                .fetch_sub(1_000, std::sync::atomic::Ordering::Relaxed)
        }
        fn entropy(&self) -> Result<rollout_engine::Entropy, rollout_engine::StampError> {
            Ok(rollout_engine::Entropy::from_u64(1))
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        stamp: Arc::new(BackwardsClock(T0.into())),
        ..options(0)
    };
    let store = Store::open(dir.path(), opts).unwrap();
    for _ in 0..3 {
        store.submit(Command::Tick).unwrap();
    }
    let log = store.read_log(1, 10).unwrap();
    assert!(log.windows(2).all(|w| w[0].now <= w[1].now));
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _store = open(dir.path(), options(7));
    let err = Store::open(dir.path(), options(7))
        .err()
        .expect("second open fails");
    assert!(err.to_string().contains("rollout.redb"), "{err}");
}

/// Log records written while the deployment writes' `DeploymentID` was an
/// `Option<Uuid>` (bytes and JSON captured from that build): they decode to the same
/// commands now that it is a plain `Uuid`, and re-encode to the same bytes.
#[test]
fn deployment_writes_logged_with_optional_ids_still_decode() {
    use rollout_engine::command::{
        FailDeployment, PauseDeployment, PromoteDeployment, SetAllocHealth,
    };
    use rollout_engine::{Entropy, Envelope};
    use rollout_store::codec::{decode_log_record, encode_log_record};
    use uuid::Uuid;

    let d = Uuid::from_u128(0x5c0f0a8e_1234_4abc_9def_0123456789ab);
    let a = Uuid::from_u128(0x11111111_2222_4333_8444_555555555555);
    let commands = [
        Command::SetAllocHealth(SetAllocHealth {
            deployment_id: d,
            healthy_allocation_ids: vec![a],
            unhealthy_allocation_ids: vec![],
        }),
        Command::PromoteDeployment(PromoteDeployment {
            deployment_id: d,
            all: false,
            groups: Some(vec!["web".into()]),
        }),
        Command::PauseDeployment(PauseDeployment {
            deployment_id: d,
            pause: true,
        }),
        Command::FailDeployment(FailDeployment { deployment_id: d }),
    ];
    let records = [
        concat!(
            "01b2626e5a84a5696e64657807a36e6f77cf17979cfe362a0000a7656e74726f7079c42009000000",
            "00000000000000000000000000000000000000000000000000000000a7636f6d6d616e6481ae5365",
            "74416c6c6f634865616c746883ac4465706c6f796d656e744944c4105c0f0a8e12344abc9def0123",
            "456789abb44865616c746879416c6c6f636174696f6e49447391c410111111112222433384445555",
            "55555555b6556e6865616c746879416c6c6f636174696f6e49447390"
        ),
        concat!(
            "01eb2c1e1c84a5696e64657808a36e6f77cf17979cfe362a0000a7656e74726f7079c42009000000",
            "00000000000000000000000000000000000000000000000000000000a7636f6d6d616e6481b15072",
            "6f6d6f74654465706c6f796d656e7483ac4465706c6f796d656e744944c4105c0f0a8e12344abc9d",
            "ef0123456789aba3416c6cc2a647726f75707391a3776562"
        ),
        concat!(
            "014a4418bb84a5696e64657809a36e6f77cf17979cfe362a0000a7656e74726f7079c42009000000",
            "00000000000000000000000000000000000000000000000000000000a7636f6d6d616e6481af5061",
            "7573654465706c6f796d656e7482ac4465706c6f796d656e744944c4105c0f0a8e12344abc9def01",
            "23456789aba55061757365c3"
        ),
        concat!(
            "014b86a64a84a5696e6465780aa36e6f77cf17979cfe362a0000a7656e74726f7079c42009000000",
            "00000000000000000000000000000000000000000000000000000000a7636f6d6d616e6481ae4661",
            "696c4465706c6f796d656e7481ac4465706c6f796d656e744944c4105c0f0a8e12344abc9def0123",
            "456789ab"
        ),
    ];
    let json = [
        r#"{"index":7,"now":1700000000000000000,"entropy":"0900000000000000000000000000000000000000000000000000000000000000","command":{"SetAllocHealth":{"DeploymentID":"5c0f0a8e-1234-4abc-9def-0123456789ab","HealthyAllocationIDs":["11111111-2222-4333-8444-555555555555"],"UnhealthyAllocationIDs":[]}}}"#,
        r#"{"index":8,"now":1700000000000000000,"entropy":"0900000000000000000000000000000000000000000000000000000000000000","command":{"PromoteDeployment":{"DeploymentID":"5c0f0a8e-1234-4abc-9def-0123456789ab","All":false,"Groups":["web"]}}}"#,
        r#"{"index":9,"now":1700000000000000000,"entropy":"0900000000000000000000000000000000000000000000000000000000000000","command":{"PauseDeployment":{"DeploymentID":"5c0f0a8e-1234-4abc-9def-0123456789ab","Pause":true}}}"#,
        r#"{"index":10,"now":1700000000000000000,"entropy":"0900000000000000000000000000000000000000000000000000000000000000","command":{"FailDeployment":{"DeploymentID":"5c0f0a8e-1234-4abc-9def-0123456789ab"}}}"#,
    ];
    for (i, command) in commands.into_iter().enumerate() {
        let want = Envelope::new(
            7 + i as u64,
            1_700_000_000_000_000_000,
            Entropy::from_u64(9),
            command,
        );
        let bytes = hex::decode(records[i]).unwrap();
        assert_eq!(decode_log_record(&bytes).unwrap(), want, "record {i}");
        assert_eq!(encode_log_record(&want).unwrap(), bytes, "record {i}");
        assert_eq!(
            serde_json::from_str::<Envelope>(json[i]).unwrap(),
            want,
            "json {i}"
        );
        assert_eq!(serde_json::to_string(&want).unwrap(), json[i], "json {i}");
    }
}

/// A client update's `TaskStates` (task states, events with their details and
/// nanosecond times, `time.Time` fields) survive the log codec unchanged.
#[test]
fn client_task_states_survive_the_log_codec() {
    use rollout_engine::command::{ClientAllocUpdate, ClientAllocUpdates};
    use rollout_engine::model::{SmallMap, TaskEvent, TaskState, Timestamp};
    use rollout_engine::{Entropy, Envelope};
    use rollout_store::codec::{decode_log_record, encode_log_record};

    let mut details = SmallMap::new();
    details.insert("exit_code".to_string(), "1".to_string());
    let event = |kind: &str, time: i64| TaskEvent {
        event_type: kind.to_string(),
        time,
        details: Some(details.clone()),
        display_message: format!("{kind} message"),
        exit_code: 1,
        ..TaskEvent::default()
    };
    let mut states = SmallMap::new();
    states.insert(
        "app".to_string(),
        TaskState {
            state: "dead".into(),
            failed: true,
            started_at: Timestamp(T0 + 1),
            finished_at: Timestamp(T0 + 2),
            events: Some(vec![event("Started", T0 + 1), event("Terminated", T0 + 2)]),
            ..TaskState::default()
        },
    );
    let envelope = Envelope::new(
        7,
        T0,
        Entropy::from_u64(7),
        Command::UpdateAllocsFromClient(ClientAllocUpdates {
            allocations: vec![ClientAllocUpdate {
                id: uuid::Uuid::from_u128(1),
                client_status: "failed".into(),
                task_states: Some(states),
                modify_time: T0 + 2,
                ..ClientAllocUpdate::default()
            }],
        }),
    );
    let bytes = encode_log_record(&envelope).unwrap();
    assert_eq!(decode_log_record(&bytes).unwrap(), envelope);
}

/// Nodes (R12) and versions kept for their allocations (§7.6) are tables like the
/// others: a snapshot plus the log tail rebuild them byte for byte.
#[test]
fn nodes_survive_a_snapshot_and_reopen() {
    use rollout_engine::node::{Node, RegisterNode};
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let store = open(dir.path(), options(7));
        for n in 0..3 {
            store
                .submit(Command::RegisterNode(RegisterNode {
                    node: Node {
                        id: format!("node-{n}"),
                        name: format!("n{n}"),
                        datacenter: "dc1".into(),
                        status: "ready".into(),
                        drivers: Some(serde_json::json!({"mock": {"Detected": true}})),
                        ..Node::default()
                    },
                }))
                .unwrap();
        }
        store.snapshot_now().unwrap();
        store
            .submit(Command::RegisterNode(RegisterNode {
                node: Node {
                    id: "node-0".into(),
                    name: "n0".into(),
                    datacenter: "dc1".into(),
                    status: "down".into(),
                    ..Node::default()
                },
            }))
            .unwrap();
        bytes(&store.state())
    };
    let store = open(dir.path(), options(7));
    assert_eq!(bytes(&store.state()), before);
    let n0 = store.state().node("node-0").unwrap();
    assert_eq!((n0.status.as_str(), n0.events.len()), ("down", 2));
    assert_eq!(
        store.state().node("node-1").unwrap().drivers,
        Some(serde_json::json!({"mock": {"Detected": true}}))
    );
}

/// Issue 16: the actor a command was submitted as is in its logged envelope, survives
/// the log codec and a reopen, and is what `Committed` (the submit reply, the commit
/// feed, history) reports. A command submitted without one logs none.
#[test]
fn the_submitting_actor_survives_the_log_codec_and_a_reopen() {
    use rollout_engine::{Actor, Entropy, Envelope};
    use rollout_store::codec::{decode_log_record, encode_log_record};

    let accessor = uuid::Uuid::from_u128(0x3f2a_0000_0000_4000_8000_0000_0000_0001);
    let operator = Actor::operator(Some(accessor), "ci-token");
    let env = Envelope::new(4, T0, Entropy::from_u64(2), Command::Tick)
        .with_actor(Some(operator.clone()));
    let bytes = encode_log_record(&env).unwrap();
    assert_eq!(decode_log_record(&bytes).unwrap(), env);

    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path(), options(7));
        let mut feed = store.commits();
        let c = store
            .submit_as(Command::Tick, Some(operator.clone()))
            .unwrap();
        assert_eq!(c.actor, Some(operator.clone()));
        let fed = feed.try_recv().unwrap();
        assert_eq!(fed[0].actor, Some(operator.clone()));
        assert_eq!(store.submit(Command::Tick).unwrap().actor, None);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let gc = rt
            .block_on(store.submit_async_as(Command::Tick, Some(Actor::gc())))
            .unwrap();
        assert_eq!(gc.actor, Some(Actor::gc()));
    }
    let store = open(dir.path(), options(7));
    let log = store.read_log(1, 10).unwrap();
    let actors: Vec<_> = log.iter().map(|e| e.actor.clone()).collect();
    assert_eq!(
        actors,
        vec![Some(operator.clone()), None, Some(Actor::gc())]
    );
    let history: Vec<_> = store
        .history(1)
        .unwrap()
        .map(|c| c.unwrap().actor)
        .collect();
    assert_eq!(history, actors);
}
