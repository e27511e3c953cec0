//! The process's open-file limit. Every connection costs a file descriptor, so an agent
//! whose soft `RLIMIT_NOFILE` is below `--max-connections` fails at accept (EMFILE) long
//! before its own connection cap answers 503. Like Go programs (Nomad among them), the
//! agent raises its soft limit at start — up to what it needs, never above the hard
//! limit — and says plainly when even the hard limit is too low.

/// Descriptors the agent needs besides client connections: the store's database and
/// snapshot files, the listener, the async runtime's and the log's.
pub const RESERVED_DESCRIPTORS: u64 = 64;

/// What happened to the open-file limit at start.
#[derive(Debug, PartialEq, Eq)]
pub enum FdLimit {
    /// The soft limit already covered what the agent needs.
    Enough { soft: u64 },
    /// The soft limit was raised to cover it.
    Raised { from: u64, to: u64 },
    /// The hard limit is below what the agent needs; the soft limit is now the hard one.
    TooLow { limit: u64, needed: u64 },
}

/// Descriptors needed for `max_connections` connections.
pub fn needed(max_connections: usize) -> u64 {
    (max_connections as u64).saturating_add(RESERVED_DESCRIPTORS)
}

/// Raises the soft open-file limit toward `needed`.
#[cfg(unix)]
pub fn ensure(needed: u64) -> std::io::Result<FdLimit> {
    use rlimit::Resource;
    let (soft, _hard) = Resource::NOFILE.get()?;
    if soft >= needed {
        return Ok(FdLimit::Enough { soft });
    }
    let to = rlimit::increase_nofile_limit(needed)?;
    Ok(if to >= needed {
        FdLimit::Raised { from: soft, to }
    } else {
        FdLimit::TooLow { limit: to, needed }
    })
}

/// Other systems have no such limit to raise.
#[cfg(not(unix))]
pub fn ensure(_needed: u64) -> std::io::Result<FdLimit> {
    Ok(FdLimit::Enough { soft: u64::MAX })
}

/// Raises the limit for `max_connections` and logs what happened; a failure to read or
/// set the limit is logged, never fatal (the agent still serves what it can).
pub fn ensure_and_log(max_connections: usize) {
    match ensure(needed(max_connections)) {
        Ok(FdLimit::Enough { .. }) => {}
        Ok(FdLimit::Raised { from, to }) => {
            tracing::info!(from, to, "raised the open-file limit (RLIMIT_NOFILE)");
        }
        Ok(FdLimit::TooLow { limit, needed }) => tracing::warn!(
            limit,
            needed,
            "the open-file limit is {limit}, below --max-connections plus {RESERVED_DESCRIPTORS} \
             for the store and runtime ({needed}): connections beyond it fail at accept instead \
             of getting a 503; raise the hard limit (ulimit -Hn, LimitNOFILE= in systemd) or \
             lower --max-connections"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot read or raise the open-file limit"),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn needed_counts_connections_and_the_reserve() {
        assert_eq!(needed(4096), 4096 + RESERVED_DESCRIPTORS);
        assert_eq!(needed(usize::MAX), u64::MAX);
    }

    #[test]
    fn a_limit_already_high_enough_is_left_alone() {
        let (soft, _) = rlimit::Resource::NOFILE.get().expect("getrlimit");
        assert_eq!(ensure(soft).expect("ensure"), FdLimit::Enough { soft });
        assert_eq!(rlimit::Resource::NOFILE.get().expect("getrlimit").0, soft);
    }
}
