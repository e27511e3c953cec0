//! Property tests over arbitrary (small) jobs: canonicalisation is idempotent and keeps
//! its promises, and no job rule panics or contradicts itself on any input.

use super::test_support::{group, job, task};
use super::{canonicalize, needs_destructive_update, spec_changed, validate};
use crate::model::{Job, ReschedulePolicy, RestartPolicy, Task, TaskGroup, UpdateStrategy};
use proptest::prelude::*;

fn opt<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop::option::of(s)
}

fn update_strategy() -> impl Strategy<Value = UpdateStrategy> {
    let duration = -2i64..700_000_000_000;
    (
        (opt(any::<bool>()), opt(any::<bool>()), opt(-1i64..4)),
        opt(prop::sample::select(vec![
            "checks",
            "task_states",
            "manual",
            "",
            "http",
        ])),
        (opt(duration.clone()), opt(-1i64..6), opt(duration.clone())),
        (opt(duration.clone()), opt(duration)),
    )
        .prop_map(
            |((ap, ar, canary), hc, (hd, mp, mht), (pd, st))| UpdateStrategy {
                auto_promote: ap,
                auto_revert: ar,
                canary,
                health_check: hc.map(str::to_string),
                healthy_deadline: hd,
                max_parallel: mp,
                min_healthy_time: mht,
                progress_deadline: pd,
                stagger: st,
            },
        )
}

fn arb_task() -> impl Strategy<Value = Task> {
    (
        prop::sample::select(vec!["a", "b", "c", ""]),
        opt(-1i64..3_000_000_000_000),
        opt(opt(any::<bool>())),
        opt(opt(any::<bool>())),
        any::<bool>(),
    )
        .prop_map(|(name, kill_timeout, log_disabled, render, leader)| {
            let mut t = task(name);
            t.kill_timeout = kill_timeout;
            t.log_config = log_disabled.map(|disabled| crate::model::LogConfig {
                disabled,
                ..Default::default()
            });
            t.restart_policy = render.map(|render_templates| RestartPolicy {
                render_templates,
                ..Default::default()
            });
            t.leader = leader;
            t
        })
}

fn arb_group() -> impl Strategy<Value = TaskGroup> {
    (
        prop::sample::select(vec!["web", "db", ""]),
        opt(-1i64..5),
        opt(update_strategy()),
        opt(opt(-1i64..3)),
        prop::collection::vec(arb_task(), 0..3),
    )
        .prop_map(|(name, count, update, attempts, tasks)| {
            let mut g = group(name, tasks);
            g.count = count;
            g.update = update;
            g.reschedule_policy = attempts.map(|attempts| ReschedulePolicy {
                attempts,
                ..Default::default()
            });
            g
        })
}

fn arb_job() -> impl Strategy<Value = Job> {
    (
        prop::sample::select(vec!["", "service", "batch", "system", "sysbatch", "weird"]),
        update_strategy(),
        prop::collection::vec(arb_group(), 0..3),
        -1i64..102,
    )
        .prop_map(|(ty, update, groups, priority)| {
            let mut j = job("api", ty, groups);
            j.update = update;
            j.priority = priority;
            j
        })
}

proptest! {
    // No regression files: they would land outside this module's directory. The duplicate
    // task-name case proptest once found is pinned as a unit test in `diff.rs`.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn canonicalize_is_idempotent_on_any_job(j in arb_job()) {
        let mut once = j;
        canonicalize(&mut once);
        let mut twice = once.clone();
        canonicalize(&mut twice);
        prop_assert_eq!(&once, &twice);
        prop_assert!(!spec_changed(&once, &twice));
    }

    #[test]
    fn canonical_service_and_system_groups_have_complete_update_blocks(j in arb_job()) {
        let mut j = j;
        canonicalize(&mut j);
        for g in &j.task_groups {
            prop_assert!(g.count.is_some());
            prop_assert!(g.restart_policy.is_some());
            if j.job_type == "service" || j.job_type == "system" {
                let u = g.update.clone().unwrap_or_default();
                prop_assert_eq!(UpdateStrategy::default().merged_with(&u), u.clone());
                prop_assert!(u.stagger.is_some() && u.max_parallel.is_some() && u.canary.is_some());
                prop_assert!(u.health_check.is_some() && u.progress_deadline.is_some());
            }
            for t in &g.tasks {
                prop_assert!(t.kill_timeout.is_some() && t.log_config.is_some() && t.restart_policy.is_some());
            }
        }
    }

    #[test]
    fn job_rules_never_panic_and_agree_with_themselves(a in arb_job(), b in arb_job()) {
        let _ = validate(&a);
        for g in a.task_groups.iter().chain(&b.task_groups) {
            let _ = needs_destructive_update(&a, &b, &g.name);
        }
        prop_assert!(!spec_changed(&a, &a));
        prop_assert_eq!(spec_changed(&a, &b), spec_changed(&b, &a));
        for g in &a.task_groups {
            prop_assert!(!needs_destructive_update(&a, &a, &g.name));
        }
    }
}
