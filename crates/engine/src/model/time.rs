//! Time values as Nomad puts them on the wire.
//!
//! Nomad has two kinds of time: `time.Time` values (RFC 3339 strings, the zero time
//! encoded as `null`) and integer Unix-nanosecond fields named `*Time`. Inside the engine
//! both are `i64` Unix nanoseconds; [`Timestamp`] only changes how the first kind is
//! encoded. Binary formats (the store) always get the plain integer, so snapshots never
//! parse dates.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Unix time in nanoseconds (`CreateTime`, `ModifyTime`, `SubmitTime`, …).
pub type UnixNanos = i64;

/// A duration in nanoseconds, as Go's `time.Duration` serialises.
pub type DurationNs = i64;

/// One second in nanoseconds.
pub const SECOND_NS: DurationNs = 1_000_000_000;
/// One minute in nanoseconds.
pub const MINUTE_NS: DurationNs = 60 * SECOND_NS;
/// One hour in nanoseconds.
pub const HOUR_NS: DurationNs = 60 * MINUTE_NS;

/// A Go `time.Time` held as Unix nanoseconds, where 0 stands for Go's zero time.
///
/// JSON: `null` for the zero time, RFC 3339 with nanoseconds (trailing zeros trimmed, `Z`)
/// otherwise — what current Nomad (≥ 1.8) sends. Decoding also accepts Go's explicit zero
/// time `"0001-01-01T00:00:00Z"` that older agents send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub UnixNanos);

impl Timestamp {
    /// The zero time (Go's `time.Time{}`): "not set".
    pub const ZERO: Timestamp = Timestamp(0);

    /// Whether this is the zero time.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The time as Unix nanoseconds.
    pub fn nanos(self) -> UnixNanos {
        self.0
    }

    /// `self + d`, saturating instead of overflowing on absurd inputs.
    pub fn plus(self, d: DurationNs) -> Timestamp {
        Timestamp(self.0.saturating_add(d))
    }

    /// RFC 3339 with nanoseconds, the form Go's `time.RFC3339Nano` produces in UTC.
    pub fn to_rfc3339(self) -> String {
        format_rfc3339(self.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            f.write_str("0001-01-01T00:00:00Z")
        } else {
            f.write_str(&self.to_rfc3339())
        }
    }
}

/// Formats Unix nanoseconds like Go's `time.RFC3339Nano` in UTC.
pub fn format_rfc3339(nanos: UnixNanos) -> String {
    let dt = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let frac = dt.nanosecond();
    if frac != 0 {
        let digits = format!("{frac:09}");
        s.push('.');
        s.push_str(digits.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Parses an RFC 3339 time (any offset) into Unix nanoseconds. Go's zero time maps to 0.
pub fn parse_rfc3339(s: &str) -> Result<UnixNanos, String> {
    if s.starts_with("0001-01-01T00:00:00") {
        return Ok(0);
    }
    let dt = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("invalid RFC 3339 time {s:?}: {e}"))?;
    i64::try_from(dt.unix_timestamp_nanos()).map_err(|_| format!("time {s:?} out of range"))
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            return serializer.serialize_i64(self.0);
        }
        if self.is_zero() {
            serializer.serialize_none()
        } else {
            serializer.serialize_str(&self.to_rfc3339())
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !deserializer.is_human_readable() {
            return i64::deserialize(deserializer).map(Timestamp);
        }
        let s: Option<String> = Option::deserialize(deserializer)?;
        match s {
            None => Ok(Timestamp::ZERO),
            Some(s) => parse_rfc3339(&s)
                .map(Timestamp)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_trims_trailing_zeros_like_go() {
        assert_eq!(
            format_rfc3339(1_700_000_000_000_000_000),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            format_rfc3339(1_700_000_000_120_000_000),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(
            format_rfc3339(1_700_000_000_000_000_001),
            "2023-11-14T22:13:20.000000001Z"
        );
    }

    #[test]
    fn zero_time_is_null_and_round_trips() {
        assert_eq!(serde_json::to_string(&Timestamp::ZERO).unwrap(), "null");
        let t = Timestamp(1_700_000_000_123_456_789);
        let s = serde_json::to_string(&t).unwrap();
        assert_eq!(s, "\"2023-11-14T22:13:20.123456789Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&s).unwrap(), t);
        assert_eq!(
            serde_json::from_str::<Timestamp>("\"0001-01-01T00:00:00Z\"").unwrap(),
            Timestamp::ZERO
        );
        assert_eq!(
            serde_json::from_str::<Timestamp>("\"2023-11-14T23:13:20.123456789+01:00\"").unwrap(),
            t
        );
    }
}

/// Go's `time.ParseDuration`: a sequence of decimal numbers with units (`ns`, `us`,
/// `µs`, `ms`, `s`, `m`, `h`), optionally signed, a unit required except for `0`
/// (`"1h30m"`, `"1.5s"`, `"-2m"`), as nanoseconds; the error is Go's text. Jobspecs,
/// query parameters and knobs all write durations this way.
pub fn parse_go_duration(s: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            other => return Err(format!("time: unknown unit {other:?} in duration {s:?}")),
        };
        total += value * scale;
        rest = next;
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    let ns = total.round() as i64;
    Ok(if negative { -ns } else { ns })
}

#[cfg(test)]
mod go_duration_tests {
    use super::parse_go_duration as parse_duration;

    #[test]
    fn go_durations_parse_to_nanoseconds() {
        assert_eq!(parse_duration("30s"), Ok(30_000_000_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("-2m"), Ok(-120_000_000_000));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }
}
