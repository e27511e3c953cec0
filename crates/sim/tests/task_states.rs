//! The task states simulated clients report, as Nomad's client reports them: the event
//! sequences of a start, a failure and a stop, with the simulator's clock for every time.

use rollout_engine::model::{
    client_status, Allocation, TaskState, Timestamp, UpdateStrategy, MINUTE_NS, SECOND_NS,
};
use rollout_sim::jobs::JobSpec;
use rollout_sim::tasks::MAX_EVENTS;
use rollout_sim::{
    Action, FaultKind, FaultModel, FaultRule, GroupSpec, JobChange, ScriptStep, SimConfig,
    Simulation,
};

fn web(count: u64) -> JobSpec {
    let mut g = GroupSpec::new("api", count);
    g.update = UpdateStrategy {
        max_parallel: Some(1),
        min_healthy_time: Some(5 * SECOND_NS),
        healthy_deadline: Some(MINUTE_NS),
        progress_deadline: Some(5 * MINUTE_NS),
        ..UpdateStrategy::nomad_default()
    };
    JobSpec {
        id: "web".into(),
        groups: vec![g],
        initial_release: "web:v1".into(),
    }
}

/// A run of `web` (2 allocations) that moves to `web:v2` after two minutes, `v2` failing
/// as `fault` says (no fault: healthy).
fn rollout_to_v2(seed: u64, fault: Option<FaultKind>) -> Simulation {
    let mut config = SimConfig::new(seed, 3, vec![web(2)]);
    if let Some(kind) = fault {
        config.faults = FaultModel {
            rules: vec![FaultRule {
                release: Some("web:v2".into()),
                group: None,
                probability: 1.0,
                kind,
            }],
            node_loss: None,
        };
    }
    config.script.push(ScriptStep {
        at_ns: 2 * MINUTE_NS,
        action: Action::Register {
            job: "web".into(),
            change: JobChange::Release("web:v2".into()),
        },
    });
    let mut sim = Simulation::new(config);
    sim.run();
    sim
}

fn allocs(sim: &Simulation) -> Vec<Allocation> {
    sim.state()
        .allocs_in_namespace(None)
        .into_iter()
        .map(|a| (**a).clone())
        .collect()
}

fn app(a: &Allocation) -> TaskState {
    a.task_states
        .as_ref()
        .and_then(|s| s.get("app"))
        .cloned()
        .unwrap_or_else(|| panic!("{} reports no task app", a.name))
}

/// `(Type, DisplayMessage)` of every event of the task.
fn events(s: &TaskState) -> Vec<(String, String)> {
    s.events
        .iter()
        .flatten()
        .map(|e| (e.event_type.clone(), e.display_message.clone()))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(t, m)| (t.to_string(), m.to_string()))
        .collect()
}

const STARTED: [(&str, &str); 3] = [
    ("Received", "Task received by client"),
    ("Task Setup", "Building Task Directory"),
    ("Started", "Task started by client"),
];

/// Event times come from the simulator's clock: in order, within the run.
fn assert_times_in_order(sim: &Simulation, a: &Allocation, s: &TaskState) {
    let times: Vec<i64> = s.events.iter().flatten().map(|e| e.time).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(times[0] >= a.create_time, "received after placement");
    assert!(*times.last().unwrap() <= sim.now());
    assert!(
        times.last() <= Some(&a.modify_time),
        "reported with the update"
    );
}

#[test]
fn a_started_task_reports_received_setup_and_started_and_runs() {
    let sim = rollout_to_v2(1, None);
    let running: Vec<Allocation> = allocs(&sim)
        .into_iter()
        .filter(|a| a.client_status == client_status::RUNNING)
        .collect();
    assert_eq!(running.len(), 2);
    for a in &running {
        let s = app(a);
        assert_eq!(events(&s), pairs(&STARTED), "{}", a.name);
        assert_eq!(s.state, "running");
        assert!(!s.failed);
        assert_eq!(s.restarts, 0);
        let started = &s.events.as_ref().unwrap()[2];
        assert_eq!(s.started_at, Timestamp(started.time));
        assert_eq!(s.finished_at, Timestamp::ZERO);
        assert_times_in_order(&sim, a, &s);
        // Nomad's `NewTaskEvent` gives every event a (possibly empty) details map.
        let setup = &s.events.as_ref().unwrap()[1];
        assert_eq!(
            setup
                .details
                .as_ref()
                .and_then(|d| d.get("message"))
                .map(String::as_str),
            Some("Building Task Directory")
        );
    }
}

#[test]
fn a_stopped_task_reports_killing_and_killed_and_is_dead_not_failed() {
    let sim = rollout_to_v2(2, None);
    let stopped: Vec<Allocation> = allocs(&sim)
        .into_iter()
        .filter(|a| a.client_status == client_status::COMPLETE)
        .collect();
    assert_eq!(stopped.len(), 2, "v1's allocations were replaced");
    for a in &stopped {
        let s = app(a);
        let mut expected = STARTED.to_vec();
        expected.push(("Killing", "Sent interrupt. Waiting 5s before force killing"));
        expected.push(("Killed", "Task successfully killed"));
        assert_eq!(events(&s), pairs(&expected), "{}", a.name);
        assert_eq!((s.state.as_str(), s.failed), ("dead", false));
        let ev = s.events.as_ref().unwrap();
        assert_eq!(ev[3].kill_timeout, 5 * SECOND_NS);
        assert!(
            ev[3].time < ev[4].time,
            "the kill is sent when the stop arrives, the task exits later"
        );
        assert_eq!(s.finished_at, Timestamp(ev[4].time));
        assert_times_in_order(&sim, a, &s);
    }
}

#[test]
fn a_failed_task_reports_exit_code_1_and_not_restarting_and_is_dead_and_failed() {
    let fault = FaultKind::FailAfter {
        min_ns: 20 * SECOND_NS,
        max_ns: 30 * SECOND_NS,
    };
    let sim = rollout_to_v2(3, Some(fault));
    let failed: Vec<Allocation> = allocs(&sim)
        .into_iter()
        .filter(|a| a.client_status == client_status::FAILED)
        .collect();
    assert!(!failed.is_empty());
    for a in &failed {
        let s = app(a);
        let mut expected = STARTED.to_vec();
        expected.push(("Terminated", "Exit Code: 1"));
        // The engine's canonical service restart policy: 2 attempts in 30 minutes.
        expected.push((
            "Not Restarting",
            "Exceeded allowed attempts 2 in interval 30m0s and mode is \"fail\"",
        ));
        assert_eq!(events(&s), pairs(&expected), "{}", a.name);
        assert_eq!((s.state.as_str(), s.failed), ("dead", true));
        let ev = s.events.as_ref().unwrap();
        assert_eq!(ev[3].exit_code, 1);
        assert!(ev[4].fails_task);
        assert_eq!(s.finished_at, Timestamp(ev[3].time));
        let ran = ev[3].time - s.started_at.nanos();
        assert!((20 * SECOND_NS..=30 * SECOND_NS).contains(&ran), "{ran}");
        assert_times_in_order(&sim, a, &s);
    }
}

#[test]
fn a_task_that_fails_to_start_starts_and_exits_at_once() {
    let sim = rollout_to_v2(4, Some(FaultKind::FailToStart));
    let failed: Vec<Allocation> = allocs(&sim)
        .into_iter()
        .filter(|a| a.client_status == client_status::FAILED)
        .collect();
    assert!(!failed.is_empty());
    for a in &failed {
        let s = app(a);
        let types: Vec<String> = events(&s).into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            types,
            [
                "Received",
                "Task Setup",
                "Started",
                "Terminated",
                "Not Restarting"
            ]
        );
        assert_eq!(s.started_at, s.finished_at);
        assert!(s.failed);
    }
}

#[test]
fn reports_stay_small() {
    let sim = rollout_to_v2(5, None);
    for a in allocs(&sim) {
        for (_, s) in a.task_states.iter().flat_map(|m| m.iter()) {
            assert!(s.events.as_ref().map_or(0, Vec::len) <= MAX_EVENTS);
        }
    }
}

#[test]
fn the_same_seed_reports_the_same_task_states() {
    let a = rollout_to_v2(6, None);
    let b = rollout_to_v2(6, None);
    assert_eq!(a.fingerprint(), b.fingerprint());
    let states = |s: &Simulation| -> Vec<_> {
        allocs(s)
            .into_iter()
            .map(|a| (a.id, a.task_states.clone()))
            .collect()
    };
    assert_eq!(states(&a), states(&b));
}
