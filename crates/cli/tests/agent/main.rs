//! End-to-end tests of the real `rollout` binary: each starts `rollout agent` on a free
//! loopback port and talks to it with a real HTTP client. One test binary, so that the
//! suite links once.

mod cli;
mod cli_commands;
mod cli_history;
mod cli_jobspec;
mod cli_monitor;
mod cli_nomad;
mod cluster;
mod common;
mod dev_cluster;
mod durability;
mod events;
mod external;
mod limits;
mod logs;
mod replay;
mod soak;
mod walkthrough;
