//! Fills the defaults Nomad's API client and server admission fill (`http-api.md` §7.7,
//! semantics §1.8).
//!
//! Canonicalisation runs on every registration, so that every rule downstream reads a job
//! whose optional knobs are all set. It must be idempotent: a stored job (already
//! canonical) that is registered again — a revert, a rollback, a re-submission of the same
//! spec — must come out byte-for-byte identical, or `SpecChanged` (§3.8 R2) would see a
//! difference that the user never made.
//!
//! The update block is the delicate part. Nomad's client first fills the defaults into the
//! job-level block, then lets every group inherit it unless the result is "empty" (every
//! field zero), and merges the group's own block on top. Emptiness is judged *after* the
//! defaults, so a job-level `update { max_parallel = 0 }` is inherited and disables
//! deployments for every group, as users expect. Afterwards only `Stagger` and
//! `MaxParallel` are kept at job level, which is why idempotency needs care: the
//! second pass sees a job-level block stripped of seven fields, but by then every group of
//! a service/system job carries a complete block of its own, which wins field by field.

use crate::model::{
    job_type, Job, LogConfig, ReschedulePolicy, RestartPolicy, Task, TaskGroup, UpdateStrategy,
    HOUR_NS, MINUTE_NS, SECOND_NS,
};

const DEFAULT_PRIORITY: i64 = 50;
const DEFAULT_NAMESPACE: &str = "default";
const DEFAULT_REGION: &str = "global";
const DEFAULT_NODE_POOL: &str = "default";
const DEFAULT_DATACENTER: &str = "*";
const DEFAULT_KILL_TIMEOUT_NS: i64 = 5 * SECOND_NS;
const DEFAULT_LOG_MAX_FILES: i64 = 10;
const DEFAULT_LOG_MAX_FILE_SIZE_MB: i64 = 10;

/// Applies Nomad's defaults to a submitted job, in place. Idempotent.
pub fn canonicalize(job: &mut Job) {
    canonicalize_job_fields(job);

    let job_update = effective_job_update(job);
    for group in &mut job.task_groups {
        canonicalize_group(group, &job.job_type, job_update.as_ref());
    }
    job.update = job_level_update_after_conversion(job, job_update.as_ref());
}

/// Identity and placement defaults of the job itself.
fn canonicalize_job_fields(job: &mut Job) {
    if job.name.is_empty() {
        job.name = job.id.clone();
    }
    if job.job_type.is_empty() {
        job.job_type = job_type::SERVICE.to_string();
    }
    if job.priority == 0 {
        job.priority = DEFAULT_PRIORITY;
    }
    if job.namespace.is_empty() {
        job.namespace = DEFAULT_NAMESPACE.to_string();
    }
    if job.region.is_empty() {
        job.region = DEFAULT_REGION.to_string();
    }
    if job.datacenters.as_ref().is_none_or(|dcs| dcs.is_empty()) {
        job.datacenters = Some(vec![DEFAULT_DATACENTER.to_string()]);
    }
    if job.node_pool.is_empty() {
        job.node_pool = DEFAULT_NODE_POOL.to_string();
    }
}

/// Whether service/system semantics apply: these job types always get an update block
/// (§1.8: "the API client fills in the defaults").
fn takes_default_update(job_type: &str) -> bool {
    job_type == job_type::SERVICE || job_type == job_type::SYSTEM
}

/// The job-level block with the defaults filled in, or `None` when there is nothing for
/// groups to inherit from the job level.
///
/// Service and system jobs without a job-level block behave as if the default block had
/// been written (the client fills it in). Batch and sysbatch jobs only have one when the
/// user wrote it — and then their groups inherit it, so validation rejects it with
/// `Job type "batch" does not allow update block`, as Nomad does.
fn effective_job_update(job: &Job) -> Option<UpdateStrategy> {
    if job.update.is_unset() && !takes_default_update(&job.job_type) {
        return None;
    }
    Some(UpdateStrategy::nomad_default().merged_with(&job.update))
}

/// Nomad's `Empty()`: every field zero (after defaults). An empty job-level block is not
/// inherited by the groups.
fn is_empty_update(u: &UpdateStrategy) -> bool {
    u.stagger.unwrap_or(0) == 0
        && u.max_parallel.unwrap_or(0) == 0
        && u.health_check.as_deref().unwrap_or("").is_empty()
        && u.min_healthy_time.unwrap_or(0) == 0
        && u.healthy_deadline.unwrap_or(0) == 0
        && u.progress_deadline.unwrap_or(0) == 0
        && !u.auto_revert.unwrap_or(false)
        && !u.auto_promote.unwrap_or(false)
        && u.canary.unwrap_or(0) == 0
}

/// After the API → server conversion only `Stagger` and `MaxParallel` survive at job level
/// (§1.7). A batch/sysbatch job whose job-level block is empty keeps none, so that a second
/// pass does not mistake the stripped remainder for a block to inherit.
fn job_level_update_after_conversion(
    job: &Job,
    effective: Option<&UpdateStrategy>,
) -> UpdateStrategy {
    match effective {
        Some(u) if takes_default_update(&job.job_type) || !is_empty_update(u) => UpdateStrategy {
            stagger: u.stagger,
            max_parallel: u.max_parallel,
            ..UpdateStrategy::default()
        },
        _ => UpdateStrategy::default(),
    }
}

fn canonicalize_group(group: &mut TaskGroup, job_type: &str, job_update: Option<&UpdateStrategy>) {
    if group.count.is_none() {
        group.count = Some(scaling_min(group).unwrap_or(1));
    }

    group.update = group_update(group.update.as_ref(), job_type, job_update);
    group.reschedule_policy = group_reschedule_policy(group.reschedule_policy.as_ref(), job_type);

    let restart = match group.restart_policy.as_ref() {
        Some(own) => merge_restart(&default_restart_policy(job_type), own),
        None => default_restart_policy(job_type),
    };
    for task in &mut group.tasks {
        canonicalize_task(task, &restart);
    }
    group.restart_policy = Some(restart);
}

/// `Scaling.Min` stands in for a missing `Count` (`http-api.md` §7.7).
fn scaling_min(group: &TaskGroup) -> Option<i64> {
    let scaling = group.scaling.as_ref()?.as_object()?;
    scaling.get("Min")?.as_i64()
}

/// The group's effective block: defaults ⊕ inherited job-level block ⊕ the group's own.
fn group_update(
    own: Option<&UpdateStrategy>,
    job_type: &str,
    job_update: Option<&UpdateStrategy>,
) -> Option<UpdateStrategy> {
    let inherited = job_update.filter(|u| !is_empty_update(u));
    if own.is_none() && inherited.is_none() && !takes_default_update(job_type) {
        return None;
    }
    let base = UpdateStrategy::nomad_default();
    let base = match inherited {
        Some(u) => base.merged_with(u),
        None => base,
    };
    Some(match own {
        Some(u) => base.merged_with(u),
        None => base,
    })
}

/// §1.6: service and batch jobs get their type's default merged under the group's
/// policy; system and sysbatch jobs have none.
fn group_reschedule_policy(
    own: Option<&ReschedulePolicy>,
    job_type: &str,
) -> Option<ReschedulePolicy> {
    let default = match job_type {
        job_type::SERVICE => ReschedulePolicy::service_default(),
        job_type::BATCH => ReschedulePolicy::batch_default(),
        _ => return None,
    };
    Some(match own {
        Some(p) => default.merged_with(p),
        None => default,
    })
}

/// Group restart policy defaults: service and system jobs restart twice in 30 minutes,
/// batch and sysbatch jobs three times in 24 hours.
fn default_restart_policy(job_type: &str) -> RestartPolicy {
    let batch_like = job_type == job_type::BATCH || job_type == job_type::SYSBATCH;
    RestartPolicy {
        attempts: Some(if batch_like { 3 } else { 2 }),
        interval: Some(if batch_like {
            24 * HOUR_NS
        } else {
            30 * MINUTE_NS
        }),
        delay: Some(15 * SECOND_NS),
        mode: Some("fail".to_string()),
        render_templates: Some(false),
    }
}

/// Field-by-field merge for restart policies (the model has no `merged_with` for them):
/// every field set in `over` wins.
fn merge_restart(base: &RestartPolicy, over: &RestartPolicy) -> RestartPolicy {
    RestartPolicy {
        attempts: over.attempts.or(base.attempts),
        delay: over.delay.or(base.delay),
        interval: over.interval.or(base.interval),
        mode: over.mode.clone().or_else(|| base.mode.clone()),
        render_templates: over.render_templates.or(base.render_templates),
    }
}

fn canonicalize_task(task: &mut Task, group_restart: &RestartPolicy) {
    if task.kill_timeout.is_none() {
        task.kill_timeout = Some(DEFAULT_KILL_TIMEOUT_NS);
    }
    let log = task.log_config.get_or_insert_with(LogConfig::default);
    log.max_files.get_or_insert(DEFAULT_LOG_MAX_FILES);
    log.max_file_size_mb
        .get_or_insert(DEFAULT_LOG_MAX_FILE_SIZE_MB);

    // A task-level policy refines the group's, field by field.
    task.restart_policy = Some(match task.restart_policy.as_ref() {
        Some(own) => merge_restart(group_restart, own),
        None => group_restart.clone(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::test_support::{group, job, task};

    fn canonical(mut j: Job) -> Job {
        canonicalize(&mut j);
        j
    }

    #[test]
    fn job_identity_defaults_are_filled() {
        let mut j = job("api", "", vec![group("web", vec![task("t")])]);
        j.name.clear();
        j.priority = 0;
        j.namespace.clear();
        j.region.clear();
        j.datacenters = Some(vec![]);
        j.node_pool.clear();
        let j = canonical(j);
        assert_eq!(j.name, "api");
        assert_eq!(j.job_type, "service");
        assert_eq!(j.priority, 50);
        assert_eq!(j.namespace, "default");
        assert_eq!(j.region, "global");
        assert_eq!(j.datacenters, Some(vec!["*".to_string()]));
        assert_eq!(j.node_pool, "default");
    }

    #[test]
    fn given_identity_fields_are_kept() {
        let mut j = job("api", "batch", vec![group("web", vec![task("t")])]);
        j.name = "named".into();
        j.priority = 70;
        j.namespace = "prod".into();
        j.region = "eu".into();
        j.datacenters = Some(vec!["dc1".into()]);
        j.node_pool = "gpu".into();
        let j = canonical(j);
        assert_eq!(
            (
                j.name.as_str(),
                j.job_type.as_str(),
                j.priority,
                j.namespace.as_str()
            ),
            ("named", "batch", 70, "prod")
        );
        assert_eq!(j.region, "eu");
        assert_eq!(j.datacenters, Some(vec!["dc1".to_string()]));
        assert_eq!(j.node_pool, "gpu");
    }

    #[test]
    fn datacenters_none_becomes_wildcard() {
        let mut j = job("api", "service", vec![group("web", vec![task("t")])]);
        j.datacenters = None;
        assert_eq!(canonical(j).datacenters, Some(vec!["*".to_string()]));
    }

    #[test]
    fn count_defaults_to_one_or_scaling_min() {
        let mut a = group("a", vec![task("t")]);
        a.count = None;
        let mut b = group("b", vec![task("t")]);
        b.count = None;
        b.scaling = Some(serde_json::json!({"Min": 3, "Max": 10}));
        let mut c = group("c", vec![task("t")]);
        c.count = Some(0);
        let j = canonical(job("api", "service", vec![a, b, c]));
        let counts: Vec<_> = j.task_groups.iter().map(|g| g.count).collect();
        assert_eq!(counts, vec![Some(1), Some(3), Some(0)]);
    }

    #[test]
    fn service_group_without_blocks_gets_default_update() {
        let j = canonical(job("api", "service", vec![group("web", vec![task("t")])]));
        assert_eq!(
            j.task_groups[0].update,
            Some(UpdateStrategy::nomad_default())
        );
    }

    #[test]
    fn system_group_without_blocks_gets_default_update() {
        let j = canonical(job("api", "system", vec![group("web", vec![task("t")])]));
        assert_eq!(
            j.task_groups[0].update,
            Some(UpdateStrategy::nomad_default())
        );
    }

    #[test]
    fn job_level_update_is_inherited_and_group_wins_field_by_field() {
        let mut g = group("web", vec![task("t")]);
        g.update = Some(UpdateStrategy {
            canary: Some(2),
            max_parallel: Some(3),
            ..Default::default()
        });
        let mut j = job("api", "service", vec![g, group("db", vec![task("t")])]);
        j.update = UpdateStrategy {
            max_parallel: Some(5),
            auto_revert: Some(true),
            min_healthy_time: Some(20 * SECOND_NS),
            ..Default::default()
        };
        let j = canonical(j);
        let web = j.task_groups[0].update.clone();
        let db = j.task_groups[1].update.clone();
        let expected_db = UpdateStrategy {
            max_parallel: Some(5),
            auto_revert: Some(true),
            min_healthy_time: Some(20 * SECOND_NS),
            ..UpdateStrategy::nomad_default()
        };
        assert_eq!(db, Some(expected_db.clone()));
        assert_eq!(
            web,
            Some(UpdateStrategy {
                canary: Some(2),
                max_parallel: Some(3),
                ..expected_db
            })
        );
    }

    #[test]
    fn job_level_update_keeps_only_stagger_and_max_parallel() {
        let mut j = job("api", "service", vec![group("web", vec![task("t")])]);
        j.update = UpdateStrategy {
            max_parallel: Some(4),
            canary: Some(1),
            ..Default::default()
        };
        let j = canonical(j);
        assert_eq!(
            j.update,
            UpdateStrategy {
                stagger: Some(30 * SECOND_NS),
                max_parallel: Some(4),
                ..Default::default()
            }
        );
    }

    #[test]
    fn service_job_without_update_gets_default_stagger_and_max_parallel() {
        let j = canonical(job("api", "service", vec![group("web", vec![task("t")])]));
        assert_eq!(
            j.update,
            UpdateStrategy {
                stagger: Some(30 * SECOND_NS),
                max_parallel: Some(1),
                ..Default::default()
            }
        );
    }

    #[test]
    fn job_level_max_parallel_zero_disables_deployments_for_every_group() {
        let mut j = job("api", "service", vec![group("web", vec![task("t")])]);
        j.update = UpdateStrategy {
            max_parallel: Some(0),
            ..Default::default()
        };
        let j = canonical(j);
        assert_eq!(
            j.task_groups[0]
                .update
                .as_ref()
                .and_then(|u| u.max_parallel),
            Some(0)
        );
        assert_eq!(j.task_groups[0].strategy(), None);
    }

    #[test]
    fn all_zero_job_level_update_is_not_inherited() {
        let zero = UpdateStrategy {
            stagger: Some(0),
            max_parallel: Some(0),
            health_check: Some(String::new()),
            min_healthy_time: Some(0),
            healthy_deadline: Some(0),
            progress_deadline: Some(0),
            auto_revert: Some(false),
            auto_promote: Some(false),
            canary: Some(0),
        };
        let mut j = job("api", "service", vec![group("web", vec![task("t")])]);
        j.update = zero;
        let j = canonical(j);
        assert_eq!(
            j.task_groups[0].update,
            Some(UpdateStrategy::nomad_default())
        );
    }

    #[test]
    fn batch_group_update_is_kept_for_validation_to_reject() {
        let mut g = group("web", vec![task("t")]);
        g.update = Some(UpdateStrategy {
            canary: Some(1),
            ..Default::default()
        });
        let j = canonical(job("api", "batch", vec![g, group("db", vec![task("t")])]));
        assert_eq!(
            j.task_groups[0].update,
            Some(UpdateStrategy {
                canary: Some(1),
                ..UpdateStrategy::nomad_default()
            })
        );
        assert_eq!(j.task_groups[1].update, None);
        assert!(j.update.is_unset());
    }

    #[test]
    fn batch_job_level_update_reaches_groups_so_validation_rejects_it() {
        let mut j = job("api", "batch", vec![group("web", vec![task("t")])]);
        j.update = UpdateStrategy {
            max_parallel: Some(2),
            ..Default::default()
        };
        let j = canonical(j);
        assert_eq!(
            j.task_groups[0].update,
            Some(UpdateStrategy {
                max_parallel: Some(2),
                ..UpdateStrategy::nomad_default()
            })
        );
    }

    #[test]
    fn reschedule_policy_defaults_per_job_type() {
        let mut own = group("web", vec![task("t")]);
        own.reschedule_policy = Some(ReschedulePolicy {
            attempts: Some(4),
            ..Default::default()
        });
        let service = canonical(job(
            "a",
            "service",
            vec![own.clone(), group("db", vec![task("t")])],
        ));
        assert_eq!(
            service.task_groups[0].reschedule_policy,
            Some(ReschedulePolicy {
                attempts: Some(4),
                ..ReschedulePolicy::service_default()
            })
        );
        assert_eq!(
            service.task_groups[1].reschedule_policy,
            Some(ReschedulePolicy::service_default())
        );
        let batch = canonical(job("a", "batch", vec![group("db", vec![task("t")])]));
        assert_eq!(
            batch.task_groups[0].reschedule_policy,
            Some(ReschedulePolicy::batch_default())
        );
        for ty in ["system", "sysbatch"] {
            let j = canonical(job("a", ty, vec![own.clone()]));
            assert_eq!(j.task_groups[0].reschedule_policy, None, "{ty}");
        }
    }

    #[test]
    fn restart_policy_defaults_per_job_type() {
        let service = canonical(job("a", "service", vec![group("g", vec![task("t")])]));
        let expected = RestartPolicy {
            attempts: Some(2),
            interval: Some(30 * MINUTE_NS),
            delay: Some(15 * SECOND_NS),
            mode: Some("fail".into()),
            render_templates: Some(false),
        };
        assert_eq!(
            service.task_groups[0].restart_policy,
            Some(expected.clone())
        );
        assert_eq!(
            service.task_groups[0].tasks[0].restart_policy,
            Some(expected)
        );

        let batch = canonical(job("a", "batch", vec![group("g", vec![task("t")])]));
        assert_eq!(
            batch.task_groups[0].restart_policy,
            Some(RestartPolicy {
                attempts: Some(3),
                interval: Some(24 * HOUR_NS),
                delay: Some(15 * SECOND_NS),
                mode: Some("fail".into()),
                render_templates: Some(false),
            })
        );
    }

    #[test]
    fn task_restart_policy_refines_the_groups() {
        let mut t = task("t");
        t.restart_policy = Some(RestartPolicy {
            attempts: Some(9),
            ..Default::default()
        });
        let mut g = group("g", vec![t, task("u")]);
        g.restart_policy = Some(RestartPolicy {
            mode: Some("delay".into()),
            ..Default::default()
        });
        let j = canonical(job("a", "service", vec![g]));
        let group_policy = j.task_groups[0].restart_policy.clone().unwrap_or_default();
        assert_eq!(group_policy.mode.as_deref(), Some("delay"));
        assert_eq!(group_policy.attempts, Some(2));
        let t0 = j.task_groups[0].tasks[0]
            .restart_policy
            .clone()
            .unwrap_or_default();
        assert_eq!((t0.attempts, t0.mode.as_deref()), (Some(9), Some("delay")));
        assert_eq!(j.task_groups[0].tasks[1].restart_policy, Some(group_policy));
    }

    #[test]
    fn task_kill_timeout_and_log_config_defaults() {
        let mut partial = task("p");
        partial.kill_timeout = Some(SECOND_NS);
        partial.log_config = Some(LogConfig {
            max_files: Some(3),
            disabled: Some(true),
            ..Default::default()
        });
        let j = canonical(job(
            "a",
            "service",
            vec![group("g", vec![task("t"), partial])],
        ));
        let t = &j.task_groups[0].tasks[0];
        assert_eq!(t.kill_timeout, Some(5 * SECOND_NS));
        assert_eq!(
            t.log_config,
            Some(LogConfig {
                max_files: Some(10),
                max_file_size_mb: Some(10),
                ..Default::default()
            })
        );
        let p = &j.task_groups[0].tasks[1];
        assert_eq!(p.kill_timeout, Some(SECOND_NS));
        assert_eq!(
            p.log_config,
            Some(LogConfig {
                max_files: Some(3),
                max_file_size_mb: Some(10),
                disabled: Some(true),
                enabled: None
            })
        );
    }

    fn assert_idempotent(j: Job) {
        let once = canonical(j);
        let twice = canonical(once.clone());
        assert_eq!(once, twice);
    }

    #[test]
    fn canonicalize_is_idempotent() {
        for ty in ["", "service", "batch", "system", "sysbatch"] {
            assert_idempotent(job("a", ty, vec![group("g", vec![task("t")])]));

            let mut own = group("g", vec![task("t")]);
            own.update = Some(UpdateStrategy {
                canary: Some(1),
                auto_promote: Some(true),
                ..Default::default()
            });
            own.count = None;
            let mut j = job("a", ty, vec![own, group("h", vec![task("t")])]);
            j.update = UpdateStrategy {
                max_parallel: Some(3),
                ..Default::default()
            };
            assert_idempotent(j.clone());

            j.update = UpdateStrategy {
                max_parallel: Some(0),
                ..Default::default()
            };
            assert_idempotent(j.clone());

            j.update = UpdateStrategy {
                stagger: Some(0),
                max_parallel: Some(0),
                health_check: Some(String::new()),
                min_healthy_time: Some(0),
                healthy_deadline: Some(0),
                progress_deadline: Some(0),
                auto_revert: Some(false),
                auto_promote: Some(false),
                canary: Some(0),
            };
            assert_idempotent(j);
        }
    }
}
