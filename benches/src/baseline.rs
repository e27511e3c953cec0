//! The floor a persistent structure pays for: the set-health step on plain `HashMap`s
//! mutated in place (no snapshots, no sharing, no history).

use rollout_engine::model::{AllocDeploymentStatus, Allocation, Deployment, Evaluation, Timestamp};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Default)]
pub struct MutableStore {
    pub allocs: HashMap<Uuid, Allocation>,
    pub deployments: HashMap<Uuid, Deployment>,
    pub evals: HashMap<Uuid, Evaluation>,
    pub index: u64,
}

impl MutableStore {
    /// Marks `ids` healthy: rewrite each allocation, bump the group counters and the
    /// progress deadline, insert one evaluation — the same rows workload (a) writes.
    pub fn set_health(&mut self, deployment: Uuid, ids: &[Uuid], now: i64, eval_id: Uuid) -> bool {
        self.index += 1;
        let index = self.index;
        let Some(d) = self.deployments.get_mut(&deployment) else {
            return false;
        };
        for id in ids {
            let Some(a) = self.allocs.get_mut(id) else {
                return false;
            };
            if a.deployment_id != Some(deployment) {
                return false;
            }
            let was = a.deployment_status.as_ref().and_then(|s| s.healthy);
            let ds = a
                .deployment_status
                .get_or_insert_with(AllocDeploymentStatus::default);
            ds.healthy = Some(true);
            ds.timestamp = Timestamp(now);
            ds.modify_index = index;
            a.modify_time = now;
            a.modify_index = index;
            if was.is_none() {
                if let Some(g) = d.task_groups.get_mut(&a.task_group) {
                    g.healthy_allocs += 1;
                    let candidate = Timestamp(now).plus(g.progress_deadline);
                    if candidate > g.require_progress_by {
                        g.require_progress_by = candidate;
                    }
                }
                d.modify_index = index;
                d.modify_time = now;
            }
        }
        self.evals.insert(
            eval_id,
            Evaluation {
                id: eval_id,
                namespace: d.namespace.clone(),
                job_id: d.job_id.clone(),
                deployment_id: Some(deployment),
                triggered_by: "deployment-watcher".into(),
                status: "pending".into(),
                create_index: index,
                modify_index: index,
                create_time: now,
                modify_time: now,
                ..Default::default()
            },
        );
        true
    }
}
