//! Task events: their types and the display message Nomad derives from each
//! (`TaskEvent.PopulateEventDisplayMessage`).
//!
//! Nomad's client fills `DisplayMessage` before it reports an event, and Nomad's HTTP
//! agent fills it again on the way out for events stored without one
//! (`Allocation.SetEventDisplayMessages`), so a reader always gets the summary the CLI
//! and UI print under "Recent Events".

use super::allocation::{TaskEvent, TaskState};
use super::compact::SmallMap;
use crate::format::{go_duration, go_quote};

/// `TaskEvent.Type` values (Nomad's `structs.Task*` constants).
pub mod event_type {
    /// `TaskSetupFailure`.
    pub const SETUP_FAILURE: &str = "Setup Failure";
    /// `TaskDriverFailure`.
    pub const DRIVER_FAILURE: &str = "Driver Failure";
    /// `TaskReceived`: the client pulled the task.
    pub const RECEIVED: &str = "Received";
    /// `TaskFailedValidation`.
    pub const FAILED_VALIDATION: &str = "Failed Validation";
    /// `TaskStarted`: the driver started it.
    pub const STARTED: &str = "Started";
    /// `TaskTerminated`: it exited.
    pub const TERMINATED: &str = "Terminated";
    /// `TaskKilling`: the client sent the kill signal.
    pub const KILLING: &str = "Killing";
    /// `TaskKilled`: it exited after the kill signal.
    pub const KILLED: &str = "Killed";
    /// `TaskRestarting`.
    pub const RESTARTING: &str = "Restarting";
    /// `TaskNotRestarting`: the restart policy will not restart it.
    pub const NOT_RESTARTING: &str = "Not Restarting";
    /// `TaskRestartSignal`.
    pub const RESTART_SIGNAL: &str = "Restart Signaled";
    /// `TaskSignaling`.
    pub const SIGNALING: &str = "Signaling";
    /// `TaskDownloadingArtifacts`.
    pub const DOWNLOADING_ARTIFACTS: &str = "Downloading Artifacts";
    /// `TaskArtifactDownloadFailed`.
    pub const ARTIFACT_DOWNLOAD_FAILED: &str = "Failed Artifact Download";
    /// `TaskSetup`: e.g. building the task directory.
    pub const SETUP: &str = "Task Setup";
    /// `TaskSiblingFailed`: another task of the allocation failed.
    pub const SIBLING_FAILED: &str = "Sibling Task Failed";
    /// `TaskDriverMessage`.
    pub const DRIVER_MESSAGE: &str = "Driver";
    /// `TaskLeaderDead`.
    pub const LEADER_DEAD: &str = "Leader Task Dead";
    /// `TaskMainDead`.
    pub const MAIN_DEAD: &str = "Main Tasks Dead";
    /// `TaskClientReconnected`.
    pub const CLIENT_RECONNECTED: &str = "Reconnected";
}

/// `ReasonWithinPolicy`: a restart the policy allows; the display message omits it.
pub const REASON_WITHIN_POLICY: &str = "Restart within policy";

/// `msg` unless it is empty, else `fallback`.
fn or(msg: &str, fallback: &str) -> String {
    if msg.is_empty() {
        fallback.to_string()
    } else {
        msg.to_string()
    }
}

impl TaskEvent {
    /// The display message Nomad derives from the event's type and fields
    /// (`PopulateEventDisplayMessage` without the "already set" shortcut).
    pub fn derived_display_message(&self) -> String {
        use event_type::*;
        match self.event_type.as_str() {
            SETUP => self.message.clone(),
            STARTED => "Task started by client".to_string(),
            RECEIVED => "Task received by client".to_string(),
            FAILED_VALIDATION => or(&self.validation_error, "Validation of task failed"),
            SETUP_FAILURE => or(&self.setup_error, "Task setup failed"),
            DRIVER_FAILURE => or(&self.driver_error, "Failed to start task"),
            DOWNLOADING_ARTIFACTS => "Client is downloading artifacts".to_string(),
            ARTIFACT_DOWNLOAD_FAILED => or(&self.download_error, "Failed to download artifacts"),
            KILLING if !self.kill_reason.is_empty() => self.kill_reason.clone(),
            KILLING if self.kill_timeout != 0 => format!(
                "Sent interrupt. Waiting {} before force killing",
                go_duration(self.kill_timeout)
            ),
            KILLING => "Sent interrupt".to_string(),
            KILLED => or(&self.kill_error, "Task successfully killed"),
            TERMINATED => self.terminated_message(),
            RESTARTING => {
                let within = format!("Task restarting in {}", go_duration(self.start_delay));
                if self.restart_reason.is_empty() || self.restart_reason == REASON_WITHIN_POLICY {
                    within
                } else {
                    format!("{} - {within}", self.restart_reason)
                }
            }
            NOT_RESTARTING => or(&self.restart_reason, "Task exceeded restart policy"),
            SIBLING_FAILED if self.failed_sibling.is_empty() => "Task's sibling failed".to_string(),
            SIBLING_FAILED => format!("Task's sibling {} failed", go_quote(&self.failed_sibling)),
            SIGNALING => self.signaling_message(),
            RESTART_SIGNAL => or(&self.restart_reason, "Task signaled to restart"),
            DRIVER_MESSAGE => self.driver_message.clone(),
            LEADER_DEAD => "Leader Task in Group dead".to_string(),
            MAIN_DEAD => "Main tasks in the group died".to_string(),
            CLIENT_RECONNECTED => "Client reconnected".to_string(),
            _ => self.message.clone(),
        }
    }

    /// `Exit Code: 1`, then `, Signal: 9` and `, Exit Message: "…"` when set.
    fn terminated_message(&self) -> String {
        let mut parts = vec![format!("Exit Code: {}", self.exit_code)];
        if self.signal != 0 {
            parts.push(format!("Signal: {}", self.signal));
        }
        if !self.message.is_empty() {
            parts.push(format!("Exit Message: {}", go_quote(&self.message)));
        }
        parts.join(", ")
    }

    fn signaling_message(&self) -> String {
        match (self.task_signal.as_str(), self.task_signal_reason.as_str()) {
            ("", "") => "Task being sent a signal".to_string(),
            ("", reason) => reason.to_string(),
            (sig, "") => format!("Task being sent signal {sig}"),
            (sig, reason) => format!("Task being sent signal {sig}: {reason}"),
        }
    }

    /// `PopulateEventDisplayMessage`: fills `DisplayMessage` unless it is set.
    pub fn populate_display_message(&mut self) {
        if self.display_message.is_empty() {
            self.display_message = self.derived_display_message();
        }
    }
}

/// `SetEventDisplayMessages` of an allocation's task states: a copy with every missing
/// display message filled in, or `None` when none is missing (the caller keeps its own,
/// shared, map).
pub fn with_display_messages(states: &SmallMap<TaskState>) -> Option<SmallMap<TaskState>> {
    let missing = states
        .values()
        .flat_map(|s| s.events.iter().flatten())
        .any(|e| e.display_message.is_empty());
    if !missing {
        return None;
    }
    let mut filled = states.clone();
    for (_, state) in filled.iter_mut() {
        for event in state.events.iter_mut().flatten() {
            event.populate_display_message();
        }
    }
    Some(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str) -> TaskEvent {
        TaskEvent {
            event_type: kind.to_string(),
            ..TaskEvent::default()
        }
    }

    #[test]
    fn display_messages_are_the_ones_nomad_derives() {
        let cases = [
            (event(event_type::RECEIVED), "Task received by client"),
            (event(event_type::STARTED), "Task started by client"),
            (
                TaskEvent {
                    message: "Building Task Directory".into(),
                    ..event(event_type::SETUP)
                },
                "Building Task Directory",
            ),
            (
                TaskEvent {
                    exit_code: 1,
                    ..event(event_type::TERMINATED)
                },
                "Exit Code: 1",
            ),
            (
                TaskEvent {
                    exit_code: 137,
                    signal: 9,
                    message: "OOM".into(),
                    ..event(event_type::TERMINATED)
                },
                "Exit Code: 137, Signal: 9, Exit Message: \"OOM\"",
            ),
            (
                TaskEvent {
                    kill_timeout: 5_000_000_000,
                    ..event(event_type::KILLING)
                },
                "Sent interrupt. Waiting 5s before force killing",
            ),
            (event(event_type::KILLED), "Task successfully killed"),
            (
                TaskEvent {
                    restart_reason: "Policy allows no restarts".into(),
                    ..event(event_type::NOT_RESTARTING)
                },
                "Policy allows no restarts",
            ),
            (
                TaskEvent {
                    start_delay: 15_000_000_000,
                    restart_reason: REASON_WITHIN_POLICY.into(),
                    ..event(event_type::RESTARTING)
                },
                "Task restarting in 15s",
            ),
            (
                TaskEvent {
                    failed_sibling: "db".into(),
                    ..event(event_type::SIBLING_FAILED)
                },
                "Task's sibling \"db\" failed",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.derived_display_message(), want, "{}", e.event_type);
        }
    }

    #[test]
    fn a_display_message_the_client_set_is_kept() {
        let mut e = TaskEvent {
            display_message: "mine".into(),
            ..event(event_type::STARTED)
        };
        e.populate_display_message();
        assert_eq!(e.display_message, "mine");
    }

    #[test]
    fn task_states_without_missing_messages_are_not_copied() {
        let mut states = SmallMap::new();
        states.insert(
            "app".to_string(),
            TaskState {
                events: Some(vec![TaskEvent {
                    display_message: "Task started by client".into(),
                    ..event(event_type::STARTED)
                }]),
                ..TaskState::default()
            },
        );
        assert!(with_display_messages(&states).is_none());
        if let Some(events) = states.get_mut("app").and_then(|s| s.events.as_mut()) {
            events.push(event(event_type::KILLED));
        }
        let filled = with_display_messages(&states).expect("one was missing");
        let events = filled.get("app").and_then(|s| s.events.clone());
        assert_eq!(
            events.map(|e| e[1].display_message.clone()).as_deref(),
            Some("Task successfully killed")
        );
    }
}
