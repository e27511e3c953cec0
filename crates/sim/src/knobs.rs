//! Fault knobs in job `Meta`: how an operator of `rollout agent --dev` makes the simulated
//! clients misbehave for one job version (R7).
//!
//! The deterministic simulation draws faults from a seeded [`crate::FaultModel`]; a live
//! cluster has no scenario file, so the job itself says what its allocations do. The knobs
//! are read from the job version an allocation runs, so they apply to exactly the
//! version that carries them: register a "bad version" with a knob and the automatic
//! rollback re-registers the stable spec, which has none. A knob change is a `Meta`
//! change, which is destructive (§3.1 C16), so a version with a knob always gets new
//! allocations (and canaries).
//!
//! Meta is combined as Nomad combines it for a task: job `Meta`, overlaid by the group's,
//! overlaid by its tasks'. Values use Go's syntax, as everything else in a Nomad job:
//!
//! | key | value | the allocations of this version |
//! |---|---|---|
//! | `rollout.sim.fail_to_start` | bool | fail as they start: client status `failed`, unhealthy |
//! | `rollout.sim.fail_after` | duration | run, then fail this long after starting (healthy first if `min_healthy_time` is shorter) |
//! | `rollout.sim.never_healthy` | bool | run but never pass their checks: unhealthy at `healthy_deadline` (automatic health only) |
//! | `rollout.sim.start_delay` | duration | start after this long instead of the default short delay |
//!
//! When several fates are set, the first of `fail_to_start`, `never_healthy`, `fail_after`
//! wins. A value that does not parse, or an unknown `rollout.sim.*` key, is reported and
//! otherwise ignored, so a typo is visible rather than silently healthy.

use crate::faults::Fate;
use rollout_engine::model::{DurationNs, Job, Meta};

/// Every knob key starts with this.
pub const PREFIX: &str = "rollout.sim.";
pub const FAIL_TO_START: &str = "rollout.sim.fail_to_start";
pub const FAIL_AFTER: &str = "rollout.sim.fail_after";
pub const NEVER_HEALTHY: &str = "rollout.sim.never_healthy";
pub const START_DELAY: &str = "rollout.sim.start_delay";

/// What the knobs of one job version and group ask of its allocations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Knobs {
    pub fate: Fate,
    /// Overrides the client's drawn start delay.
    pub start_delay_ns: Option<DurationNs>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            fate: Fate::Healthy,
            start_delay_ns: None,
        }
    }
}

/// The knobs for allocations of `group` in this job version, and a description of each
/// knob that was ignored because it is unknown or does not parse.
pub fn knobs(job: &Job, group: &str) -> (Knobs, Vec<String>) {
    let meta = combined_meta(job, group);
    let mut problems = Vec::new();
    let mut flag = |key: &str| -> bool {
        let Some(v) = meta.get(key) else { return false };
        parse_go_bool(v).unwrap_or_else(|| {
            problems.push(format!(
                "{key} = {v:?} is not a bool (true or false); ignored"
            ));
            false
        })
    };
    let fail_to_start = flag(FAIL_TO_START);
    let never_healthy = flag(NEVER_HEALTHY);
    let mut duration = |key: &str| -> Option<DurationNs> {
        let v = meta.get(key)?;
        let d = parse_go_duration(v);
        if d.is_none() {
            problems.push(format!(
                "{key} = {v:?} is not a duration (like \"30s\" or \"1m30s\"); ignored"
            ));
        }
        d
    };
    let fail_after = duration(FAIL_AFTER);
    let start_delay_ns = duration(START_DELAY);
    for key in meta.keys().filter(|k| k.starts_with(PREFIX)) {
        if ![FAIL_TO_START, FAIL_AFTER, NEVER_HEALTHY, START_DELAY].contains(&key.as_str()) {
            problems.push(format!("unknown knob {key}; ignored"));
        }
    }
    let fate = if fail_to_start {
        Fate::FailToStart
    } else if never_healthy {
        Fate::Hang
    } else if let Some(after_ns) = fail_after {
        Fate::FailAfter { after_ns }
    } else {
        Fate::Healthy
    };
    (
        Knobs {
            fate,
            start_delay_ns,
        },
        problems,
    )
}

/// Job `Meta`, overlaid by the group's, overlaid by each of its tasks' (the knobs only
/// look at `rollout.sim.*`, so merging the tasks of a group is harmless).
fn combined_meta(job: &Job, group: &str) -> Meta {
    let mut meta = job.meta.clone().unwrap_or_default();
    if let Some(g) = job.group(group) {
        let tasks = g.tasks.iter().map(|t| &t.meta);
        for layer in std::iter::once(&g.meta).chain(tasks).flatten() {
            meta.extend(layer.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    meta
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `time.ParseDuration` (the engine's parser) for non-negative values
/// (`"1m30s"`, `"1.5s"`, `"0"`); `None` for invalid or negative ones.
pub fn parse_go_duration(v: &str) -> Option<DurationNs> {
    rollout_engine::model::parse_go_duration(v)
        .ok()
        .filter(|ns| *ns >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollout_engine::model::{Task, TaskGroup};

    fn job(job_meta: &[(&str, &str)], group_meta: &[(&str, &str)]) -> Job {
        let meta = |kv: &[(&str, &str)]| {
            (!kv.is_empty()).then(|| {
                kv.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
        };
        Job {
            id: "web".into(),
            meta: meta(job_meta),
            task_groups: vec![TaskGroup {
                name: "web".into(),
                meta: meta(group_meta),
                tasks: vec![Task::default()],
                ..TaskGroup::default()
            }],
            ..Job::default()
        }
    }

    #[test]
    fn no_knobs_is_a_healthy_default() {
        let (k, problems) = knobs(&job(&[("owner", "me")], &[]), "web");
        assert_eq!(k, Knobs::default());
        assert!(problems.is_empty());
    }

    #[test]
    fn each_knob_sets_its_fate() {
        let fate = |kv: (&str, &str)| knobs(&job(&[kv], &[]), "web").0.fate;
        assert_eq!(fate((FAIL_TO_START, "true")), Fate::FailToStart);
        assert_eq!(fate((NEVER_HEALTHY, "1")), Fate::Hang);
        assert_eq!(
            fate((FAIL_AFTER, "1m30s")),
            Fate::FailAfter {
                after_ns: 90_000_000_000
            }
        );
        assert_eq!(fate((FAIL_TO_START, "false")), Fate::Healthy);
        let (k, _) = knobs(&job(&[(START_DELAY, "250ms")], &[]), "web");
        assert_eq!(k.start_delay_ns, Some(250_000_000));
    }

    #[test]
    fn group_meta_overrides_job_meta() {
        let j = job(&[(FAIL_TO_START, "true")], &[(FAIL_TO_START, "false")]);
        assert_eq!(knobs(&j, "web").0.fate, Fate::Healthy);
    }

    #[test]
    fn bad_values_and_unknown_keys_are_reported_and_ignored() {
        let j = job(
            &[
                (FAIL_TO_START, "yes"),
                (FAIL_AFTER, "soon"),
                ("rollout.sim.explode", "1"),
            ],
            &[],
        );
        let (k, problems) = knobs(&j, "web");
        assert_eq!(k, Knobs::default());
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems
            .iter()
            .any(|p| p.contains("unknown knob rollout.sim.explode")));
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("2s"), Some(2_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("1h2m"), Some(3_720_000_000_000));
        assert_eq!(parse_go_duration("10us"), Some(10_000));
        for bad in ["", "s", "5", "-1s", "1x", ".s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }
}
