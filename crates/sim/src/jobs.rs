//! Job specs for scenarios, and how a scenario changes them.
//!
//! A job version is fully described by a [`JobSpec`] plus the *release* it runs (the
//! task image) and a *revision* (an in-place knob). Changing the release is a destructive
//! update (new allocations, canaries if configured); bumping the revision changes only
//! the job's priority, which Nomad updates in place (§3.1 C16).

use rollout_engine::model::{
    job_type, Job, ReschedulePolicy, Strategy, Task, TaskGroup, UpdateStrategy,
};
use serde::{Deserialize, Serialize};

/// The namespace every simulated job lives in.
pub const NAMESPACE: &str = "default";

/// One task group of a simulated job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupSpec {
    pub name: String,
    pub count: u64,
    /// The group's `update` block (the engine fills Nomad's defaults for unset fields).
    pub update: UpdateStrategy,
    pub reschedule: ReschedulePolicy,
}

impl GroupSpec {
    /// A group with Nomad's default update block and the service reschedule policy.
    pub fn new(name: &str, count: u64) -> GroupSpec {
        GroupSpec {
            name: name.to_string(),
            count,
            update: UpdateStrategy::nomad_default(),
            reschedule: ReschedulePolicy::service_default(),
        }
    }

    /// The effective strategy (`None`: no deployments for this group).
    pub fn strategy(&self) -> Option<Strategy> {
        let s = Strategy::from_update(&self.update);
        (s.max_parallel > 0).then_some(s)
    }
}

/// A simulated service job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    pub id: String,
    pub groups: Vec<GroupSpec>,
    /// The release the first version runs.
    pub initial_release: String,
}

/// How a scenario changes a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobChange {
    /// Run another release (new image): a destructive update.
    Release(String),
    /// Bump the revision (job priority): an in-place update of the same release.
    Revision,
}

impl JobSpec {
    /// The job to register for `release` at `revision`.
    pub fn job(&self, release: &str, revision: u64) -> Job {
        Job {
            id: self.id.clone(),
            name: self.id.clone(),
            namespace: NAMESPACE.to_string(),
            job_type: job_type::SERVICE.to_string(),
            priority: 50 + (revision % 40) as i64,
            datacenters: Some(vec!["dc1".to_string()]),
            task_groups: self
                .groups
                .iter()
                .map(|g| TaskGroup {
                    name: g.name.clone(),
                    count: Some(g.count as i64),
                    update: Some(g.update.clone()),
                    reschedule_policy: Some(g.reschedule.clone()),
                    tasks: vec![Task {
                        name: "app".to_string(),
                        driver: "docker".to_string(),
                        config: Some(serde_json::json!({ "image": release })),
                        ..Task::default()
                    }],
                    ..TaskGroup::default()
                })
                .collect(),
            ..Job::default()
        }
    }

    pub fn group(&self, name: &str) -> Option<&GroupSpec> {
        self.groups.iter().find(|g| g.name == name)
    }
}

/// The release (task image) a job version runs in `group`, as [`JobSpec::job`] wrote it.
pub fn release_of(job: &Job, group: &str) -> Option<String> {
    job.group(group)?
        .tasks
        .first()?
        .config
        .as_ref()?
        .get("image")?
        .as_str()
        .map(str::to_string)
}

/// The revision a job version was registered with (inverse of [`JobSpec::job`]'s priority).
pub fn revision_of(job: &Job) -> u64 {
    job.priority.saturating_sub(50).max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_round_trips_through_the_job() {
        let spec = JobSpec {
            id: "web".into(),
            groups: vec![GroupSpec::new("api", 3)],
            initial_release: "web:v1".into(),
        };
        let job = spec.job("web:v2", 3);
        assert_eq!(release_of(&job, "api").as_deref(), Some("web:v2"));
        assert_eq!(revision_of(&job), 3);
        assert_eq!(job.task_groups[0].count, Some(3));
    }
}
