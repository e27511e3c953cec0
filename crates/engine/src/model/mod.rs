//! The data model: Nomad's objects with Nomad's JSON field names and types.

pub(crate) mod allocation;
pub(crate) mod compact;
pub(crate) mod deployment;
pub(crate) mod evaluation;
pub mod id;
pub(crate) mod job;
mod shared_str;
mod skip;
pub mod task_event;
pub mod time;

pub use allocation::{
    alloc_name, client_status, desired_status, parse_name_index, AllocDeploymentStatus,
    AllocListStub, Allocation, DesiredTransition, RescheduleEvent, RescheduleTracker, TaskEvent,
    TaskState,
};
pub use compact::{Opaque, SmallMap};
pub use deployment::{description, status, Deployment, DeploymentState, DeploymentUpdateResponse};
pub use evaluation::{eval_status, triggered_by, Evaluation};
pub use id::parse_id;
pub use job::{
    health_check, job_status, job_type, Consul, Job, LogConfig, Meta, ReschedulePolicy, Resources,
    RestartPolicy, Strategy, Task, TaskGroup, UpdateStrategy,
};
pub use shared_str::SharedStr;
pub use time::{
    parse_go_duration, DurationNs, Timestamp, UnixNanos, HOUR_NS, MINUTE_NS, SECOND_NS,
};
