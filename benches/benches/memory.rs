//! Memory held per allocation and per deployment in the background store (100,000
//! allocations, 10,000 deployments), measured with a counting allocator the way the
//! anchor does: bytes after building the objects, then after inserting them into a
//! `State` (objects + index entries), divided by the object count. Jobs are loaded first,
//! so allocation figures exclude the shared job objects. Also the cost of a `State`
//! clone (a snapshot), which should be O(1).

use rollout_benches::fixture::*;
use rollout_engine::state::Tables;
use rollout_engine::{EngineConfig, State, TableIndexes};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mut ids = Ids::new(42);
    let mut b = Builder::new(&mut ids);
    background(&mut ids, &mut b, 1_000);
    let rows = std::mem::take(&mut b.rows);

    // Jobs first, so per-object figures exclude them.
    let base = live();
    let tables = Tables {
        jobs: rows.jobs.clone(),
        job_versions: rows.job_versions.clone(),
        ..Tables::default()
    };
    let jobs_state =
        State::from_tables(1, EngineConfig::default(), TableIndexes::default(), tables);
    let after_jobs = live();

    let n_allocs = rows.allocations.len() as isize;
    let n_deps = rows.deployments.len() as isize;
    let n_evals = rows.evaluations.len() as isize;

    // Object bytes: measure one kind at a time by rebuilding its rows.
    let (alloc_objects, alloc_total) = measure(
        &jobs_state,
        Tables {
            allocations: rows.allocations.clone(),
            ..Tables::default()
        },
        || {
            let mut ids = Ids::new(42);
            let mut b = Builder::new(&mut ids);
            background(&mut ids, &mut b, 1_000);
            b.rows.allocations
        },
    );
    let (dep_objects, dep_total) = measure(
        &jobs_state,
        Tables {
            deployments: rows.deployments.clone(),
            ..Tables::default()
        },
        || {
            let mut ids = Ids::new(42);
            let mut b = Builder::new(&mut ids);
            background(&mut ids, &mut b, 1_000);
            b.rows.deployments
        },
    );
    let (eval_objects, eval_total) = measure(
        &jobs_state,
        Tables {
            evaluations: rows.evaluations.clone(),
            ..Tables::default()
        },
        || {
            let mut ids = Ids::new(42);
            let mut b = Builder::new(&mut ids);
            background(&mut ids, &mut b, 1_000);
            b.rows.evaluations
        },
    );

    println!("memory per object in the background store (object + index entries)");
    println!(
        "  job versions : {} B ({} rows)",
        (after_jobs - base) / rows.job_versions.len() as isize,
        rows.job_versions.len()
    );
    println!(
        "  allocation   : {} B (objects {} B + indexes {} B)",
        alloc_total / n_allocs,
        alloc_objects / n_allocs,
        (alloc_total - alloc_objects) / n_allocs
    );
    println!(
        "  deployment   : {} B (objects {} B + indexes {} B)",
        dep_total / n_deps,
        dep_objects / n_deps,
        (dep_total - dep_objects) / n_deps
    );
    println!(
        "  evaluation   : {} B (objects {} B + indexes {} B)",
        eval_total / n_evals,
        eval_objects / n_evals,
        (eval_total - eval_objects) / n_evals
    );

    // Snapshot cost: a clone of the whole store.
    let full = bench_store(1_000).state;
    let before = live();
    let t = Instant::now();
    let mut clones = Vec::with_capacity(100_000);
    for _ in 0..100_000 {
        clones.push(full.clone());
    }
    let per_clone_ns = t.elapsed().as_nanos() as f64 / 100_000.0;
    let per_clone_bytes = (live() - before) as f64 / 100_000.0;
    drop(clones);
    println!("snapshot (State clone) of the bench store: {per_clone_ns:.1} ns, {per_clone_bytes:.0} B retained");
}

/// Builds the rows again (object bytes), then inserts them into a state (index bytes).
/// Returns (object bytes, object + index bytes).
fn measure<T>(jobs_state: &State, _shape: Tables, rebuild: impl Fn() -> Vec<T>) -> (isize, isize)
where
    Vec<T>: IntoTables,
{
    let before = live();
    let rows = rebuild();
    // Drop everything but the measured rows.
    let objects = live() - before;
    let state = rows.into_state(jobs_state);
    let total = live() - before;
    drop(state);
    (objects, total)
}

trait IntoTables {
    fn into_state(self, jobs: &State) -> State;
}

macro_rules! into_tables {
    ($t:ty, $field:ident) => {
        impl IntoTables for Vec<std::sync::Arc<$t>> {
            fn into_state(self, _jobs: &State) -> State {
                State::from_tables(
                    1,
                    EngineConfig::default(),
                    TableIndexes::default(),
                    Tables {
                        $field: self,
                        ..Tables::default()
                    },
                )
            }
        }
    };
}

into_tables!(rollout_engine::model::Allocation, allocations);
into_tables!(rollout_engine::model::Deployment, deployments);
into_tables!(rollout_engine::model::Evaluation, evaluations);
