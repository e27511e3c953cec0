//! What a program must keep beyond the engine's own invariants (which
//! `rollout_engine::invariants` defines and the target calls): the round trips the store
//! relies on, and replay.

use rollout_engine::{apply, Envelope, State};
use rollout_store::codec;

/// A state's serialized bytes (the snapshot payload format): what "equal" means for
/// replay and determinism.
pub fn state_bytes(state: &State) -> Vec<u8> {
    codec::encode_state(state).expect("every state encodes")
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
    loaded.check_invariants().map_err(|v| v.to_string())?;
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
