mod common;
use common::*;
use rollout_engine::model::*;

#[test]
fn fresh_job_rolls_out_and_succeeds() {
    let mut w = World::new();
    let o = w.register(service_job("web", 3, update(1, 0)));
    assert_eq!(o.deployments_created.len(), 1);
    let d = w.latest_deployment("web");
    assert_eq!(d.status, status::RUNNING);
    assert_eq!(d.task_groups["web"].desired_total, 3);
    let placed = w.schedule();
    assert_eq!(placed.len(), 3);
    w.healthy(&placed);
    let d = w.latest_deployment("web");
    assert_eq!(d.status, status::SUCCESSFUL, "{d:#?}");
    assert_eq!(d.status_description, description::SUCCESSFUL);
    assert!(w.job("web").stable);
    assert!(w.replay_equals_live());
    w.state().check_indexes().unwrap();
}

#[test]
fn canary_rollout_promote_and_complete() {
    let mut w = World::new();
    let placed = {
        w.register(service_job("web", 3, update(1, 1)));
        w.schedule()
    };
    w.healthy(&placed);
    assert!(w.job("web").stable);
    let v1 = with_image(service_job("web", 3, update(1, 1)), "app:2");
    let o = w.register(v1);
    let d = w.deployment(o.deployments_created[0]);
    assert_eq!(d.status_description, description::RUNNING_NEEDS_PROMOTION);
    let canaries = w.schedule();
    assert_eq!(canaries.len(), 1);
    w.healthy(&canaries);
    let d = w.deployment(d.id);
    assert_eq!(d.task_groups["web"].healthy_allocs, 1);
    w.apply(rollout_engine::Command::PromoteDeployment(
        rollout_engine::command::PromoteDeployment {
            deployment_id: d.id,
            all: true,
            groups: None,
        },
    ));
    for _ in 0..10 {
        let placed = w.schedule();
        if placed.is_empty() {
            break;
        }
        w.healthy(&placed);
    }
    let d = w.deployment(d.id);
    assert_eq!(d.status, status::SUCCESSFUL, "{d:#?}");
    assert_eq!(w.live_allocs("web").len(), 3);
    assert!(w.live_allocs("web").iter().all(|a| a.job_version == 1));
    assert!(w.replay_equals_live());
}
