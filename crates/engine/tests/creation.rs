//! §3.1 (C rules) and §6.1 scenarios: creation, planning, cancellation, completion.
mod common;
use common::*;
use rollout_engine::model::*;
use rollout_engine::reconcile::PlacementKind;

fn rolling(mp: i64) -> UpdateStrategy {
    UpdateStrategy {
        max_parallel: Some(mp),
        canary: Some(0),
        progress_deadline: Some(0),
        auto_revert: Some(false),
        ..UpdateStrategy::default()
    }
}

/// Scenario 1 [TestReconciler_CreateDeployment_RollingUpgrade_Destructive].
#[test]
fn scenario_01_rolling_destructive_update_creates_deployment() {
    let mut w = World::new();
    w.deploy(service_job("web", 10, rolling(4)));
    let o = w.register(with_image(service_job("web", 10, rolling(4)), "app:2"));
    assert_eq!(o.deployments_created.len(), 1);
    let d = w.deployment(o.deployments_created[0]);
    assert_eq!(d.status, "running");
    assert_eq!(d.status_description, "Deployment is running");
    assert_eq!(d.eval_priority, 50);
    assert_eq!(
        d.task_groups["web"],
        DeploymentState {
            desired_total: 10,
            ..DeploymentState::default()
        }
    );
    let p = w.pending_plan();
    assert_eq!(count_kind(&p, PlacementKind::Destructive), 4);
    assert_eq!(
        names(&p.placements),
        vec!["web.web[0]", "web.web[1]", "web.web[2]", "web.web[3]"]
    );
    assert_eq!(ignore(&p, "web"), 6);
}

/// Scenario 2 [TestReconciler_CreateDeployment_RollingUpgrade_Inplace].
#[test]
fn scenario_02_in_place_updates_are_not_limited_by_max_parallel() {
    let mut w = World::new();
    w.deploy(service_job("web", 10, rolling(4)));
    let mut v1 = service_job("web", 10, rolling(4));
    v1.task_groups[0].constraints = Some(
        serde_json::json!([{"LTarget": "${attr.kernel.name}", "RTarget": "linux", "Operand": "="}]),
    );
    let o = w.register(v1);
    let d = w.deployment(o.deployments_created[0]);
    assert_eq!(d.task_groups["web"].desired_total, 10);
    let p = w.pending_plan();
    assert_eq!(p.in_place_updates.len(), 10);
    assert!(p.placements.is_empty());
}

/// Scenario 3 [TestReconciler_DontCreateDeployment_NoChanges].
#[test]
fn scenario_03_no_change_no_deployment() {
    let mut w = World::new();
    w.deploy(service_job("web", 10, rolling(4)));
    let before = w.state().deployment_count();
    let o = w.register(service_job("web", 10, rolling(4)));
    assert!(o.deployments_created.is_empty());
    assert_eq!(w.state().deployment_count(), before);
    assert_eq!(w.job("web").version, 0, "identical spec creates no version");
    let p = w.pending_plan();
    assert!(p.is_empty());
    assert_eq!(ignore(&p, "web"), 10);
}

/// Scenario 4 [TestReconciler_CreateDeployment_NewerCreateIndex], through purge and
/// re-registration: rollout removes a purged job's allocations (§4.2), so the new job
/// instance starts from none and gets a deployment of its own.
#[test]
fn scenario_04_reregistered_job_gets_a_deployment() {
    let mut w = World::new();
    w.deploy(service_job("web", 5, rolling(4)));
    let old_create = w.job("web").create_index;
    w.apply(rollout_engine::Command::DeregisterJob(
        rollout_engine::command::DeregisterJob {
            job_id: "web".into(),
            namespace: "default".into(),
            purge: true,
            eval_priority: 0,
        },
    ));
    let o = w.register(service_job("web", 10, rolling(4)));
    let d = w.deployment(o.deployments_created[0]);
    assert_ne!(d.job_create_index, old_create);
    assert_eq!(d.job_create_index, w.job("web").create_index);
    assert_eq!(d.task_groups["web"].desired_total, 10);
    assert_eq!(count_kind(&w.pending_plan(), PlacementKind::Missing), 10);
}

/// Scenario 5 [TestReconciler_NewCanaries].
#[test]
fn scenario_05_canaries_first() {
    let mut w = World::new();
    w.deploy(service_job("web", 10, update(2, 2)));
    let o = w.register(with_image(service_job("web", 10, update(2, 2)), "app:2"));
    let d = w.deployment(o.deployments_created[0]);
    assert_eq!(d.task_groups["web"].desired_canaries, 2);
    assert_eq!(d.task_groups["web"].desired_total, 10);
    assert_eq!(
        d.status_description,
        "Deployment is running but requires manual promotion"
    );
    let p = w.pending_plan();
    assert_eq!(names(&p.placements), vec!["web.web[0]", "web.web[1]"]);
    assert!(p
        .placements
        .iter()
        .all(|q| q.canary && q.kind == PlacementKind::Canary));
    assert_eq!(count_kind(&p, PlacementKind::Destructive), 0);
    assert_eq!(ignore(&p, "web"), 10);
}

/// Scenario 6 [TestReconciler_NewCanaries_CountGreater] and C12.
#[test]
fn scenario_06_c12_canary_larger_than_count() {
    let mut w = World::new();
    w.deploy(service_job("web", 3, update(1, 7)));
    let o = w.register(with_image(service_job("web", 3, update(1, 7)), "app:2"));
    let d = w.deployment(o.deployments_created[0]);
    assert_eq!(d.task_groups["web"].desired_canaries, 7);
    assert_eq!(d.task_groups["web"].desired_total, 3);
    let p = w.pending_plan();
    assert_eq!(
        names(&p.placements),
        vec!["web.web[0]", "web.web[1]", "web.web[2]"]
    );
    assert_eq!(p.desired_tg_updates["web"].canary, 3);
    assert_eq!(ignore(&p, "web"), 3);
}

/// Scenario 7 [TestReconciler_StopOldCanaries], K2, K4 and C5.
#[test]
fn scenario_07_c5_k2_k4_newer_version_cancels_old_deployment_and_stops_its_canaries() {
    let mut w = World::new();
    w.deploy(service_job("web", 10, update(2, 2)));
    let o = w.register(with_image(service_job("web", 10, update(2, 2)), "app:2"));
    let old = o.deployments_created[0];
    let old_canaries = w.schedule();
    assert_eq!(old_canaries.len(), 2);
    let o = w.register(with_image(service_job("web", 10, update(2, 2)), "app:3"));
    let old_d = w.deployment(old);
    assert_eq!(old_d.status, "cancelled");
    assert_eq!(
        old_d.status_description,
        "Cancelled due to newer version of job"
    );
    let new_d = w.deployment(o.deployments_created[0]);
    assert_eq!(new_d.task_groups["web"].desired_canaries, 2);
    assert_eq!(new_d.task_groups["web"].desired_total, 10);
    assert_eq!(
        new_d.status_description,
        "Deployment is running but requires manual promotion"
    );
    let p = w.pending_plan();
    let stopped: Vec<_> = p.stops.iter().map(|s| s.alloc_id).collect();
    assert_eq!(stopped.len(), 2);
    assert!(old_canaries.iter().all(|c| stopped.contains(c)));
    assert_eq!(count_kind(&p, PlacementKind::Canary), 2);
}

/// Builds scenario 10's state: 10 old allocations and one placed canary of two.
fn one_canary_placed() -> (World, uuid::Uuid, uuid::Uuid) {
    let mut w = World::new();
    w.deploy(service_job("web", 10, update(2, 2)));
    let o = w.register(with_image(service_job("web", 10, update(2, 2)), "app:2"));
    let placed = w.apply_partial(|q| q.name == "web.web[0]");
    (w, o.deployments_created[0], placed[0])
}

/// Scenario 10 [TestReconciler_PausedOrFailedDeployment_NoMoreCanaries], paused.
#[test]
fn scenario_10_paused_deployment_places_no_more_canaries() {
    let (mut w, d, _) = one_canary_placed();
    assert_eq!(w.deployment(d).task_groups["web"].placed_allocs, 1);
    w.pause(d, true).unwrap();
    let p = w.plan_now("web");
    assert!(p.placements.is_empty());
    assert!(p.stops.is_empty());
    assert_eq!(ignore(&p, "web"), 11);
}

/// Scenario 10, failed: the canary of the unpromoted group is stopped (C5).
#[test]
fn scenario_10_failed_deployment_stops_its_canary() {
    let (mut w, d, canary) = one_canary_placed();
    w.fail(d).unwrap();
    let p = w.plan_now("web");
    assert!(p.placements.is_empty());
    assert_eq!(p.stops.len(), 1);
    assert_eq!(p.stops[0].alloc_id, canary);
    assert_eq!(ignore(&p, "web"), 10);
}

/// Scenario 11 [TestReconciler_PausedOrFailedDeployment_NoMorePlacements] and C10.
#[test]
fn scenario_11_c10_paused_or_failed_deployment_places_nothing_new() {
    for fail in [false, true] {
        let mut w = World::new();
        let o = w.register(service_job("web", 15, rolling(4)));
        let d = o.deployments_created[0];
        w.apply_partial(|q| {
            q.name
                .trim_start_matches("web.web[")
                .trim_end_matches(']')
                .parse::<u32>()
                .unwrap()
                < 10
        });
        let dep = w.deployment(d);
        assert_eq!(
            (
                dep.task_groups["web"].desired_total,
                dep.task_groups["web"].placed_allocs
            ),
            (15, 10)
        );
        if fail {
            w.fail(d).unwrap();
        } else {
            w.pause(d, true).unwrap();
        }
        let p = w.plan_now("web");
        assert!(p.placements.is_empty(), "fail={fail}");
        assert_eq!(ignore(&p, "web"), 10);
    }
}

/// Scenario 12 [TestReconciler_PausedOrFailedDeployment_NoMoreDestructiveUpdates].
#[test]
fn scenario_12_paused_or_failed_deployment_makes_no_destructive_updates() {
    for fail in [false, true] {
        let mut w = World::new();
        w.deploy(service_job("web", 10, rolling(1)));
        let o = w.register(with_image(service_job("web", 10, rolling(1)), "app:2"));
        let d = o.deployments_created[0];
        w.apply_pending_plan();
        if fail {
            w.fail(d).unwrap();
        } else {
            w.pause(d, true).unwrap();
        }
        let p = w.plan_now("web");
        assert_eq!(count_kind(&p, PlacementKind::Destructive), 0);
        assert_eq!(ignore(&p, "web"), 10);
    }
}

/// Scenario 13 [TestReconciler_PromoteCanaries_Unblock].
#[test]
fn scenario_13_promotion_unblocks_the_rollout() {
    let mut w = World::new();
    w.deploy(service_job("web", 10, update(2, 2)));
    let o = w.register(with_image(service_job("web", 10, update(2, 2)), "app:2"));
    let d = o.deployments_created[0];
    let canaries = w.schedule();
    w.healthy(&canaries);
    w.promote(d).unwrap();
    let p = w.pending_plan();
    let old_0_1: Vec<_> = w
        .live_allocs("web")
        .into_iter()
        .filter(|a| a.job_version == 0 && (a.name == "web.web[0]" || a.name == "web.web[1]"))
        .map(|a| a.id)
        .collect();
    assert_eq!(old_0_1.len(), 2);
    let stopped: Vec<_> = p.stops.iter().map(|s| s.alloc_id).collect();
    assert!(old_0_1.iter().all(|a| stopped.contains(a)));
    assert!(
        canaries.iter().all(|c| !stopped.contains(c)),
        "no canary stopped"
    );
    let destructive: Vec<_> = p
        .placements
        .iter()
        .filter(|q| q.kind == PlacementKind::Destructive)
        .collect();
    assert_eq!(
        destructive
            .iter()
            .map(|q| q.name.as_str())
            .collect::<Vec<_>>(),
        vec!["web.web[2]", "web.web[3]"]
    );
    assert_eq!(ignore(&p, "web"), 8);
}

/// Scenario 15 [TestReconciler_DeploymentLimit_HealthAccounting] and C9.
#[test]
fn scenario_15_c9_max_parallel_counts_unhealthy_replacements() {
    for h in 0..=4usize {
        let mut w = World::new();
        w.deploy(service_job("web", 10, rolling(4)));
        w.register(with_image(service_job("web", 10, rolling(4)), "app:2"));
        let (_, placed) = w.apply_pending_plan();
        assert_eq!(placed.len(), 4);
        w.healthy(&placed[..h]);
        let p = w.plan_now("web");
        let destructive: Vec<String> = p
            .placements
            .iter()
            .filter(|q| q.kind == PlacementKind::Destructive)
            .map(|q| q.name.clone())
            .collect();
        let expected: Vec<String> = (4..4 + h).map(|i| format!("web.web[{i}]")).collect();
        assert_eq!(destructive, expected, "h={h}");
        assert_eq!(ignore(&p, "web"), 10 - h as u64, "h={h}");
    }
}

/// C9 step 4: an unhealthy member of the current deployment stops every further
/// destructive update (T4).
#[test]
fn c9_unhealthy_replacement_blocks_destructive_updates() {
    let mut w = World::new();
    w.deploy(service_job("web", 10, rolling(4)));
    w.register(with_image(
        service_job(
            "web",
            10,
            UpdateStrategy {
                max_parallel: Some(4),
                ..Default::default()
            },
        ),
        "app:2",
    ));
    let (_, placed) = w.apply_pending_plan();
    w.healthy(&placed[..3]);
    w.client(placed[3], "running", Some(false));
    let p = w.plan_now("web");
    assert_eq!(count_kind(&p, PlacementKind::Destructive), 0);
}

/// Scenario 17 [TestReconciler_MarkDeploymentComplete], X1–X3.
#[test]
fn scenario_17_x1_x3_complete_deployment_becomes_successful_and_stable() {
    let mut w = World::new();
    w.deploy(service_job("web", 10, rolling(4)));
    let o = w.register(with_image(service_job("web", 10, rolling(4)), "app:2"));
    let d = o.deployments_created[0];
    for _ in 0..5 {
        let placed = w.schedule();
        w.healthy(&placed);
    }
    let dep = w.deployment(d);
    assert_eq!(dep.status, "successful");
    assert_eq!(dep.status_description, "Deployment completed successfully");
    assert_eq!(dep.task_groups["web"].healthy_allocs, 10);
    let job = w.job("web");
    assert!(job.stable);
    assert!(w.state().job_version("default", "web", 1).unwrap().stable);
}

/// Scenario 18 [TestReconciler_CompleteDeployment] and X4.
#[test]
fn scenario_18_x4_successful_deployments_are_inert() {
    let mut w = World::new();
    w.deploy(service_job("web", 10, rolling(4)));
    let d = w.latest_deployment("web");
    assert_eq!(d.status, "successful");
    let o = w.register(service_job("web", 10, rolling(4)));
    assert!(o.deployments_created.is_empty());
    let p = w.pending_plan();
    assert!(p.is_empty());
    assert_eq!(p.deployment_id, None);
    assert_eq!(w.deployment(d.id), d, "untouched");
}

fn two_groups(image: &str, canary: i64) -> Job {
    let mut j = service_job("web", 10, update(2, canary));
    j.task_groups = vec![
        group("a", 10, update(2, canary)),
        group("b", 10, update(2, canary)),
    ];
    with_image(j, image)
}

/// Scenario 19 [TestReconciler_FailedDeployment_CancelCanaries]: only unpromoted
/// groups' canaries are stopped.
#[test]
fn scenario_19_failed_deployment_stops_only_unpromoted_canaries() {
    let mut w = World::new();
    w.deploy(two_groups("app:1", 2));
    let o = w.register(two_groups("app:2", 2));
    let d = o.deployments_created[0];
    let canaries = w.schedule();
    w.healthy(&canaries);
    w.promote_groups(d, &["a"]).unwrap();
    let placed = w.schedule();
    assert_eq!(placed.len(), 2, "a's first destructive updates");
    w.fail(d).unwrap();
    let p = w.plan_now("web");
    assert!(p.placements.is_empty());
    let b_canaries: Vec<_> = canaries
        .iter()
        .filter(|c| w.alloc(**c).task_group == "b")
        .copied()
        .collect();
    let stopped: Vec<_> = p.stops.iter().map(|s| s.alloc_id).collect();
    assert_eq!(stopped.len(), 2);
    assert!(b_canaries.iter().all(|c| stopped.contains(c)));
    assert_eq!(ignore(&p, "a"), 10);
    assert_eq!(p.desired_tg_updates["b"].stop, 2);
    assert_eq!(ignore(&p, "b"), 10);
}

/// Scenario 20 [TestReconciler_FailedDeployment_NewJob].
#[test]
fn scenario_20_failed_deployment_then_new_version() {
    let mut w = World::new();
    w.deploy(service_job("web", 10, rolling(4)));
    let o = w.register(with_image(service_job("web", 10, rolling(4)), "app:2"));
    let (_, placed) = w.apply_pending_plan();
    w.healthy(&placed);
    w.fail(o.deployments_created[0]).unwrap();
    let o = w.register(with_image(service_job("web", 10, rolling(4)), "app:3"));
    let d = w.deployment(o.deployments_created[0]);
    assert_eq!(d.task_groups["web"].desired_total, 10);
    let p = w.pending_plan();
    let destructive: Vec<_> = p
        .placements
        .iter()
        .filter(|q| q.kind == PlacementKind::Destructive)
        .map(|q| q.name.clone())
        .collect();
    assert_eq!(
        destructive,
        vec!["web.web[0]", "web.web[1]", "web.web[2]", "web.web[3]"]
    );
    assert_eq!(ignore(&p, "web"), 6);
}

/// C3: a group removed from the job stops its allocations and gets no state.
#[test]
fn c3_removed_group_stops_its_allocations() {
    let mut w = World::new();
    w.deploy(two_groups("app:1", 0));
    let mut v1 = two_groups("app:1", 0);
    v1.task_groups.retain(|g| g.name == "a");
    let o = w.register(v1);
    let p = w.pending_plan();
    assert_eq!(p.desired_tg_updates["b"].stop, 10);
    if let Some(d) = o.deployments_created.first() {
        assert!(!w.deployment(*d).task_groups.contains_key("b"));
    }
}

/// C4/C6: a fresh state copies the strategy's flags; DesiredTotal excludes canaries and
/// is frozen afterwards (§7.1 item 20).
#[test]
fn c4_c6_fresh_state_and_frozen_desired_total() {
    let mut w = World::new();
    w.deploy(service_job("web", 4, update(1, 0)));
    let u = UpdateStrategy {
        max_parallel: Some(1),
        canary: Some(1),
        auto_revert: Some(true),
        auto_promote: Some(true),
        progress_deadline: Some(7 * MINUTE_NS),
        healthy_deadline: Some(MINUTE_NS),
        ..Default::default()
    };
    let o = w.register(with_image(service_job("web", 4, u), "app:2"));
    let d = w.deployment(o.deployments_created[0]);
    let g = &d.task_groups["web"];
    assert!(g.auto_revert && g.auto_promote);
    assert_eq!(g.progress_deadline, 7 * MINUTE_NS);
    assert_eq!(g.desired_total, 4, "canaries are not counted");
    assert_eq!(
        d.status_description,
        "Deployment is running pending automatic promotion"
    );
    let canaries = w.schedule();
    w.healthy(&canaries);
    assert_eq!(w.deployment(d.id).task_groups["web"].desired_total, 4);
}

/// C7: brand-new jobs and in-place-only changes never use canaries.
#[test]
fn c7_canaries_only_for_destructive_changes() {
    let mut w = World::new();
    let o = w.register(service_job("web", 3, update(1, 2)));
    let d = w.deployment(o.deployments_created[0]);
    assert_eq!(d.task_groups["web"].desired_canaries, 0);
    assert_eq!(d.status_description, "Deployment is running");
    for _ in 0..5 {
        let placed = w.schedule();
        w.healthy(&placed);
    }
    let mut v1 = service_job("web", 3, update(1, 2));
    v1.priority = 70;
    let o = w.register(v1);
    let d = w.deployment(o.deployments_created[0]);
    assert_eq!(d.task_groups["web"].desired_canaries, 0);
    assert_eq!(w.pending_plan().in_place_updates.len(), 3);
}

/// C16 through registration: a job-level Meta change is destructive and gets canaries;
/// a count change is in place.
#[test]
fn c16_meta_change_is_destructive_count_change_in_place() {
    let mut w = World::new();
    w.deploy(service_job("web", 3, update(1, 1)));
    let mut v1 = service_job("web", 3, update(1, 1));
    v1.meta = Some([("owner".to_string(), "team-b".to_string())].into());
    let o = w.register(v1);
    let d = w.deployment(o.deployments_created[0]);
    assert_eq!(d.task_groups["web"].desired_canaries, 1);

    let mut w = World::new();
    w.deploy(service_job("web", 3, update(1, 1)));
    let o = w.register(service_job("web", 4, update(1, 1)));
    let d = w.deployment(o.deployments_created[0]);
    assert_eq!(d.task_groups["web"].desired_canaries, 0);
    let p = w.pending_plan();
    assert_eq!(p.in_place_updates.len(), 3);
    assert_eq!(count_kind(&p, PlacementKind::Missing), 1);
}

/// C8/C10: while canarying, lost allocations are still replaced; the replacement of an
/// old-version allocation runs the last promoted version (C14's downgrade).
#[test]
fn c8_c10_c14_lost_allocs_replaced_while_canarying_with_the_promoted_version() {
    let mut w = World::new();
    let v0 = w.deploy(service_job("web", 3, update(1, 1)));
    let v0_deployment = w.latest_deployment("web").id;
    let o = w.register(with_image(service_job("web", 3, update(1, 1)), "app:2"));
    w.schedule();
    w.client(v0[2], "lost", None);
    let p = w.plan_now("web");
    let lost: Vec<_> = p
        .placements
        .iter()
        .filter(|q| q.kind == PlacementKind::Lost)
        .collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].previous_allocation, Some(v0[2]));
    assert_eq!(
        lost[0].job_version, 0,
        "runs the promoted (no-canary) version"
    );
    assert_eq!(
        lost[0].deployment_id, None,
        "whose deployment is no longer active"
    );
    assert!(!lost[0].canary);
    assert!(p.stops.iter().any(|s| s.alloc_id == v0[2]));
    let _ = (o, v0_deployment);
}

/// C11: a group with `max_parallel = 0` gets no deployment; a job without any gets none.
#[test]
fn c11_empty_strategy_means_no_deployment() {
    let mut w = World::new();
    let o = w.register(service_job("web", 3, update(0, 0)));
    assert!(o.deployments_created.is_empty());
    assert_eq!(w.state().deployment_count(), 0);
    let placed = w.schedule();
    assert_eq!(placed.len(), 3);
    assert!(placed.iter().all(|a| w.alloc(*a).deployment_id.is_none()));
}

/// C11/X4: after success, a failed allocation's replacement creates no deployment and
/// joins none.
#[test]
fn c11_x4_reschedule_after_success_creates_no_deployment() {
    let mut w = World::new();
    let allocs = w.deploy(service_job("web", 3, update(1, 0)));
    let n = w.state().deployment_count();
    w.advance(60 * SECOND_NS);
    w.client(allocs[0], "failed", None);
    w.advance(60 * SECOND_NS);
    let placed = w.schedule();
    assert_eq!(placed.len(), 1);
    assert_eq!(w.state().deployment_count(), n);
    assert_eq!(w.alloc(placed[0]).deployment_id, None);
    assert_eq!(w.alloc(placed[0]).previous_allocation, Some(allocs[0]));
}

/// C13: the initial description depends on auto-promotion of every canary group.
#[test]
fn c13_initial_description() {
    let mut w = World::new();
    let mut j = two_groups("app:1", 1);
    w.deploy(j.clone());
    j = two_groups("app:2", 1);
    j.task_groups[0].update.as_mut().unwrap().auto_promote = Some(true);
    let o = w.register(j.clone());
    assert_eq!(
        w.deployment(o.deployments_created[0]).status_description,
        "Deployment is running but requires manual promotion"
    );
    j = two_groups("app:3", 1);
    for g in &mut j.task_groups {
        g.update.as_mut().unwrap().auto_promote = Some(true);
    }
    let o = w.register(j);
    assert_eq!(
        w.deployment(o.deployments_created[0]).status_description,
        "Deployment is running pending automatic promotion"
    );
}

/// C14: new allocations join only an active deployment; canaries carry
/// `DeploymentStatus {Canary: true}` stamped with the write's index.
#[test]
fn c14_c15_a6_new_allocations_canary_status_and_placed_canaries() {
    let mut w = World::new();
    w.deploy(service_job("web", 2, update(1, 1)));
    let o = w.register(with_image(service_job("web", 2, update(1, 1)), "app:2"));
    let d = o.deployments_created[0];
    let canaries = w.schedule();
    let c = w.alloc(canaries[0]);
    assert_eq!(c.deployment_id, Some(d));
    let ds = c.deployment_status.clone().unwrap();
    assert!(ds.canary);
    assert_eq!(ds.healthy, None);
    assert_eq!(ds.modify_index, c.create_index);
    // C15/A6: the store derived PlacedCanaries.
    assert_eq!(
        w.deployment(d).task_groups["web"].placed_canaries,
        Some(vec![canaries[0]])
    );
}

/// C14: an allocation updated in place into a different deployment starts over.
#[test]
fn c14_in_place_update_into_new_deployment_resets_deployment_status() {
    let mut w = World::new();
    let allocs = w.deploy(service_job("web", 2, update(1, 0)));
    let old_d = w.latest_deployment("web").id;
    let mut v1 = service_job("web", 2, update(1, 0));
    v1.priority = 60;
    let o = w.register(v1);
    let d = o.deployments_created[0];
    w.apply_pending_plan();
    let a = w.alloc(allocs[0]);
    assert_ne!(Some(old_d), a.deployment_id);
    assert_eq!(a.deployment_id, Some(d));
    assert_eq!(a.deployment_status, None);
    assert_eq!(a.job_version, 1);
    assert_eq!(w.deployment(d).task_groups["web"].placed_allocs, 2);
}

/// C1: a successful or cancelled deployment is not current; a paused or failed one is.
#[test]
fn c1_current_deployment_rules() {
    let mut w = World::new();
    w.deploy(service_job("web", 2, update(1, 0)));
    assert_eq!(
        w.plan_now("web").deployment_id,
        None,
        "successful is not current"
    );
    let o = w.register(with_image(service_job("web", 2, update(1, 0)), "app:2"));
    let d = o.deployments_created[0];
    w.pause(d, true).unwrap();
    assert_eq!(
        w.plan_now("web").deployment_id,
        Some(d),
        "paused is current"
    );
}

/// C2: `pending`/`initializing` are treated like paused, `failed` as failed — covered for
/// paused and failed by scenarios 10–12; this pins that failed deployments are never
/// made successful (decision 12).
#[test]
fn c2_decision_12_failed_deployment_never_succeeds() {
    let mut w = World::new();
    w.deploy(service_job("web", 2, update(2, 0)));
    let o = w.register(with_image(service_job("web", 2, update(2, 0)), "app:2"));
    let d = o.deployments_created[0];
    let (_, placed) = w.apply_pending_plan();
    w.fail(d).unwrap();
    w.healthy(&placed);
    assert_eq!(w.deployment(d).status, "failed");
    assert_eq!(
        w.deployment(d).task_groups["web"].healthy_allocs,
        2,
        "terminal deployments keep counting"
    );
}

/// X2: a paused deployment whose work is complete is marked successful.
#[test]
fn x2_paused_deployment_can_complete() {
    let mut w = World::new();
    w.deploy(service_job("web", 2, update(2, 0)));
    let o = w.register(with_image(service_job("web", 2, update(2, 0)), "app:2"));
    let d = o.deployments_created[0];
    let (_, placed) = w.apply_pending_plan();
    w.pause(d, true).unwrap();
    w.healthy(&placed);
    assert_eq!(w.deployment(d).status, "successful");
}
