//! Shared code of rollout's fuzz targets (`fuzz_targets/`) and of the seed generator
//! (`examples/gen_seeds.rs`). See `fuzz/README.md`.

pub mod bodies;
pub mod encode;
pub mod engine;
pub mod http;
pub mod invariants;
pub mod queries;
pub mod records;
