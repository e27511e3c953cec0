//! §3.2 (A1–A9) and the store scenarios of §6.2 about allocation writes.
mod common;
use common::*;
use rollout_engine::model::*;

fn pd(minutes: i64) -> UpdateStrategy {
    UpdateStrategy {
        max_parallel: Some(2),
        progress_deadline: Some(minutes * MINUTE_NS),
        healthy_deadline: Some(MINUTE_NS),
        ..Default::default()
    }
}

/// Scenario 33 [TestStateStore_UpsertAlloc_Deployment] and A7: the first placement
/// starts the clock at the allocation's ModifyTime.
#[test]
fn scenario_33_a7_first_placement_starts_the_clock() {
    let mut w = World::new();
    let o = w.register(service_job("web", 1, pd(5)));
    let d = o.deployments_created[0];
    w.advance(SECOND_NS);
    let placed = w.schedule();
    let a = w.alloc(placed[0]);
    assert_eq!(w.state().table_indexes().allocs, a.create_index);
    let g = w.deployment(d).task_groups["web"].clone();
    assert_eq!(g.placed_allocs, 1);
    assert_eq!(
        g.require_progress_by,
        Timestamp(a.modify_time).plus(5 * MINUTE_NS)
    );
}

/// Scenario 34 [TestStateStore_UpdateAllocsFromClient_Deployment] and A7: health pushes
/// the deadline to the health timestamp + PD; later placements never move it.
#[test]
fn scenario_34_a7_d1_health_pushes_the_clock() {
    let mut w = World::new();
    let o = w.register(service_job("web", 2, pd(5)));
    let d = o.deployments_created[0];
    let placed = w.apply_partial(|q| q.name == "web.web[0]");
    let t = w.now();
    w.advance(SECOND_NS);
    w.client(placed[0], "running", Some(true));
    let g = w.deployment(d).task_groups["web"].clone();
    assert_eq!(
        g.require_progress_by,
        Timestamp(t + SECOND_NS).plus(5 * MINUTE_NS)
    );
    assert_eq!(g.placed_allocs, 1);
    // A later placement does not move it.
    w.advance(SECOND_NS);
    w.schedule();
    let g2 = w.deployment(d).task_groups["web"].clone();
    assert_eq!(g2.placed_allocs, 2);
    assert_eq!(g2.require_progress_by, g.require_progress_by);
}

/// A7: unset→unhealthy never moves the deadline; healthy→unhealthy does (−1 delta).
#[test]
fn a7_unhealthy_does_not_move_deadline_but_a_flip_does() {
    let mut w = World::new();
    let o = w.register(service_job("web", 2, pd(5)));
    let d = o.deployments_created[0];
    let placed = w.schedule();
    let before = w.deployment(d).task_groups["web"].require_progress_by;
    w.advance(10 * SECOND_NS);
    w.client(placed[0], "running", Some(false));
    assert_eq!(
        w.deployment(d).task_groups["web"].require_progress_by,
        before
    );
    w.advance(10 * SECOND_NS);
    w.client(placed[1], "running", Some(true));
    let after_healthy = w.deployment(d).task_groups["web"].require_progress_by;
    assert_eq!(after_healthy, Timestamp(w.now()).plus(5 * MINUTE_NS));
    w.advance(10 * SECOND_NS);
    w.client(placed[1], "running", Some(false));
    let g = w.deployment(d).task_groups["web"].clone();
    assert_eq!(
        g.require_progress_by,
        Timestamp(w.now()).plus(5 * MINUTE_NS)
    );
    assert_eq!((g.healthy_allocs, g.unhealthy_allocs), (0, 2));
}

/// A3/A5/A8: a write that changes no counter leaves the deployment alone; one that does
/// stamps ModifyIndex and copies the allocation's ModifyTime, keeping CreateIndex.
#[test]
fn a3_a5_a8_deployment_written_only_on_counter_change() {
    let mut w = World::new();
    let o = w.register(service_job("web", 2, pd(5)));
    let d = o.deployments_created[0];
    let placed = w.schedule();
    let before = w.deployment(d);
    w.advance(SECOND_NS);
    w.client(placed[0], "running", None);
    assert_eq!(
        w.deployment(d),
        before,
        "A3: nothing counted, nothing written"
    );
    w.advance(SECOND_NS);
    let out = w.client(placed[0], "running", Some(true));
    let dep = w.deployment(d);
    assert_eq!(dep.create_index, before.create_index);
    assert_eq!(dep.modify_index, out.index);
    assert_eq!(dep.modify_time, w.now());
    assert_eq!(w.state().table_indexes().deployment, out.index);
    // Re-reporting the same health changes nothing.
    w.advance(SECOND_NS);
    w.client(placed[0], "running", Some(true));
    assert_eq!(w.deployment(d).modify_index, out.index);
}

/// A1 and scenario 79: counters of terminal deployments keep changing.
#[test]
fn scenario_79_a1_terminal_deployments_keep_counting() {
    let mut w = World::new();
    let o = w.register(service_job("web", 2, pd(5)));
    let d = o.deployments_created[0];
    let placed = w.schedule();
    w.fail(d).unwrap();
    assert_eq!(w.deployment(d).task_groups["web"].healthy_allocs, 0);
    w.client(placed[0], "running", Some(true));
    assert_eq!(w.deployment(d).task_groups["web"].healthy_allocs, 1);
    assert_eq!(w.deployment(d).status, "failed");
}

/// A1: an allocation outside any deployment changes no deployment.
#[test]
fn a1_allocation_without_deployment_counts_nowhere() {
    let mut w = World::new();
    w.register(service_job("web", 2, update(0, 0)));
    let placed = w.schedule();
    let idx = w.state().table_indexes().deployment;
    w.healthy(&placed);
    assert_eq!(w.state().table_indexes().deployment, idx);
}

/// A9: the client sets health and timestamp, stamps the status's ModifyIndex, keeps
/// AllocModifyIndex, and can never clear the canary flag.
#[test]
fn a4_a9_client_updates_health_only() {
    let mut w = World::new();
    w.deploy(service_job("web", 1, update(1, 1)));
    w.register(with_image(service_job("web", 1, update(1, 1)), "app:2"));
    let c = w.schedule()[0];
    let before = w.alloc(c);
    w.advance(SECOND_NS);
    let o = w.client(c, "running", Some(true));
    let a = w.alloc(c);
    let ds = a.deployment_status.clone().unwrap();
    assert!(ds.canary, "client cannot clear Canary");
    assert_eq!(ds.healthy, Some(true));
    assert_eq!(ds.timestamp, Timestamp(w.now()));
    assert_eq!(ds.modify_index, o.index);
    assert_eq!(a.modify_index, o.index);
    assert_eq!(a.alloc_modify_index, before.alloc_modify_index);
    assert_eq!(a.modify_time, w.now());
}

/// A9: with no stored deployment status, the client's object is adopted whole.
#[test]
fn a9_client_status_adopted_when_none_stored() {
    let mut w = World::new();
    w.register(service_job("web", 1, pd(5)));
    let a = w.schedule()[0];
    assert_eq!(w.alloc(a).deployment_status, None);
    let now = w.now();
    let o = w.apply(rollout_engine::Command::UpdateAllocsFromClient(
        rollout_engine::command::ClientAllocUpdates {
            allocations: vec![rollout_engine::command::ClientAllocUpdate {
                id: a,
                client_status: "running".into(),
                deployment_status: Some(rollout_engine::command::ClientDeploymentStatus {
                    healthy: Some(false),
                    timestamp: Timestamp(now),
                    canary: true,
                }),
                modify_time: now,
                ..Default::default()
            }],
        },
    ));
    let ds = w.alloc(a).deployment_status.unwrap();
    assert_eq!(
        ds,
        AllocDeploymentStatus {
            canary: true,
            healthy: Some(false),
            modify_index: o.index,
            timestamp: Timestamp(now)
        }
    );
}

/// Scenario 31 [TestStateStore_UpsertDeploymentAlloc_Canaries]: only canaries enter
/// PlacedCanaries, each deployment its own.
#[test]
fn scenario_31_a6_placed_canaries_bookkeeping() {
    let mut w = World::new();
    w.deploy(service_job("web", 3, update(1, 1)));
    let o1 = w.register(with_image(service_job("web", 3, update(1, 1)), "app:2"));
    let c1 = w.schedule();
    assert_eq!(
        w.deployment(o1.deployments_created[0]).task_groups["web"].placed_canaries_slice(),
        &c1[..]
    );
    let o2 = w.register(with_image(service_job("web", 3, update(1, 1)), "app:3"));
    let c2 = w.schedule();
    assert_eq!(c2.len(), 1);
    assert_eq!(
        w.deployment(o2.deployments_created[0]).task_groups["web"].placed_canaries_slice(),
        &c2[..]
    );
    assert_eq!(
        w.deployment(o1.deployments_created[0]).task_groups["web"]
            .placed_canaries_slice()
            .len(),
        1
    );
    // [TestStateStore_UpsertDeploymentAlloc_NoCanaries]: healthy non-canaries never enter.
    let mut w = World::new();
    let o = w.register(service_job("web", 2, pd(5)));
    let placed = w.schedule();
    w.healthy(&placed);
    assert!(w.deployment(o.deployments_created[0]).task_groups["web"]
        .placed_canaries_slice()
        .is_empty());
}

/// Scenario 36 [TestStateStore_UpsertPlanResults_Deployment]: a plan counts its
/// placements and stamps the scheduling eval; moving allocations into a new deployment
/// counts them there.
#[test]
fn scenario_36_plan_placements_counted_and_moved() {
    let mut w = World::new();
    let o = w.register(service_job("web", 2, pd(5)));
    let eval = w.pending_evals()[0];
    let p = w.pending_plan();
    let r = w.apply(rollout_engine::Command::ApplyPlanResult(
        p.accept_on_node("node-1", "n1"),
    ));
    assert_eq!(
        w.deployment(o.deployments_created[0]).task_groups["web"].placed_allocs,
        2
    );
    assert_eq!(w.state().eval(&eval).unwrap().modify_index, r.index);
    let mut v1 = service_job("web", 2, pd(5));
    v1.priority = 10;
    let o2 = w.register(v1);
    let eval2 = w.pending_evals().last().copied().unwrap();
    let p = plan_pending(&w, eval2);
    let r = w.apply(rollout_engine::Command::ApplyPlanResult(
        p.accept_on_node("node-1", "n1"),
    ));
    assert_eq!(
        w.deployment(o2.deployments_created[0]).task_groups["web"].placed_allocs,
        2
    );
    assert_eq!(w.state().eval(&eval2).unwrap().modify_index, r.index);
}

fn plan_pending(w: &World, eval: uuid::Uuid) -> rollout_engine::Plan {
    rollout_engine::plan(w.state(), &eval, w.now()).unwrap()
}

/// One client report with `task_states` (`None`: the report carries none).
fn task_report(
    id: uuid::Uuid,
    status: &str,
    task_states: Option<SmallMap<TaskState>>,
    now: i64,
) -> rollout_engine::Command {
    rollout_engine::Command::UpdateAllocsFromClient(rollout_engine::command::ClientAllocUpdates {
        allocations: vec![rollout_engine::command::ClientAllocUpdate {
            id,
            client_status: status.into(),
            task_states,
            modify_time: now,
            ..Default::default()
        }],
    })
}

fn task(state: &str, events: &[(&str, i64)]) -> TaskState {
    TaskState {
        state: state.into(),
        events: Some(
            events
                .iter()
                .map(|(kind, time)| TaskEvent {
                    event_type: kind.to_string(),
                    time: *time,
                    ..TaskEvent::default()
                })
                .collect(),
        ),
        ..TaskState::default()
    }
}

/// A9: the client is the authority on task states. Nomad's client sends the whole
/// `TaskStates` map with every update and the server copies it over the stored one, so a
/// report replaces the map (tasks and events), it never merges into it.
#[test]
fn a9_client_task_states_replace_the_stored_map() {
    let mut w = World::new();
    w.register(service_job("web", 1, pd(5)));
    let a = w.schedule()[0];
    let now = w.now();
    let mut first = SmallMap::new();
    first.insert("app".into(), task("pending", &[("Received", now)]));
    first.insert("sidecar".into(), task("pending", &[("Received", now)]));
    w.apply(task_report(a, "pending", Some(first.clone()), now));
    assert_eq!(w.alloc(a).task_states, Some(first));

    w.advance(SECOND_NS);
    let later = w.now();
    let mut second = SmallMap::new();
    second.insert(
        "app".into(),
        task("running", &[("Received", now), ("Started", later)]),
    );
    w.apply(task_report(a, "running", Some(second.clone()), later));
    let stored = w.alloc(a);
    assert_eq!(stored.task_states, Some(second));
    assert_eq!(stored.client_status, "running");
}

/// A report without `TaskStates` (rollout's ingest API takes status-only reports; Nomad's
/// client never sends one) keeps the stored task states.
#[test]
fn a9_a_report_without_task_states_keeps_them() {
    let mut w = World::new();
    w.register(service_job("web", 1, pd(5)));
    let a = w.schedule()[0];
    let now = w.now();
    let mut states = SmallMap::new();
    states.insert("app".into(), task("running", &[("Started", now)]));
    w.apply(task_report(a, "running", Some(states.clone()), now));
    w.advance(SECOND_NS);
    w.client(a, "running", Some(true));
    assert_eq!(w.alloc(a).task_states, Some(states));
}
