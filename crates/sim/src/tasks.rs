//! Task states as Nomad's client reports them (`TaskStates` of an allocation update).
//!
//! Nomad's task runner keeps, per task, a `TaskState` (`State` pending/running/dead,
//! `Failed`, `StartedAt`, `FinishedAt`, restarts) and its last ten `TaskEvent`s, and sends
//! the whole map with every allocation update. The simulated clients do the same, with
//! the events, messages and details Nomad's client writes for the lifecycle the simulator
//! models: received, set up, started; then failed (exit code 1, not restarted), or killed
//! because the server stopped the allocation, or killed because a sibling failed.
//!
//! Every time comes from the caller (the simulator's clock), so the same seed gives the
//! same bytes. The simulator does not model in-place restarts: a failure is final, as if
//! the restart policy's attempts were used up, so `Restarts` stays 0 and no `Restarting`
//! event is reported (`docs/http-api.md`, R7).

use rollout_engine::format::go_duration;
use rollout_engine::model::task_event::event_type;
use rollout_engine::model::{
    DurationNs, SmallMap, Task, TaskEvent, TaskState, Timestamp, UnixNanos, MINUTE_NS, SECOND_NS,
};

/// `TaskState.State` values.
pub mod task_state {
    /// Not started yet, or between restarts.
    pub const PENDING: &str = "pending";
    /// Running.
    pub const RUNNING: &str = "running";
    /// Exited for good.
    pub const DEAD: &str = "dead";
}

/// How many events Nomad's task runner keeps per task (`defaultMaxEvents`).
pub const MAX_EVENTS: usize = 10;

/// The client's `max_kill_timeout` default: a task's kill timeout is capped at it.
pub const MAX_KILL_TIMEOUT_NS: DurationNs = 30_000_000_000;

/// `structs.TaskBuildingTaskDir`, the message of the task-setup event.
pub const BUILDING_TASK_DIR: &str = "Building Task Directory";

/// `restarts.ReasonNoRestartsAllowed`.
pub const REASON_NO_RESTARTS_ALLOWED: &str = "Policy allows no restarts";

/// The exit code of a simulated failure.
pub const FAILURE_EXIT_CODE: i64 = 1;

/// What the client knows of one task of the allocation: what its kill and restart
/// reports need from the job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskSpec {
    /// The task's name: its key in `TaskStates`.
    pub name: String,
    /// `KillTimeout` (the engine's canonical default is 5 s).
    pub kill_timeout_ns: DurationNs,
    /// `RestartPolicy.Attempts`.
    pub restart_attempts: i64,
    /// `RestartPolicy.Interval`.
    pub restart_interval_ns: DurationNs,
}

impl TaskSpec {
    /// The spec of a task as the job version stores it (canonicalised: kill timeout and
    /// restart policy filled in; Nomad's defaults otherwise).
    pub fn of(task: &Task) -> TaskSpec {
        let restart = task.restart_policy.as_ref();
        TaskSpec {
            name: task.name.clone(),
            kill_timeout_ns: task.kill_timeout.unwrap_or(5 * SECOND_NS),
            restart_attempts: restart.and_then(|r| r.attempts).unwrap_or(2),
            restart_interval_ns: restart.and_then(|r| r.interval).unwrap_or(30 * MINUTE_NS),
        }
    }

    /// Why the restart policy does not restart the task after a failure, in the words of
    /// Nomad's restart tracker.
    pub fn not_restarting_reason(&self) -> String {
        if self.restart_attempts == 0 {
            REASON_NO_RESTARTS_ALLOWED.to_string()
        } else {
            format!(
                "Exceeded allowed attempts {} in interval {} and mode is \"fail\"",
                self.restart_attempts,
                go_duration(self.restart_interval_ns)
            )
        }
    }

    /// The kill timeout the client applies: the task's, capped at `max_kill_timeout`.
    pub fn effective_kill_timeout(&self) -> DurationNs {
        self.kill_timeout_ns.min(MAX_KILL_TIMEOUT_NS)
    }
}

/// A new event of type `kind` at `time` with empty `Details` (Nomad's `NewTaskEvent`).
fn new_event(kind: &str, time: UnixNanos) -> TaskEvent {
    TaskEvent {
        event_type: kind.to_string(),
        time,
        details: Some(SmallMap::new()),
        ..TaskEvent::default()
    }
}

/// Sets a `Details` entry, as each of Nomad's `TaskEvent.Set*` helpers does.
fn detail(event: &mut TaskEvent, key: &str, value: String) {
    event
        .details
        .get_or_insert_with(SmallMap::new)
        .insert(key.to_string(), value);
}

/// `Received`.
pub fn received(time: UnixNanos) -> TaskEvent {
    new_event(event_type::RECEIVED, time)
}

/// `Task Setup` with `SetMessage(TaskBuildingTaskDir)`.
pub fn task_setup(time: UnixNanos) -> TaskEvent {
    let mut e = new_event(event_type::SETUP, time);
    e.message = BUILDING_TASK_DIR.to_string();
    detail(&mut e, "message", BUILDING_TASK_DIR.to_string());
    e
}

/// `Started`.
pub fn started(time: UnixNanos) -> TaskEvent {
    new_event(event_type::STARTED, time)
}

/// `Terminated` for an exit result: `SetExitCode`, `SetSignal`, `SetOOMKilled` (no exit
/// error, so no message).
pub fn terminated(time: UnixNanos, exit_code: i64) -> TaskEvent {
    let mut e = new_event(event_type::TERMINATED, time);
    e.exit_code = exit_code;
    detail(&mut e, "exit_code", exit_code.to_string());
    detail(&mut e, "signal", "0".to_string());
    detail(&mut e, "oom_killed", "false".to_string());
    e
}

/// `Not Restarting` with `SetRestartReason(reason)` and `SetFailsTask()`.
pub fn not_restarting(time: UnixNanos, reason: &str) -> TaskEvent {
    let mut e = new_event(event_type::NOT_RESTARTING, time);
    e.restart_reason = reason.to_string();
    detail(&mut e, "restart_reason", reason.to_string());
    e.fails_task = true;
    detail(&mut e, "fails_task", "true".to_string());
    e
}

/// `Sibling Task Failed` with `SetFailedSibling(sibling)`.
pub fn sibling_failed(time: UnixNanos, sibling: &str) -> TaskEvent {
    let mut e = new_event(event_type::SIBLING_FAILED, time);
    e.failed_sibling = sibling.to_string();
    detail(&mut e, "failed_sibling", sibling.to_string());
    e
}

/// `Killing` with `SetKillTimeout(task.KillTimeout, MaxKillTimeout)`.
pub fn killing(time: UnixNanos, kill_timeout_ns: DurationNs) -> TaskEvent {
    let mut e = new_event(event_type::KILLING, time);
    e.kill_timeout = kill_timeout_ns;
    detail(&mut e, "kill_timeout", go_duration(kill_timeout_ns));
    e
}

/// `Killed`.
pub fn killed(time: UnixNanos) -> TaskEvent {
    new_event(event_type::KILLED, time)
}

/// The task runner's `appendEvent`: fill the display message, propagate `FailsTask`
/// to `Failed`, and keep only the last [`MAX_EVENTS`] events.
pub fn append_event(state: &mut TaskState, mut event: TaskEvent) {
    event.populate_display_message();
    if event.fails_task {
        state.failed = true;
    }
    let events = state.events.get_or_insert_with(Vec::new);
    if events.len() >= MAX_EVENTS {
        let excess = events.len() + 1 - MAX_EVENTS;
        events.drain(..excess);
    }
    events.push(event);
}

/// The task runner's `UpdateState`: a transition stamps `StartedAt` on entering
/// `running` and `FinishedAt` on the first `dead`.
pub fn set_state(state: &mut TaskState, new_state: &str, now: UnixNanos) {
    let old = std::mem::replace(&mut state.state, new_state.to_string());
    match new_state {
        task_state::RUNNING if old != task_state::RUNNING => state.started_at = Timestamp(now),
        task_state::DEAD if state.finished_at.is_zero() => state.finished_at = Timestamp(now),
        _ => {}
    }
}

/// Every task of a just-received allocation: pending, with `Received` and `Task Setup`.
pub fn on_received(tasks: &[TaskSpec], now: UnixNanos) -> SmallMap<TaskState> {
    let mut states = SmallMap::new();
    for t in tasks {
        let mut s = TaskState {
            state: task_state::PENDING.to_string(),
            ..TaskState::default()
        };
        append_event(&mut s, received(now));
        append_event(&mut s, task_setup(now));
        states.insert(t.name.clone(), s);
    }
    states
}

/// The driver started every task: `Started`, running.
pub fn on_started(states: &mut SmallMap<TaskState>, now: UnixNanos) {
    for (_, s) in states.iter_mut() {
        if s.state != task_state::DEAD {
            append_event(s, started(now));
            set_state(s, task_state::RUNNING, now);
        }
    }
}

/// Task `failed` exited with code 1 and is not restarted; the alloc runner then kills its
/// live siblings (`Sibling Task Failed`, `Killing`, `Killed`).
pub fn on_failed(
    states: &mut SmallMap<TaskState>,
    tasks: &[TaskSpec],
    failed: &TaskSpec,
    now: UnixNanos,
) {
    if let Some(s) = states.get_mut(&failed.name) {
        append_event(s, terminated(now, FAILURE_EXIT_CODE));
        append_event(s, not_restarting(now, &failed.not_restarting_reason()));
        set_state(s, task_state::DEAD, now);
    }
    let siblings: Vec<&TaskSpec> = tasks.iter().filter(|t| t.name != failed.name).collect();
    for t in siblings {
        if let Some(s) = states.get_mut(&t.name) {
            if s.state != task_state::DEAD {
                append_event(s, sibling_failed(now, &failed.name));
                kill(s, t, now, now);
            }
        }
    }
}

/// The server stopped the allocation: the client sent the kill signal at `requested`
/// and every task had exited by `now`.
pub fn on_stopped(
    states: &mut SmallMap<TaskState>,
    tasks: &[TaskSpec],
    requested: UnixNanos,
    now: UnixNanos,
) {
    for t in tasks {
        if let Some(s) = states.get_mut(&t.name) {
            if s.state != task_state::DEAD {
                kill(s, t, requested, now);
            }
        }
    }
}

/// One task killed: `Killing` when the signal is sent; then, for a task that ran,
/// `Killed` once it exited (a task killed before it started only goes dead, as Nomad's
/// task runner leaves its run loop without a kill result).
fn kill(s: &mut TaskState, t: &TaskSpec, requested: UnixNanos, now: UnixNanos) {
    append_event(s, killing(requested, t.effective_kill_timeout()));
    if s.state == task_state::RUNNING {
        append_event(s, killed(now));
    }
    set_state(s, task_state::DEAD, now);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> TaskSpec {
        TaskSpec {
            name: name.to_string(),
            kill_timeout_ns: 5_000_000_000,
            restart_attempts: 2,
            restart_interval_ns: 30 * 60 * 1_000_000_000,
        }
    }

    #[test]
    fn display_messages_are_nomads() {
        assert_eq!(
            killing(0, 5_000_000_000).derived_display_message(),
            "Sent interrupt. Waiting 5s before force killing"
        );
        assert_eq!(terminated(0, 1).derived_display_message(), "Exit Code: 1");
        assert_eq!(
            task_setup(0).derived_display_message(),
            "Building Task Directory"
        );
        assert_eq!(
            sibling_failed(0, "db").derived_display_message(),
            "Task's sibling \"db\" failed"
        );
    }

    #[test]
    fn not_restarting_reason_follows_the_restart_policy() {
        assert_eq!(
            spec("a").not_restarting_reason(),
            "Exceeded allowed attempts 2 in interval 30m0s and mode is \"fail\""
        );
        let none = TaskSpec {
            restart_attempts: 0,
            ..spec("a")
        };
        assert_eq!(none.not_restarting_reason(), "Policy allows no restarts");
    }

    #[test]
    fn only_the_last_ten_events_are_kept() {
        let mut s = TaskState::default();
        for i in 0..25 {
            append_event(&mut s, received(i));
        }
        let times: Vec<i64> = s.events.unwrap().iter().map(|e| e.time).collect();
        assert_eq!(times, (15..25).collect::<Vec<_>>());
    }

    fn types(states: &SmallMap<TaskState>, task: &str) -> Vec<String> {
        states
            .get(task)
            .and_then(|s| s.events.as_ref())
            .map(|e| e.iter().map(|e| e.event_type.clone()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_failed_task_kills_its_siblings_which_do_not_fail() {
        let tasks = [spec("app"), spec("sidecar")];
        let mut states = on_received(&tasks, 10);
        on_started(&mut states, 20);
        on_failed(&mut states, &tasks, &tasks[0], 30);
        assert_eq!(
            types(&states, "app"),
            [
                "Received",
                "Task Setup",
                "Started",
                "Terminated",
                "Not Restarting"
            ]
        );
        assert_eq!(
            types(&states, "sidecar"),
            [
                "Received",
                "Task Setup",
                "Started",
                "Sibling Task Failed",
                "Killing",
                "Killed"
            ]
        );
        let sidecar = states.get("sidecar").expect("sidecar");
        assert_eq!((sidecar.state.as_str(), sidecar.failed), ("dead", false));
        assert_eq!(
            sidecar
                .events
                .as_ref()
                .map(|e| e[3].display_message.clone()),
            Some("Task's sibling \"app\" failed".to_string())
        );
        let app = states.get("app").expect("app");
        assert_eq!((app.state.as_str(), app.failed), ("dead", true));
        assert_eq!(app.finished_at, Timestamp(30));
        assert_eq!(app.started_at, Timestamp(20));
    }

    #[test]
    fn a_task_stopped_before_it_started_is_sent_the_kill_and_goes_dead() {
        let tasks = [spec("app")];
        let mut states = on_received(&tasks, 10);
        on_stopped(&mut states, &tasks, 15, 20);
        assert_eq!(types(&states, "app"), ["Received", "Task Setup", "Killing"]);
        let app = states.get("app").expect("app");
        assert_eq!((app.state.as_str(), app.failed), ("dead", false));
        assert_eq!(app.started_at, Timestamp::ZERO);
        assert_eq!(app.finished_at, Timestamp(20));
    }

    #[test]
    fn kill_timeout_is_capped_at_the_clients_max() {
        let t = TaskSpec {
            kill_timeout_ns: 120_000_000_000,
            ..spec("a")
        };
        assert_eq!(t.effective_kill_timeout(), MAX_KILL_TIMEOUT_NS);
    }
}
