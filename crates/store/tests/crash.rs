//! Crash test with real processes: a child submits commands in a loop and prints each
//! acknowledged index; it is killed with SIGKILL at random moments, many times. After
//! each kill the store must open cleanly with every acknowledged command in the log at
//! its index, and the recovered state must equal a fresh replay of the log (so no
//! unacknowledged command is half-applied).
//!
//! Four kinds of runs, each aimed at one moment to be killed in (see the child,
//! `src/bin/rollout-store-crashtest.rs`): commits (`mixed`), snapshot writes
//! (`snapshots`, a snapshot every 5 entries), log truncation and snapshot pruning
//! (`truncation`), and store creation (`create`, store after store in fresh directories).
//!
//! Bounded by `ROLLOUT_CRASH_ITERATIONS` (kills per kind; default 40 for commits and
//! snapshots, 60 for truncation, 100 for creation) and `ROLLOUT_CRASH_SECONDS` (per kind,
//! default 60); `ROLLOUT_CRASH_SEED` replays a run's kill schedule.

mod common;

use common::*;
use rollout_engine::{apply, State};
use rollout_store::{Options, Store};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn seed() -> u64 {
    let seed = env_u64(
        "ROLLOUT_CRASH_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1,
    );
    eprintln!("crash test seed {seed} (ROLLOUT_CRASH_SEED={seed} to replay)");
    seed
}

/// One child's life: started, killed after `delay` (or once it has printed `wait_for`),
/// and what it printed.
fn run_and_kill(
    dir: &Path,
    args: &[String],
    wait_for: Option<&str>,
    delay: Duration,
) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollout-store-crashtest"))
        .arg(dir)
        .args(args)
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
    let mut lines = Vec::new();
    if let Some(prefix) = wait_for {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(l) => {
                    let found = l.starts_with(prefix);
                    lines.push(l);
                    if found {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    }
    std::thread::sleep(delay);
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        status.code().is_none(),
        "child exited by itself ({status}): {stderr}"
    );
    lines.extend(rx.try_iter());
    lines
}

fn acks(lines: &[String]) -> Vec<(u64, u32)> {
    lines
        .iter()
        .filter_map(|l| {
            let mut parts = l.strip_prefix("ack ")?.split(' ');
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .collect()
}

/// What the child was doing when it was killed: the last background event it printed
/// after its last acknowledgement, if any.
fn interrupted(lines: &[String]) -> &'static str {
    match lines.iter().rev().find(|l| !l.starts_with("ack ")) {
        Some(l) if l.starts_with("snapshot ") => "after a snapshot",
        Some(l) if l.starts_with("truncated ") => "after a truncation",
        _ => "commits",
    }
}

/// Kills a child running `mode` on one directory many times; returns (kills,
/// acknowledged commands checked, recoveries from a snapshot).
fn kill_repeatedly(mode: &str, default_kills: u64, truncating: bool) -> (u64, usize, u64) {
    let iterations = env_u64("ROLLOUT_CRASH_ITERATIONS", default_kills);
    let budget = Duration::from_secs(env_u64("ROLLOUT_CRASH_SECONDS", 60));
    let mut rng = Rng::seeded(seed());
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (mut done, mut acked_total, mut from_snapshot, mut during_open) = (0, 0, 0, 0);
    let mut moments = std::collections::BTreeMap::new();
    while done < iterations && started.elapsed() < budget {
        done += 1;
        let threads = 1 + rng.below(6);
        let args = [
            threads.to_string(),
            rng.next().to_string(),
            mode.to_string(),
        ];
        // One kill in five lands early, possibly during recovery or the first commits.
        let early = rng.below(5) == 0;
        let lines = if early {
            run_and_kill(
                dir.path(),
                &args,
                None,
                Duration::from_millis(rng.below(40)),
            )
        } else {
            let delay = Duration::from_millis(20 + rng.below(400));
            run_and_kill(dir.path(), &args, Some("open "), delay)
        };
        if !lines.iter().any(|l| l.starts_with("open ")) {
            during_open += 1;
        } else {
            *moments.entry(interrupted(&lines)).or_insert(0u64) += 1;
        }
        let acks = acks(&lines);
        acked_total += acks.len();
        if verify(dir.path(), &acks, truncating) {
            from_snapshot += 1;
        }
    }
    eprintln!(
        "{mode}: {done} kills ({during_open} before the open finished, then {moments:?}), {acked_total} acknowledged commands checked, {from_snapshot} recoveries from a snapshot, {:?}",
        started.elapsed()
    );
    assert!(done >= 5, "too few iterations in the time budget");
    assert!(acked_total > 0, "the child never acknowledged anything");
    (done, acked_total, from_snapshot)
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_command() {
    kill_repeatedly("mixed", 40, false);
}

#[test]
fn sigkill_during_snapshot_writes_loses_no_acknowledged_command() {
    let (_, _, from_snapshot) = kill_repeatedly("snapshots", 40, false);
    assert!(
        from_snapshot > 0,
        "no recovery ever started from a snapshot"
    );
}

#[test]
fn sigkill_during_log_truncation_loses_no_acknowledged_command() {
    let (_, _, from_snapshot) = kill_repeatedly("truncation", 60, true);
    assert!(
        from_snapshot > 0,
        "no recovery ever started from a snapshot"
    );
}

/// Kills land while stores are being created: every directory left behind opens, as no
/// store or as a complete one holding what it acknowledged.
#[test]
fn sigkill_during_store_creation_leaves_no_store_or_a_complete_one() {
    let iterations = env_u64("ROLLOUT_CRASH_ITERATIONS", 100);
    let budget = Duration::from_secs(env_u64("ROLLOUT_CRASH_SECONDS", 60));
    let mut rng = Rng::seeded(seed());
    let started = Instant::now();
    let (mut done, mut interrupted, mut checked) = (0, 0, 0);
    while done < iterations && started.elapsed() < budget {
        done += 1;
        let parent = tempfile::tempdir().unwrap();
        let args = [
            "1".to_string(),
            rng.next().to_string(),
            "create".to_string(),
        ];
        let lines = run_and_kill(
            parent.path(),
            &args,
            None,
            Duration::from_millis(2 + rng.below(120)),
        );
        let created: Vec<String> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("created ").map(str::to_owned))
            .collect();
        let begun = lines.iter().filter(|l| l.starts_with("begin ")).count();
        if begun > created.len() {
            interrupted += 1;
        }
        for entry in std::fs::read_dir(parent.path()).unwrap() {
            let dir = entry.unwrap().path();
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let store = match Store::open(&dir, Options::default()) {
                Ok(s) => s,
                Err(e) => panic!("{name}: open after a kill during creation failed: {e}"),
            };
            if created.contains(&name) {
                assert_eq!(
                    store.state().index(),
                    1,
                    "{name}: acknowledged command lost"
                );
            }
            assert!(store.state().index() <= 1, "{name}");
            checked += 1;
        }
    }
    eprintln!(
        "create: {done} kills ({interrupted} with a creation under way), {checked} directories opened, {:?}",
        started.elapsed()
    );
    assert!(done >= 5, "too few iterations in the time budget");
    assert!(interrupted > 0, "no kill landed in a creation");
}

/// Reopens the store as the parent and checks everything the child acknowledged.
/// Returns whether recovery started from a snapshot.
fn verify(dir: &Path, acks: &[(u64, u32)], truncating: bool) -> bool {
    let store = match Store::open(dir, Options::default()) {
        Ok(s) => s,
        Err(e) => panic!("open after SIGKILL failed: {e}"),
    };
    let state = store.state();
    let truncated = store.stats().truncated_through;
    let log = store.read_log(truncated + 1, usize::MAX).unwrap();
    let indexes: Vec<u64> = log.iter().map(|e| e.index).collect();
    assert_eq!(
        indexes,
        ((truncated + 1)..=state.index()).collect::<Vec<_>>(),
        "the log is not contiguous after the truncation point"
    );
    for (index, crc) in acks {
        assert!(
            *index <= state.index(),
            "acknowledged index {index} lost (recovered to {})",
            state.index()
        );
        if *index <= truncated {
            continue; // covered by a snapshot
        }
        let logged = &log[(*index - truncated - 1) as usize];
        let bytes = rmp_serde::to_vec_named(&logged.command).unwrap();
        assert_eq!(
            crc32fast::hash(&bytes),
            *crc,
            "index {index} holds a different command than the one acknowledged"
        );
    }
    // Recovery used a snapshot and a tail; an independent rebuild must agree: a replay
    // of the whole log, or (with a truncated log) the oldest snapshot that covers the
    // truncation plus the log after it.
    let rebuilt = if truncating && truncated > 0 {
        let (index, path) = snapshots_oldest_first(dir)
            .into_iter()
            .find(|(i, _)| *i >= truncated)
            .expect("a snapshot covers the truncated log");
        let (_, mut s) =
            rollout_store::codec::decode_snapshot(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(s.index(), index);
        for env in store.read_log(index + 1, usize::MAX).unwrap() {
            s = apply(&s, &env).unwrap().0;
        }
        s
    } else {
        replay_from(&store, State::new())
    };
    assert_eq!(
        bytes(&state),
        bytes(&rebuilt),
        "recovered state differs from an independent rebuild (snapshot at {:?})",
        store.recovery_report().snapshot_index
    );
    store.recovery_report().snapshot_index.is_some()
}

/// The snapshot files in `dir`, oldest first.
fn snapshots_oldest_first(dir: &Path) -> Vec<(u64, std::path::PathBuf)> {
    let mut found: Vec<(u64, std::path::PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name()?.to_str()?.to_owned();
            let index = name
                .strip_prefix("snapshot-")?
                .strip_suffix(".rsnap")?
                .parse()
                .ok()?;
            Some((index, path))
        })
        .collect();
    found.sort();
    found
}

fn replay_from(store: &Store, mut state: State) -> State {
    for env in store.read_log(state.index() + 1, usize::MAX).unwrap() {
        state = apply(&state, &env).expect("logged command replays").0;
    }
    state
}
