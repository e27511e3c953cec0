//! Per-command apply cost, reads and snapshots on the anchor workloads
//! (`docs/benchmarks-anchor.md`). Every write starts from the same prepared state, as
//! the anchor does: writes go through `DeploymentEngine::dry_run`, which applies to the
//! prepared state and keeps nothing. `submit_overhead` compares the engine's entry points
//! with the raw `apply` they wrap.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rollout_benches::baseline::MutableStore;
use rollout_benches::fixture::*;
use rollout_engine::state::Prefix;
use rollout_engine::{apply, State};
use std::hint::black_box;
use std::time::Duration;

fn writes(c: &mut Criterion) {
    let store = bench_store(1_000);
    let state = store.state.clone();
    let engine = engine(&state);

    let mut g = c.benchmark_group("a_set_health");
    for n in HEALTH_N {
        for k in [1usize, 10] {
            let target = &store.health[&n];
            let mut i = 0usize;
            g.bench_function(BenchmarkId::new(format!("k{k}"), n), |b| {
                b.iter(|| {
                    i += 1;
                    black_box(
                        engine
                            .dry_run(set_health_command(target, i, k))
                            .expect("set health"),
                    )
                })
            });
        }
    }
    // The same step on mutable HashMaps (the floor).
    for n in HEALTH_N {
        for k in [1usize, 10] {
            let target = &store.health[&n];
            let mut m = MutableStore::default();
            for id in &target.allocs {
                m.allocs
                    .insert(*id, (**state.alloc(id).expect("alloc")).clone());
            }
            m.deployments.insert(
                target.deployment,
                (**state.deployment(&target.deployment).expect("d")).clone(),
            );
            let mut i = 0usize;
            g.bench_function(BenchmarkId::new(format!("baseline_hashmap_k{k}"), n), |b| {
                b.iter(|| {
                    i += 1;
                    let s = (i * k) % (n - k + 1);
                    black_box(m.set_health(
                        target.deployment,
                        &target.allocs[s..s + k],
                        OP_TIME_NS,
                        uuid::Uuid::from_u128(i as u128),
                    ))
                })
            });
        }
    }
    g.finish();

    let mut g = c.benchmark_group("b_promote");
    for cnt in CANARY_C {
        let d = store.canary[&cnt];
        g.bench_function(BenchmarkId::from_parameter(cnt), |b| {
            b.iter(|| black_box(engine.dry_run(promote_command(d)).expect("promote")))
        });
    }
    g.finish();

    // A dry run against the real command (issue 16: within 2× of it, no I/O — the engine
    // has none): promote C=100 among the 100,000 allocations, `submit` on an O(1) clone of
    // the engine so that every iteration starts from the same state.
    let mut g = c.benchmark_group("dry_run_vs_submit_promote");
    let d = store.canary[&100];
    g.bench_function("submit_c100", |b| {
        b.iter(|| {
            let mut e = engine.clone();
            black_box(e.submit(promote_command(d)).expect("promote"))
        })
    });
    g.bench_function("dry_run_c100", |b| {
        b.iter(|| black_box(engine.dry_run(promote_command(d)).expect("promote")))
    });
    g.finish();

    let mut g = c.benchmark_group("c_fail_rollback");
    for v in REVERT_V {
        let d = store.revert[&v];
        g.bench_function(BenchmarkId::from_parameter(v), |b| {
            b.iter(|| black_box(engine.dry_run(fail_command(d)).expect("fail")))
        });
    }
    g.finish();

    // What the engine object costs on top of `apply`: the same set-health write (n=1,000,
    // k=1) as a raw `apply` of a prepared envelope, as `submit` (stamp, apply, keep: on an
    // O(1) clone of the engine, so every iteration starts from the same state) and as
    // `dry_run`.
    let mut g = c.benchmark_group("submit_overhead");
    let target = &store.health[&1_000];
    let mut i = 0usize;
    g.bench_function("raw_apply", |b| {
        b.iter(|| {
            i += 1;
            let env = envelope(&state, set_health_command(target, i, 1));
            black_box(apply(&state, &env).expect("set health"))
        })
    });
    g.bench_function("submit", |b| {
        b.iter(|| {
            i += 1;
            let mut e = engine.clone();
            black_box(
                e.submit(set_health_command(target, i, 1))
                    .expect("set health"),
            )
        })
    });
    g.bench_function("dry_run", |b| {
        b.iter(|| {
            i += 1;
            black_box(
                engine
                    .dry_run(set_health_command(target, i, 1))
                    .expect("set health"),
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("e_snapshot");
    g.bench_function("clone_background_store", |b| {
        b.iter(|| black_box(state.clone()))
    });
    g.finish();

    let mut g = c.benchmark_group("d_reads");
    let target = &store.health[&1_000];
    g.bench_function("allocs_of_deployment_n1000", |b| {
        b.iter(|| {
            black_box(
                state
                    .deployment_allocs(&target.deployment)
                    .collect::<Vec<_>>(),
            )
        })
    });
    g.finish();
}

fn reads(c: &mut Criterion) {
    let mut g = c.benchmark_group("d_reads");
    for d in [1_000usize, 100_000] {
        let (state, ids) = deployments_only(d);
        let state: State = state;
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("deployment_by_id", d), |b| {
            b.iter(|| {
                i += 1;
                black_box(state.deployment(&ids[(i * 7919) % d]))
            })
        });
        // The query's text is the input (formatting a UUID is not part of a prefix
        // query); parsing it is measured.
        let hex: Vec<String> = ids.iter().map(|id| id.simple().to_string()).collect();
        for len in [8usize, 2] {
            let mut i = 0usize;
            g.bench_function(BenchmarkId::new(format!("prefix_{len}"), d), |b| {
                b.iter(|| {
                    i += 1;
                    let p = Prefix::parse(&hex[(i * 7919) % d][..len]).expect("prefix");
                    black_box(
                        state
                            .deployments_by_prefix(Some("default"), &p)
                            .collect::<Vec<_>>(),
                    )
                })
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = writes, reads
}
criterion_main!(benches);
