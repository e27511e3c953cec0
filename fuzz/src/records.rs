//! The `store_records` target: the store's decoders on arbitrary bytes.
//!
//! Input: `[mode][bytes …]`. Random bytes almost never carry a valid CRC, which would
//! stop every input at the checksum; so half the modes wrap the bytes in a valid header
//! and checksum first, and the payload decoder (MessagePack into `Envelope` or `State`)
//! gets to see them.
//!
//! - 0: `decode_log_record(bytes)` as they are;
//! - 1: `decode_snapshot(bytes)` as they are;
//! - 2: a log record header with a correct CRC around `bytes`;
//! - 3: a snapshot header with correct length and CRC around `bytes`;
//! - 4: `decode_meta` (the metadata table's values): the engine config, a string map.
//!
//! Whatever decodes must also be usable: an envelope re-encodes to the same record and
//! applies (or is rejected) without panicking; a state's indexes are checked, its reads
//! and `next_deadline` run, and it re-encodes to a snapshot that decodes to it again.

use rollout_engine::{apply, Envelope, State};
use rollout_store::codec::{self, LOG_RECORD_VERSION, SNAPSHOT_MAGIC, SNAPSHOT_VERSION};
use std::collections::BTreeMap;

pub fn log_record(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![LOG_RECORD_VERSION];
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

pub fn snapshot(index: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = SNAPSHOT_MAGIC.to_vec();
    out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// CRC-32 (IEEE), as the store computes it.
fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

fn check_envelope(env: &Envelope) {
    let again = codec::encode_log_record(env).expect("a decoded envelope encodes");
    let back = codec::decode_log_record(&again).expect("a re-encoded envelope decodes");
    assert_eq!(&back, env, "envelope does not round-trip");
    // Whatever a damaged-but-checksummed log holds, replaying it must not panic.
    let _ = apply(&State::new(), env);
}

fn check_state(state: &State) {
    // A snapshot is trusted data (it passed its CRC), but a state whose secondary
    // indexes disagree with its tables must be detectable, not a panic later.
    let _ = state.check_indexes();
    let _ = rollout_engine::next_deadline(state);
    let _ = state.deployments_in_namespace(None);
    let _ = state.allocs_in_namespace(None);
    let _ = state.pending_evals();
    let encoded = codec::encode_snapshot(state).expect("a decoded state encodes");
    let (_, back) = codec::decode_snapshot(&encoded).expect("a re-encoded state decodes");
    assert!(back == *state, "state does not round-trip");
}

pub fn run(data: &[u8]) {
    let [mode, bytes @ ..] = data else {
        return;
    };
    match mode % 5 {
        0 => {
            if let Ok(env) = codec::decode_log_record(bytes) {
                check_envelope(&env);
            }
        }
        1 => {
            if let Ok((_, state)) = codec::decode_snapshot(bytes) {
                check_state(&state);
            }
        }
        2 => {
            if let Ok(env) = codec::decode_log_record(&log_record(bytes)) {
                check_envelope(&env);
            }
        }
        3 => {
            if let Ok((_, state)) = codec::decode_snapshot(&snapshot(0, bytes)) {
                check_state(&state);
            }
        }
        _ => {
            let _ = codec::decode_meta::<rollout_engine::EngineConfig>(bytes);
            let _ = codec::decode_meta::<BTreeMap<String, String>>(bytes);
        }
    }
}
