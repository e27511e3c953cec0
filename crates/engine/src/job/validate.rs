//! Job validation with Nomad's messages (§1.8, §5.6).
//!
//! The message texts are Nomad's, byte for byte; the *shape* is rollout's own choice.
//! Nomad nests its errors (`Task group web validation failed: 2 errors occurred: …`, the
//! update block's own multi-error inside that, `Task web validation failed: …` inside
//! that again) and the nesting is hard to predict or match on. rollout returns one flat,
//! unprefixed list instead, in a fixed order that follows Nomad's check order:
//!
//! 1. job-level checks (region, ID, name, namespace, type, datacenters, task groups);
//! 2. the job-level pass over the groups, in group order (unnamed or duplicate groups,
//!    system-job counts);
//! 3. each group in order: name, count, tasks, the update block (job type first, then the
//!    block's fields in Nomad's order), duplicate/unnamed/leader tasks, then each task;
//! 4. the priority range, last, because Nomad checks it at admission after `Validate`.
//!
//! Callers that need Nomad's single-error text join the list with
//! [`crate::format::multierror`]. Warnings follow the same rules.
//!
//! A few texts are quoted from memory of Nomad's sources rather than from the spec; they
//! are marked "unsure" where they are produced.

use crate::format::{go_duration, go_quote};
use crate::model::{health_check, job_type, Job, Task, TaskGroup, UpdateStrategy};
use std::collections::BTreeMap;

/// The most allocations one job may ask for, summed over its groups' counts. Nomad has
/// no such limit; rollout has one because planning and reconciling are linear in a
/// group's count: a registration with `Count` = 2^62 would otherwise exhaust memory
/// inside `apply` (found by the `engine_commands` fuzz target). Far above any real job.
pub const MAX_JOB_ALLOCATIONS: i64 = 100_000;

/// Nomad's priority range (`JobMinPriority`, default `job_max_priority`).
const PRIORITY_MIN: i64 = 1;
const PRIORITY_MAX: i64 = 100;

/// The result of validating a canonical job: fatal errors and non-fatal warnings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validation {
    /// Problems that make the job invalid (`Job validation failed`).
    pub errors: Vec<String>,
    /// Problems the registration reports but accepts (`Warnings`).
    pub warnings: Vec<String>,
}

/// Validates a canonicalised job.
pub fn validate(job: &Job) -> Validation {
    let mut errors = job_errors(job);
    errors.extend(group_list_errors(job));
    for group in &job.task_groups {
        errors.extend(group_errors(job, group));
    }
    errors.extend(priority_error(job));
    Validation {
        errors,
        warnings: warnings(job),
    }
}

fn job_errors(job: &Job) -> Vec<String> {
    let mut errors = Vec::new();
    let multiregion = job.multiregion.as_ref().is_some_and(|m| !m.is_null());
    if job.region.is_empty() && !multiregion {
        errors.push("Missing job region".to_string());
    }
    if job.id.is_empty() {
        errors.push("Missing job ID".to_string());
    } else if job.id.contains(' ') {
        errors.push("Job ID contains a space".to_string());
    } else if job.id.contains('\0') {
        errors.push("Job ID contains a null character".to_string());
    }
    if job.name.is_empty() {
        errors.push("Missing job name".to_string());
    } else if job.name.contains('\0') {
        // unsure: capitalisation of "Name" in this text.
        errors.push("Job Name contains a null character".to_string());
    }
    if job.namespace.is_empty() {
        errors.push("Job must be in a namespace".to_string());
    }
    match job.job_type.as_str() {
        job_type::SERVICE | job_type::BATCH | job_type::SYSTEM | job_type::SYSBATCH | "_core" => {}
        "" => errors.push("Missing job type".to_string()),
        other => errors.push(format!("Invalid job type: {}", go_quote(other))),
    }
    let datacenters = job.datacenters.as_deref().unwrap_or_default();
    if datacenters.is_empty() && !multiregion {
        errors.push("Missing job datacenters".to_string());
    }
    for dc in datacenters {
        if dc.is_empty() {
            errors.push("Job datacenter must be non-empty string".to_string());
        }
    }
    if job.task_groups.is_empty() {
        errors.push("Missing job task groups".to_string());
    }
    errors
}

/// The job-level pass over the group list: names (1-based positions, as Nomad prints them),
/// the system scheduler's count limit and rollout's limit on the job's total count.
fn group_list_errors(job: &Job) -> Vec<String> {
    let mut errors = Vec::new();
    let mut first_position: BTreeMap<&str, usize> = BTreeMap::new();
    let total = job
        .task_groups
        .iter()
        .map(|g| g.count.unwrap_or(1).max(0))
        .fold(0i64, i64::saturating_add);
    if total > MAX_JOB_ALLOCATIONS {
        errors.push(format!(
            "Job task groups have a total count of {total}, more than the limit of {MAX_JOB_ALLOCATIONS}"
        ));
    }
    for (idx, group) in job.task_groups.iter().enumerate() {
        let position = idx + 1;
        if group.name.is_empty() {
            errors.push(format!("Job task group {position} missing name"));
        } else if let Some(first) = first_position.get(group.name.as_str()) {
            errors.push(format!(
                "Job task group {position} redefines '{}' from group {first}",
                group.name
            ));
        } else {
            first_position.insert(&group.name, position);
        }
        let count = group.count.unwrap_or(1);
        if job.job_type == job_type::SYSTEM && count > 1 {
            errors.push(format!(
                "Job task group {} has count {count}. Count cannot exceed 1 with system scheduler",
                group.name
            ));
        }
    }
    errors
}

fn group_errors(job: &Job, group: &TaskGroup) -> Vec<String> {
    let mut errors = Vec::new();
    if group.name.is_empty() {
        errors.push("Missing task group name".to_string());
    }
    if group.count.unwrap_or(1) < 0 {
        errors.push("Task group count can't be negative".to_string());
    }
    if group.tasks.is_empty() {
        errors.push("Missing tasks for task group".to_string());
    }
    if let Some(update) = &group.update {
        if !allows_update_block(&job.job_type) {
            errors.push(format!(
                "Job type {} does not allow update block",
                go_quote(&job.job_type)
            ));
        }
        errors.extend(update_errors(update));
    }
    errors.extend(task_list_errors(group));
    for task in &group.tasks {
        errors.extend(task_errors(job, group, task));
    }
    errors
}

/// §1.8: only service and system jobs may carry an update block.
fn allows_update_block(job_type: &str) -> bool {
    job_type == job_type::SERVICE || job_type == job_type::SYSTEM
}

/// §1.8, in Nomad's check order. Fields a non-canonical block leaves unset are read as
/// their defaults, the values canonicalisation would have filled.
fn update_errors(block: &UpdateStrategy) -> Vec<String> {
    let u = UpdateStrategy::nomad_default().merged_with(block);
    let health_check = u.health_check.unwrap_or_default();
    let max_parallel = u.max_parallel.unwrap_or(0);
    let canary = u.canary.unwrap_or(0);
    let auto_promote = u.auto_promote.unwrap_or(false);
    let min_healthy_time = u.min_healthy_time.unwrap_or(0);
    let healthy_deadline = u.healthy_deadline.unwrap_or(0);
    let progress_deadline = u.progress_deadline.unwrap_or(0);
    let stagger = u.stagger.unwrap_or(0);

    let mut errors = Vec::new();
    match health_check.as_str() {
        health_check::CHECKS | health_check::TASK_STATES | health_check::MANUAL => {}
        other => errors.push(format!("Invalid health check given: {}", go_quote(other))),
    }
    if max_parallel < 0 {
        errors.push(format!(
            "Max parallel can not be less than zero: {max_parallel} < 0"
        ));
    }
    if canary < 0 {
        errors.push(format!(
            "Canary count can not be less than zero: {canary} < 0"
        ));
    }
    if canary == 0 && auto_promote {
        errors.push("Auto Promote requires a Canary count greater than zero".to_string());
    }
    if min_healthy_time < 0 {
        errors.push(format!(
            "Minimum healthy time may not be less than zero: {}",
            go_duration(min_healthy_time)
        ));
    }
    if healthy_deadline <= 0 {
        errors.push(format!(
            "Healthy deadline must be greater than zero: {}",
            go_duration(healthy_deadline)
        ));
    }
    if progress_deadline < 0 {
        errors.push(format!(
            "Progress deadline must be zero or greater: {}",
            go_duration(progress_deadline)
        ));
    }
    if min_healthy_time >= healthy_deadline {
        errors.push(format!(
            "Minimum healthy time must be less than healthy deadline: {} > {}",
            go_duration(min_healthy_time),
            go_duration(healthy_deadline)
        ));
    }
    if progress_deadline != 0 && healthy_deadline >= progress_deadline {
        errors.push(format!(
            "Healthy deadline must be less than progress deadline: {} > {}",
            go_duration(healthy_deadline),
            go_duration(progress_deadline)
        ));
    }
    if stagger <= 0 {
        errors.push(format!(
            "Stagger must be greater than zero: {}",
            go_duration(stagger)
        ));
    }
    errors
}

/// Unnamed and duplicate tasks (1-based positions) and the single-leader rule.
fn task_list_errors(group: &TaskGroup) -> Vec<String> {
    let mut errors = Vec::new();
    let mut first_position: BTreeMap<&str, usize> = BTreeMap::new();
    for (idx, task) in group.tasks.iter().enumerate() {
        let position = idx + 1;
        if task.name.is_empty() {
            errors.push(format!("Task {position} missing name"));
        } else if let Some(first) = first_position.get(task.name.as_str()) {
            errors.push(format!(
                "Task {position} redefines '{}' from task {first}",
                task.name
            ));
        } else {
            first_position.insert(&task.name, position);
        }
    }
    if group.tasks.iter().filter(|t| t.leader).count() > 1 {
        errors.push("Only one task may be marked as leader".to_string());
    }
    errors
}

fn task_errors(job: &Job, group: &TaskGroup, task: &Task) -> Vec<String> {
    let mut errors = Vec::new();
    if task.driver.is_empty() {
        errors.push("Missing task driver".to_string());
    }
    let kill_timeout = task.kill_timeout.unwrap_or(0);
    if kill_timeout < 0 {
        // unsure: exact text.
        errors.push("KillTimeout must be a positive value".to_string());
    } else if let Some(progress_deadline) = kill_timeout_conflict(job, group, kill_timeout) {
        // The typo "KillTimout" is Nomad's (§7.1 item 27).
        errors.push(format!(
            "KillTimout ({}) longer than the group's ProgressDeadline ({})",
            go_duration(kill_timeout),
            go_duration(progress_deadline)
        ));
    }
    errors
}

/// §1.8 task rule (service jobs): the group's progress deadline, when it is set and a
/// task's kill timeout exceeds it. `progress_deadline = 0` means "no deadline" and never
/// conflicts.
fn kill_timeout_conflict(job: &Job, group: &TaskGroup, kill_timeout: i64) -> Option<i64> {
    if job.job_type != job_type::SERVICE {
        return None;
    }
    let block = group.update.as_ref()?;
    let progress_deadline = UpdateStrategy::nomad_default()
        .merged_with(block)
        .progress_deadline
        .unwrap_or(0);
    (progress_deadline > 0 && kill_timeout > progress_deadline).then_some(progress_deadline)
}

/// The two §1.8 warnings: per group in order, then the job-wide auto-promote one.
fn warnings(job: &Job) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut some_auto_promote = false;
    let mut all_auto_promote = true;
    for group in &job.task_groups {
        let Some(block) = &group.update else { continue };
        let u = UpdateStrategy::nomad_default().merged_with(block);
        let max_parallel = u.max_parallel.unwrap_or(0);
        let count = group.count.unwrap_or(1);
        if count > 1 && max_parallel > count {
            warnings.push(format!(
                "Update max parallel count is greater than task group count ({max_parallel} > {count}). \
                 A destructive change would result in the simultaneous replacement of all allocations."
            ));
        }
        let auto_promote = u.auto_promote.unwrap_or(false);
        some_auto_promote |= auto_promote;
        // A group without canaries has nothing to promote, so it does not object.
        all_auto_promote &= u.canary.unwrap_or(0) == 0 || auto_promote;
    }
    if some_auto_promote && !all_auto_promote {
        warnings.push(
            "auto_promote must be true for all groups to enable automatic promotion".to_string(),
        );
    }
    warnings
}

/// Checked at admission, after the structural checks (so its message comes last).
/// unsure: Nomad ≥ 1.5 spells it with a lower-case "job" (older versions: "Job").
fn priority_error(job: &Job) -> Option<String> {
    (!(PRIORITY_MIN..=PRIORITY_MAX).contains(&job.priority))
        .then(|| format!("job priority must be between [{PRIORITY_MIN}, {PRIORITY_MAX}]"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::canonicalize;
    use crate::job::test_support::{group, job, task};
    use crate::model::{MINUTE_NS, SECOND_NS};

    /// A valid canonical service job: group "web" (count 3) running task "server".
    fn service() -> Job {
        let mut g = group("web", vec![task("server")]);
        g.count = Some(3);
        let mut j = job("api", "service", vec![g]);
        canonicalize(&mut j);
        j
    }

    fn errors(j: &Job) -> Vec<String> {
        validate(j).errors
    }

    fn warnings_of(j: &Job) -> Vec<String> {
        validate(j).warnings
    }

    /// The errors of `service()` with the web group's update block changed by `f`.
    fn update_errors_with(f: impl FnOnce(&mut UpdateStrategy)) -> Vec<String> {
        let mut j = service();
        if let Some(u) = j.task_groups[0].update.as_mut() {
            f(u);
        }
        errors(&j)
    }

    #[test]
    fn canonical_service_job_is_valid() {
        assert_eq!(validate(&service()), Validation::default());
    }

    #[test]
    fn canonical_jobs_of_every_type_without_update_blocks_are_valid() {
        for ty in ["service", "batch", "system", "sysbatch"] {
            let mut j = job("api", ty, vec![group("web", vec![task("server")])]);
            canonicalize(&mut j);
            assert_eq!(validate(&j), Validation::default(), "{ty}");
        }
    }

    /// (case name, how to break the job, the one expected message)
    type Case = (&'static str, fn(&mut Job), &'static str);

    #[test]
    fn validation_job_level_messages() {
        let cases: Vec<Case> = vec![
            ("no id", |j| j.id.clear(), "Missing job ID"),
            (
                "space",
                |j| j.id = "my job".into(),
                "Job ID contains a space",
            ),
            (
                "nul",
                |j| j.id = "my\0job".into(),
                "Job ID contains a null character",
            ),
            ("no name", |j| j.name.clear(), "Missing job name"),
            (
                "nul name",
                |j| j.name = "a\0".into(),
                "Job Name contains a null character",
            ),
            ("no region", |j| j.region.clear(), "Missing job region"),
            (
                "no namespace",
                |j| j.namespace.clear(),
                "Job must be in a namespace",
            ),
            ("no type", |j| j.job_type.clear(), "Missing job type"),
            (
                "bad type",
                |j| j.job_type = "web\"app".into(),
                "Invalid job type: \"web\\\"app\"",
            ),
            (
                "no dcs",
                |j| j.datacenters = None,
                "Missing job datacenters",
            ),
            (
                "empty dcs",
                |j| j.datacenters = Some(vec![]),
                "Missing job datacenters",
            ),
            (
                "blank dc",
                |j| j.datacenters = Some(vec!["dc1".into(), String::new()]),
                "Job datacenter must be non-empty string",
            ),
            (
                "no groups",
                |j| j.task_groups.clear(),
                "Missing job task groups",
            ),
            (
                "priority 0",
                |j| j.priority = 0,
                "job priority must be between [1, 100]",
            ),
            (
                "priority 101",
                |j| j.priority = 101,
                "job priority must be between [1, 100]",
            ),
            (
                "priority -5",
                |j| j.priority = -5,
                "job priority must be between [1, 100]",
            ),
        ];
        for (name, mutate, expected) in cases {
            let mut j = service();
            // Without the update block, so that a changed job type only yields one message.
            j.task_groups[0].update = None;
            mutate(&mut j);
            assert_eq!(errors(&j), vec![expected.to_string()], "{name}");
        }
    }

    #[test]
    fn validation_priority_bounds_are_inclusive() {
        for p in [1, 50, 100] {
            let mut j = service();
            j.priority = p;
            assert!(errors(&j).is_empty(), "{p}");
        }
    }

    #[test]
    fn validation_multiregion_needs_no_region_or_datacenters() {
        let mut j = service();
        j.region.clear();
        j.datacenters = None;
        j.multiregion = Some(serde_json::json!({"Regions": []}));
        assert!(errors(&j).is_empty());
    }

    #[test]
    fn validation_core_job_type_is_known() {
        let mut j = service();
        j.job_type = "_core".into();
        j.task_groups[0].update = None;
        assert!(errors(&j).is_empty());
    }

    #[test]
    fn validation_unnamed_group_reports_position_and_missing_name() {
        let mut j = service();
        j.task_groups[0].name.clear();
        assert_eq!(
            errors(&j),
            vec!["Job task group 1 missing name", "Missing task group name"]
        );
    }

    #[test]
    fn validation_duplicate_group_names_use_one_based_positions() {
        let mut j = service();
        let web = j.task_groups[0].clone();
        let mut db = web.clone();
        db.name = "db".into();
        j.task_groups = vec![web.clone(), db, web];
        assert_eq!(
            errors(&j),
            vec!["Job task group 3 redefines 'web' from group 1"]
        );
    }

    #[test]
    fn validation_system_group_count_cannot_exceed_one() {
        let mut j = job("api", "system", vec![group("web", vec![task("server")])]);
        canonicalize(&mut j);
        j.task_groups[0].count = Some(2);
        assert_eq!(
            errors(&j),
            vec!["Job task group web has count 2. Count cannot exceed 1 with system scheduler"]
        );
    }

    #[test]
    fn validation_total_count_is_limited() {
        let mut j = service();
        j.task_groups[0].count = Some(MAX_JOB_ALLOCATIONS);
        assert!(errors(&j).is_empty());
        j.task_groups[0].count = Some(i64::MAX);
        let mut second = j.task_groups[0].clone();
        second.name = "api".into();
        j.task_groups.push(second);
        assert_eq!(
            errors(&j),
            vec![format!(
                "Job task groups have a total count of {}, more than the limit of {MAX_JOB_ALLOCATIONS}",
                i64::MAX
            )]
        );
    }

    #[test]
    fn validation_group_count_cannot_be_negative() {
        let mut j = service();
        j.task_groups[0].count = Some(-1);
        assert_eq!(errors(&j), vec!["Task group count can't be negative"]);
    }

    #[test]
    fn validation_group_needs_tasks() {
        let mut j = service();
        j.task_groups[0].tasks.clear();
        assert_eq!(errors(&j), vec!["Missing tasks for task group"]);
    }

    #[test]
    fn validation_task_list_messages() {
        let mut j = service();
        let server = j.task_groups[0].tasks[0].clone();
        let mut unnamed = server.clone();
        unnamed.name.clear();
        let mut leader = server.clone();
        leader.name = "leader".into();
        leader.leader = true;
        let mut other_leader = leader.clone();
        other_leader.name = "other".into();
        j.task_groups[0].tasks = vec![server.clone(), unnamed, server, leader, other_leader];
        assert_eq!(
            errors(&j),
            vec![
                "Task 2 missing name",
                "Task 3 redefines 'server' from task 1",
                "Only one task may be marked as leader",
            ]
        );
    }

    #[test]
    fn validation_task_needs_a_driver() {
        let mut j = service();
        j.task_groups[0].tasks[0].driver.clear();
        assert_eq!(errors(&j), vec!["Missing task driver"]);
    }

    #[test]
    fn validation_kill_timeout_cannot_be_negative() {
        let mut j = service();
        j.task_groups[0].tasks[0].kill_timeout = Some(-SECOND_NS);
        assert_eq!(errors(&j), vec!["KillTimeout must be a positive value"]);
    }

    #[test]
    fn validation_kill_timeout_longer_than_progress_deadline() {
        let mut j = service();
        j.task_groups[0].tasks[0].kill_timeout = Some(35 * MINUTE_NS);
        assert_eq!(
            errors(&j),
            vec!["KillTimout (35m0s) longer than the group's ProgressDeadline (10m0s)"]
        );
    }

    #[test]
    fn validation_kill_timeout_equal_to_progress_deadline_is_fine() {
        let mut j = service();
        j.task_groups[0].tasks[0].kill_timeout = Some(10 * MINUTE_NS);
        assert!(errors(&j).is_empty());
    }

    #[test]
    fn validation_progress_deadline_zero_never_conflicts_with_kill_timeout() {
        let mut j = service();
        j.task_groups[0].tasks[0].kill_timeout = Some(35 * MINUTE_NS);
        if let Some(u) = j.task_groups[0].update.as_mut() {
            u.progress_deadline = Some(0);
        }
        assert!(errors(&j).is_empty());
    }

    #[test]
    fn validation_kill_timeout_rule_is_for_service_jobs_only() {
        let mut j = job("api", "system", vec![group("web", vec![task("server")])]);
        canonicalize(&mut j);
        j.task_groups[0].tasks[0].kill_timeout = Some(35 * MINUTE_NS);
        assert!(errors(&j).is_empty());
    }

    #[test]
    fn validation_update_block_not_allowed_for_batch_and_sysbatch() {
        for ty in ["batch", "sysbatch"] {
            let mut g = group("web", vec![task("server")]);
            g.update = Some(UpdateStrategy {
                canary: Some(1),
                ..Default::default()
            });
            let mut j = job("api", ty, vec![g]);
            canonicalize(&mut j);
            assert_eq!(
                errors(&j),
                vec![format!("Job type \"{ty}\" does not allow update block")],
                "{ty}"
            );
        }
    }

    #[test]
    fn validation_job_level_update_on_batch_job_is_rejected() {
        let mut j = job("api", "batch", vec![group("web", vec![task("server")])]);
        j.update = UpdateStrategy {
            max_parallel: Some(2),
            ..Default::default()
        };
        canonicalize(&mut j);
        assert_eq!(
            errors(&j),
            vec!["Job type \"batch\" does not allow update block"]
        );
    }

    #[test]
    fn validation_update_block_allowed_for_system_jobs() {
        let mut g = group("web", vec![task("server")]);
        g.update = Some(UpdateStrategy {
            max_parallel: Some(1),
            ..Default::default()
        });
        let mut j = job("api", "system", vec![g]);
        canonicalize(&mut j);
        assert!(errors(&j).is_empty());
    }

    #[test]
    fn validation_invalid_health_check() {
        assert_eq!(
            update_errors_with(|u| u.health_check = Some("http".into())),
            vec!["Invalid health check given: \"http\""]
        );
        for ok in ["checks", "task_states", "manual"] {
            assert!(
                update_errors_with(|u| u.health_check = Some(ok.into())).is_empty(),
                "{ok}"
            );
        }
    }

    #[test]
    fn validation_max_parallel_cannot_be_negative() {
        assert_eq!(
            update_errors_with(|u| u.max_parallel = Some(-2)),
            vec!["Max parallel can not be less than zero: -2 < 0"]
        );
    }

    #[test]
    fn validation_max_parallel_zero_is_valid() {
        assert!(update_errors_with(|u| u.max_parallel = Some(0)).is_empty());
    }

    #[test]
    fn validation_canary_cannot_be_negative() {
        assert_eq!(
            update_errors_with(|u| u.canary = Some(-1)),
            vec!["Canary count can not be less than zero: -1 < 0"]
        );
    }

    #[test]
    fn validation_auto_promote_requires_canaries() {
        assert_eq!(
            update_errors_with(|u| u.auto_promote = Some(true)),
            vec!["Auto Promote requires a Canary count greater than zero"]
        );
        assert!(update_errors_with(|u| {
            u.auto_promote = Some(true);
            u.canary = Some(1);
        })
        .is_empty());
    }

    #[test]
    fn validation_min_healthy_time_cannot_be_negative() {
        assert_eq!(
            update_errors_with(|u| u.min_healthy_time = Some(-SECOND_NS)),
            vec!["Minimum healthy time may not be less than zero: -1s"]
        );
    }

    #[test]
    fn validation_healthy_deadline_must_be_greater_than_zero() {
        assert_eq!(
            update_errors_with(|u| {
                u.healthy_deadline = Some(0);
                u.min_healthy_time = Some(-SECOND_NS);
            }),
            vec![
                "Minimum healthy time may not be less than zero: -1s",
                "Healthy deadline must be greater than zero: 0s",
            ]
        );
    }

    #[test]
    fn validation_progress_deadline_cannot_be_negative() {
        assert_eq!(
            update_errors_with(|u| u.progress_deadline = Some(-MINUTE_NS)),
            vec![
                "Progress deadline must be zero or greater: -1m0s",
                "Healthy deadline must be less than progress deadline: 5m0s > -1m0s",
            ]
        );
    }

    #[test]
    fn validation_min_healthy_time_must_be_less_than_healthy_deadline() {
        assert_eq!(
            update_errors_with(|u| u.min_healthy_time = Some(5 * MINUTE_NS)),
            vec!["Minimum healthy time must be less than healthy deadline: 5m0s > 5m0s"]
        );
        assert_eq!(
            update_errors_with(|u| u.min_healthy_time = Some(6 * MINUTE_NS + 500_000_000)),
            vec!["Minimum healthy time must be less than healthy deadline: 6m0.5s > 5m0s"]
        );
    }

    #[test]
    fn validation_healthy_deadline_must_be_less_than_progress_deadline() {
        assert_eq!(
            update_errors_with(|u| u.healthy_deadline = Some(10 * MINUTE_NS)),
            vec!["Healthy deadline must be less than progress deadline: 10m0s > 10m0s"]
        );
        assert!(update_errors_with(|u| {
            u.healthy_deadline = Some(20 * MINUTE_NS);
            u.progress_deadline = Some(0);
        })
        .is_empty());
    }

    #[test]
    fn validation_stagger_must_be_greater_than_zero() {
        assert_eq!(
            update_errors_with(|u| u.stagger = Some(0)),
            vec!["Stagger must be greater than zero: 0s"]
        );
    }

    #[test]
    fn validation_update_messages_come_in_nomads_order() {
        let all = update_errors_with(|u| {
            *u = UpdateStrategy {
                stagger: Some(-1),
                max_parallel: Some(-1),
                health_check: Some(String::new()),
                min_healthy_time: Some(-SECOND_NS),
                healthy_deadline: Some(-SECOND_NS),
                progress_deadline: Some(-2 * SECOND_NS),
                auto_revert: Some(false),
                auto_promote: Some(true),
                canary: Some(0),
            }
        });
        assert_eq!(
            all,
            vec![
                "Invalid health check given: \"\"",
                "Max parallel can not be less than zero: -1 < 0",
                "Auto Promote requires a Canary count greater than zero",
                "Minimum healthy time may not be less than zero: -1s",
                "Healthy deadline must be greater than zero: -1s",
                "Progress deadline must be zero or greater: -2s",
                "Minimum healthy time must be less than healthy deadline: -1s > -1s",
                "Healthy deadline must be less than progress deadline: -1s > -2s",
                "Stagger must be greater than zero: -1ns",
            ]
        );
    }

    #[test]
    fn validation_unset_update_fields_read_as_defaults() {
        let mut j = service();
        j.task_groups[0].update = Some(UpdateStrategy {
            canary: Some(1),
            ..Default::default()
        });
        assert!(errors(&j).is_empty());
    }

    #[test]
    fn validation_errors_are_ordered_job_groups_then_priority() {
        let mut j = service();
        j.id = "a b".into();
        j.priority = 0;
        let mut db = j.task_groups[0].clone();
        db.name = "db".into();
        db.tasks[0].driver.clear();
        if let Some(u) = db.update.as_mut() {
            u.canary = Some(-1);
        }
        j.task_groups[0].count = Some(-1);
        j.task_groups.push(db);
        j.job_type = "batch".into();
        assert_eq!(
            errors(&j),
            vec![
                "Job ID contains a space",
                "Task group count can't be negative",
                "Job type \"batch\" does not allow update block",
                "Job type \"batch\" does not allow update block",
                "Canary count can not be less than zero: -1 < 0",
                "Missing task driver",
                "job priority must be between [1, 100]",
            ]
        );
    }

    #[test]
    fn warning_max_parallel_greater_than_count() {
        let mut j = service();
        if let Some(u) = j.task_groups[0].update.as_mut() {
            u.max_parallel = Some(4);
        }
        assert_eq!(
            warnings_of(&j),
            vec![
                "Update max parallel count is greater than task group count (4 > 3). A destructive change \
                 would result in the simultaneous replacement of all allocations."
            ]
        );
        assert!(errors(&j).is_empty());
    }

    #[test]
    fn warning_max_parallel_needs_count_above_one() {
        let mut j = service();
        j.task_groups[0].count = Some(1);
        if let Some(u) = j.task_groups[0].update.as_mut() {
            u.max_parallel = Some(4);
        }
        assert!(warnings_of(&j).is_empty());
        j.task_groups[0].count = Some(3);
        if let Some(u) = j.task_groups[0].update.as_mut() {
            u.max_parallel = Some(3);
        }
        assert!(warnings_of(&j).is_empty());
    }

    fn with_canary_groups(blocks: &[(i64, bool)]) -> Job {
        let mut j = service();
        let template = j.task_groups[0].clone();
        j.task_groups = blocks
            .iter()
            .enumerate()
            .map(|(i, &(canary, auto_promote))| {
                let mut g = template.clone();
                g.name = format!("g{i}");
                if let Some(u) = g.update.as_mut() {
                    u.canary = Some(canary);
                    u.auto_promote = Some(auto_promote);
                }
                g
            })
            .collect();
        j
    }

    #[test]
    fn warning_auto_promote_must_be_set_on_all_canary_groups() {
        let j = with_canary_groups(&[(1, true), (2, false)]);
        assert_eq!(
            warnings_of(&j),
            vec!["auto_promote must be true for all groups to enable automatic promotion"]
        );
    }

    #[test]
    fn warning_auto_promote_not_raised_when_consistent() {
        assert!(warnings_of(&with_canary_groups(&[(1, true), (2, true)])).is_empty());
        assert!(warnings_of(&with_canary_groups(&[(1, false), (2, false)])).is_empty());
        // A group without canaries has nothing to promote.
        assert!(warnings_of(&with_canary_groups(&[(1, true), (0, false)])).is_empty());
    }

    #[test]
    fn warnings_come_per_group_then_job_wide() {
        let mut j = with_canary_groups(&[(1, true), (1, false)]);
        if let Some(u) = j.task_groups[1].update.as_mut() {
            u.max_parallel = Some(5);
        }
        assert_eq!(
            warnings_of(&j),
            vec![
                "Update max parallel count is greater than task group count (5 > 3). A destructive change \
                 would result in the simultaneous replacement of all allocations.",
                "auto_promote must be true for all groups to enable automatic promotion",
            ]
        );
    }

    #[test]
    fn validation_never_panics_on_a_default_job() {
        let v = validate(&Job::default());
        assert!(v.errors.contains(&"Missing job ID".to_string()));
    }
}
