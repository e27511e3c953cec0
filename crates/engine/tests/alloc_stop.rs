//! Stopping one allocation (AS1, AS2): the allocation is marked to migrate and an
//! evaluation created; the next plan stops it ("alloc is being migrated") and places its
//! replacement in the same slot, even while the deployment is paused.

mod common;
use common::*;
use rollout_engine::command::StopAllocation;
use rollout_engine::model::*;
use rollout_engine::reconcile::PlacementKind;
use rollout_engine::{Command, Error};

fn stop(id: uuid::Uuid) -> Command {
    Command::StopAllocation(StopAllocation {
        alloc_id: id,
        no_shutdown_delay: false,
    })
}

fn strategy() -> UpdateStrategy {
    UpdateStrategy {
        max_parallel: Some(1),
        min_healthy_time: Some(0),
        ..Default::default()
    }
}

#[test]
fn as1_stop_marks_the_allocation_and_creates_an_alloc_stop_evaluation() {
    let mut w = World::new();
    let allocs = w.deploy(service_job("web", 2, strategy()));
    let out = w.apply(stop(allocs[0]));
    let a = w.alloc(allocs[0]);
    assert_eq!(a.desired_transition.migrate, Some(true));
    assert_eq!(a.desired_status, "run", "only marked: the plan stops it");
    assert_eq!(a.alloc_modify_index, out.index);
    let eval = w.state().eval(&out.eval_id.expect("eval")).unwrap().clone();
    assert_eq!(
        (
            eval.triggered_by.as_str(),
            eval.status.as_str(),
            eval.job_id.as_str()
        ),
        ("alloc-stop", "pending", "web")
    );
    assert_eq!(out.events[0].rule, "AS1");
    let e = w.try_apply(stop(uuid::Uuid::from_u128(7))).unwrap_err();
    assert!(matches!(e, Error::AllocNotFound), "{e}");
    assert_eq!(e.to_string(), "alloc not found");
}

#[test]
fn as2_the_plan_stops_the_marked_allocation_and_replaces_it_in_its_slot() {
    let mut w = World::new();
    let allocs = w.deploy(service_job("web", 2, strategy()));
    let name = w.alloc(allocs[1]).name;
    w.apply(stop(allocs[1]));
    let p = w.plan_now("web");
    assert_eq!(count_kind(&p, PlacementKind::Migrate), 1);
    assert_eq!(p.desired_tg_updates["web"].migrate, 1);
    assert_eq!(p.desired_tg_updates["web"].place, 0);
    assert_eq!(
        p.desired_tg_updates["web"].stop, 0,
        "counted as a migration"
    );
    let placed = w.schedule();
    assert_eq!(placed.len(), 1);
    let old = w.alloc(allocs[1]);
    assert_eq!(
        (
            old.desired_status.as_str(),
            old.desired_description.as_str()
        ),
        ("stop", "alloc is being migrated")
    );
    let new = w.alloc(placed[0]);
    assert_eq!(new.name, name, "the replacement takes the slot");
    assert_eq!(new.previous_allocation, Some(allocs[1]));
    assert_eq!(new.desired_transition, DesiredTransition::default());
    assert_eq!(w.live_allocs("web").len(), 2);
    assert!(
        w.plan_now("web").placements.is_empty(),
        "nothing more to do"
    );
    assert!(w.replay_equals_live());
}

#[test]
fn as2_migrations_are_placed_while_the_deployment_is_paused() {
    let mut w = World::new();
    w.deploy(service_job("web", 2, strategy()));
    let mut v1 = service_job("web", 2, strategy());
    v1.meta = Some([("v".to_string(), "1".to_string())].into());
    let d = w.register(v1).deployments_created[0];
    w.pause(d, true).unwrap();
    let live = w.live_allocs("web");
    w.apply(stop(live[0].id));
    let p = w.plan_now("web");
    assert_eq!(count_kind(&p, PlacementKind::Migrate), 1, "{p:?}");
    assert_eq!(
        count_kind(&p, PlacementKind::Destructive),
        0,
        "the update is held"
    );
}
