//! Object identifiers.
//!
//! Deployments, allocations and evaluations are keyed by UUID, as in Nomad's state store
//! (whose indexes store the 16 decoded bytes). Keeping them as [`Uuid`] makes index keys
//! `Copy` and lets ID-prefix queries become byte-range scans.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Serde adapter for `Option<Uuid>` fields that Nomad sends as a string, `""` meaning none
/// (`DeploymentID`, `PreviousAllocation`, `NextAllocation`, `EvalID`, …).
pub mod empty_as_none {
    use super::*;

    /// Writes `None` as `""` in human-readable formats, the UUID otherwise.
    pub fn serialize<S: Serializer>(id: &Option<Uuid>, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            return id.serialize(serializer);
        }
        match id {
            Some(id) => serializer.collect_str(&id.hyphenated()),
            None => serializer.serialize_str(""),
        }
    }

    /// Reads `""` (or `null`) as `None` in human-readable formats.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Uuid>, D::Error> {
        if !deserializer.is_human_readable() {
            return Option::<Uuid>::deserialize(deserializer);
        }
        let s: Option<String> = Option::deserialize(deserializer)?;
        match s.as_deref() {
            None | Some("") => Ok(None),
            Some(s) => Uuid::parse_str(s)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Is `s` an ID as Nomad generates them (36 characters, hyphenated lowercase UUID)?
pub fn parse_id(s: &str) -> Option<Uuid> {
    if s.len() != 36 {
        return None;
    }
    Uuid::parse_str(s).ok()
}
