//! Byte formats of everything the store writes: log records and snapshot files.
//!
//! Both carry a format version and a CRC32 of their payload. redb already checksums its
//! pages, but only verifies them when asked (see [`crate::Options::verify_file_on_open`]);
//! the record's own checksum makes a damaged value detectable by the reader that decodes
//! it, and names the index it belongs to.
//!
//! Payloads are MessagePack with named fields (`rmp_serde::to_vec_named`): a published,
//! stable format that is self-describing, so a field added to a model type later decodes
//! as its default from old logs, and that supports every serde feature the Nomad-shaped
//! types use (`skip_serializing_if`, `serde_json::Value`, untagged enums). See the README.

use rollout_engine::{Envelope, State};
use serde::{de::DeserializeOwned, Serialize};

/// The log record format this build writes and the newest it reads.
pub const LOG_RECORD_VERSION: u8 = 1;
/// The snapshot file format this build writes and the newest it reads.
pub const SNAPSHOT_VERSION: u16 = 1;

/// Log record: `[version u8][crc32(payload) u32 LE][payload]`.
const LOG_HEADER_LEN: usize = 5;

/// Snapshot file: `[magic 8][version u16 LE][index u64 LE][payload len u64 LE]
/// [crc32(payload) u32 LE][payload]`.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"RLSNAPv\0";
pub const SNAPSHOT_HEADER_LEN: usize = 8 + 2 + 8 + 8 + 4;

/// Why bytes could not be decoded. Carries no location: callers know the file and index.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error("record is {len} bytes, shorter than its {header}-byte header (torn or truncated)")]
    TooShort { len: usize, header: usize },
    #[error("written by a newer format version {found} (this build reads up to {supported}); upgrade rollout to read it")]
    NewerVersion { found: u32, supported: u32 },
    #[error("unknown format version {found}")]
    UnknownVersion { found: u32 },
    #[error("bad magic bytes: not a rollout snapshot file")]
    BadMagic,
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum { stored: u32, computed: u32 },
    #[error("payload length {declared} does not match the {actual} bytes present")]
    Length { declared: u64, actual: u64 },
    #[error("payload does not decode: {0}")]
    Payload(String),
}

/// Encodes an envelope as a log record.
pub fn encode_log_record(envelope: &Envelope) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    let mut out = vec![0u8; LOG_HEADER_LEN];
    rmp_serde::encode::write_named(&mut out, envelope)?;
    let crc = crc32fast::hash(&out[LOG_HEADER_LEN..]);
    out[0] = LOG_RECORD_VERSION;
    out[1..LOG_HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Decodes a log record, checking version and checksum before the payload.
pub fn decode_log_record(bytes: &[u8]) -> Result<Envelope, DecodeError> {
    let Some((header, payload)) = bytes.split_at_checked(LOG_HEADER_LEN) else {
        return Err(DecodeError::TooShort {
            len: bytes.len(),
            header: LOG_HEADER_LEN,
        });
    };
    check_version(u32::from(header[0]), u32::from(LOG_RECORD_VERSION))?;
    check_crc(read_u32(&header[1..5]), payload)?;
    decode_payload(payload)
}

/// The serialized form of a state, as stored in snapshots: also what tests compare to
/// decide that two states are byte-identical.
pub fn encode_state(state: &State) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    rmp_serde::to_vec_named(state)
}

/// A state's fingerprint: BLAKE2b-256 of [`encode_state`], in hex. Equal fingerprints
/// mean byte-identical states: what `rollout replay` prints and what replicas compare.
pub fn state_fingerprint(state: &State) -> Result<String, rmp_serde::encode::Error> {
    use blake2::{Blake2b256, Digest};
    Ok(hex::encode(Blake2b256::digest(encode_state(state)?)))
}

/// Encodes a snapshot file for `state`.
pub fn encode_snapshot(state: &State) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    let mut out = Vec::with_capacity(SNAPSHOT_HEADER_LEN);
    out.extend_from_slice(SNAPSHOT_MAGIC);
    out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    out.extend_from_slice(&state.index().to_le_bytes());
    out.extend_from_slice(&[0u8; 12]); // length and CRC, filled in below
    rmp_serde::encode::write_named(&mut out, state)?;
    let payload = &out[SNAPSHOT_HEADER_LEN..];
    let len = payload.len() as u64;
    let crc = crc32fast::hash(payload);
    out[18..26].copy_from_slice(&len.to_le_bytes());
    out[26..30].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// The header fields of a snapshot file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    pub version: u16,
    pub index: u64,
}

/// Decodes a snapshot file: header, length, checksum, then the state.
pub fn decode_snapshot(bytes: &[u8]) -> Result<(SnapshotHeader, State), DecodeError> {
    let Some((header, payload)) = bytes.split_at_checked(SNAPSHOT_HEADER_LEN) else {
        return Err(DecodeError::TooShort {
            len: bytes.len(),
            header: SNAPSHOT_HEADER_LEN,
        });
    };
    if &header[0..8] != SNAPSHOT_MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let version = u16::from_le_bytes([header[8], header[9]]);
    check_version(u32::from(version), u32::from(SNAPSHOT_VERSION))?;
    let index = read_u64(&header[10..18]);
    let declared = read_u64(&header[18..26]);
    if declared != payload.len() as u64 {
        return Err(DecodeError::Length {
            declared,
            actual: payload.len() as u64,
        });
    }
    check_crc(read_u32(&header[26..30]), payload)?;
    let state = decode_payload(payload)?;
    Ok((SnapshotHeader { version, index }, state))
}

fn check_version(found: u32, supported: u32) -> Result<(), DecodeError> {
    match found {
        0 => Err(DecodeError::UnknownVersion { found }),
        v if v > supported => Err(DecodeError::NewerVersion { found, supported }),
        _ => Ok(()),
    }
}

fn check_crc(stored: u32, payload: &[u8]) -> Result<(), DecodeError> {
    let computed = crc32fast::hash(payload);
    if stored == computed {
        Ok(())
    } else {
        Err(DecodeError::Checksum { stored, computed })
    }
}

fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    rmp_serde::from_slice(payload).map_err(|e| DecodeError::Payload(e.to_string()))
}

/// Callers pass slices of exactly four bytes (checked by construction above).
fn read_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    u32::from_le_bytes(a)
}

fn read_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_le_bytes(a)
}

/// Encodes a small value stored in the metadata table.
pub fn encode_meta<T: Serialize>(value: &T) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    rmp_serde::to_vec_named(value)
}

pub fn decode_meta<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    decode_payload(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollout_engine::{Command, Entropy};

    fn envelope() -> Envelope {
        Envelope::new(
            7,
            1_700_000_000_000_000_000,
            Entropy::from_u64(3),
            Command::Tick,
        )
    }

    #[test]
    fn state_fingerprint_is_blake2b_256_hex_and_tells_states_apart() {
        let empty = State::default();
        let print = state_fingerprint(&empty).unwrap();
        assert_eq!(print.len(), 64);
        assert!(print.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(state_fingerprint(&State::default()).unwrap(), print);
        let (ticked, _) = rollout_engine::apply(&empty, &envelope()).unwrap();
        assert_ne!(state_fingerprint(&ticked).unwrap(), print);
    }

    #[test]
    fn log_record_round_trips() {
        let bytes = encode_log_record(&envelope()).unwrap();
        assert_eq!(bytes[0], LOG_RECORD_VERSION);
        assert_eq!(decode_log_record(&bytes).unwrap(), envelope());
    }

    #[test]
    fn flipped_payload_byte_is_a_checksum_error() {
        let mut bytes = encode_log_record(&envelope()).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        assert!(matches!(
            decode_log_record(&bytes),
            Err(DecodeError::Checksum { .. })
        ));
    }

    #[test]
    fn newer_and_unknown_versions_are_errors() {
        let mut bytes = encode_log_record(&envelope()).unwrap();
        bytes[0] = LOG_RECORD_VERSION + 1;
        assert_eq!(
            decode_log_record(&bytes),
            Err(DecodeError::NewerVersion {
                found: u32::from(LOG_RECORD_VERSION) + 1,
                supported: u32::from(LOG_RECORD_VERSION)
            })
        );
        bytes[0] = 0;
        assert_eq!(
            decode_log_record(&bytes),
            Err(DecodeError::UnknownVersion { found: 0 })
        );
        assert!(matches!(
            decode_log_record(&bytes[..3]),
            Err(DecodeError::TooShort { .. })
        ));
    }

    #[test]
    fn snapshot_round_trips_and_detects_damage() {
        let state = State::new();
        let bytes = encode_snapshot(&state).unwrap();
        let (header, decoded) = decode_snapshot(&bytes).unwrap();
        assert_eq!(header.index, 0);
        assert!(decoded == state);
        assert_eq!(
            decode_snapshot(&bytes[..bytes.len() - 1]).unwrap_err(),
            DecodeError::Length {
                declared: (bytes.len() - SNAPSHOT_HEADER_LEN) as u64,
                actual: (bytes.len() - SNAPSHOT_HEADER_LEN - 1) as u64
            }
        );
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(decode_snapshot(&bad).unwrap_err(), DecodeError::BadMagic);
        let mut newer = bytes;
        newer[8] = 9;
        assert!(matches!(
            decode_snapshot(&newer),
            Err(DecodeError::NewerVersion { found: 9, .. })
        ));
    }
}
