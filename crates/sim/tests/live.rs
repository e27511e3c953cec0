//! The live cluster under virtual time: the loop `rollout agent --dev` runs, with the
//! store replaced by a plain `apply` and the wall clock by a number the test moves. Other
//! writers (the test, playing operator) change the state between the cluster's commands,
//! as the HTTP API does.

use rollout_engine::command::{RegisterJob, SetAllocHealth};
use rollout_engine::model::{client_status, health_check, Job, UpdateStrategy, SECOND_NS};
use rollout_engine::{
    next_deadline, Command, DeploymentEngine, EngineConfig, Error, Outcome, SeededStamp, State,
    VirtualClock,
};
use rollout_sim::jobs::JobSpec;
use rollout_sim::knobs::{FAIL_TO_START, NEVER_HEALTHY, START_DELAY};
use rollout_sim::{GroupSpec, LiveCluster, LiveConfig, Note};

const T0: i64 = 1_700_000_000_000_000_000;

/// The engine with a clock the test moves.
struct Engine {
    engine: DeploymentEngine,
    clock: VirtualClock,
}

impl Engine {
    fn new() -> Engine {
        let clock = VirtualClock::new(T0);
        Engine {
            engine: DeploymentEngine::new(
                EngineConfig::default(),
                SeededStamp::new(1, clock.clone()),
            ),
            clock,
        }
    }

    fn state(&self) -> &State {
        self.engine.state()
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    fn submit(&mut self, command: Command) -> Result<Outcome, Error> {
        self.engine.submit(command).map(|a| a.outcome)
    }

    fn register(&mut self, job: Job) -> Outcome {
        self.submit(Command::RegisterJob(RegisterJob {
            job,
            ..RegisterJob::default()
        }))
        .expect("register")
    }

    fn deployment(&self) -> &rollout_engine::model::Deployment {
        self.state()
            .latest_job_deployment("default", "web")
            .expect("a deployment")
    }

    fn elapsed_s(&self) -> f64 {
        (self.now() - T0) as f64 / 1e9
    }
}

/// Runs the cluster (and the deadline timer) until nothing is due before `until_ns` after
/// the start. Returns the notes it made.
fn run(cluster: &mut LiveCluster, engine: &mut Engine, until_ns: i64) -> Vec<Note> {
    let mut notes = Vec::new();
    for _ in 0..10_000 {
        cluster.observe(engine.state(), engine.now());
        notes.extend(cluster.drain_notes());
        if let Some(work) = cluster.next_work(engine.state(), engine.now()) {
            let result = engine.submit(work.command);
            cluster.done(work.ticket, result.as_ref().err());
            continue;
        }
        let deadline = next_deadline(engine.state());
        let wake = cluster.next_wake(engine.state(), engine.now());
        let Some(next) = [deadline, wake].into_iter().flatten().min() else {
            return notes;
        };
        if next > T0 + until_ns {
            return notes;
        }
        engine.clock.set(engine.now().max(next));
        if deadline.is_some_and(|d| d <= engine.now()) {
            engine.submit(Command::Tick).expect("tick");
        }
    }
    panic!("the cluster did not settle in 10 000 steps");
}

fn job(count: u64, release: &str, update: UpdateStrategy) -> Job {
    let mut group = GroupSpec::new("web", count);
    group.update = update;
    JobSpec {
        id: "web".into(),
        groups: vec![group],
        initial_release: release.into(),
    }
    .job(release, 0)
}

fn canary(health: &str) -> UpdateStrategy {
    UpdateStrategy {
        canary: Some(1),
        max_parallel: Some(1),
        auto_revert: Some(true),
        health_check: Some(health.into()),
        min_healthy_time: Some(2 * SECOND_NS),
        healthy_deadline: Some(30 * SECOND_NS),
        progress_deadline: Some(60 * SECOND_NS),
        ..UpdateStrategy::nomad_default()
    }
}

/// Without a progress deadline a deployment fails at its first unhealthy allocation;
/// with one, it fails when the deadline passes (Nomad's deployment watcher).
fn fail_fast(mut update: UpdateStrategy) -> UpdateStrategy {
    update.progress_deadline = Some(0);
    update
}

fn with_meta(mut job: Job, key: &str, value: &str) -> Job {
    job.meta = Some([(key.to_string(), value.to_string())].into());
    job
}

#[test]
fn automatic_health_after_min_healthy_time() {
    let mut engine = Engine::new();
    let mut cluster = LiveCluster::new(LiveConfig::dev(1));
    engine.register(job(3, "app:1", canary(health_check::CHECKS)));
    run(&mut cluster, &mut engine, 60 * SECOND_NS);
    let d = engine.deployment();
    assert_eq!(d.status, "successful", "{d:?}");
    // Placed at once (a first version has nothing to replace), started within a second,
    // healthy two seconds later.
    let elapsed = engine.elapsed_s();
    assert!((2.0..=3.0).contains(&elapsed), "{elapsed}");
    let running = engine
        .state()
        .allocs_in_namespace(None)
        .into_iter()
        .filter(|a| a.client_status == client_status::RUNNING && a.is_healthy())
        .count();
    assert_eq!(running, 3);
    assert!(engine.state().pending_evals().is_empty());
}

#[test]
fn manual_health_waits_for_the_operator() {
    let mut engine = Engine::new();
    let mut cluster = LiveCluster::new(LiveConfig::dev(2));
    engine.register(job(2, "app:1", canary(health_check::MANUAL)));
    run(&mut cluster, &mut engine, 20 * SECOND_NS);
    let d = engine.deployment().clone();
    assert_eq!(d.status, "running");
    let allocs: Vec<_> = engine.state().deployment_allocs(&d.id).cloned().collect();
    assert_eq!(allocs.len(), 2);
    assert!(allocs
        .iter()
        .all(|a| a.client_status == client_status::RUNNING && !a.has_health()));

    engine
        .submit(Command::SetAllocHealth(SetAllocHealth {
            deployment_id: d.id,
            healthy_allocation_ids: allocs.iter().map(|a| a.id).collect(),
            unhealthy_allocation_ids: vec![],
        }))
        .expect("set health");
    run(&mut cluster, &mut engine, 40 * SECOND_NS);
    assert_eq!(engine.deployment().status, "successful");
}

#[test]
fn a_version_that_fails_to_start_is_rolled_back() {
    let mut engine = Engine::new();
    let mut cluster = LiveCluster::new(LiveConfig::dev(3));
    let update = fail_fast(canary(health_check::CHECKS));
    engine.register(job(2, "app:1", update.clone()));
    run(&mut cluster, &mut engine, 30 * SECOND_NS);
    assert_eq!(engine.deployment().status, "successful");

    let bad = with_meta(job(2, "app:2", update), FAIL_TO_START, "true");
    engine.register(bad);
    let bad_deployment = engine.deployment().id;
    run(&mut cluster, &mut engine, 60 * SECOND_NS);
    let d = engine.state().deployment(&bad_deployment).expect("kept");
    assert_eq!(d.status, "failed");
    assert_eq!(
        d.status_description,
        "Failed due to unhealthy allocations - rolling back to job version 0"
    );
    let job = engine.state().job("default", "web").expect("job");
    assert_eq!(job.version, 2);
    assert!(job.meta.is_none(), "the revert runs the stable spec");
}

#[test]
fn manual_health_versions_that_fail_to_start_are_marked_unhealthy() {
    let mut engine = Engine::new();
    let mut cluster = LiveCluster::new(LiveConfig::dev(4));
    let bad = with_meta(
        job(1, "app:1", fail_fast(canary(health_check::MANUAL))),
        FAIL_TO_START,
        "true",
    );
    engine.register(bad);
    run(&mut cluster, &mut engine, 10 * SECOND_NS);
    let d = engine.deployment();
    assert_eq!(d.status, "failed");
    assert_eq!(
        d.status_description,
        "Failed due to unhealthy allocations - no stable job version to auto revert to"
    );
}

#[test]
fn never_healthy_allocations_fail_the_deployment_at_its_progress_deadline() {
    let mut engine = Engine::new();
    let mut cluster = LiveCluster::new(LiveConfig::dev(6));
    let mut update = canary(health_check::CHECKS);
    update.healthy_deadline = Some(5 * SECOND_NS);
    update.progress_deadline = Some(10 * SECOND_NS);
    engine.register(with_meta(job(1, "app:1", update), NEVER_HEALTHY, "true"));
    run(&mut cluster, &mut engine, 8 * SECOND_NS);
    let d = engine.deployment();
    assert_eq!(d.status, "running");
    assert_eq!(d.task_groups["web"].unhealthy_allocs, 1);
    run(&mut cluster, &mut engine, 20 * SECOND_NS);
    let d = engine.deployment();
    assert_eq!(d.status, "failed");
    assert_eq!(
        d.status_description,
        "Failed due to progress deadline - no stable job version to auto revert to"
    );
}

#[test]
fn start_delay_knob_and_bad_knobs_are_noted() {
    let mut engine = Engine::new();
    let mut cluster = LiveCluster::new(LiveConfig::dev(5));
    let mut j = with_meta(
        job(1, "app:1", canary(health_check::MANUAL)),
        START_DELAY,
        "5s",
    );
    if let Some(meta) = j.meta.as_mut() {
        meta.insert("rollout.sim.typo".into(), "1".into());
    }
    engine.register(j);
    let notes = run(&mut cluster, &mut engine, 4 * SECOND_NS);
    assert!(
        notes.iter().any(
            |n| matches!(n, Note::Knob { problem, .. } if problem.contains("rollout.sim.typo"))
        ),
        "{notes:?}"
    );
    let alloc = engine.state().allocs_in_namespace(None)[0].clone();
    assert_eq!(alloc.client_status, client_status::PENDING);
    run(&mut cluster, &mut engine, 6 * SECOND_NS);
    let alloc = engine.state().alloc(&alloc.id).expect("alloc");
    assert_eq!(alloc.client_status, client_status::RUNNING);
    assert_eq!(alloc.modify_time, T0 + 5 * SECOND_NS);
}

/// The dev cluster's clients register their nodes before anything else, and register
/// again when an operator removed one: every allocation's `NodeID` names a known node.
#[test]
fn nodes_register_first_and_again_after_a_deregistration() {
    use rollout_engine::node::{node_status, DeregisterNodes};
    let mut engine = Engine::new();
    let mut cluster = LiveCluster::new(LiveConfig::dev(3));
    engine.register(job(3, "app:1", canary(health_check::CHECKS)));
    let first = cluster
        .next_work(engine.state(), engine.now())
        .expect("work");
    assert!(
        matches!(first.command, Command::RegisterNode(_)),
        "{:?}",
        first.ticket
    );
    run(&mut cluster, &mut engine, 60 * SECOND_NS);
    let nodes: Vec<(String, String)> = engine
        .state()
        .nodes()
        .map(|n| (n.id.clone(), n.status.clone()))
        .collect();
    assert_eq!(nodes.len(), 3);
    assert!(nodes.iter().all(|(_, s)| s == node_status::READY));
    for a in engine.state().allocs_in_namespace(None) {
        assert!(engine.state().node(&a.node_id).is_some(), "{}", a.node_id);
    }
    engine
        .submit(Command::DeregisterNodes(DeregisterNodes {
            node_ids: vec![nodes[0].0.clone()],
        }))
        .expect("deregistered");
    run(&mut cluster, &mut engine, 61 * SECOND_NS);
    assert!(
        engine.state().node(&nodes[0].0).is_some(),
        "registered again"
    );
}
