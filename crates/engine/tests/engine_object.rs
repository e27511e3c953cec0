//! `DeploymentEngine`: stamping in one place, the clock rule, replay, dry runs, ticks,
//! and the decision trace every outcome carries.
mod common;
use common::*;
use rollout_engine::model::{status, UpdateStrategy, SECOND_NS};
use rollout_engine::{
    Actor, Command, DeploymentEngine, EngineConfig, Entropy, Envelope, Error, SeededStamp, Stamp,
    StampError, VirtualClock,
};
use rollout_engine::{Change, Topic};

/// v0 deployed (stable), then v1 registered with one canary, auto-revert and no progress
/// deadline; the canary is placed. Returns the world, the v1 deployment and the canary.
fn canary_without_deadline() -> (World, uuid::Uuid, uuid::Uuid) {
    let strategy = UpdateStrategy {
        auto_revert: Some(true),
        progress_deadline: Some(0),
        ..update(1, 1)
    };
    let mut w = World::new();
    w.deploy(service_job("web", 2, strategy.clone()));
    w.register(with_image(service_job("web", 2, strategy), "app:2"));
    let canary = w.schedule();
    assert_eq!(canary.len(), 1);
    let d = w.latest_deployment("web");
    (w, d.id, canary[0])
}

#[test]
fn submit_stamps_the_next_index_the_clock_and_the_stamps_entropy() {
    let clock = VirtualClock::new(T0);
    let mut e = DeploymentEngine::new(EngineConfig::default(), SeededStamp::new(40, clock.clone()));
    let a = e.submit(Command::Tick).unwrap();
    assert_eq!(a.envelope.index, 1);
    assert_eq!(a.envelope.now, T0);
    assert_eq!(a.envelope.entropy, Entropy::from_u64(40));
    clock.advance(SECOND_NS);
    let b = e.submit(Command::Tick).unwrap();
    assert_eq!((b.envelope.index, b.envelope.now), (2, T0 + SECOND_NS));
    assert_eq!(b.envelope.entropy, Entropy::from_u64(41));
    assert_eq!(e.index(), 2);
    assert_eq!(e.state().now(), T0 + SECOND_NS);
}

/// The clock rule: a stamp that goes backwards is clamped, so the log's time never does.
#[test]
fn submit_as_records_the_actor_in_the_envelope_and_submit_records_none() {
    let clock = VirtualClock::new(T0);
    let mut e = DeploymentEngine::new(EngineConfig::default(), SeededStamp::new(1, clock));
    let accessor = uuid::Uuid::from_u128(0x3f2a);
    let who = Actor::operator(Some(accessor), "ci-token");
    let a = e.submit_as(Command::Tick, Some(who.clone())).unwrap();
    assert_eq!(a.envelope.actor, Some(who));
    assert_eq!(e.submit(Command::Tick).unwrap().envelope.actor, None);
    let c = e.submit_as(Command::Tick, Some(Actor::watcher())).unwrap();
    assert_eq!(
        c.envelope.actor.unwrap().kind,
        rollout_engine::actor_kind::WATCHER
    );
}

#[test]
fn an_envelopes_actor_serializes_nomad_style_and_an_old_envelope_without_one_decodes() {
    let accessor = uuid::Uuid::from_u128(0x3f2a);
    let env = Envelope::new(3, T0, Entropy::from_u64(1), Command::Tick)
        .with_actor(Some(Actor::operator(Some(accessor), "ci-token")));
    let json = serde_json::to_value(&env).unwrap();
    assert_eq!(
        json["actor"],
        serde_json::json!({
            "Kind": "operator",
            "AccessorID": accessor.to_string(),
            "Name": "ci-token",
        })
    );
    // Empty fields are left out.
    let scheduler = serde_json::to_value(Actor::scheduler()).unwrap();
    assert_eq!(scheduler, serde_json::json!({"Kind": "scheduler"}));
    // An envelope written before actors existed has no `actor` key, and still decodes.
    let mut old =
        serde_json::to_value(Envelope::new(3, T0, Entropy::from_u64(1), Command::Tick)).unwrap();
    assert!(old.get("actor").is_none());
    old.as_object_mut().unwrap().remove("actor");
    let decoded: Envelope = serde_json::from_value(old).unwrap();
    assert_eq!(decoded.actor, None);
    let back: Envelope = serde_json::from_value(json).unwrap();
    assert_eq!(back, env);
}

#[test]
fn an_actor_describes_itself_for_people() {
    let accessor = uuid::Uuid::from_u128(0x3f2a);
    assert_eq!(
        Actor::operator(Some(accessor), "ci-token").to_string(),
        format!("operator ci-token (accessor {accessor})")
    );
    assert_eq!(Actor::anonymous_operator().to_string(), "operator");
    assert_eq!(Actor::client().to_string(), "client");
}

#[test]
fn time_never_goes_backwards_a_late_stamp_is_clamped() {
    let clock = VirtualClock::new(T0);
    let mut e = DeploymentEngine::new(EngineConfig::default(), SeededStamp::new(1, clock.clone()));
    e.submit(Command::Tick).unwrap();
    clock.set(T0 - 3_600 * SECOND_NS);
    let late = e.submit(Command::Tick).unwrap();
    assert_eq!(
        late.envelope.now, T0,
        "the envelope carries the clamped time"
    );
    assert_eq!(e.now(), T0);
}

/// The same rule holds for envelopes stamped elsewhere (a log, a new consensus leader
/// whose clock is behind): they are applied at the state's time.
#[test]
fn time_never_goes_backwards_a_replayed_envelope_is_applied_at_the_states_time() {
    let mut w = World::new();
    w.advance(10 * SECOND_NS);
    w.register(service_job("web", 1, update(1, 0)));
    let mut e = DeploymentEngine::from_state(
        w.state().clone(),
        SeededStamp::new(0, VirtualClock::default()),
    );
    let env = Envelope::new(2, T0, Entropy::from_u64(9), Command::Tick);
    e.replay(&env).unwrap();
    assert_eq!(e.state().now(), T0 + 10 * SECOND_NS);
    let eval = w.state().pending_evals()[0].id;
    let env = Envelope::new(3, 1, Entropy::from_u64(9), eval_complete(eval));
    e.replay(&env).unwrap();
    let acked = e.state().eval(&eval).unwrap();
    assert_eq!(acked.modify_time, T0 + 10 * SECOND_NS);
}

#[test]
fn replay_rejects_an_index_that_does_not_increase_and_allows_gaps() {
    let mut e = engine_at_t0();
    e.replay(&Envelope::new(5, T0, Entropy::from_u64(1), Command::Tick))
        .expect("a gap is fine");
    assert_eq!(e.index(), 5);
    for index in [5, 4] {
        let err = e
            .replay(&Envelope::new(
                index,
                T0,
                Entropy::from_u64(1),
                Command::Tick,
            ))
            .unwrap_err();
        assert_eq!(err, Error::IndexNotIncreasing { index, last: 5 });
    }
    assert_eq!(e.index(), 5);
    // The next submission continues after the gap.
    assert_eq!(e.submit(Command::Tick).unwrap().envelope.index, 6);
}

/// An engine on a virtual clock at `T0`, entropy seed 0.
fn engine_at_t0() -> DeploymentEngine {
    DeploymentEngine::new(
        EngineConfig::default(),
        SeededStamp::new(0, VirtualClock::new(T0)),
    )
}

fn register_cmd(id: &str) -> Command {
    Command::RegisterJob(rollout_engine::command::RegisterJob {
        job: service_job(id, 2, update(1, 0)),
        ..Default::default()
    })
}

#[test]
fn commands_of_one_log_entry_share_its_index_and_apply_in_order() {
    let mut e = engine_at_t0();
    let env = |id: &str, seed| Envelope::new(7, T0, Entropy::from_u64(seed), register_cmd(id));
    e.replay(&env("web", 1)).unwrap();
    let second = e.replay_in_entry(&env("api", 2)).unwrap();
    assert_eq!(second.index, 7);
    // Re-registering "web" in the same entry makes version 1, also at index 7.
    let changed = service_job("web", 3, update(1, 0));
    e.replay_in_entry(&Envelope::new(
        7,
        T0,
        Entropy::from_u64(3),
        Command::RegisterJob(rollout_engine::command::RegisterJob {
            job: changed,
            ..Default::default()
        }),
    ))
    .unwrap();
    assert_eq!(e.index(), 7);
    let (web, api) = (
        e.state().job("default", "web").unwrap(),
        e.state().job("default", "api").unwrap(),
    );
    assert_eq!((web.version, web.modify_index, web.create_index), (1, 7, 7));
    assert_eq!((api.version, api.modify_index), (0, 7));
    e.state().check_invariants().unwrap();
    // The next entry goes above the shared index.
    assert_eq!(e.submit(Command::Tick).unwrap().envelope.index, 8);
}

/// Regression (found by the cluster's fault test once the leader batched writes): two
/// versions of one job registered in one entry created two deployments at the same
/// index, and the "latest" one was picked by ID, so the newer deployment could be taken
/// for the older and left running beside it. Within an index the version decides.
#[test]
fn k2_in_one_entry_the_later_version_supersedes_the_earlier_ones_deployment() {
    for seed in 0..16u64 {
        let mut e = engine_at_t0();
        let env = |count: i64, n: u64| {
            let mut job = service_job("web", 2, update(1, 0));
            job.task_groups[0].count = Some(count);
            let register = Command::RegisterJob(rollout_engine::command::RegisterJob {
                job,
                ..Default::default()
            });
            Envelope::new(4, T0, Entropy::from_u64(seed * 100 + n), register)
        };
        e.replay(&env(2, 1)).unwrap();
        e.replay_in_entry(&env(3, 2)).unwrap();
        e.replay_in_entry(&env(4, 3)).unwrap();
        let state = e.state();
        state.check_invariants().unwrap();
        let active: Vec<_> = state
            .deployments_of_job_any("default", "web")
            .filter(|d| d.active())
            .collect();
        assert_eq!(active.len(), 1, "seed {seed}");
        assert_eq!(active[0].job_version, 2, "seed {seed}");
        let latest = state.latest_job_deployment("default", "web").unwrap();
        assert_eq!(latest.id, active[0].id, "seed {seed}");
        let versions: Vec<u64> = state
            .deployments_of_job_any("default", "web")
            .map(|d| d.job_version)
            .collect();
        assert_eq!(versions, vec![0, 1, 2], "seed {seed}");
    }
}

#[test]
fn a_command_continuing_an_entry_must_carry_the_entrys_index() {
    let mut e = engine_at_t0();
    e.replay(&Envelope::new(5, T0, Entropy::from_u64(1), Command::Tick))
        .unwrap();
    let before = e.state().clone();
    for index in [4, 6] {
        let err = e
            .replay_in_entry(&Envelope::new(
                index,
                T0,
                Entropy::from_u64(1),
                register_cmd("web"),
            ))
            .unwrap_err();
        assert_eq!(err, Error::IndexNotShared { index, last: 5 });
        assert_eq!(
            err.to_string(),
            format!("index {index} must equal the index 5 of the entry being applied")
        );
    }
    assert_eq!(e.state(), &before);
}

#[test]
fn a_refused_command_inside_an_entry_leaves_the_others_applied() {
    let mut e = engine_at_t0();
    e.replay(&Envelope::new(
        3,
        T0,
        Entropy::from_u64(1),
        register_cmd("web"),
    ))
    .unwrap();
    let unknown = Command::PromoteDeployment(rollout_engine::command::PromoteDeployment {
        deployment_id: uuid::Uuid::from_u128(42),
        all: true,
        groups: None,
    });
    let after_first = e.state().clone();
    e.replay_in_entry(&Envelope::new(3, T0, Entropy::from_u64(2), unknown))
        .unwrap_err();
    assert_eq!(e.state(), &after_first);
    e.replay_in_entry(&Envelope::new(
        3,
        T0,
        Entropy::from_u64(3),
        register_cmd("api"),
    ))
    .unwrap();
    assert!(e.state().job("default", "api").is_some());
    assert!(e.state().job("default", "web").is_some());
}

#[test]
fn a_stamp_without_entropy_refuses_the_command_and_changes_nothing() {
    struct NoEntropy;
    impl Stamp for NoEntropy {
        fn now(&self) -> i64 {
            T0
        }
        fn entropy(&self) -> Result<Entropy, StampError> {
            Err(StampError("the random source is gone".into()))
        }
    }
    let mut e = DeploymentEngine::new(EngineConfig::default(), NoEntropy);
    let err = e.submit(Command::Tick).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no entropy for the next command: the random source is gone"
    );
    assert_eq!(err.kind(), rollout_engine::ErrorKind::Internal);
    assert_eq!(e.index(), 0);
}

/// A dry run shows what a command would do and keeps nothing: no state, no index, no
/// entropy (the IDs later commands get are those they would have got without it).
#[test]
fn dry_run_shows_a_fail_and_its_rollback_and_keeps_nothing() {
    let (mut w, d, _) = canary_without_deadline();
    let mut twin = w.clone();
    let before = w.state().clone();
    let what_if = w
        .engine
        .dry_run(Command::FailDeployment(
            rollout_engine::command::FailDeployment { deployment_id: d },
        ))
        .unwrap();
    assert_eq!(*w.state(), before, "nothing kept");
    let failed = what_if.deployments().find(|x| x.id == d).expect("changed");
    assert_eq!(failed.status, status::FAILED);
    assert_eq!(
        failed.status_description,
        "Deployment marked as failed - rolling back to job version 0"
    );
    assert_eq!(what_if.outcome.reverted_job_version, Some(0));
    let job = what_if.jobs().next().expect("the rollback's job");
    assert_eq!(job.version, 2);
    assert_eq!(what_if.evaluations().count(), 1);
    // The real command afterwards is what it would have been without the dry run.
    let real = w.fail(d).unwrap();
    let twin_real = twin.fail(d).unwrap();
    assert_eq!(real, twin_real);
    assert_eq!(*w.state(), *twin.state());
}

#[test]
fn dry_run_reports_the_rejection_the_real_command_would_get() {
    let (w, d, _) = canary_without_deadline();
    let err = w.engine.dry_run(Command::PromoteDeployment(
        rollout_engine::command::PromoteDeployment {
            deployment_id: d,
            all: true,
            groups: None,
        },
    ));
    assert_eq!(
        err.unwrap_err().to_string(),
        "1 error occurred:\n\t* Task group \"web\" has 0/1 healthy allocations\n\n"
    );
}

#[test]
fn tick_writes_only_when_a_deadline_is_due() {
    let strategy = UpdateStrategy {
        progress_deadline: Some(600 * SECOND_NS),
        ..update(1, 0)
    };
    let mut w = World::new();
    w.register(service_job("web", 1, strategy));
    w.schedule();
    let due = w.engine.next_deadline().expect("armed");
    assert!(w.engine.tick().unwrap().is_none(), "nothing due yet");
    let index = w.engine.index();
    w.set_now(due);
    let ticked = w.engine.tick().unwrap().expect("due");
    assert_eq!(ticked.envelope.index, index + 1);
    let d = w.latest_deployment("web");
    assert_eq!(d.status, status::FAILED);
    assert_eq!(d.status_description, "Failed due to progress deadline");
}

/// The decision trace names the rule and the inputs: the canary's client reported it
/// unhealthy, its group has no progress deadline, so W2 fails the deployment at once and
/// R4 re-registers the stable version.
#[test]
fn trace_says_which_rule_failed_the_deployment_and_why() {
    let (mut w, d, canary) = canary_without_deadline();
    let o = w.client(canary, "failed", Some(false));
    let failed = o
        .trace
        .iter()
        .find(|t| t.topic == Topic::Deployment && t.key == d.to_string() && t.rule == "W2")
        .expect("the failure is traced");
    for needle in [
        &format!("allocation {canary} of group web reported failed and unhealthy by its client"),
        "its group has no progress deadline (D8)",
        "auto_revert true",
        "→ failed: Failed due to unhealthy allocations - rolling back to job version 0",
    ] {
        assert!(
            failed.reason.contains(needle),
            "{needle:?} in {:?}",
            failed.reason
        );
    }
    let rollback = o
        .trace
        .iter()
        .find(|t| t.topic == Topic::Job && t.rule == "R4")
        .expect("the rollback is traced");
    assert!(
        rollback.reason.contains(&format!(
            "deployment {d} of version 1 failed: version 2 re-registers stable version 0"
        )),
        "{}",
        rollback.reason
    );
    // The event of the deployment carries the same rule.
    let event = o.events.iter().find(|e| e.key == d.to_string()).unwrap();
    assert_eq!(event.rule, "W2");
}

#[test]
fn trace_names_the_operator_and_the_auto_reverting_groups_on_fail() {
    let (mut w, d, _) = canary_without_deadline();
    let o = w.fail(d).unwrap();
    let t = o
        .trace
        .iter()
        .find(|t| t.topic == Topic::Deployment && t.change == Change::Updated)
        .unwrap();
    assert_eq!(t.rule, "F2");
    assert!(
        t.reason
            .starts_with("failed by the operator; group(s) web auto-revert (F3) → failed:"),
        "{}",
        t.reason
    );
}

#[test]
fn trace_names_promotion_and_success() {
    let mut w = World::new();
    w.deploy(service_job("web", 2, update(1, 1)));
    w.register(with_image(service_job("web", 2, update(1, 1)), "app:2"));
    let canary = w.schedule();
    w.healthy(&canary);
    let d = w.latest_deployment("web").id;
    let o = w.promote(d).unwrap();
    let p = o
        .trace
        .iter()
        .find(|t| t.topic == Topic::Deployment)
        .unwrap();
    assert_eq!(p.rule, "P3");
    assert_eq!(
        p.reason,
        "promoted by the operator: web (1/1 canaries healthy)"
    );
    assert!(o
        .trace
        .iter()
        .any(|t| t.rule == "P9" && t.key == canary[0].to_string()));
    let rest = w.schedule();
    let mut last = None;
    for id in rest {
        last = Some(w.client(id, "running", Some(true)));
    }
    let o = last.expect("a replacement");
    let success = o
        .trace
        .iter()
        .find(|t| t.rule == "X1")
        .expect("success traced");
    assert_eq!(
        success.reason,
        "nothing left to do for any group: web 2/2 healthy → successful: Deployment completed successfully"
    );
    assert!(o
        .trace
        .iter()
        .any(|t| t.rule == "X3" && t.topic == Topic::Job));
}

/// Every event has at least one decision behind it, and the trace is deterministic.
#[test]
fn every_change_is_traced_and_the_trace_is_deterministic() {
    let (w, d, canary) = canary_without_deadline();
    let mut a = w.clone();
    let mut b = w;
    let oa = a.client(canary, "failed", Some(false));
    let ob = b.client(canary, "failed", Some(false));
    assert_eq!(oa.trace, ob.trace);
    for e in &oa.events {
        assert!(
            oa.trace
                .iter()
                .any(|t| t.topic == e.topic && t.key == e.key && t.rule == e.rule),
            "event {:?} {} has no decision",
            e.topic,
            e.key
        );
    }
    assert!(oa.trace.len() >= oa.events.len());
    assert!(serde_json::to_string(&oa.trace)
        .unwrap()
        .contains(&d.to_string()));
}
