//! Properties of random command sequences, valid and invalid (proptest).
//!
//! Each generated action is interpreted against the current state (pick the n-th
//! deployment, allocation, evaluation, …) so that most commands are meaningful, and a
//! share of them are deliberately wrong (unknown IDs, terminal deployments, stale plans).
mod common;
use common::*;
use proptest::prelude::*;
use rollout_engine::command::*;
use rollout_engine::model::{Job, Timestamp, UpdateStrategy, HOUR_NS, MINUTE_NS, SECOND_NS};
use rollout_engine::{
    invariants, plan, testing, Actor, Command, DeploymentEngine, EngineConfig, Entropy, Envelope,
    SeededStamp, State, VirtualClock,
};
use uuid::Uuid;

#[derive(Clone, Debug)]
enum Action {
    Register {
        job: u8,
        image: u8,
        count: u8,
        canary: u8,
        auto_revert: bool,
        auto_promote: bool,
        pd: u8,
    },
    Schedule {
        pick: u8,
        keep: u8,
    },
    Client {
        pick: u8,
        status: u8,
        health: u8,
    },
    SetHealth {
        dep: u8,
        pick: u8,
        healthy: bool,
    },
    Promote {
        dep: u8,
        all: bool,
    },
    Pause {
        dep: u8,
        pause: bool,
    },
    Fail {
        dep: u8,
    },
    Tick {
        advance_s: u16,
    },
    Ack {
        pick: u8,
        status: u8,
    },
    Revert {
        job: u8,
        version: u8,
    },
    Stable {
        job: u8,
        version: u8,
        stable: bool,
    },
    Stop {
        job: u8,
        purge: bool,
    },
    Gc,
    Garbage {
        which: u8,
    },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (0..2u8, 0..4u8, 1..5u8, 0..3u8, any::<bool>(), any::<bool>(), 0..3u8).prop_map(
            |(job, image, count, canary, auto_revert, auto_promote, pd)| Action::Register { job, image, count, canary, auto_revert, auto_promote, pd }
        ),
        6 => (any::<u8>(), any::<u8>()).prop_map(|(pick, keep)| Action::Schedule { pick, keep }),
        6 => (any::<u8>(), 0..6u8, 0..3u8).prop_map(|(pick, status, health)| Action::Client { pick, status, health }),
        2 => (any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(dep, pick, healthy)| Action::SetHealth { dep, pick, healthy }),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(dep, all)| Action::Promote { dep, all }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(dep, pause)| Action::Pause { dep, pause }),
        1 => any::<u8>().prop_map(|dep| Action::Fail { dep }),
        3 => (0..900u16).prop_map(|advance_s| Action::Tick { advance_s }),
        3 => (any::<u8>(), 0..4u8).prop_map(|(pick, status)| Action::Ack { pick, status }),
        1 => (0..2u8, 0..6u8).prop_map(|(job, version)| Action::Revert { job, version }),
        1 => (0..2u8, 0..6u8, any::<bool>()).prop_map(|(job, version, stable)| Action::Stable { job, version, stable }),
        1 => (0..2u8, any::<bool>()).prop_map(|(job, purge)| Action::Stop { job, purge }),
        1 => Just(Action::Gc),
        1 => any::<u8>().prop_map(|which| Action::Garbage { which }),
    ]
}

fn nth<T: Clone>(items: &[T], pick: u8) -> Option<T> {
    (!items.is_empty()).then(|| items[pick as usize % items.len()].clone())
}

fn job_name(j: u8) -> String {
    format!("job{j}")
}

/// Turns an action into a command against the current state.
fn command(state: &State, now: i64, a: &Action) -> Command {
    let deployments: Vec<Uuid> = state
        .deployments_in_namespace(None)
        .iter()
        .map(|d| d.id)
        .collect();
    let allocs: Vec<Uuid> = state
        .allocs_in_namespace(None)
        .iter()
        .map(|a| a.id)
        .collect();
    let evals: Vec<Uuid> = state.pending_evals().iter().map(|e| e.id).collect();
    let some = |v: Option<Uuid>| v.unwrap_or(Uuid::from_u128(0xbad));
    match a {
        Action::Register {
            job,
            image,
            count,
            canary,
            auto_revert,
            auto_promote,
            pd,
        } => {
            let u = UpdateStrategy {
                max_parallel: Some(1 + (*count as i64 % 2)),
                canary: Some(*canary as i64),
                auto_revert: Some(*auto_revert),
                auto_promote: Some(*auto_promote && *canary > 0),
                progress_deadline: Some([0, 2 * MINUTE_NS, 10 * MINUTE_NS][*pd as usize]),
                healthy_deadline: Some(MINUTE_NS),
                min_healthy_time: Some(SECOND_NS),
                ..Default::default()
            };
            let mut j = with_image(
                service_job(&job_name(*job), *count as i64, u),
                &format!("app:{image}"),
            );
            j.task_groups[0].name = "web".into();
            Command::RegisterJob(RegisterJob {
                job: j,
                ..Default::default()
            })
        }
        Action::Schedule { pick, keep } => {
            let Some(eval) = nth(&evals, *pick) else {
                return Command::Tick;
            };
            let Ok(p) = plan(state, &eval, now) else {
                return Command::Tick;
            };
            let mut r = p.accept_on_node("node-1", "n1");
            // Keep a subset of the placements, chosen by the bits of `keep`.
            let mut i = 0;
            r.allocations.retain(|_| {
                i += 1;
                keep & (1 << ((i - 1) % 8)) != 0 || *keep > 200
            });
            Command::ApplyPlanResult(r)
        }
        Action::Client {
            pick,
            status,
            health,
        } => {
            let statuses = [
                "pending", "running", "running", "failed", "lost", "complete",
            ];
            Command::UpdateAllocsFromClient(ClientAllocUpdates {
                allocations: vec![ClientAllocUpdate {
                    id: some(nth(&allocs, *pick)),
                    client_status: statuses[*status as usize].into(),
                    deployment_status: match health {
                        0 => None,
                        h => Some(ClientDeploymentStatus {
                            healthy: Some(*h == 1),
                            timestamp: Timestamp(now),
                            canary: false,
                        }),
                    },
                    modify_time: now,
                    ..Default::default()
                }],
            })
        }
        Action::SetHealth { dep, pick, healthy } => {
            let d = nth(&deployments, *dep);
            let ids: Vec<Uuid> = d
                .map(|d| state.deployment_allocs(&d).map(|a| a.id).collect())
                .unwrap_or_default();
            let chosen: Vec<Uuid> = nth(&ids, *pick).into_iter().collect();
            Command::SetAllocHealth(SetAllocHealth {
                deployment_id: some(d),
                healthy_allocation_ids: if *healthy { chosen.clone() } else { vec![] },
                unhealthy_allocation_ids: if *healthy { vec![] } else { chosen },
            })
        }
        Action::Promote { dep, all } => Command::PromoteDeployment(PromoteDeployment {
            deployment_id: some(nth(&deployments, *dep)),
            all: *all,
            groups: Some(vec!["web".into()]),
        }),
        Action::Pause { dep, pause } => Command::PauseDeployment(PauseDeployment {
            deployment_id: some(nth(&deployments, *dep)),
            pause: *pause,
        }),
        Action::Fail { dep } => Command::FailDeployment(FailDeployment {
            deployment_id: some(nth(&deployments, *dep)),
        }),
        Action::Tick { .. } => Command::Tick,
        Action::Ack { pick, status } => Command::UpdateEvalStatus(UpdateEvalStatus {
            eval_id: some(nth(&evals, *pick)),
            status: ["complete", "complete", "failed", "canceled"][*status as usize].into(),
            status_description: String::new(),
        }),
        Action::Revert { job, version } => Command::RevertJob(RevertJob {
            job_id: job_name(*job),
            namespace: "default".into(),
            job_version: *version as u64,
            enforce_prior_version: None,
        }),
        Action::Stable {
            job,
            version,
            stable,
        } => Command::SetJobStability(SetJobStability {
            job_id: job_name(*job),
            namespace: "default".into(),
            job_version: *version as u64,
            stable: *stable,
        }),
        Action::Stop { job, purge } => Command::DeregisterJob(DeregisterJob {
            job_id: job_name(*job),
            namespace: "default".into(),
            purge: *purge,
            eval_priority: 0,
        }),
        Action::Gc => Command::GcDeployments(GcDeployments {
            threshold_ns: HOUR_NS,
        }),
        Action::Garbage { which } => match which % 4 {
            0 => Command::PromoteDeployment(PromoteDeployment {
                deployment_id: Uuid::from_u128(*which as u128),
                all: true,
                groups: None,
            }),
            1 => Command::SetAllocHealth(SetAllocHealth {
                deployment_id: some(nth(&deployments, *which)),
                healthy_allocation_ids: vec![Uuid::from_u128(7)],
                unhealthy_allocation_ids: vec![],
            }),
            2 => Command::ApplyPlanResult(PlanResult {
                eval_id: some(nth(&evals, *which)),
                allocations: vec![PlacedAllocation {
                    name: "nope[9]".into(),
                    task_group: "web".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            _ => Command::RegisterJob(RegisterJob {
                job: Job {
                    id: "bad job".into(),
                    ..Default::default()
                },
                ..Default::default()
            }),
        },
    }
}

fn run(actions: &[Action]) -> Result<(), TestCaseError> {
    // Entropy seed 0: the i-th submission gets `Entropy::from_u64(i)`.
    let clock = VirtualClock::new(T0);
    let mut engine =
        DeploymentEngine::new(EngineConfig::default(), SeededStamp::new(0, clock.clone()));
    let mut log: Vec<Envelope> = Vec::new();
    for a in actions {
        if let Action::Tick { advance_s } = a {
            clock.advance(*advance_s as i64 * SECOND_NS);
        } else {
            clock.advance(100_000_000);
        }
        let before = engine.state().clone();
        let cmd = command(&before, clock.now(), a);
        let name = cmd.name();
        let result = engine.submit(cmd);
        if std::env::var("ROLLOUT_PROP_STATS").is_ok() {
            eprintln!("STAT {name} {}", if result.is_ok() { "ok" } else { "err" });
        }
        match result {
            Ok(applied) => {
                // The engine's own invariants: of the step, of the whole transition, and
                // of the whole new state.
                let next = &applied.state;
                invariants::check_applied(&before, &applied.envelope, next, &applied.outcome)
                    .map_err(|v| TestCaseError::fail(v.to_string()))?;
                invariants::check_transition(&before, next)
                    .map_err(|v| TestCaseError::fail(v.to_string()))?;
                next.check_invariants()
                    .map_err(|v| TestCaseError::fail(v.to_string()))?;
                log.push(applied.envelope);
            }
            Err(_) => {
                // A rejected command changes nothing.
                prop_assert!(*engine.state() == before);
            }
        }
    }
    let state = engine.state();
    // Replay from an empty state gives byte-identical state.
    let replay = testing::replay(EngineConfig::default(), &log)
        .map_err(|e| TestCaseError::fail(format!("replay failed: {e}")))?;
    prop_assert_eq!(
        serde_json::to_vec(&replay).unwrap(),
        serde_json::to_vec(state).unwrap()
    );
    // A serialized snapshot loads back to an equal state with equal indexes.
    let loaded: State = serde_json::from_slice(&serde_json::to_vec(state).unwrap()).unwrap();
    prop_assert!(loaded == *state);
    loaded
        .check_invariants()
        .map_err(|v| TestCaseError::fail(v.to_string()))?;
    prop_assert_eq!(
        rollout_engine::next_deadline(&loaded),
        rollout_engine::next_deadline(state)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, max_shrink_iters: 2000, .. ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_keep_every_invariant(actions in prop::collection::vec(action(), 1..120)) {
        run(&actions)?;
    }
}

/// One of every kind of actor, and none at all.
fn actor() -> impl Strategy<Value = Option<Actor>> {
    prop_oneof![
        Just(None),
        Just(Some(Actor::anonymous_operator())),
        any::<u128>().prop_map(|id| Some(Actor::operator(Some(Uuid::from_u128(id)), "ci-token"))),
        Just(Some(Actor::scheduler())),
        Just(Some(Actor::client())),
        Just(Some(Actor::watcher())),
        Just(Some(Actor::gc())),
    ]
}

/// Issue 16: the actor is recorded, never read. The same commands submitted with any
/// actors give the same results and a byte-identical state as submitted with none, and
/// each accepted envelope carries exactly the actor it was submitted with.
fn run_attributed(steps: &[(Action, Option<Actor>)]) -> Result<(), TestCaseError> {
    let clock = VirtualClock::new(T0);
    let mut plain =
        DeploymentEngine::new(EngineConfig::default(), SeededStamp::new(0, clock.clone()));
    let mut attributed =
        DeploymentEngine::new(EngineConfig::default(), SeededStamp::new(0, clock.clone()));
    let mut log: Vec<Envelope> = Vec::new();
    for (a, who) in steps {
        if let Action::Tick { advance_s } = a {
            clock.advance(*advance_s as i64 * SECOND_NS);
        } else {
            clock.advance(100_000_000);
        }
        let cmd = command(plain.state(), clock.now(), a);
        let without = plain.submit(cmd.clone());
        let with = attributed.submit_as(cmd, who.clone());
        match (without, with) {
            (Ok(p), Ok(w)) => {
                prop_assert_eq!(&w.envelope.actor, who);
                prop_assert_eq!(p.envelope.actor, None);
                prop_assert_eq!(p.outcome, w.outcome.clone());
                log.push(w.envelope);
            }
            (Err(p), Err(w)) => prop_assert_eq!(p.to_string(), w.to_string()),
            (p, w) => {
                return Err(TestCaseError::fail(format!(
                    "the actor changed acceptance: without {:?}, with {:?}",
                    p.map(|_| ()),
                    w.map(|_| ())
                )))
            }
        }
        prop_assert_eq!(
            serde_json::to_vec(plain.state()).unwrap(),
            serde_json::to_vec(attributed.state()).unwrap()
        );
    }
    // An attributed log round-trips through JSON with its actors, and replays to the
    // same state.
    let json = serde_json::to_vec(&log).unwrap();
    let decoded: Vec<Envelope> = serde_json::from_slice(&json).unwrap();
    prop_assert!(decoded == log);
    let replay = testing::replay(EngineConfig::default(), &decoded)
        .map_err(|e| TestCaseError::fail(format!("replay failed: {e}")))?;
    prop_assert_eq!(
        serde_json::to_vec(&replay).unwrap(),
        serde_json::to_vec(plain.state()).unwrap()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, max_shrink_iters: 1000, .. ProptestConfig::default() })]

    #[test]
    fn the_actor_is_recorded_and_never_changes_state(
        steps in prop::collection::vec((action(), actor()), 1..80)
    ) {
        run_attributed(&steps)?;
    }
}

/// Runs `steps` as a consensus log whose entries carry several commands: a step marked
/// `true` joins the entry of the step before it (same index), one marked `false` starts
/// the next entry. Every applied command keeps every invariant, a refused one changes
/// nothing, and replaying the same entries gives the same state.
fn run_in_entries(steps: &[(Action, bool)]) -> Result<(), TestCaseError> {
    let mut state = State::with_config(EngineConfig::default());
    let mut now = T0;
    let mut index = 0u64;
    let mut log: Vec<Envelope> = Vec::new();
    for (n, (a, joins)) in steps.iter().enumerate() {
        if !joins || index == 0 {
            index += 1;
            now += match a {
                Action::Tick { advance_s } => *advance_s as i64 * SECOND_NS,
                _ => 100_000_000,
            };
        }
        let env = Envelope::new(
            index,
            now,
            Entropy::from_u64(n as u64),
            command(&state, now, a),
        );
        let continues = state.index() == index;
        let applied = if continues {
            rollout_engine::apply_in_entry(&state, &env)
        } else {
            rollout_engine::apply(&state, &env)
        };
        if let Ok((next, outcome)) = applied {
            let checked = if continues {
                invariants::check_applied_in_entry(&state, &env, &next, &outcome)
            } else {
                invariants::check_applied(&state, &env, &next, &outcome)
            };
            checked.map_err(|v| TestCaseError::fail(v.to_string()))?;
            next.check_invariants()
                .map_err(|v| TestCaseError::fail(v.to_string()))?;
            state = next;
            log.push(env);
        }
    }
    let mut replayed = State::with_config(EngineConfig::default());
    for env in &log {
        let applied = if replayed.index() == env.index {
            rollout_engine::apply_in_entry(&replayed, env)
        } else {
            rollout_engine::apply(&replayed, env)
        };
        replayed = applied
            .map_err(|e| TestCaseError::fail(format!("replay failed: {e}")))?
            .0;
    }
    prop_assert!(replayed == state);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, max_shrink_iters: 2000, .. ProptestConfig::default() })]

    #[test]
    fn commands_sharing_log_entries_keep_every_invariant(
        steps in prop::collection::vec((action(), any::<bool>()), 1..120)
    ) {
        run_in_entries(&steps)?;
    }
}
