//! The HTTP API end to end: a real server on a loopback socket (in-process, with the
//! in-memory backend) and a real HTTP client.

mod common;

mod acl;
mod actors;
mod alloc_stop;
mod blocking;
mod bodies;
mod decoding;
mod dry_run;
mod errors;
mod events;
mod flows;
mod jobspec;
mod limits;
mod load;
mod metrics;
mod nodes;
mod resilience;
mod shapes;
mod storage_faults;
mod task_states;
mod time_travel;
mod tooling;
mod ui;
