//! Network faults between members, for tests: every call a node makes to a peer can be
//! dropped on its way there, have its answer dropped on the way back, be duplicated, or
//! be delayed (so that concurrent calls arrive out of order); links can be cut one way.
//!
//! One [`NetFaults`] plan is shared by every node of a test cluster
//! ([`crate::NodeConfig::net_faults`]); a link is named by the two nodes' peer
//! addresses. Every random choice comes from one ChaCha stream seeded by the test, so a
//! failing run is rerun with its seed (the order in which concurrent calls draw from it
//! still depends on timing: the faults are seeded, the interleaving is not).
//!
//! A one-way cut `from → to` loses what `from` sends to `to`: `from`'s calls to `to`
//! never arrive, and `to`'s calls to `from` arrive but their answers are lost — which is
//! how a half-broken link looks to a request/response protocol.

use rand_chacha::rand_core::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Probabilities (0–1) of each fault on every call, and the longest delay.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NetRates {
    pub drop_request: f64,
    pub drop_response: f64,
    pub duplicate: f64,
    pub delay: f64,
    pub max_delay: Duration,
}

/// How many faults were injected so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetInjected {
    pub dropped_requests: u64,
    pub dropped_responses: u64,
    pub duplicated: u64,
    pub delayed: u64,
}

impl NetInjected {
    pub fn total(&self) -> u64 {
        self.dropped_requests + self.dropped_responses + self.duplicated + self.delayed
    }
}

/// What happens to one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Decision {
    pub drop_request: bool,
    pub drop_response: bool,
    /// Send a second copy this long after the first.
    pub duplicate: Option<Duration>,
    pub delay: Duration,
}

/// The faults to inject, shared by the nodes of a test cluster.
pub struct NetFaults {
    state: Mutex<PlanState>,
}

struct PlanState {
    rng: ChaCha8Rng,
    rates: NetRates,
    /// One-way cuts: what the first address sends the second is lost.
    cut: BTreeSet<(String, String)>,
    injected: NetInjected,
}

impl std::fmt::Debug for NetFaults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("NetFaults")
            .field("rates", &s.rates)
            .field("cut", &s.cut)
            .field("injected", &s.injected)
            .finish_non_exhaustive()
    }
}

impl NetFaults {
    /// A plan that injects nothing until told to; `seed` drives every choice.
    pub fn new(seed: u64) -> Arc<NetFaults> {
        Arc::new(NetFaults {
            state: Mutex::new(PlanState {
                rng: ChaCha8Rng::seed_from_u64(seed),
                rates: NetRates::default(),
                cut: BTreeSet::new(),
                injected: NetInjected::default(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PlanState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Random faults at these rates from now on.
    pub fn set_rates(&self, rates: NetRates) {
        self.lock().rates = rates;
    }

    /// Cuts the link one way: what `from` sends `to` is lost.
    pub fn cut_one_way(&self, from: &str, to: &str) {
        self.lock().cut.insert((from.to_owned(), to.to_owned()));
    }

    /// Cuts `node` off from every address in `others`, both ways.
    pub fn isolate(&self, node: &str, others: &[String]) {
        let mut s = self.lock();
        for other in others.iter().filter(|o| *o != node) {
            s.cut.insert((node.to_owned(), other.clone()));
            s.cut.insert((other.clone(), node.to_owned()));
        }
    }

    /// Restores every cut link (the random rates stay).
    pub fn heal(&self) {
        self.lock().cut.clear();
    }

    pub fn injected(&self) -> NetInjected {
        self.lock().injected
    }

    /// The fate of one call from `from` to `to`.
    pub(crate) fn decide(&self, from: &str, to: &str) -> Decision {
        let mut s = self.lock();
        let s = &mut *s;
        let key = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        if s.cut.contains(&key(from, to)) {
            s.injected.dropped_requests += 1;
            return Decision {
                drop_request: true,
                ..Decision::default()
            };
        }
        let answer_cut = s.cut.contains(&key(to, from));
        let rates = s.rates;
        let rng = &mut s.rng;
        let mut d = Decision {
            drop_request: chance(rng, rates.drop_request),
            drop_response: answer_cut | chance(rng, rates.drop_response),
            ..Decision::default()
        };
        if chance(rng, rates.duplicate) {
            d.duplicate = Some(Duration::from_millis(1 + rng.next_u64() % 20));
        }
        if chance(rng, rates.delay) {
            let max = rates.max_delay.as_millis().max(1) as u64;
            d.delay = Duration::from_millis(rng.next_u64() % max);
        }
        let i = &mut s.injected;
        i.dropped_requests += u64::from(d.drop_request);
        i.dropped_responses += u64::from(d.drop_response && !d.drop_request);
        i.duplicated += u64::from(d.duplicate.is_some() && !d.drop_request);
        i.delayed += u64::from(!d.delay.is_zero());
        d
    }
}

/// True with probability `p`. Always draws, so that one rate does not shift the
/// stream the others see.
fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    unit < p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_way_cut_loses_requests_one_way_and_answers_the_other() {
        let plan = NetFaults::new(1);
        plan.cut_one_way("a", "b");
        assert!(plan.decide("a", "b").drop_request);
        let back = plan.decide("b", "a");
        assert!(!back.drop_request && back.drop_response);
        assert_eq!(plan.decide("a", "c"), Decision::default());
        plan.heal();
        assert_eq!(plan.decide("a", "b"), Decision::default());
    }

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        let rates = NetRates {
            drop_request: 0.2,
            drop_response: 0.2,
            duplicate: 0.2,
            delay: 0.5,
            max_delay: Duration::from_millis(30),
        };
        let draw = |seed| {
            let plan = NetFaults::new(seed);
            plan.set_rates(rates);
            (0..200).map(|_| plan.decide("a", "b")).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let plan = NetFaults::new(7);
        plan.set_rates(rates);
        for _ in 0..1000 {
            plan.decide("a", "b");
        }
        let i = plan.injected();
        assert!(
            i.dropped_requests > 100 && i.dropped_requests < 300,
            "{i:?}"
        );
        assert!(i.delayed > 350 && i.delayed < 650, "{i:?}");
    }
}
