//! Rescheduling of failed allocations: eligibility (§1.6) and timing (§3.13 T2).

use crate::model::{Allocation, ReschedulePolicy, RescheduleTracker, UnixNanos, SECOND_NS};

/// Failed allocations due within this window are replaced now rather than by a
/// follow-up evaluation (Nomad's one-second tolerance).
pub const RESCHEDULE_WINDOW_NS: i64 = SECOND_NS;

/// `RescheduleEligible(policy, failTime)` (§1.6).
pub fn reschedule_eligible(
    policy: Option<&ReschedulePolicy>,
    tracker: Option<&RescheduleTracker>,
    fail_time: UnixNanos,
) -> bool {
    let Some(policy) = policy else {
        return false;
    };
    if policy.attempts() == 0 && !policy.unlimited() {
        return false;
    }
    if policy.unlimited() {
        return true;
    }
    let events = tracker.and_then(|t| t.events.as_deref()).unwrap_or(&[]);
    if events.is_empty() {
        return true;
    }
    let recent = events
        .iter()
        .filter(|e| fail_time.saturating_sub(e.reschedule_time) < policy.interval())
        .count();
    (recent as i64) < policy.attempts()
}

/// The delay before the next reschedule of an allocation with this tracker, following
/// the policy's delay function and capped by `MaxDelay` when one is set.
pub fn reschedule_delay(policy: &ReschedulePolicy, tracker: Option<&RescheduleTracker>) -> i64 {
    let base = policy.delay().max(0);
    let events = tracker.and_then(|t| t.events.as_deref()).unwrap_or(&[]);
    let delay = match policy.delay_function() {
        "exponential" => match events.last() {
            Some(last) if last.delay > 0 => last.delay.saturating_mul(2),
            _ => base,
        },
        "fibonacci" => match events.len() {
            0 | 1 => base,
            n => events[n - 1]
                .delay
                .saturating_add(events[n - 2].delay)
                .max(base),
        },
        _ => base,
    };
    if policy.max_delay() > 0 {
        delay.min(policy.max_delay())
    } else {
        delay
    }
}

/// When a failed allocation may be replaced: its failure time plus the policy's delay.
pub fn next_reschedule_time(policy: &ReschedulePolicy, alloc: &Allocation) -> UnixNanos {
    alloc.modify_time.saturating_add(reschedule_delay(
        policy,
        alloc.reschedule_tracker.as_deref(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RescheduleEvent;

    fn policy(attempts: i64, interval: i64, unlimited: bool) -> ReschedulePolicy {
        ReschedulePolicy {
            attempts: Some(attempts),
            interval: Some(interval),
            unlimited: Some(unlimited),
            delay: Some(5 * SECOND_NS),
            delay_function: Some("constant".into()),
            max_delay: Some(0),
        }
    }

    fn tracker(times: &[i64]) -> RescheduleTracker {
        RescheduleTracker {
            events: Some(
                times
                    .iter()
                    .map(|t| RescheduleEvent {
                        reschedule_time: *t,
                        delay: 5 * SECOND_NS,
                        ..Default::default()
                    })
                    .collect(),
            ),
            last_reschedule: String::new(),
        }
    }

    #[test]
    fn eligibility_follows_section_1_6() {
        // 1. no policy
        assert!(!reschedule_eligible(None, None, 100));
        // 2. attempts 0 and not unlimited
        assert!(!reschedule_eligible(Some(&policy(0, 0, false)), None, 100));
        // 3. unlimited
        assert!(reschedule_eligible(
            Some(&policy(0, 0, true)),
            Some(&tracker(&[1, 2, 3])),
            100
        ));
        // 4. no events
        assert!(reschedule_eligible(Some(&policy(2, 600, false)), None, 100));
        // 5. events inside the interval are counted, all of them
        let p = policy(2, 600, false);
        assert!(reschedule_eligible(Some(&p), Some(&tracker(&[50])), 100));
        assert!(!reschedule_eligible(
            Some(&p),
            Some(&tracker(&[50, 60])),
            100
        ));
        assert!(reschedule_eligible(
            Some(&p),
            Some(&tracker(&[-1000, 60])),
            100
        ));
    }

    #[test]
    fn delay_functions() {
        let mut p = policy(0, 0, true);
        p.delay_function = Some("exponential".into());
        p.max_delay = Some(12 * SECOND_NS);
        assert_eq!(reschedule_delay(&p, None), 5 * SECOND_NS);
        assert_eq!(reschedule_delay(&p, Some(&tracker(&[1]))), 10 * SECOND_NS);
        let mut t = tracker(&[1]);
        t.events.as_mut().unwrap()[0].delay = 10 * SECOND_NS;
        assert_eq!(reschedule_delay(&p, Some(&t)), 12 * SECOND_NS);
        p.delay_function = Some("fibonacci".into());
        p.max_delay = Some(0);
        assert_eq!(
            reschedule_delay(&p, Some(&tracker(&[1, 2]))),
            10 * SECOND_NS
        );
    }
}
