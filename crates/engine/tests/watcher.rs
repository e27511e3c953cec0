//! The watcher inside the write (§3.9 W1–W6, §3.14 E1–E4, decision 11), progress
//! deadlines (§3.10 D1–D10) and rescheduling (§3.13 T1–T5).
mod common;
use common::*;
use rollout_engine::model::*;
use rollout_engine::reconcile::PlacementKind;
use rollout_engine::{next_deadline, Command};

fn strategy(pd_ns: i64, auto_revert: bool) -> UpdateStrategy {
    UpdateStrategy {
        max_parallel: Some(1),
        progress_deadline: Some(pd_ns),
        healthy_deadline: Some(if pd_ns > 0 { pd_ns / 2 } else { MINUTE_NS }),
        min_healthy_time: Some(0),
        auto_revert: Some(auto_revert),
        ..Default::default()
    }
}

fn watcher_evals(w: &World) -> usize {
    w.evals_of("web")
        .iter()
        .filter(|e| e.triggered_by == "deployment-watcher")
        .count()
}

/// Scenario 59 [TestDeploymentWatcher_Watch_NoProgressDeadline], W2, W5, E2 with
/// decision 11: repeated health reports produce one evaluation; an unhealthy allocation
/// without a progress deadline fails the deployment at once, rolling back.
#[test]
fn scenario_59_w2_w4_w5_e2_no_progress_deadline_batching_then_early_fail() {
    let mut w = World::new();
    // Two allocations replaced one at a time, so the first healthy one does not
    // complete the rollout (decision 14 would otherwise mark it successful at once).
    w.deploy(service_job("web", 2, strategy(0, true)));
    let mut v1 = service_job("web", 2, strategy(0, true));
    v1.meta = Some([("changed".to_string(), "yes".to_string())].into());
    let d = w.register(v1).deployments_created[0];
    let (_, placed) = w.apply_pending_plan();
    let before = watcher_evals(&w);
    for _ in 0..5 {
        w.client(placed[0], "running", Some(true));
    }
    assert_eq!(
        watcher_evals(&w) - before,
        1,
        "one evaluation for five reports"
    );
    w.client(placed[0], "running", Some(false));
    assert_eq!(
        w.deployment(d).status_description,
        "Failed due to unhealthy allocations - rolling back to job version 0"
    );
}

/// Decision 11: a pending watcher evaluation absorbs new triggers; once it is acked,
/// the next healthy allocation triggers a new one (E3).
#[test]
fn e2_e3_decision_11_pending_watcher_eval_absorbs_triggers() {
    let mut w = World::new();
    w.deploy(service_job("web", 3, strategy(0, false)));
    w.register(with_image(
        service_job(
            "web",
            3,
            UpdateStrategy {
                max_parallel: Some(3),
                ..strategy(0, false)
            },
        ),
        "app:2",
    ));
    let (_, placed) = w.apply_pending_plan();
    assert_eq!(placed.len(), 3);
    w.healthy(&placed[..1]);
    let after_first = watcher_evals(&w);
    w.healthy(&placed[1..2]);
    assert_eq!(
        watcher_evals(&w),
        after_first,
        "absorbed by the pending eval"
    );
    let pending = w.pending_evals();
    assert_eq!(pending.len(), 1);
    w.apply(Command::UpdateEvalStatus(
        rollout_engine::command::UpdateEvalStatus {
            eval_id: pending[0],
            status: "complete".into(),
            status_description: String::new(),
        },
    ));
    w.healthy(&placed[2..]);
    // The rollout completed with this report; either way the trigger was not lost.
    let d = w.latest_deployment("web");
    assert!(d.status == "successful" || watcher_evals(&w) == after_first + 1);
}

/// W1: cancelled evaluations never count as the latest; SnapshotIndex counts when set
/// (scenario 90).
#[test]
fn scenario_90_w1_latest_eval_index_ignores_canceled() {
    let mut w = World::new();
    w.register(service_job("web", 2, strategy(0, false)));
    let e = w.pending_evals()[0];
    let eval_index = w.state().eval(&e).unwrap().create_index;
    assert_eq!(
        rollout_engine::latest_eval_index(w.state(), "default", "web"),
        eval_index
    );
    w.apply(Command::UpdateEvalStatus(
        rollout_engine::command::UpdateEvalStatus {
            eval_id: e,
            status: "canceled".into(),
            status_description: String::new(),
        },
    ));
    assert_eq!(
        rollout_engine::latest_eval_index(w.state(), "default", "web"),
        0
    );
}

/// W3.1/W6 and scenario 65: with a progress deadline, an unhealthy allocation with
/// reschedule attempts left gets `Reschedule = true` and the deployment is not failed.
#[test]
fn scenario_65_w3_w6_allow_replacement() {
    let mut w = World::new();
    let d = w
        .register(service_job("web", 1, strategy(10 * MINUTE_NS, false)))
        .deployments_created[0];
    let placed = w.schedule();
    let o = w.client(placed[0], "failed", Some(false));
    let a = w.alloc(placed[0]);
    assert_eq!(a.desired_transition.reschedule, Some(true));
    assert_eq!(a.alloc_modify_index, o.index, "E2.4: a server-driven write");
    assert_eq!(w.deployment(d).status, "running");
    assert!(!w.pending_evals().is_empty());
    // T1/T2: now the replacement is planned.
    w.advance(10 * SECOND_NS);
    let p = w.plan_now("web");
    assert_eq!(count_kind(&p, PlacementKind::Reschedule), 1);
}

/// T1: a failed allocation of the active deployment is held until allowed.
#[test]
fn t1_failed_allocation_held_until_allowed() {
    let mut w = World::new();
    w.register(service_job("web", 1, strategy(10 * MINUTE_NS, false)));
    let placed = w.schedule();
    // Failed without health: the watcher has nothing to allow yet.
    w.client(placed[0], "failed", None);
    w.advance(MINUTE_NS);
    let p = w.plan_now("web");
    assert_eq!(count_kind(&p, PlacementKind::Reschedule), 0);
    assert_eq!(ignore(&p, "web"), 1);
}

/// T3: failed allocations of the failed current deployment are not replaced.
#[test]
fn t3_failed_deployment_does_not_replace_its_failed_allocations() {
    let mut w = World::new();
    let d = w
        .register(service_job("web", 2, strategy(10 * MINUTE_NS, false)))
        .deployments_created[0];
    let placed = w.schedule();
    w.client(placed[0], "failed", Some(false));
    w.fail(d).unwrap();
    w.advance(MINUTE_NS);
    assert_eq!(count_kind(&w.plan_now("web"), PlacementKind::Reschedule), 0);
}

/// T2: a reschedule not yet due gets a follow-up evaluation that waits.
#[test]
fn t2_reschedule_later_gets_a_follow_up_eval() {
    let mut w = World::new();
    let allocs = w.deploy(service_job("web", 1, strategy(10 * MINUTE_NS, false)));
    w.client(allocs[0], "failed", None);
    let p = w.plan_now("web");
    assert_eq!(p.reschedule_later.len(), 1, "the 5 s delay has not passed");
    w.schedule();
    let a = w.alloc(allocs[0]);
    let followup = w
        .state()
        .eval(&a.followup_eval_id.expect("follow-up"))
        .unwrap()
        .clone();
    assert_eq!(followup.status, "pending");
    assert_eq!(
        followup.wait_until,
        Timestamp(a.modify_time + 5 * SECOND_NS)
    );
    w.advance(6 * SECOND_NS);
    let placed = w.schedule();
    assert_eq!(placed.len(), 1);
    let r = w.alloc(placed[0]);
    assert_eq!(r.previous_allocation, Some(allocs[0]));
    assert_eq!(r.reschedule_tracker.unwrap().events.unwrap().len(), 1);
}

/// T5: a failed allocation replaced now is stopped in the same plan, with Nomad's
/// description; its client status stays failed. One that waits keeps running desired.
#[test]
fn t5_a_replaced_failed_allocation_is_stopped_as_rescheduled() {
    let mut w = World::new();
    let allocs = w.deploy(service_job("web", 1, strategy(10 * MINUTE_NS, false)));
    w.client(allocs[0], "failed", None);
    w.schedule();
    let waiting = w.alloc(allocs[0]);
    assert_eq!(waiting.desired_status, "run", "held for later: not stopped");
    w.advance(6 * SECOND_NS);
    let p = w.plan_now("web");
    assert_eq!(count_kind(&p, PlacementKind::Reschedule), 1);
    assert!(p
        .stops
        .iter()
        .any(|s| s.alloc_id == allocs[0]
            && s.description == "alloc was rescheduled because it failed"));
    let placed = w.schedule();
    assert_eq!(placed.len(), 1);
    let old = w.alloc(allocs[0]);
    assert_eq!(
        (
            old.desired_status.as_str(),
            old.desired_description.as_str()
        ),
        ("stop", "alloc was rescheduled because it failed")
    );
    assert_eq!(old.client_status, "failed");
    assert_eq!(old.next_allocation, Some(placed[0]));
    assert!(w.replay_equals_live());
}

/// T4: an unhealthy but running allocation is not rescheduled.
#[test]
fn t4_unhealthy_running_allocation_is_not_rescheduled() {
    let mut w = World::new();
    w.register(service_job("web", 1, strategy(10 * MINUTE_NS, false)));
    let placed = w.schedule();
    w.client(placed[0], "running", Some(false));
    w.advance(MINUTE_NS);
    assert!(w.plan_now("web").placements.is_empty());
}

/// W2: reschedule attempts exhausted → the deployment fails early even with a deadline.
#[test]
fn w2_exhausted_reschedule_attempts_fail_early() {
    let mut w = World::new();
    let d = w
        .register(service_job("web", 1, strategy(10 * MINUTE_NS, false)))
        .deployments_created[0];
    let mut current = w.schedule()[0];
    for _ in 0..2 {
        w.client(current, "failed", Some(false));
        assert_eq!(w.deployment(d).status, "running");
        w.advance(10 * SECOND_NS);
        current = w.schedule()[0];
    }
    w.client(current, "failed", Some(false));
    let dep = w.deployment(d);
    assert_eq!(dep.status, "failed");
    assert_eq!(
        dep.status_description,
        "Failed due to unhealthy allocations"
    );
}

/// Scenario 60 [TestDeploymentWatcher_Watch_ProgressDeadline], D5, D7: an unhealthy
/// allocation with attempts left does not fail; the deadline does.
#[test]
fn scenario_60_d5_d7_d8_progress_deadline_failure() {
    let mut w = World::new();
    let d = w
        .register(service_job("web", 1, strategy(500 * 1_000_000, false)))
        .deployments_created[0];
    let placed = w.schedule();
    w.client(placed[0], "running", Some(false));
    assert_eq!(w.deployment(d).status, "running");
    let due = next_deadline(w.state()).expect("armed");
    assert_eq!(
        Timestamp(due),
        w.deployment(d).task_groups["web"].require_progress_by
    );
    w.set_now(due);
    let o = w.tick();
    let dep = w.deployment(d);
    assert_eq!(dep.status, "failed");
    assert_eq!(dep.status_description, "Failed due to progress deadline");
    assert!(!o.evals_created.is_empty());
    assert_eq!(next_deadline(w.state()), None);
}

/// Scenario 61 [TestDeploymentWatcher_ProgressCutoff], D2, D3.
#[test]
fn scenario_61_d2_d3_d4_cutoff_across_groups() {
    let mut w = World::new();
    let mut j = service_job("web", 1, strategy(500 * 1_000_000, false));
    j.task_groups = vec![
        group("web", 1, strategy(500 * 1_000_000, false)),
        group("foo", 1, strategy(1_000_000_000, false)),
    ];
    let d = w.register(j).deployments_created[0];
    let t = w.now();
    let placed = w.schedule();
    assert_eq!(next_deadline(w.state()), Some(t + 500 * 1_000_000));
    let web = placed
        .iter()
        .copied()
        .find(|a| w.alloc(*a).task_group == "web")
        .unwrap();
    let foo = placed
        .iter()
        .copied()
        .find(|a| w.alloc(*a).task_group == "foo")
        .unwrap();
    w.set_health(d, &[web], &[]).unwrap();
    assert_eq!(next_deadline(w.state()), Some(t + 1_000_000_000));
    w.set_health(d, &[foo], &[]).unwrap();
    assert_eq!(next_deadline(w.state()), None);
}

/// Scenario 54 [TestWatcher_PauseDeployment_IgnoreProgressDeadline], S6, D5.
#[test]
fn scenario_54_paused_ignores_and_resets_the_deadline() {
    let mut w = World::new();
    let d = w
        .register(service_job("web", 1, strategy(50 * 1_000_000, false)))
        .deployments_created[0];
    w.schedule();
    w.pause(d, true).unwrap();
    let dep = w.deployment(d);
    assert_eq!(
        dep.task_groups["web"].require_progress_by,
        Timestamp(dep.modify_time).plus(50 * 1_000_000)
    );
    assert_eq!(next_deadline(w.state()), None, "paused: no timer");
    w.advance(2 * SECOND_NS);
    w.tick();
    assert_eq!(w.deployment(d).status, "paused");
}

/// D6: an expiry that fails nothing (healthy canaries awaiting promotion) is not re-armed
/// until the cutoff changes; D10/scenario 64: promotion afterwards resets the deadline.
#[test]
fn scenario_64_d6_d10_late_promotion() {
    let mut w = World::new();
    let u = UpdateStrategy {
        canary: Some(1),
        ..strategy(SECOND_NS, false)
    };
    let mut j = service_job("web", 3, u.clone());
    j.task_groups = vec![group("group1", 3, u.clone()), group("group2", 1, u.clone())];
    w.deploy(j.clone());
    let d = w.register(with_image(j, "app:2")).deployments_created[0];
    let c = w.schedule();
    w.set_health(d, &c, &[]).unwrap();
    let due = next_deadline(w.state()).expect("armed while waiting for promotion");
    w.set_now(due + SECOND_NS);
    w.tick();
    assert_eq!(
        w.deployment(d).status,
        "running",
        "D6: canaries healthy, nothing fails"
    );
    assert_eq!(next_deadline(w.state()), None, "D6: not re-armed");
    w.promote(d).unwrap();
    assert_eq!(
        next_deadline(w.state()),
        Some(w.now() + SECOND_NS),
        "D10: promotion resets it"
    );
    for _ in 0..5 {
        let placed = w.schedule();
        if placed.is_empty() {
            break;
        }
        w.set_health(d, &placed, &[]).unwrap();
    }
    w.advance(2 * SECOND_NS);
    w.tick();
    let dep = w.deployment(d);
    assert_eq!(dep.status, "successful");
    let g1 = &dep.task_groups["group1"];
    assert_eq!(
        (
            g1.healthy_allocs,
            g1.placed_allocs,
            g1.unhealthy_allocs,
            g1.promoted
        ),
        (3, 3, 0, true)
    );
    let g2 = &dep.task_groups["group2"];
    assert_eq!(
        (g2.healthy_allocs, g2.placed_allocs, g2.unhealthy_allocs),
        (1, 1, 0)
    );
}

/// D5 with decision 7: the deadline rolls back when a failing group's state auto-reverts.
#[test]
fn d5_decision_7_deadline_failure_rolls_back() {
    let mut w = World::new();
    w.deploy(service_job("web", 1, strategy(SECOND_NS, true)));
    let d = w
        .register(with_image(
            service_job("web", 1, strategy(SECOND_NS, true)),
            "app:2",
        ))
        .deployments_created[0];
    w.schedule();
    w.advance(2 * SECOND_NS);
    let o = w.tick();
    assert_eq!(
        w.deployment(d).status_description,
        "Failed due to progress deadline - rolling back to job version 0"
    );
    assert_eq!(o.reverted_job_version, Some(0));
}

/// Decision 10: an unhealthy allocation after an ignored expiry is described as such.
#[test]
fn d9_decision_10_failure_names_its_cause() {
    let mut w = World::new();
    let u = UpdateStrategy {
        canary: Some(1),
        ..strategy(SECOND_NS, false)
    };
    w.deploy(service_job("web", 2, u.clone()));
    let d = w
        .register(with_image(service_job("web", 2, u), "app:2"))
        .deployments_created[0];
    let c = w.schedule();
    w.set_health(d, &c, &[]).unwrap();
    w.advance(2 * SECOND_NS);
    w.tick();
    w.set_health(d, &[], &c).unwrap();
    assert_eq!(
        w.deployment(d).status_description,
        "Failed due to unhealthy allocations"
    );
}

/// Scenario 63 [TestDeploymentWatcher_PromotedCanary_UpdatedAllocs]: each later
/// healthy allocation triggers another evaluation, and nothing fails.
#[test]
fn scenario_63_each_later_healthy_alloc_triggers_an_eval() {
    let mut w = World::new();
    let u = UpdateStrategy {
        canary: Some(1),
        ..strategy(50 * 1_000_000, false)
    };
    w.deploy(service_job("web", 2, u.clone()));
    let d = w
        .register(with_image(service_job("web", 2, u), "app:2"))
        .deployments_created[0];
    let c = w.schedule();
    w.healthy(&c);
    w.promote(d).unwrap();
    let before = watcher_evals(&w);
    let placed = w.schedule();
    w.advance(2 * SECOND_NS);
    w.healthy(&placed);
    assert!(watcher_evals(&w) > before);
    assert_ne!(w.deployment(d).status, "failed");
}

/// Scenario 68 [TestWatcher_BatchAllocUpdates]: two jobs, one healthy allocation each in
/// one write → one evaluation per job.
#[test]
fn scenario_68_one_eval_per_deployment_in_a_batch() {
    let mut w = World::new();
    let d1 = w
        .register(service_job("a", 2, strategy(0, false)))
        .deployments_created[0];
    let d2 = w
        .register(service_job("b", 2, strategy(0, false)))
        .deployments_created[0];
    let placed = w.schedule();
    let a = placed
        .iter()
        .copied()
        .find(|id| w.alloc(*id).job_id == "a")
        .unwrap();
    let b = placed
        .iter()
        .copied()
        .find(|id| w.alloc(*id).job_id == "b")
        .unwrap();
    let now = w.now();
    let up = |id| rollout_engine::command::ClientAllocUpdate {
        id,
        client_status: "running".into(),
        deployment_status: Some(rollout_engine::command::ClientDeploymentStatus {
            healthy: Some(true),
            timestamp: Timestamp(now),
            canary: false,
        }),
        modify_time: now,
        ..Default::default()
    };
    let o = w.apply(Command::UpdateAllocsFromClient(
        rollout_engine::command::ClientAllocUpdates {
            allocations: vec![up(a), up(b)],
        },
    ));
    let for_dep = |d| {
        o.evals_created
            .iter()
            .filter(|e| w.state().eval(e).unwrap().deployment_id == Some(d))
            .count()
    };
    assert_eq!((for_dep(d1), for_dep(d2)), (1, 1));
}

/// E1: which operator commands create evaluations immediately.
#[test]
fn e1_immediate_evaluations() {
    let mut w = World::new();
    w.deploy(service_job("web", 2, strategy(0, false)));
    let d = w
        .register(with_image(
            service_job("web", 2, strategy(0, false)),
            "app:2",
        ))
        .deployments_created[0];
    assert!(w.pause(d, true).unwrap().evals_created.is_empty());
    assert_eq!(w.pause(d, false).unwrap().evals_created.len(), 1);
    assert_eq!(w.promote(d).unwrap().evals_created.len(), 1);
    assert_eq!(w.fail(d).unwrap().evals_created.len(), 1);
}

/// E4: evaluations the scheduler side creates (a registration) count for W1, so a
/// healthy allocation whose health predates them triggers nothing when it is observed
/// again.
#[test]
fn e4_scheduler_evals_count_for_the_latest_eval_index() {
    let mut w = World::new();
    let d = w
        .register(service_job("web", 2, strategy(0, false)))
        .deployments_created[0];
    let placed = w.apply_partial(|q| q.name == "web.web[0]");
    w.healthy(&placed);
    for e in w.pending_evals() {
        w.apply(Command::UpdateEvalStatus(
            rollout_engine::command::UpdateEvalStatus {
                eval_id: e,
                status: "complete".into(),
                status_description: String::new(),
            },
        ));
    }
    // A registration eval newer than the health stamp is the latest eval (W1)...
    let reg = w.register(service_job("web", 2, strategy(0, false)));
    assert_eq!(
        rollout_engine::latest_eval_index(w.state(), "default", "web"),
        reg.eval_create_index
    );
    assert!(w.alloc(placed[0]).deployment_status.unwrap().modify_index < reg.eval_create_index);
    let before = watcher_evals(&w);
    // ...so re-observing the healthy allocation (a task-state report) triggers nothing.
    w.client(placed[0], "running", None);
    assert_eq!(watcher_evals(&w), before);
    assert_eq!(w.deployment(d).status, "running");
}

/// Scenario 41 [TestWatcher_WatchDeployments]: what Nomad watches is the set of active
/// deployments; here it is a read of the state.
#[test]
fn scenario_41_watch_set_follows_active_deployments() {
    let mut w = World::new();
    let d1 = w
        .register(service_job("a", 1, strategy(0, false)))
        .deployments_created[0];
    assert_eq!(w.state().active_deployments().count(), 1);
    w.register(service_job("b", 1, strategy(0, false)));
    w.register(service_job("c", 1, strategy(0, false)));
    assert_eq!(w.state().active_deployments().count(), 3);
    w.fail(d1).unwrap();
    assert_eq!(w.state().active_deployments().count(), 2);
}
