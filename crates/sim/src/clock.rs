//! Virtual time. The simulation never reads a real clock: time moves only when the
//! next event is taken from the queue, so an hour-long rollout runs in milliseconds and a
//! seed always yields the same timestamps.

use rollout_engine::model::{UnixNanos, MINUTE_NS, SECOND_NS};

/// A monotonic virtual clock in Unix nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    start_ns: UnixNanos,
    now_ns: UnixNanos,
}

impl Clock {
    pub fn new(start_ns: UnixNanos) -> Clock {
        Clock {
            start_ns,
            now_ns: start_ns,
        }
    }

    /// Current virtual time (Unix ns): the `now` of every envelope applied at this moment.
    pub fn now(&self) -> UnixNanos {
        self.now_ns
    }

    pub fn start(&self) -> UnixNanos {
        self.start_ns
    }

    /// Nanoseconds since the simulation started.
    pub fn elapsed(&self) -> i64 {
        self.now_ns - self.start_ns
    }

    /// Moves time forward to `t`. Time never goes back: an earlier `t` is ignored, which
    /// is what happens when several events share a timestamp.
    pub fn advance_to(&mut self, t: UnixNanos) {
        if t > self.now_ns {
            self.now_ns = t;
        }
    }
}

/// `+MM:SS.mmm` (or `+H:MM:SS.mmm` past an hour): how a timeline shows elapsed time.
pub fn format_elapsed(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "+" };
    let ns = ns.unsigned_abs();
    let ms = (ns / 1_000_000) % 1000;
    let total_s = ns / SECOND_NS as u64;
    let s = total_s % 60;
    let m = (total_s / 60) % 60;
    let h = ns / (60 * MINUTE_NS) as u64;
    if h > 0 {
        format!("{sign}{h}:{m:02}:{s:02}.{ms:03}")
    } else {
        format!("{sign}{m:02}:{s:02}.{ms:03}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_never_goes_back() {
        let mut c = Clock::new(100);
        c.advance_to(150);
        c.advance_to(120);
        assert_eq!(c.now(), 150);
        assert_eq!(c.elapsed(), 50);
    }

    #[test]
    fn elapsed_is_human_readable() {
        assert_eq!(format_elapsed(0), "+00:00.000");
        assert_eq!(format_elapsed(65 * SECOND_NS + 250_000_000), "+01:05.250");
        assert_eq!(format_elapsed(61 * MINUTE_NS), "+1:01:00.000");
    }
}
