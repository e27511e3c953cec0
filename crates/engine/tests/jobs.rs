//! Job writes: register (§3.16, §1.8), deregister and purge (K1, G3), revert and stable
//! (§3.16), cancellation (K1–K4), deployment GC (G1–G4) and reads.
mod common;
use common::*;
use rollout_engine::command::*;
use rollout_engine::model::*;
use rollout_engine::{Command, Error, ErrorKind};
use uuid::Uuid;

fn deregister(w: &mut World, purge: bool) -> Result<rollout_engine::Outcome, Error> {
    w.try_apply(Command::DeregisterJob(DeregisterJob {
        job_id: "web".into(),
        namespace: "default".into(),
        purge,
        eval_priority: 0,
    }))
}

fn revert(
    w: &mut World,
    version: u64,
    enforce: Option<u64>,
) -> Result<rollout_engine::Outcome, Error> {
    w.try_apply(Command::RevertJob(RevertJob {
        job_id: "web".into(),
        namespace: "default".into(),
        job_version: version,
        enforce_prior_version: enforce,
    }))
}

fn stable(w: &mut World, version: u64, stable: bool) -> Result<rollout_engine::Outcome, Error> {
    w.try_apply(Command::SetJobStability(SetJobStability {
        job_id: "web".into(),
        namespace: "default".into(),
        job_version: version,
        stable,
    }))
}

/// Registration: a new version only on a spec change; the eval and the response.
#[test]
fn register_creates_version_eval_and_deployment() {
    let mut w = World::new();
    let o = w.register(service_job("web", 2, update(1, 0)));
    let j = w.job("web");
    assert_eq!(
        (
            j.version,
            j.create_index,
            j.modify_index,
            j.job_modify_index
        ),
        (0, o.index, o.index, o.index)
    );
    assert_eq!(j.submit_time, w.now());
    assert!(!j.stable);
    let e = w.state().eval(&o.eval_id.unwrap()).unwrap();
    assert_eq!(
        (
            e.triggered_by.as_str(),
            e.status.as_str(),
            e.priority,
            e.job_modify_index
        ),
        ("job-register", "pending", 50, o.index)
    );
    assert_eq!(
        (o.eval_create_index, o.job_modify_index),
        (o.index, o.index)
    );
    // Decision 14: the deployment's CreateIndex equals the version's JobModifyIndex.
    let d = w.deployment(o.deployments_created[0]);
    assert_eq!(d.create_index, j.job_modify_index);
    assert_eq!(
        (
            d.job_modify_index,
            d.job_spec_modify_index,
            d.job_create_index
        ),
        (j.modify_index, j.job_modify_index, j.create_index)
    );
    assert_eq!((d.create_time, d.modify_time), (w.now(), 0));
    // Same spec again: no version, only an eval; JobModifyIndex is the job's ModifyIndex.
    let before = w.job("web");
    let o2 = w.register(service_job("web", 2, update(1, 0)));
    assert_eq!(w.job("web").version, 0);
    assert_eq!(o2.job_modify_index, before.modify_index);
    assert_eq!(o2.eval_create_index, o2.index);
}

/// §1.8: validation errors come back as one multi-error with Nomad's texts, and nothing
/// is written.
#[test]
fn register_rejects_invalid_update_block() {
    let mut w = World::new();
    let u = UpdateStrategy {
        min_healthy_time: Some(10 * MINUTE_NS),
        healthy_deadline: Some(5 * MINUTE_NS),
        ..update(1, 0)
    };
    let e = w
        .try_apply(Command::RegisterJob(RegisterJob {
            job: service_job("web", 2, u),
            ..Default::default()
        }))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    assert!(e.to_string().starts_with("1 error occurred:\n\t* Minimum healthy time must be less than healthy deadline: 10m0s > 5m0s"), "{e}");
    assert_eq!(w.state().index(), 0);
}

/// Fuzz finding (engine_commands): a registration with an enormous count exhausted
/// memory inside `apply` (reconciliation is linear in the count). It is refused instead.
#[test]
fn register_rejects_a_count_beyond_the_job_limit() {
    let mut w = World::new();
    let e = w
        .try_apply(Command::RegisterJob(RegisterJob {
            job: service_job("web", 1 << 62, update(1, 0)),
            ..Default::default()
        }))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    assert!(
        e.to_string().contains(&format!(
            "more than the limit of {}",
            rollout_engine::job::MAX_JOB_ALLOCATIONS
        )),
        "{e}"
    );
    assert_eq!(w.state().index(), 0);
    // At the limit, a registration is accepted and planned.
    w.register(service_job(
        "web",
        rollout_engine::job::MAX_JOB_ALLOCATIONS,
        update(1, 0),
    ));
    assert_eq!(
        w.pending_plan().placements.len() as i64,
        rollout_engine::job::MAX_JOB_ALLOCATIONS
    );
}

/// §1.8 warnings and decision 15.
#[test]
fn register_warnings() {
    let mut w = World::new();
    let o = w.register(service_job("web", 2, update(5, 0)));
    assert!(o
        .warnings
        .iter()
        .any(|m| m.contains("Update max parallel count is greater than task group count (5 > 2)")));
    let mut sys = service_job("sys", 1, update(1, 0));
    sys.job_type = "system".into();
    let o = w.register(sys);
    assert!(o
        .warnings
        .contains(&rollout_engine::SYSTEM_DEPLOYMENTS_UNSUPPORTED.to_string()));
    assert!(o.deployments_created.is_empty());
}

/// §5.5 index enforcement.
#[test]
fn register_enforce_index() {
    let mut w = World::new();
    let reg = |job, enforce, idx| {
        Command::RegisterJob(RegisterJob {
            job,
            enforce_index: enforce,
            job_modify_index: idx,
            eval_priority: 0,
        })
    };
    let e = w
        .try_apply(reg(service_job("web", 1, update(1, 0)), true, 5))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Enforcing job modify index 5: job does not exist"
    );
    let o = w.apply(reg(service_job("web", 1, update(1, 0)), true, 0));
    let e = w
        .try_apply(reg(service_job("web", 2, update(1, 0)), true, 0))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Enforcing job modify index 0: job already exists"
    );
    let e = w
        .try_apply(reg(service_job("web", 2, update(1, 0)), true, o.index + 7))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "Enforcing job modify index {}: job exists with conflicting job modify index: {}",
            o.index + 7,
            o.index
        )
    );
    assert_eq!(e.kind(), ErrorKind::Conflict);
    w.apply(reg(service_job("web", 2, update(1, 0)), true, o.index));
}

/// K1/K3: stopping the job cancels its active (even paused) deployment.
#[test]
fn k1_k3_stopping_the_job_cancels_the_deployment() {
    let mut w = World::new();
    let d = w
        .register(service_job("web", 2, update(1, 0)))
        .deployments_created[0];
    w.pause(d, true).unwrap();
    let o = deregister(&mut w, false).unwrap();
    let dep = w.deployment(d);
    assert_eq!(
        (dep.status.as_str(), dep.status_description.as_str()),
        ("cancelled", "Cancelled because job is stopped")
    );
    assert_eq!(dep.modify_index, o.index);
    let j = w.job("web");
    assert!(j.stop);
    assert_eq!(j.version, 1);
    let e = w.state().eval(&o.eval_id.unwrap()).unwrap();
    assert_eq!(e.triggered_by, "job-deregister");
    // The plan stops everything.
    w.schedule();
    assert!(w.live_allocs("web").is_empty());
    assert_eq!(w.job("web").status, "dead");
}

/// K1: nothing is emitted for a terminal deployment.
#[test]
fn k1_terminal_deployment_is_not_cancelled_again() {
    let mut w = World::new();
    w.deploy(service_job("web", 2, update(1, 0)));
    let d = w.latest_deployment("web");
    deregister(&mut w, false).unwrap();
    assert_eq!(w.deployment(d.id), d);
}

/// Scenario 69 [TestWatcher_PurgeDeployment] and G3: purging removes every deployment
/// (any JobCreateIndex), the versions and the allocations.
#[test]
fn scenario_69_g3_purge_removes_deployments() {
    let mut w = World::new();
    w.deploy(service_job("web", 2, update(1, 0)));
    w.register(with_image(service_job("web", 2, update(1, 0)), "app:2"));
    assert_eq!(w.state().deployment_count(), 2);
    let o = deregister(&mut w, true).unwrap();
    assert_eq!(w.state().deployment_count(), 0);
    assert_eq!(w.state().table_indexes().deployment, o.index);
    assert!(w.state().job("default", "web").is_none());
    assert_eq!(w.state().job_versions("default", "web").count(), 0);
    assert_eq!(w.state().job_allocs("default", "web").count(), 0);
    assert!(w.state().active_deployments().next().is_none());
    assert!(w
        .evals_of("web")
        .iter()
        .filter(|e| e.triggered_by != "job-deregister")
        .all(|e| e.status != "pending"));
    // Unknown job.
    assert_eq!(
        deregister(&mut w, true).unwrap_err(),
        Error::JobNotFound("web".into())
    );
}

/// §3.16 revert, checks in order.
#[test]
fn revert_checks_in_order() {
    let mut w = World::new();
    let e = w
        .try_apply(Command::RevertJob(RevertJob::default()))
        .unwrap_err();
    assert_eq!(e.to_string(), "missing job ID for revert");
    assert_eq!(
        revert(&mut w, 0, None).unwrap_err().to_string(),
        "job \"web\" not found"
    );
    w.register(service_job("web", 2, update(1, 0)));
    w.register(with_image(service_job("web", 2, update(1, 0)), "app:2"));
    assert_eq!(
        revert(&mut w, 1, None).unwrap_err().to_string(),
        "can't revert to current version"
    );
    assert_eq!(
        revert(&mut w, 9, None).unwrap_err().to_string(),
        "job \"web\" in namespace \"default\" at version 9 not found"
    );
    assert_eq!(
        revert(&mut w, 0, Some(0)).unwrap_err().to_string(),
        "Current job has version 1; enforcing version 0"
    );
    let o = revert(&mut w, 0, Some(1)).unwrap();
    let j = w.job("web");
    assert_eq!(j.version, 2);
    assert!(!j.stable, "the operator revert clears Stable");
    assert_eq!(j.version_tag, None);
    assert_eq!(
        (o.job_modify_index, o.eval_create_index),
        (o.index, o.index)
    );
    assert_eq!(
        w.state().eval(&o.eval_id.unwrap()).unwrap().triggered_by,
        "job-register"
    );
    // §3.16 step 8 / decision 14: the previous deployment is cancelled, a new one created.
    assert_eq!(o.deployments_created.len(), 1);
}

/// §3.16 step 7 / §7.1 item 9: reverting to a version with the same spec writes only an eval.
#[test]
fn revert_to_identical_spec_writes_only_an_eval() {
    let mut w = World::new();
    w.register(service_job("web", 2, update(1, 0)));
    w.register(with_image(service_job("web", 2, update(1, 0)), "app:2"));
    w.register(service_job("web", 2, update(1, 0)));
    let j = w.job("web");
    assert_eq!(j.version, 2);
    let o = revert(&mut w, 0, None).unwrap();
    assert_eq!(w.job("web").version, 2);
    assert_eq!(o.job_modify_index, j.modify_index);
    assert_eq!(o.eval_create_index, o.index);
}

/// Scenario 25 [TestStateStore_UpdateJobStability] and §3.16 stable.
#[test]
fn scenario_25_stability_toggling() {
    let mut w = World::new();
    w.register(service_job("web", 2, update(1, 0)));
    w.register(with_image(service_job("web", 2, update(1, 0)), "app:2"));
    let e = w
        .try_apply(Command::SetJobStability(SetJobStability::default()))
        .unwrap_err();
    assert_eq!(e.to_string(), "missing job ID for marking job as stable");
    assert_eq!(
        stable(&mut w, 7, true).unwrap_err().to_string(),
        "job \"web\" in namespace \"default\" at version 7 not found"
    );
    let o = stable(&mut w, 0, true).unwrap();
    let v0 = w.state().job_version("default", "web", 0).unwrap().clone();
    assert!(v0.stable);
    assert_eq!(v0.modify_index, o.index);
    // Decision 3: the current job row (version 1) is untouched.
    assert_eq!(w.job("web").version, 1);
    assert!(!w.job("web").stable);
    stable(&mut w, 0, false).unwrap();
    assert!(!w.state().job_version("default", "web", 0).unwrap().stable);
    // No change, nothing written.
    let before = w.state().job_version("default", "web", 0).unwrap().clone();
    stable(&mut w, 0, false).unwrap();
    assert_eq!(
        **w.state().job_version("default", "web", 0).unwrap(),
        *before
    );
    // The current version updates the job row too.
    let o = stable(&mut w, 1, true).unwrap();
    assert!(w.job("web").stable);
    assert_eq!(w.job("web").modify_index, o.index);
    assert_eq!(
        w.job("web").job_modify_index,
        before.job_modify_index.max(w.job("web").job_modify_index)
    );
}

/// Job versions are trimmed to the tracked count, keeping the newest stable one.
#[test]
fn tracked_versions_keep_the_stable_one() {
    let mut w = World::new();
    w.deploy(service_job("web", 1, update(1, 0)));
    for i in 2..12 {
        w.register(with_image(
            service_job("web", 1, update(1, 0)),
            &format!("app:{i}"),
        ));
    }
    let versions: Vec<(u64, bool)> = w
        .state()
        .job_versions("default", "web")
        .map(|j| (j.version, j.stable))
        .collect();
    assert_eq!(versions.len(), 6);
    assert_eq!(versions[0].0, 10);
    assert!(versions.contains(&(0, true)), "{versions:?}");
}

/// §7.6: an allocation always has its job. A version trimmed from the history while an
/// allocation still runs it is kept for that allocation (not listed among the versions),
/// survives a snapshot, and goes with the last allocation that runs it.
#[test]
fn a_trimmed_version_is_kept_while_an_allocation_runs_it() {
    let mut w = World::new();
    // Version 1, deployed: its allocation stays while newer versions are only registered.
    w.deploy(service_job("web", 1, update(1, 0)));
    w.register(with_image(service_job("web", 1, update(1, 0)), "app:next"));
    let placed = w.schedule();
    let v1_alloc = placed[0];
    assert_eq!(w.alloc(v1_alloc).job_version, 1);
    for i in 2..12 {
        w.register(with_image(
            service_job("web", 1, update(1, 0)),
            &format!("app:{i}"),
        ));
    }
    assert!(
        w.state().job_version("default", "web", 1).is_none(),
        "trimmed from the history"
    );
    let a = w.alloc(v1_alloc);
    let job = w.state().alloc_job(&a).expect("kept for its allocation");
    assert_eq!(job.version, 1);
    let bytes = serde_json::to_vec(w.state()).unwrap();
    let back: rollout_engine::State = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(&back, w.state());
    assert_eq!(back.alloc_job(&a).map(|j| j.version), Some(1));
    assert!(w.replay_equals_live());
    // Purged with its allocations, nothing is left behind.
    deregister(&mut w, true).unwrap();
    assert!(w.state().alloc_job(&a).is_none());
    assert_eq!(
        serde_json::to_value(w.state()).unwrap()["RetiredVersions"],
        serde_json::json!([])
    );
}

/// Scenario 38 [TestStateStore_DeleteDeployment] and G1.
#[test]
fn scenario_38_g1_reap_deployments() {
    let mut w = World::new();
    let d1 = w
        .register(service_job("a", 1, update(1, 0)))
        .deployments_created[0];
    let d2 = w
        .register(service_job("b", 1, update(1, 0)))
        .deployments_created[0];
    let o = w.apply(Command::ReapDeployments(ReapDeployments {
        deployments: vec![d1, d2, Uuid::from_u128(1)],
    }));
    assert_eq!(w.state().deployment_count(), 0);
    assert_eq!(w.state().table_indexes().deployment, o.index);
    let o = w.apply(Command::ReapDeployments(ReapDeployments {
        deployments: vec![],
    }));
    assert_ne!(
        w.state().table_indexes().deployment,
        o.index,
        "an empty list writes nothing"
    );
}

/// Scenarios 74 and 75 [TestCoreScheduler_DeploymentGC, …_Force], G2.
#[test]
fn scenario_74_75_g2_deployment_gc() {
    let mut w = World::new();
    let d1 = w
        .register(service_job("a", 1, update(1, 0)))
        .deployments_created[0];
    w.fail(d1).unwrap();
    w.advance(5 * HOUR_NS);
    let d2 = w
        .register(service_job("b", 1, update(1, 0)))
        .deployments_created[0];
    let d3 = w.deploy(service_job("c", 1, update(1, 0)));
    let d3 = w.alloc(d3[0]).deployment_id.unwrap();
    assert_eq!(w.deployment(d3).status, "successful");
    w.apply(Command::GcDeployments(GcDeployments {
        threshold_ns: HOUR_NS,
    }));
    assert!(w.state().deployment(&d1).is_none());
    assert!(w.state().deployment(&d2).is_some());
    assert!(
        w.state().deployment(&d3).is_some(),
        "recent, and referenced by a live allocation"
    );
    // Force GC (1 ms threshold) keeps running ones and those with live allocations.
    w.advance(SECOND_NS);
    w.apply(Command::GcDeployments(GcDeployments {
        threshold_ns: 1_000_000,
    }));
    assert!(w.state().deployment(&d2).is_some());
    assert!(w.state().deployment(&d3).is_some());
}

/// Scenario 39 [TestStateStore_OldDeployment]: deployments of an earlier job instance
/// only show with `all`.
#[test]
fn scenario_39_job_deployments_filter_by_create_index() {
    let mut w = World::new();
    w.register(service_job("web", 1, update(1, 0)));
    deregister(&mut w, true).unwrap();
    w.register(service_job("web", 1, update(1, 0)));
    // Purge removed the first instance's deployment; create another of the current one.
    w.register(with_image(service_job("web", 1, update(1, 0)), "app:2"));
    let all = w.state().job_deployments("default", "web", true).len();
    let current = w.state().job_deployments("default", "web", false).len();
    assert_eq!((all, current), (2, 2));
    assert!(w.state().latest_job_deployment("default", "web").is_some());
    assert!(w
        .state()
        .job_deployments("default", "nope", false)
        .is_empty());
}

/// Reads: prefixes must be even-length hex.
#[test]
fn prefix_reads_validate_their_input() {
    use rollout_engine::state::Prefix;
    assert_eq!(
        Prefix::parse("abc").unwrap_err().to_string(),
        "index error: Input (without hyphens) must be even length"
    );
    assert_eq!(
        Prefix::parse("zz").unwrap_err().to_string(),
        "index error: Invalid UUID: encoding/hex: invalid byte: U+007A 'z'"
    );
    let mut w = World::new();
    let d = w
        .register(service_job("web", 1, update(1, 0)))
        .deployments_created[0];
    let hex = d.simple().to_string();
    let p = Prefix::parse(&hex[..8]).unwrap();
    assert_eq!(
        w.state()
            .deployments_by_prefix(Some("default"), &p)
            .map(|d| d.id)
            .collect::<Vec<_>>(),
        vec![d]
    );
    assert_eq!(
        w.state().deployments_by_prefix(Some("other"), &p).count(),
        0
    );
    let with_hyphen = Prefix::parse(&d.hyphenated().to_string()[..13]).unwrap();
    assert_eq!(
        w.state().deployments_by_prefix(None, &with_hyphen).count(),
        1
    );
}

/// Reads: a prefix selects exactly the deployments whose ID starts with it, in ID order
/// both ways, whether it matches none, one (found by point lookups) or many (a range).
#[test]
fn prefix_reads_select_exactly_the_matching_deployments() {
    use rollout_engine::state::Prefix;
    let mut w = World::new();
    for i in 0..24 {
        w.register(service_job(&format!("web-{i}"), 1, update(1, 0)));
    }
    let state = w.state();
    let mut all: Vec<Uuid> = state
        .deployments_in_namespace(None)
        .iter()
        .map(|d| d.id)
        .collect();
    all.sort();
    assert_eq!(all.len(), 24);
    let mut prefixes: Vec<String> = vec![String::new()];
    for id in &all {
        let hex = id.simple().to_string();
        prefixes.extend([2, 8, 32].map(|n| hex[..n].to_string()));
    }
    // Leading bytes no deployment has: prefixes that match nothing.
    prefixes.extend(
        (0..=255u8)
            .map(|b| format!("{b:02x}"))
            .filter(|p| {
                !all.iter()
                    .any(|id| id.simple().to_string().starts_with(p.as_str()))
            })
            .take(3),
    );
    for text in &prefixes {
        let p = Prefix::parse(text).unwrap();
        let expected: Vec<Uuid> = all
            .iter()
            .copied()
            .filter(|id| id.simple().to_string().starts_with(text.as_str()))
            .collect();
        let found: Vec<Uuid> = state
            .deployments_by_prefix(Some("default"), &p)
            .map(|d| d.id)
            .collect();
        assert_eq!(found, expected, "prefix {text:?}");
        let mut backwards: Vec<Uuid> = state
            .deployments_by_prefix(None, &p)
            .rev()
            .map(|d| d.id)
            .collect();
        backwards.reverse();
        assert_eq!(backwards, expected, "prefix {text:?} backwards");
        assert_eq!(state.deployments_by_prefix(Some("other"), &p).count(), 0);
    }
}

/// Prefix decoding: a whole UUID (either case, with or without hyphens) selects itself;
/// more digits than a UUID has are refused; a multi-byte character is an invalid byte.
#[test]
fn prefix_parse_whole_overlong_and_non_ascii() {
    use rollout_engine::state::Prefix;
    let id = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    for s in [
        id.simple().to_string(),
        id.hyphenated().to_string(),
        id.simple().to_string().to_uppercase(),
    ] {
        assert_eq!(Prefix::parse(&s).unwrap().bounds(), (id, id), "{s}");
    }
    let long = format!("{}00", id.simple());
    assert_eq!(
        Prefix::parse(&long).unwrap_err().to_string(),
        format!("index error: Invalid UUID: {long} is longer than a UUID")
    );
    assert_eq!(
        Prefix::parse("é").unwrap_err().to_string(),
        "index error: Invalid UUID: encoding/hex: invalid byte: U+00E9 'é'"
    );
    assert!(Prefix::parse("").unwrap().is_empty());
}

/// §4.1: an index that does not increase is refused with a typed error.
#[test]
fn index_must_increase() {
    let w = World::new();
    let env =
        rollout_engine::Envelope::new(0, 0, rollout_engine::Entropy::default(), Command::Tick);
    let e = rollout_engine::apply(w.state(), &env).unwrap_err();
    assert_eq!(e, Error::IndexNotIncreasing { index: 0, last: 0 });
}

/// Evaluation acks: only final statuses, only for pending evals.
#[test]
fn eval_ack_rules() {
    let mut w = World::new();
    let o = w.register(service_job("web", 1, update(1, 0)));
    let eval = o.eval_id.unwrap();
    let ack = |status: &str| {
        Command::UpdateEvalStatus(UpdateEvalStatus {
            eval_id: eval,
            status: status.into(),
            status_description: String::new(),
        })
    };
    assert!(matches!(
        w.try_apply(ack("running")).unwrap_err(),
        Error::InvalidEvalStatus(_)
    ));
    w.apply(ack("complete"));
    assert!(matches!(
        w.try_apply(ack("complete")).unwrap_err(),
        Error::EvalNotPending { .. }
    ));
    let e = w
        .try_apply(Command::UpdateEvalStatus(UpdateEvalStatus {
            eval_id: Uuid::from_u128(4),
            status: "complete".into(),
            status_description: String::new(),
        }))
        .unwrap_err();
    assert_eq!(e, Error::EvalNotFound);
}

/// A stale plan is refused: the state moved on (the placement was already made).
#[test]
fn stale_plan_is_rejected() {
    let mut w = World::new();
    w.register(service_job("web", 2, update(1, 0)));
    let p = w.pending_plan();
    let result = p.accept_on_node("node-1", "n1");
    w.apply(Command::ApplyPlanResult(result.clone()));
    let before = w.state().clone();
    let e = w.try_apply(Command::ApplyPlanResult(result)).unwrap_err();
    assert!(matches!(e, Error::StalePlan { .. }), "{e}");
    assert!(e.to_string().contains("is not in the current plan"));
    assert!(*w.state() == before);
}

/// Allocation and evaluation GC: finished objects past the threshold go; live ones, the
/// newest evaluation of a job, and allocations of active deployments stay.
#[test]
fn gc_removes_finished_allocations_and_evaluations() {
    let mut w = World::new();
    let allocs = w.deploy(service_job("web", 2, update(1, 0)));
    w.client(allocs[0], "complete", None);
    w.advance(2 * HOUR_NS);
    let evals_before = w.evals_of("web").len();
    assert!(evals_before > 1);
    w.apply(Command::GcAllocations(GcAllocations {
        threshold_ns: HOUR_NS,
    }));
    assert!(w.state().alloc(&allocs[0]).is_none());
    assert!(w.state().alloc(&allocs[1]).is_some(), "still running");
    w.apply(Command::GcEvaluations(GcEvaluations {
        threshold_ns: HOUR_NS,
    }));
    let left = w.evals_of("web");
    assert_eq!(left.len(), 1, "the newest evaluation of the job stays");
    w.state().check_indexes().unwrap();
    assert!(w.replay_equals_live());
}
