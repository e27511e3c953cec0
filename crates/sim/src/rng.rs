//! The simulator's only source of randomness.
//!
//! Every random choice is drawn from a ChaCha stream seeded from the run's seed, so a
//! seed fixes the whole run. Each subsystem (faults, operator, scheduler, entropy for
//! the engine) gets its own stream forked from the root: a change in how often one
//! subsystem draws does not reshuffle the others, which keeps failures comparable while
//! the simulator evolves.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rollout_engine::Entropy;

/// A seeded, deterministic random stream.
#[derive(Clone, Debug)]
pub struct SimRng {
    inner: ChaCha8Rng,
}

impl SimRng {
    pub fn seed_from_u64(seed: u64) -> SimRng {
        SimRng {
            inner: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// An independent stream derived from this one (draws one value from it).
    pub fn fork(&mut self, label: u64) -> SimRng {
        SimRng::seed_from_u64(self.next_u64() ^ label.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// Uniform in `0..n` (0 when `n == 0`). Multiply-shift: no modulo bias worth noting.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi` (returns `lo` when `hi <= lo`).
    pub fn range_i64(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u64;
        lo + self.below(span.saturating_add(1)) as i64
    }

    /// Uniform in `lo..=hi` for counts.
    pub fn range_u64(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p` (clamped to `0..=1`).
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit < p
    }

    /// A uniformly chosen element.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        items.get(self.below(items.len() as u64) as usize)
    }

    /// 32 bytes for an [`rollout_engine::Envelope`]: the engine derives new IDs from them.
    pub fn entropy(&mut self) -> Entropy {
        let mut bytes = [0u8; 32];
        self.inner.fill_bytes(&mut bytes);
        Entropy(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = SimRng::seed_from_u64(7);
        let mut b = SimRng::seed_from_u64(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut r = SimRng::seed_from_u64(1);
        for _ in 0..1000 {
            let v = r.range_i64(-3, 5);
            assert!((-3..=5).contains(&v));
            assert!(r.below(4) < 4);
        }
        assert_eq!(r.range_i64(9, 2), 9);
        assert!(!r.chance(0.0));
        assert!(r.chance(1.0));
    }
}
