//! Builders for the job module's tests.

use crate::model::{Job, Task, TaskGroup};

pub fn job(id: &str, job_type: &str, groups: Vec<TaskGroup>) -> Job {
    Job {
        id: id.to_string(),
        name: id.to_string(),
        job_type: job_type.to_string(),
        priority: 50,
        namespace: "default".to_string(),
        region: "global".to_string(),
        datacenters: Some(vec!["dc1".to_string()]),
        task_groups: groups,
        ..Job::default()
    }
}

pub fn group(name: &str, tasks: Vec<Task>) -> TaskGroup {
    TaskGroup {
        name: name.to_string(),
        count: Some(1),
        tasks,
        ..TaskGroup::default()
    }
}

pub fn task(name: &str) -> Task {
    Task {
        name: name.to_string(),
        driver: "docker".to_string(),
        ..Task::default()
    }
}
