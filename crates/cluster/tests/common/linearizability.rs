//! A Wing–Gong linearizability check of a recorded client history against a register
//! per key (linearizability is local: a history is linearizable when the history of
//! every key is, so each key is checked alone).
//!
//! Every operation has an invocation time and, if it was answered, a response time. A
//! write whose fate is unknown (a timeout, a lost answer) may have taken effect at any
//! point after its invocation, or never: it has no response and need not be placed. The
//! search places, one at a time, an operation that no unplaced answered operation
//! precedes (its invocation is before every such response), checks it against the
//! register, and backtracks; (placed set, register value) pairs already explored are not
//! explored again.

use std::collections::HashSet;

/// What one operation did to, or saw of, the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Set the value.
    Write(u32),
    /// Saw the value (`None`: never written).
    Read(Option<u32>),
}

/// One operation of a client, with its times (any monotonic unit).
#[derive(Clone, Copy, Debug)]
pub struct Event {
    pub op: Op,
    pub invoked: u64,
    /// `None`: not answered (a write that may or may not have taken effect).
    pub answered: Option<u64>,
}

/// Whether `events` (one key's operations) is linearizable. At most 64 operations.
pub fn linearizable(events: &[Event]) -> bool {
    assert!(events.len() <= 64, "at most 64 operations per key");
    let mut seen = HashSet::new();
    search(events, 0, None, &mut seen)
}

fn search(
    events: &[Event],
    placed: u64,
    value: Option<u32>,
    seen: &mut HashSet<(u64, Option<u32>)>,
) -> bool {
    let unplaced = |i: usize| placed & (1 << i) == 0;
    // Done when every answered operation is placed; unanswered writes may stay out.
    if (0..events.len()).all(|i| !unplaced(i) || events[i].answered.is_none()) {
        return true;
    }
    if !seen.insert((placed, value)) {
        return false;
    }
    let first_answer = (0..events.len())
        .filter(|i| unplaced(*i))
        .filter_map(|i| events[i].answered)
        .min()
        .unwrap_or(u64::MAX);
    for (i, e) in events.iter().enumerate() {
        if !unplaced(i) || e.invoked > first_answer {
            continue;
        }
        let next = match e.op {
            Op::Write(v) => Some(v),
            Op::Read(seen_value) if seen_value == value => value,
            Op::Read(_) => continue,
        };
        if search(events, placed | (1 << i), next, seen) {
            return true;
        }
    }
    false
}
