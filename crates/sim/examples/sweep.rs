//! Runs many random scenarios and tallies what they did and which properties broke:
//! `cargo run -p rollout-sim --example sweep -- [FIRST_SEED] [COUNT] [large]`.

use rollout_sim::{replay_command, scenario, Simulation};
use std::collections::BTreeMap;

fn main() {
    let mut args = std::env::args().skip(1);
    let first: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let count: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let large = args.next().is_some_and(|a| a == "large");
    let bounds = if large {
        rollout_sim::scenario::Bounds {
            max_nodes: 12,
            max_jobs: 3,
            max_groups: 3,
            max_count: 12,
            max_releases: 5,
        }
    } else {
        rollout_sim::scenario::Bounds::default()
    };
    let mut slowest: Vec<(std::time::Duration, u64, u64)> = Vec::new();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let mut broken: BTreeMap<&'static str, Vec<u64>> = BTreeMap::new();
    let mut anomalies: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut known: BTreeMap<&'static str, Vec<u64>> = BTreeMap::new();
    let (mut steps, mut rollbacks, mut stale, mut commands) = (0u64, 0u64, 0u64, 0u64);
    let started = std::time::Instant::now();
    for seed in first..first + count {
        let t = std::time::Instant::now();
        let mut sim = Simulation::new(scenario::random_within(seed, &bounds));
        let report = sim.run();
        slowest.push((t.elapsed(), seed, report.steps));
        steps += report.steps;
        rollbacks += report.rollbacks;
        stale += report.stats.stale_plans;
        commands += sim.log().len() as u64;
        for (s, n) in &report.deployments {
            *statuses.entry(s.clone()).or_default() += n;
        }
        for v in &report.violations {
            broken.entry(v.rule).or_default().push(seed);
        }
        for v in &report.known {
            known.entry(v.rule).or_default().push(seed);
        }
        for a in &report.anomalies {
            let key: String = a.chars().take(40).collect();
            anomalies.entry(key).or_default().push(seed);
        }
    }
    println!(
        "{count} runs in {:?}: {steps} steps, {commands} commands, {rollbacks} rollbacks, {stale} stale plans",
        started.elapsed()
    );
    println!("final deployment statuses: {statuses:?}");
    slowest.sort();
    for (t, seed, steps) in slowest.iter().rev().take(5) {
        println!("slow: seed {seed}: {t:?}, {steps} steps");
    }
    for (rule, seeds) in &broken {
        let mut s = seeds.clone();
        s.dedup();
        println!(
            "broken {rule}: {} runs, e.g. {}",
            s.len(),
            replay_command(s[0])
        );
    }
    for (rule, seeds) in &known {
        println!("{rule}: {} runs, e.g. seed {}", seeds.len(), seeds[0]);
    }
    for (a, seeds) in &anomalies {
        println!("anomaly {a}…: {} runs, e.g. seed {}", seeds.len(), seeds[0]);
    }
}
