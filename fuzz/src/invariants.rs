//! The engine's invariants, as the property test checks them
//! (`crates/engine/tests/properties.rs`), plus the round trips the store relies on.

use rollout_engine::{apply, Envelope, Outcome, RollbackOutcome, State};
use rollout_store::codec;
use std::collections::BTreeMap;

/// A state's serialized bytes (the snapshot payload format): what "equal" means for
/// replay and determinism.
pub fn state_bytes(state: &State) -> Vec<u8> {
    codec::encode_state(state).expect("every state encodes")
}

/// Checks one accepted command: `before` + `env` gave `after` and `outcome`.
pub fn check_step(
    before: &State,
    env: &Envelope,
    after: &State,
    outcome: &Outcome,
) -> Result<(), String> {
    if after.index() != env.index {
        return Err(format!(
            "state index {} is not the envelope's {}",
            after.index(),
            env.index
        ));
    }
    if outcome.index != after.index() {
        return Err(format!(
            "outcome index {} is not the state's {}",
            outcome.index,
            after.index()
        ));
    }
    check_transition(before, after)?;
    check_state(after)?;
    check_rollbacks(before, outcome)
}

/// Properties relating one state to the next: terminal deployments keep their status,
/// a promoted group stays promoted.
pub fn check_transition(before: &State, after: &State) -> Result<(), String> {
    for old in before.deployments_in_namespace(None) {
        let Some(new) = after.deployment(&old.id) else {
            continue;
        };
        if old.terminal() && new.status != old.status {
            return Err(format!(
                "terminal deployment {} changed status {} → {}",
                old.id, old.status, new.status
            ));
        }
        for (g, s) in &old.task_groups {
            if s.promoted && !new.task_groups.get(g).is_some_and(|n| n.promoted) {
                return Err(format!("deployment {} group {g} was un-promoted", old.id));
            }
        }
    }
    Ok(())
}

/// Properties of one state: secondary indexes agree with their tables, health counts
/// stay within placements, at most one active deployment per job.
pub fn check_state(state: &State) -> Result<(), String> {
    state.check_indexes()?;
    let mut active: BTreeMap<(String, String), usize> = BTreeMap::new();
    for d in state.deployments_in_namespace(None) {
        if d.active() {
            *active
                .entry((d.namespace.clone(), d.job_id.clone()))
                .or_default() += 1;
        }
        for (g, s) in &d.task_groups {
            if s.healthy_allocs as i128 + s.unhealthy_allocs as i128 > s.placed_allocs as i128 {
                return Err(format!(
                    "deployment {} group {g}: healthy+unhealthy > placed: {s:?}",
                    d.id
                ));
            }
        }
    }
    if let Some(((ns, job), n)) = active.iter().find(|(_, n)| **n > 1) {
        return Err(format!("{n} active deployments for {ns}/{job}"));
    }
    Ok(())
}

/// A rollback goes to a stable version that differs from the failing one.
fn check_rollbacks(before: &State, outcome: &Outcome) -> Result<(), String> {
    for r in &outcome.rollbacks {
        let RollbackOutcome::RolledBack { stable_version, .. } = r.outcome else {
            continue;
        };
        let Some(failing) = before.deployment(&r.deployment_id) else {
            return Err(format!(
                "rollback of unknown deployment {}",
                r.deployment_id
            ));
        };
        let Some(src) = before.job_version(&failing.namespace, &failing.job_id, stable_version)
        else {
            return Err(format!("rollback to missing version {stable_version}"));
        };
        if !src.stable {
            return Err(format!("rollback to unstable version {stable_version}"));
        }
        if let Some(w) =
            before.job_version(&failing.namespace, &failing.job_id, failing.job_version)
        {
            if !rollout_engine::job::spec_changed(w, src) {
                return Err(format!(
                    "rollback to version {stable_version} that equals the failing one"
                ));
            }
        }
    }
    Ok(())
}

/// After a run: replaying the log gives the same bytes; every envelope survives the log
/// record format and the state survives the snapshot format and JSON.
pub fn check_log(state: &State, log: &[Envelope]) -> Result<(), String> {
    let mut replay = State::new();
    for env in log {
        let record = codec::encode_log_record(env).map_err(|e| format!("encode record: {e}"))?;
        let decoded =
            codec::decode_log_record(&record).map_err(|e| format!("decode record: {e}"))?;
        if &decoded != env {
            return Err(format!(
                "log record of index {} does not round-trip: {env:?} vs {decoded:?}",
                env.index
            ));
        }
        replay = apply(&replay, &decoded)
            .map_err(|e| format!("replay of index {} failed: {e}", env.index))?
            .0;
    }
    if state_bytes(&replay) != state_bytes(state) {
        return Err("replay gave a different state".into());
    }
    let snapshot = codec::encode_snapshot(state).map_err(|e| format!("encode snapshot: {e}"))?;
    let (header, loaded) =
        codec::decode_snapshot(&snapshot).map_err(|e| format!("decode snapshot: {e}"))?;
    if header.index != state.index() || loaded != *state {
        return Err("snapshot does not round-trip".into());
    }
    loaded.check_indexes()?;
    if rollout_engine::next_deadline(&loaded) != rollout_engine::next_deadline(state) {
        return Err("a loaded snapshot has another next deadline".into());
    }
    let json = serde_json::to_vec(state).map_err(|e| format!("state to JSON: {e}"))?;
    let from_json: State =
        serde_json::from_slice(&json).map_err(|e| format!("state from JSON: {e}"))?;
    if from_json != *state {
        return Err("state does not round-trip through JSON".into());
    }
    Ok(())
}
