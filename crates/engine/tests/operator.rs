//! Operator commands: allocation health (M1–M5), promote (P1–P12), auto-promote
//! (AP1–AP4), pause/resume (S1–S6), fail (F1–F5), rollback (R1–R6), and the §6.2/§6.3
//! scenarios about them.
mod common;
use common::*;
use rollout_engine::command::*;
use rollout_engine::model::*;
use rollout_engine::{Command, Error, RollbackOutcome};
use uuid::Uuid;

fn strategy(canary: i64, pd_ns: i64, auto_revert: bool) -> UpdateStrategy {
    UpdateStrategy {
        max_parallel: Some(2),
        canary: Some(canary),
        progress_deadline: Some(pd_ns),
        healthy_deadline: Some(if pd_ns > 0 {
            pd_ns.min(MINUTE_NS) / 2
        } else {
            MINUTE_NS
        }),
        min_healthy_time: Some(0),
        auto_revert: Some(auto_revert),
        ..Default::default()
    }
}

/// v0 deployed and stable, v1 (a new image) registered: returns the v1 deployment.
fn v1_rollout(w: &mut World, count: i64, u: UpdateStrategy) -> Uuid {
    w.deploy(service_job("web", count, u.clone()));
    let o = w.register(with_image(service_job("web", count, u), "app:2"));
    o.deployments_created[0]
}

// --- M: allocation health ---------------------------------------------------------------

#[test]
fn m1_endpoint_checks_in_order() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, false));
    let placed = w.schedule();
    let err = |w: &mut World, c| {
        w.try_apply(Command::SetAllocHealth(c))
            .unwrap_err()
            .to_string()
    };
    // M1's "missing deployment ID" cannot be expressed any more (`deployment_id` is a
    // `Uuid`): the HTTP layer refuses a body without one, see
    // `deployment_writes_need_a_deployment_id` in crates/http/tests/api/errors.rs.
    assert_eq!(
        err(
            &mut w,
            SetAllocHealth {
                deployment_id: d,
                ..Default::default()
            }
        ),
        "must specify at least one healthy/unhealthy allocation ID"
    );
    assert_eq!(
        err(
            &mut w,
            SetAllocHealth {
                deployment_id: Uuid::from_u128(9),
                healthy_allocation_ids: placed.clone(),
                ..Default::default()
            }
        ),
        "deployment not found"
    );
    w.fail(d).unwrap();
    assert_eq!(
        err(
            &mut w,
            SetAllocHealth {
                deployment_id: d,
                healthy_allocation_ids: placed,
                ..Default::default()
            }
        ),
        "can't set health of allocations for a terminal deployment"
    );
}

/// Scenario 44 [TestWatcher_SetAllocHealth_Healthy], scenario 70, M3, M5.
#[test]
fn scenario_44_70_m3_m5_manual_healthy() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, false));
    let placed = w.apply_partial(|q| q.name == "web.web[0]");
    let o = w.set_health(d, &placed, &[]).unwrap();
    let dep = w.deployment(d);
    assert_eq!(
        (
            dep.task_groups["web"].healthy_allocs,
            dep.task_groups["web"].unhealthy_allocs
        ),
        (1, 0)
    );
    assert_eq!(dep.status, "running");
    assert_eq!(dep.status_description, "Deployment is running");
    let eval = w.state().eval(&o.eval_id.unwrap()).unwrap().clone();
    assert_eq!(eval.triggered_by, "deployment-watcher");
    assert_eq!(eval.status, "pending");
    assert_eq!(eval.deployment_id, Some(d));
    let r = o.deployment_update_response();
    assert_eq!(
        (r.eval_create_index, r.deployment_modify_index, r.index),
        (o.index, o.index, o.index)
    );
    assert_eq!(r.deployment_modify_index, dep.modify_index);
    assert_eq!(r.reverted_job_version, None);
    assert_eq!(w.alloc(placed[0]).health(), Some(true));
}

/// M4 and §7.1 item 21: re-marking an already healthy allocation changes no counter, but
/// the allocation is rewritten and the response still reports the write's index.
#[test]
fn m4_remarking_healthy_restamps_allocation_only() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, false));
    let placed = w.apply_partial(|q| q.name == "web.web[0]");
    w.set_health(d, &placed, &[]).unwrap();
    let dep = w.deployment(d);
    let before = w.alloc(placed[0]);
    w.advance(SECOND_NS);
    let o = w.set_health(d, &placed, &[]).unwrap();
    let a = w.alloc(placed[0]);
    assert_eq!(w.deployment(d).task_groups, dep.task_groups);
    assert_eq!(
        w.deployment(d).modify_index,
        dep.modify_index,
        "deployment not rewritten"
    );
    assert_eq!(
        o.deployment_update_response().deployment_modify_index,
        o.index
    );
    let ds = a.deployment_status.clone().unwrap();
    assert_eq!(ds.modify_index, o.index, "stamped unconditionally");
    assert_eq!(ds.timestamp, Timestamp(w.now()));
    assert_eq!(a.modify_index, o.index);
    assert_eq!(a.alloc_modify_index, before.alloc_modify_index);
    assert_eq!(a.modify_time, w.now());
}

/// M4: healthy IDs first, then unhealthy — an ID in both ends up unhealthy.
#[test]
fn m4_id_in_both_lists_ends_unhealthy() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, false));
    let placed = w.apply_partial(|q| q.name == "web.web[0]");
    w.set_health(d, &placed, &placed).unwrap();
    let g = w.deployment(d).task_groups["web"].clone();
    assert_eq!((g.healthy_allocs, g.unhealthy_allocs), (0, 1));
    assert_eq!(w.alloc(placed[0]).health(), Some(false));
}

/// Scenario 30 and M4: unknown allocation, allocation of another deployment — and
/// nothing is written (all or nothing).
#[test]
fn scenario_30_m4_bad_allocation_ids_change_nothing() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, false));
    let placed = w.apply_partial(|q| q.name == "web.web[0]");
    let before = w.state().clone();
    let unknown = Uuid::from_u128(77);
    let e = w.set_health(d, &[placed[0], unknown], &[]).unwrap_err();
    assert_eq!(e.to_string(), format!("unknown alloc \"{unknown}\""));
    let other = w
        .live_allocs("web")
        .into_iter()
        .find(|a| a.deployment_id != Some(d))
        .unwrap()
        .id;
    let e = w.set_health(d, &[other], &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("alloc \"{other}\" is not part of deployment \"{d}\"")
    );
    assert!(*w.state() == before);
}

/// Scenario 43 [TestWatcher_SetAllocHealth_Unknown]: the deployment stays active.
#[test]
fn scenario_43_unknown_alloc_keeps_deployment_running() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, false));
    let e = w.set_health(d, &[Uuid::from_u128(5)], &[]).unwrap_err();
    assert!(e.to_string().contains("unknown alloc"));
    assert!(w.deployment(d).active());
}

/// Scenarios 32 and 45 [TestStateStore_UpsertDeploymentAllocHealth,
/// TestWatcher_SetAllocHealth_Unhealthy], M2, M4.
#[test]
fn scenario_32_45_m2_manual_unhealthy_fails_the_deployment() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 5 * MINUTE_NS, false));
    let (_, placed) = w.apply_pending_plan();
    w.advance(SECOND_NS);
    let o = w.set_health(d, &[placed[0]], &[placed[1]]).unwrap();
    let dep = w.deployment(d);
    assert_eq!(dep.status, "failed");
    assert_eq!(
        dep.status_description,
        "Failed due to unhealthy allocations"
    );
    let g = &dep.task_groups["web"];
    assert_eq!((g.healthy_allocs, g.unhealthy_allocs), (1, 1));
    for (a, h) in [(placed[0], true), (placed[1], false)] {
        let ds = w.alloc(a).deployment_status.unwrap();
        assert_eq!(ds.healthy, Some(h));
        assert_eq!(ds.timestamp, Timestamp(w.now()));
    }
    assert!(w.state().eval(&o.eval_id.unwrap()).is_some());
}

/// Scenario 82 with decision 8: no stable version → the usual "no target" suffix.
#[test]
fn scenario_82_decision_8_manual_unhealthy_without_stable_version() {
    let mut w = World::new();
    let o = w.register(service_job("web", 2, strategy(0, 0, true)));
    let d = o.deployments_created[0];
    let placed = w.schedule();
    let o = w.set_health(d, &[], &[placed[0]]).unwrap();
    assert_eq!(
        w.deployment(d).status_description,
        "Failed due to unhealthy allocations - no stable job version to auto revert to"
    );
    assert_eq!(o.reverted_job_version, None);
}

/// M2/R1–R5 and scenario 24: manual unhealthy with auto-revert rolls back to the stable
/// version, in one write with the status and the eval.
#[test]
fn scenario_24_m2_r3_r4_r5_rollback_on_manual_unhealthy() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, true));
    let placed = w.schedule();
    let v0 = w.state().job_version("default", "web", 0).unwrap().clone();
    w.advance(SECOND_NS);
    let o = w.set_health(d, &[], &[placed[0]]).unwrap();
    let dep = w.deployment(d);
    assert_eq!(
        dep.status_description,
        "Failed due to unhealthy allocations - rolling back to job version 0"
    );
    assert_eq!(o.reverted_job_version, Some(0), "R5: the source version");
    let job = w.job("web");
    assert_eq!(job.version, 2);
    assert!(job.stable, "R4: the stable flag is kept (§7.1 item 8)");
    assert_eq!(job.submit_time, v0.submit_time, "R4: the old SubmitTime");
    assert_eq!((job.modify_index, job.job_modify_index), (o.index, o.index));
    assert_eq!(job.create_index, v0.create_index);
    assert_eq!(dep.modify_index, o.index);
    let eval = w.state().eval(&o.eval_id.unwrap()).unwrap();
    assert_eq!(eval.create_index, o.index);
    assert!(matches!(
        o.rollback().unwrap().outcome,
        RollbackOutcome::RolledBack {
            stable_version: 0,
            new_version: 2
        }
    ));
    // Decision 14 (R6 in Nomad): the rollback's deployment exists at the same index.
    assert_eq!(o.deployments_created.len(), 1);
    let rd = w.deployment(o.deployments_created[0]);
    assert_eq!((rd.job_version, rd.create_index), (2, o.index));
}

/// R1/R3 and the anti-loop guard (scenario 67 through the rollback version): when the
/// rollback version itself fails, the latest stable version is the current one, with the
/// same spec, so nothing is registered.
#[test]
fn scenario_67_r3_rollback_no_op_when_spec_is_the_same() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, true));
    let placed = w.schedule();
    let o = w.set_health(d, &[], &[placed[0]]).unwrap();
    let rollback = o.deployments_created[0];
    let (_, placed) = w.apply_pending_plan();
    let o = w.set_health(rollback, &[], &[placed[0]]).unwrap();
    assert_eq!(
        w.deployment(rollback).status_description,
        "Failed due to unhealthy allocations - not rolling back to stable job version 2 as current job has same specification"
    );
    assert_eq!(o.reverted_job_version, None);
    assert_eq!(w.job("web").version, 2);
    assert!(o.deployments_created.is_empty());
}

// --- P: promote ---------------------------------------------------------------------------

#[test]
fn p1_endpoint_checks() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(1, 0, false));
    // P1's "missing deployment ID" cannot be expressed any more (`deployment_id` is a
    // `Uuid`): the HTTP layer refuses a body without one, see
    // `deployment_writes_need_a_deployment_id` in crates/http/tests/api/errors.rs.
    assert_eq!(
        w.promote(Uuid::from_u128(3)).unwrap_err().to_string(),
        "deployment not found"
    );
    w.fail(d).unwrap();
    assert_eq!(
        w.promote(d).unwrap_err().to_string(),
        "can't promote terminal deployment"
    );
}

/// Scenario 49 [TestWatcher_PromoteDeployment_UnhealthyCanaries], scenario 27, P5.
#[test]
fn scenario_27_49_p5_promotion_rejects_unhealthy_canaries() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 4, strategy(2, 0, false));
    // Scenario 27: nothing placed yet.
    let e = w.promote(d).unwrap_err();
    assert_eq!(
        e,
        Error::UnhealthyCanaries(vec!["Task group \"web\" has 0/2 healthy allocations".into()])
    );
    assert_eq!(
        e.to_string(),
        "1 error occurred:\n\t* Task group \"web\" has 0/2 healthy allocations\n\n"
    );
    // Scenario 49: one canary placed without health.
    w.apply_partial(|q| q.name == "web.web[0]");
    assert!(w
        .promote(d)
        .unwrap_err()
        .to_string()
        .contains("Task group \"web\" has 0/2 healthy allocations"));
    let dep = w.deployment(d);
    assert_eq!(dep.status, "running");
    assert!(!dep.task_groups["web"].promoted);
}

/// P4: a healthy canary that became terminal no longer counts.
#[test]
fn p4_terminal_canary_does_not_count() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(1, 5 * MINUTE_NS, false));
    let c = w.schedule();
    w.healthy(&c);
    w.client(c[0], "complete", None);
    assert!(w
        .promote(d)
        .unwrap_err()
        .to_string()
        .contains("has 0/1 healthy allocations"));
}

/// P5 with decision 6: several short groups, sorted by name.
#[test]
fn p5_decision_6_errors_sorted_by_group() {
    let mut w = World::new();
    let mut j = service_job("web", 2, strategy(1, 0, false));
    j.task_groups = vec![
        group("zeta", 2, strategy(1, 0, false)),
        group("alpha", 2, strategy(1, 0, false)),
    ];
    w.deploy(j.clone());
    let o = w.register(with_image(j, "app:2"));
    let e = w.promote(o.deployments_created[0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "2 errors occurred:\n\t* Task group \"alpha\" has 0/1 healthy allocations\n\t* Task group \"zeta\" has 0/1 healthy allocations\n\n"
    );
}

/// Scenarios 48 and 71 [TestWatcher_PromoteDeployment_HealthyCanaries,
/// TestDeploymentEndpoint_Promote], P6–P11, decision 2.
#[test]
fn scenario_48_71_p2_p6_p7_p8_p9_p11_promote_healthy_canary() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(1, 5 * MINUTE_NS, false));
    let c = w.schedule();
    w.healthy(&c);
    let before = w.alloc(c[0]);
    w.advance(30 * SECOND_NS);
    let o = w.promote(d).unwrap();
    let dep = w.deployment(d);
    let g = &dep.task_groups["web"];
    assert!(g.promoted);
    assert_eq!(
        g.require_progress_by,
        Timestamp(w.now()).plus(5 * MINUTE_NS),
        "P6"
    );
    assert_eq!(dep.status, "running");
    assert_eq!(dep.status_description, "Deployment is running", "P7");
    assert_eq!(dep.modify_time, w.now(), "decision 2");
    assert_eq!(dep.modify_index, o.index);
    let r = o.deployment_update_response();
    assert_eq!(
        (
            r.eval_create_index,
            r.deployment_modify_index,
            r.index,
            r.reverted_job_version
        ),
        (o.index, o.index, o.index, None)
    );
    let eval = w.state().eval(&r.eval_id.unwrap()).unwrap();
    assert_eq!(
        (eval.triggered_by.as_str(), eval.status.as_str()),
        ("deployment-watcher", "pending")
    );
    let a = w.alloc(c[0]);
    let ds = a.deployment_status.clone().unwrap();
    assert!(!ds.canary, "P9");
    assert_eq!(
        (ds.modify_index, a.modify_index, a.alloc_modify_index),
        (o.index, o.index, o.index)
    );
    assert_ne!(before.alloc_modify_index, o.index);
    assert_eq!(
        g.placed_canaries_slice(),
        &c[..],
        "PlacedCanaries unchanged"
    );
    assert_eq!(w.state().table_indexes().allocs, o.index);
}

/// P3/P7/P9: partial promotion keeps the "requires" text; unselected canaries keep their
/// flag; unknown group names are ignored.
#[test]
fn p3_p7_partial_promotion() {
    let mut w = World::new();
    let mut j = service_job("web", 2, strategy(1, 0, false));
    j.task_groups = vec![
        group("a", 2, strategy(1, 0, false)),
        group("b", 2, strategy(1, 0, false)),
    ];
    w.deploy(j.clone());
    let o = w.register(with_image(j, "app:2"));
    let d = o.deployments_created[0];
    let c = w.schedule();
    w.healthy(&c);
    w.promote_groups(d, &["a", "nope"]).unwrap();
    let dep = w.deployment(d);
    assert!(dep.task_groups["a"].promoted && !dep.task_groups["b"].promoted);
    assert_eq!(
        dep.status_description,
        "Deployment is running but requires manual promotion"
    );
    let b_canary = c.iter().find(|id| w.alloc(**id).task_group == "b").unwrap();
    assert!(w.alloc(*b_canary).is_canary());
}

/// P10/§7.1 item 17: an empty group list with All=false is a no-op that still writes.
#[test]
fn p10_empty_selection_still_writes_deployment_and_eval() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(1, 0, false));
    let o = w.promote_groups(d, &[]).unwrap();
    assert_eq!(w.deployment(d).modify_index, o.index);
    assert!(o.eval_id.is_some());
    assert!(!w.deployment(d).task_groups["web"].promoted);
    assert_eq!(w.state().table_indexes().allocs, o.index);
}

/// Scenario 80 and P10: promoting a deployment without canaries succeeds.
#[test]
fn scenario_80_p10_promote_without_canaries() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, false));
    let o = w.promote(d).unwrap();
    let dep = w.deployment(d);
    assert!(dep.task_groups["web"].promoted);
    assert_eq!(dep.status_description, "Deployment is running");
    assert!(o.eval_id.is_some());
}

/// P1 and P7: a paused deployment can be promoted and keeps its description.
#[test]
fn p1_p7_paused_deployment_can_be_promoted() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(1, 0, false));
    let c = w.schedule();
    w.healthy(&c);
    w.pause(d, true).unwrap();
    w.promote(d).unwrap();
    let dep = w.deployment(d);
    assert!(dep.task_groups["web"].promoted);
    assert_eq!(dep.status_description, "Deployment is paused");
}

/// Scenario 28 [TestStateStore_UpsertDeploymentPromotion_All].
#[test]
fn scenario_28_promote_all_groups() {
    let mut w = World::new();
    let mut j = service_job("web", 10, strategy(1, 0, false));
    j.task_groups = vec![
        group("web", 10, strategy(1, 0, false)),
        group("foo", 10, strategy(1, 0, false)),
    ];
    w.deploy(j.clone());
    let o = w.register(with_image(j, "app:2"));
    let d = o.deployments_created[0];
    assert_eq!(
        w.deployment(d).status_description,
        "Deployment is running but requires manual promotion"
    );
    let c = w.schedule();
    assert_eq!(c.len(), 2);
    w.healthy(&c);
    let o = w.promote(d).unwrap();
    let dep = w.deployment(d);
    assert!(dep.task_groups.values().all(|g| g.promoted));
    assert_eq!(dep.status_description, "Deployment is running");
    assert!(w.state().eval(&o.eval_id.unwrap()).is_some());
}

// --- AP: auto-promote -----------------------------------------------------------------

/// Scenario 50 [TestWatcher_AutoPromoteDeployment], AP1–AP4.
#[test]
fn scenario_50_ap1_ap2_ap3_auto_promote_across_groups() {
    let mut w = World::new();
    let web = UpdateStrategy {
        canary: Some(2),
        auto_promote: Some(true),
        ..strategy(2, 5 * SECOND_NS, false)
    };
    let api = strategy(0, 5 * SECOND_NS, false);
    let mut j = service_job("web", 2, web.clone());
    j.task_groups = vec![group("web", 2, web), group("api", 2, api)];
    w.deploy(j.clone());
    let o = w.register(with_image(j, "app:2"));
    let d = o.deployments_created[0];
    let dep = w.deployment(d);
    assert_eq!(
        dep.status_description,
        "Deployment is running pending automatic promotion"
    );
    let placed = w.apply_pending_plan().1;
    assert_eq!(placed.len(), 4, "2 web canaries and 2 api replacements");
    w.set_health(d, &placed, &[]).unwrap();
    let dep = w.deployment(d);
    assert!(dep.task_groups["web"].promoted);
    assert_eq!(dep.task_groups["web"].healthy_allocs, 2);
    // Nomad leaves it `running` until a later scheduler pass; with decision 14 the write
    // that completes the rollout (promotion here: both groups are healthy and nothing is
    // left to place or update) also marks it successful.
    assert_eq!(dep.status, "successful");
    assert_eq!(dep.status_description, "Deployment completed successfully");
    for id in dep.task_groups["web"].placed_canaries_slice() {
        let a = w.alloc(*id);
        assert!(!a.is_canary());
        assert_eq!(
            (a.client_status.as_str(), a.desired_status.as_str()),
            ("pending", "run")
        );
    }
}

/// AP2: a paused deployment never auto-promotes.
#[test]
fn ap2_paused_deployment_does_not_auto_promote() {
    let mut w = World::new();
    let u = UpdateStrategy {
        auto_promote: Some(true),
        ..strategy(1, 0, false)
    };
    let d = v1_rollout(&mut w, 2, u);
    let c = w.schedule();
    w.pause(d, true).unwrap();
    w.set_health(d, &c, &[]).unwrap();
    assert!(!w.deployment(d).task_groups["web"].promoted);
}

/// Scenario 51 [TestWatcher_AutoPromoteDeployment_UnhealthyCanaries] and decision 9:
/// three placed canaries (one replaced), two healthy, two desired → promoted.
#[test]
fn scenario_51_decision_9_auto_promote_with_extra_unhealthy_canary() {
    let mut w = World::new();
    let u = UpdateStrategy {
        auto_promote: Some(true),
        ..strategy(2, 10 * MINUTE_NS, false)
    };
    let d = v1_rollout(&mut w, 4, u);
    let c = w.schedule();
    assert_eq!(c.len(), 2);
    w.client(c[0], "failed", Some(false));
    w.advance(10 * SECOND_NS);
    let replacement = w.schedule();
    assert_eq!(replacement.len(), 1, "the failed canary is replaced");
    assert!(
        w.alloc(replacement[0]).is_canary(),
        "T2: the replacement stays a canary"
    );
    assert_eq!(
        w.deployment(d).task_groups["web"]
            .placed_canaries_slice()
            .len(),
        3
    );
    w.healthy(&[c[1], replacement[0]]);
    let dep = w.deployment(d);
    assert!(dep.task_groups["web"].promoted);
    assert!(!w.alloc(c[1]).is_canary() && !w.alloc(replacement[0]).is_canary());
}

/// Scenario 87 with decision 9: more healthy canaries than desired still auto-promote
/// (Nomad's exact-equality test would wait for a manual promotion).
#[test]
fn scenario_87_decision_9_more_healthy_canaries_than_desired_auto_promote() {
    let mut w = World::new();
    let u = UpdateStrategy {
        auto_promote: Some(true),
        ..strategy(2, 10 * MINUTE_NS, false)
    };
    let d = v1_rollout(&mut w, 4, u);
    let c = w.schedule();
    w.client(c[0], "failed", Some(false));
    w.advance(10 * SECOND_NS);
    let r = w.schedule();
    assert!(!w.deployment(d).task_groups["web"].promoted);
    // The failed canary comes back, and all three become healthy in one write: three
    // healthy live canaries, two desired.
    let now = w.now();
    let update = |id| ClientAllocUpdate {
        id,
        client_status: "running".into(),
        deployment_status: Some(ClientDeploymentStatus {
            healthy: Some(true),
            timestamp: Timestamp(now),
            canary: false,
        }),
        modify_time: now,
        ..Default::default()
    };
    w.apply(Command::UpdateAllocsFromClient(ClientAllocUpdates {
        allocations: vec![update(c[0]), update(c[1]), update(r[0])],
    }));
    let dep = w.deployment(d);
    assert_eq!(dep.task_groups["web"].placed_canaries_slice().len(), 3);
    assert!(dep.task_groups["web"].promoted);
}

// --- S: pause / resume ------------------------------------------------------------------

#[test]
fn s1_endpoint_checks() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, false));
    // S1's "missing deployment ID" cannot be expressed any more (`deployment_id` is a
    // `Uuid`): the HTTP layer refuses a body without one, see
    // `deployment_writes_need_a_deployment_id` in crates/http/tests/api/errors.rs.
    assert_eq!(
        w.pause(Uuid::from_u128(1), true).unwrap_err().to_string(),
        "deployment not found"
    );
    w.fail(d).unwrap();
    assert_eq!(
        w.pause(d, true).unwrap_err().to_string(),
        "can't pause terminal deployment"
    );
    assert_eq!(
        w.pause(d, false).unwrap_err().to_string(),
        "can't resume terminal deployment"
    );
}

/// Scenario 52 [TestWatcher_PauseDeployment_Pause_Running], S2, S4, S5.
#[test]
fn scenario_52_s2_s5_pause() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 5 * MINUTE_NS, false));
    let evals = w.evals_of("web").len();
    let o = w.pause(d, true).unwrap();
    let dep = w.deployment(d);
    assert_eq!(
        (dep.status.as_str(), dep.status_description.as_str()),
        ("paused", "Deployment is paused")
    );
    let r = o.deployment_update_response();
    assert_eq!((r.eval_id, r.eval_create_index), (None, 0));
    assert_eq!(r.deployment_modify_index, dep.modify_index);
    assert_ne!(r.index, 0);
    assert_eq!(w.evals_of("web").len(), evals, "S2: no evaluation");
    assert_eq!(serde_json::to_value(&r).unwrap()["EvalID"], "");
    // Pausing again rewrites it and resets the deadlines (S2, S4).
    w.advance(MINUTE_NS);
    let o2 = w.pause(d, true).unwrap();
    let dep2 = w.deployment(d);
    assert_eq!(dep2.modify_index, o2.index);
    assert_eq!(
        dep2.task_groups["web"].require_progress_by,
        Timestamp(w.now()).plus(5 * MINUTE_NS)
    );
}

/// Scenario 55 [TestWatcher_PauseDeployment_Unpause_Paused], S3, S5, §7.1 item 16.
#[test]
fn scenario_55_s3_resume_forces_running_description_and_evaluates() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(1, 0, false));
    assert_eq!(
        w.deployment(d).status_description,
        "Deployment is running but requires manual promotion"
    );
    w.pause(d, true).unwrap();
    let o = w.pause(d, false).unwrap();
    let dep = w.deployment(d);
    assert_eq!(
        (dep.status.as_str(), dep.status_description.as_str()),
        ("running", "Deployment is running")
    );
    let r = o.deployment_update_response();
    assert!(r.eval_id.is_some());
    assert_eq!(
        (r.eval_create_index, r.deployment_modify_index, r.index),
        (o.index, o.index, o.index)
    );
    // Resuming a running deployment is accepted too.
    assert!(w.pause(d, false).unwrap().eval_id.is_some());
}

/// S4: pause/resume reset every group with a progress deadline, even groups that had no
/// deadline yet.
#[test]
fn s4_status_change_resets_every_groups_deadline() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 5 * MINUTE_NS, false));
    assert!(
        w.deployment(d).task_groups["web"]
            .require_progress_by
            .is_zero(),
        "nothing placed yet"
    );
    w.pause(d, true).unwrap();
    assert_eq!(
        w.deployment(d).task_groups["web"].require_progress_by,
        Timestamp(w.now()).plus(5 * MINUTE_NS)
    );
    let d0 = v1_rollout(&mut World::new(), 2, strategy(0, 0, false));
    let _ = d0;
}

/// S6: a paused deployment is still failed by an unhealthy allocation without a
/// progress deadline.
#[test]
fn s6_paused_deployment_fails_on_unhealthy_allocation() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, false));
    let (_, placed) = w.apply_pending_plan();
    w.pause(d, true).unwrap();
    w.client(placed[0], "running", Some(false));
    let dep = w.deployment(d);
    assert_eq!(dep.status, "failed");
    assert_eq!(
        dep.status_description,
        "Failed due to unhealthy allocations"
    );
}

// --- F: fail ------------------------------------------------------------------------------

#[test]
fn f1_endpoint_checks() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, false));
    // F1's "missing deployment ID" cannot be expressed any more (`deployment_id` is a
    // `Uuid`): the HTTP layer refuses a body without one, see
    // `deployment_writes_need_a_deployment_id` in crates/http/tests/api/errors.rs.
    assert_eq!(
        w.fail(Uuid::from_u128(1)).unwrap_err().to_string(),
        "deployment not found"
    );
    w.fail(d).unwrap();
    assert_eq!(
        w.fail(d).unwrap_err().to_string(),
        "can't fail terminal deployment"
    );
}

/// Scenario 57 [TestWatcher_FailDeployment_Running, TestDeploymentEndpoint_Fail], F2, F4, F5.
#[test]
fn scenario_57_f2_f5_g4_operator_fail() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, false));
    let o = w.fail(d).unwrap();
    let dep = w.deployment(d);
    assert_eq!(
        (dep.status.as_str(), dep.status_description.as_str()),
        ("failed", "Deployment marked as failed")
    );
    assert_eq!(dep.modify_time, w.now());
    let r = o.deployment_update_response();
    let eval = w.state().eval(&r.eval_id.unwrap()).unwrap();
    assert_eq!(eval.triggered_by, "deployment-watcher");
    assert_eq!(eval.status, "pending");
    assert_eq!(eval.job_id, "web");
    assert_eq!(eval.deployment_id, Some(d));
    assert_eq!(eval.priority, 50);
    assert_eq!(eval.create_time, eval.modify_time);
    assert_eq!(r.eval_create_index, eval.create_index);
    assert_eq!(r.deployment_modify_index, dep.modify_index);
    assert_eq!(r.reverted_job_version, None);
}

/// F3: rollback is wanted if any group auto-reverts; all three suffixes are possible.
#[test]
fn f3_operator_fail_suffixes() {
    // rolling back
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, true));
    let o = w.fail(d).unwrap();
    assert_eq!(
        w.deployment(d).status_description,
        "Deployment marked as failed - rolling back to job version 0"
    );
    assert_eq!(o.reverted_job_version, Some(0));
    // no stable version
    let mut w = World::new();
    let o = w.register(service_job("web", 2, strategy(0, 0, true)));
    w.fail(o.deployments_created[0]).unwrap();
    assert_eq!(
        w.deployment(o.deployments_created[0]).status_description,
        "Deployment marked as failed - no stable job version to auto revert to"
    );
    // same specification: the current version is the latest stable one
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, true));
    let o = w.fail(d).unwrap();
    let rollback = o.deployments_created[0];
    w.fail(rollback).unwrap();
    assert_eq!(
        w.deployment(rollback).status_description,
        "Deployment marked as failed - not rolling back to stable job version 2 as current job has same specification"
    );
    // no group auto-reverts: no suffix at all
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, false));
    w.fail(d).unwrap();
    assert_eq!(
        w.deployment(d).status_description,
        "Deployment marked as failed"
    );
}

/// R1: the newest stable version wins, and a version marked stable manually counts.
#[test]
fn r1_latest_stable_version_is_picked() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, true));
    w.fail(d).unwrap(); // rollback → v2 (stable copy of v0)
    let o = w.register(with_image(
        service_job("web", 2, strategy(0, 0, true)),
        "app:4",
    ));
    let o = w.fail(o.deployments_created[0]).unwrap();
    assert_eq!(o.reverted_job_version, Some(2), "v2 is the newest stable");
}

/// R6 with decision 14: the failed deployment's unpromoted canaries are stopped by the
/// next plan and the rollback version gets its own deployment.
#[test]
fn r6_rollback_stops_canaries_and_creates_deployment() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 3, strategy(1, 0, true));
    let c = w.schedule();
    let o = w.set_health(d, &[], &c).unwrap();
    assert_eq!(o.reverted_job_version, Some(0));
    let p = w.pending_plan();
    assert!(p.stops.iter().any(|s| s.alloc_id == c[0]));
    let rd = w.deployment(o.deployments_created[0]);
    assert_eq!(rd.job_version, 2);
    assert_eq!(p.deployment_id, Some(rd.id));
}

/// Scenario 42 [TestWatcher_UnknownDeployment]: rollout checks existence at the
/// endpoint (§5.2 order), so an unknown ID gets `deployment not found` from each command.
#[test]
fn scenario_42_unknown_deployment_for_every_operator_command() {
    let mut w = World::new();
    let id = Uuid::from_u128(0xdead);
    assert_eq!(
        w.set_health(id, &[Uuid::from_u128(1)], &[]).unwrap_err(),
        Error::DeploymentNotFound
    );
    assert_eq!(w.promote(id).unwrap_err(), Error::DeploymentNotFound);
    assert_eq!(w.pause(id, true).unwrap_err(), Error::DeploymentNotFound);
    assert_eq!(w.fail(id).unwrap_err(), Error::DeploymentNotFound);
    assert_eq!(
        Error::DeploymentNotFound.kind(),
        rollout_engine::ErrorKind::NotFound
    );
}

/// Scenario 23: a terminal deployment refuses status, promotion and health writes.
#[test]
fn scenario_23_terminal_deployment_is_frozen() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(1, 0, false));
    w.fail(d).unwrap();
    let before = w.deployment(d);
    assert!(w.pause(d, false).is_err());
    assert!(w.promote(d).is_err());
    assert!(w.set_health(d, &[Uuid::from_u128(1)], &[]).is_err());
    assert_eq!(w.deployment(d), before);
}

/// F4: the status update, the rollback job and the evaluation are one write.
#[test]
fn f4_fail_with_rollback_is_one_write() {
    let mut w = World::new();
    let d = v1_rollout(&mut w, 2, strategy(0, 0, true));
    let o = w.fail(d).unwrap();
    let dep = w.deployment(d);
    let job = w.job("web");
    let eval = w.state().eval(&o.eval_id.unwrap()).unwrap().clone();
    assert_eq!(
        (dep.modify_index, job.job_modify_index, eval.create_index),
        (o.index, o.index, o.index)
    );
    assert_eq!(job.version, 2);
    assert_eq!(o.reverted_job_version, Some(0));
}

/// AP4: an auto-promotion that cannot happen yet changes nothing and is tried again on
/// the next allocation change.
#[test]
fn ap4_auto_promotion_waits_for_the_next_change() {
    let mut w = World::new();
    let u = UpdateStrategy {
        auto_promote: Some(true),
        ..strategy(2, 0, false)
    };
    let d = v1_rollout(&mut w, 4, u);
    let c = w.schedule();
    assert_eq!(c.len(), 2);
    let o = w.client(c[0], "running", Some(true));
    assert!(
        !w.deployment(d).task_groups["web"].promoted,
        "one of two healthy"
    );
    assert!(
        o.evals_created.len() <= 1,
        "only the watcher's health evaluation"
    );
    w.client(c[1], "running", Some(true));
    assert!(w.deployment(d).task_groups["web"].promoted);
}
