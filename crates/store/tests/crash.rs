//! Crash test with real processes: a child submits commands in a loop and prints each
//! acknowledged index; it is killed with SIGKILL at random moments, many times. After
//! each kill the store must open cleanly with every acknowledged command in the log at
//! its index, and the recovered state must equal a fresh replay of the whole log (so no
//! unacknowledged command is half-applied).
//!
//! Bounded by `ROLLOUT_CRASH_ITERATIONS` (default 40) and `ROLLOUT_CRASH_SECONDS`
//! (default 90); `ROLLOUT_CRASH_SEED` replays a run's kill schedule.

mod common;

use common::*;
use rollout_store::{Options, Store};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: enough to spread kill times; reproducible from the seed.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_command() {
    let iterations = env_u64("ROLLOUT_CRASH_ITERATIONS", 40);
    let budget = Duration::from_secs(env_u64("ROLLOUT_CRASH_SECONDS", 90));
    let seed = env_u64(
        "ROLLOUT_CRASH_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1,
    );
    eprintln!("crash test seed {seed} (ROLLOUT_CRASH_SEED={seed} to replay)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut acked_total = 0usize;
    let mut kills_during_open = 0;
    let mut done = 0;
    let mut from_snapshot = 0;
    while done < iterations && started.elapsed() < budget {
        done += 1;
        let threads = 1 + rng.below(6);
        let mut child = Command::new(env!("CARGO_BIN_EXE_rollout-store-crashtest"))
            .arg(dir.path())
            .arg(threads.to_string())
            .arg(rng.next().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // One kill in five lands early, possibly during recovery or the first commits.
        let early = rng.below(5) == 0;
        if early {
            std::thread::sleep(Duration::from_millis(rng.below(40)));
        } else {
            // Wait for the open, then let it run a random while.
            let _ = rx.recv_timeout(Duration::from_secs(30));
            std::thread::sleep(Duration::from_millis(20 + rng.below(400)));
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        reader.join().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(
            status.code().is_none(),
            "child exited by itself ({status}): {stderr}"
        );
        let lines: Vec<String> = rx.try_iter().collect();
        if early && !lines.iter().any(|l| l.starts_with("open ")) {
            kills_during_open += 1;
        }
        let acks: Vec<(u64, u32)> = lines
            .iter()
            .filter_map(|l| {
                let mut parts = l.strip_prefix("ack ")?.split(' ');
                Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
            })
            .collect();
        acked_total += acks.len();
        if verify(dir.path(), &acks) {
            from_snapshot += 1;
        }
    }
    eprintln!(
        "{done} kills ({kills_during_open} before the open finished), {acked_total} acknowledged commands checked, {from_snapshot} recoveries from a snapshot, {:?}",
        started.elapsed()
    );
    assert!(done >= 5, "too few iterations in the time budget");
    assert!(acked_total > 0, "the child never acknowledged anything");
}

/// Reopens the store as the parent and checks everything the child acknowledged.
/// Returns whether recovery started from a snapshot.
fn verify(dir: &std::path::Path, acks: &[(u64, u32)]) -> bool {
    let store = match Store::open(dir, Options::default()) {
        Ok(s) => s,
        Err(e) => panic!("open after SIGKILL failed: {e}"),
    };
    let state = store.state();
    let log = store.read_log(1, usize::MAX).unwrap();
    assert_log_contiguous(&store, state.index());
    for (index, crc) in acks {
        assert!(
            *index <= state.index(),
            "acknowledged index {index} lost (recovered to {})",
            state.index()
        );
        let logged = &log[(*index - 1) as usize];
        let bytes = rmp_serde::to_vec_named(&logged.command).unwrap();
        assert_eq!(
            crc32fast::hash(&bytes),
            *crc,
            "index {index} holds a different command than the one acknowledged"
        );
    }
    // Recovery used a snapshot and a tail; a replay of the whole log must agree.
    assert_eq!(
        bytes(&state),
        bytes(&replay_log(&store)),
        "recovered state differs from a replay of the log (snapshot at {:?})",
        store.recovery_report().snapshot_index
    );
    store.recovery_report().snapshot_index.is_some()
}
