//! Go's duration syntax (`"1h30m"`, `"1.5s"`, `"300ms"`), as jobspecs write durations;
//! the API carries them in nanoseconds. The parser is the engine's, shared with the
//! HTTP layer's query parameters and the simulator's knobs.

/// Nanoseconds of a Go duration string, or Go's text for why not.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    rollout_engine::model::parse_go_duration(s)
}
