//! Shared helpers for the store's integration tests.
#![allow(dead_code)]

use rollout_engine::{apply, State};
use rollout_engine::{SeededStamp, VirtualClock};
use rollout_store::codec::encode_state;
use rollout_store::{Options, Store};
use std::path::Path;
use std::sync::Arc;

pub const T0: i64 = 1_700_000_000_000_000_000;

/// Deterministic options: seeded stamps, no automatic snapshots.
pub fn options(seed: u64) -> Options {
    Options {
        stamp: Arc::new(SeededStamp::stepping(
            seed,
            VirtualClock::new(T0),
            1_000_000,
        )),
        snapshot_every_entries: 0,
        snapshot_every_bytes: 0,
        ..Options::default()
    }
}

pub fn open(dir: &Path, options: Options) -> Store {
    match Store::open(dir, options) {
        Ok(s) => s,
        Err(e) => panic!("open failed: {e}"),
    }
}

pub fn bytes(state: &State) -> Vec<u8> {
    encode_state(state).unwrap()
}

/// The indexes of the snapshot files in `dir`, oldest first.
pub fn snapshot_indexes(dir: &Path) -> Vec<u64> {
    let mut found: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_prefix("snapshot-")?
                .strip_suffix(".rsnap")?
                .parse()
                .ok()
        })
        .collect();
    found.sort_unstable();
    found
}

/// The state obtained by applying the whole log from index 1 to a fresh state.
pub fn replay_log(store: &Store) -> State {
    let mut state = State::new();
    for env in store.read_log(1, usize::MAX).unwrap() {
        state = apply(&state, &env).expect("logged command replays").0;
    }
    state
}

/// Asserts the log holds exactly the indexes 1..=last, in order.
pub fn assert_log_contiguous(store: &Store, last: u64) {
    let log = store.read_log(1, usize::MAX).unwrap();
    let indexes: Vec<u64> = log.iter().map(|e| e.index).collect();
    assert_eq!(indexes, (1..=last).collect::<Vec<_>>());
}

/// The tests' own seeded choices (kill times, which faults): a ChaCha stream, so a run
/// replays from its seed.
pub struct Rng(rand_chacha::ChaCha8Rng);

impl Rng {
    pub fn seeded(seed: u64) -> Rng {
        use rand_chacha::rand_core::SeedableRng;
        Rng(rand_chacha::ChaCha8Rng::seed_from_u64(seed))
    }

    pub fn next(&mut self) -> u64 {
        use rand_chacha::rand_core::Rng as _;
        self.0.next_u64()
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A number from the environment, or `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
