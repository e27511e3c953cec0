//! Progress deadlines (§3.10): when a deployment must have made progress, and what
//! happens when it has not.
//!
//! Every active, unpaused deployment with a non-zero cutoff (D2) sits in a queue ordered
//! by cutoff, so [`next_deadline`] is O(1) and a `Tick` only looks at what is due. A
//! cutoff that expired without failing the deployment (D6) is remembered and not
//! re-armed until the cutoff changes.

use crate::model::{status, Deployment, Timestamp, UnixNanos};
use crate::state::State;
use uuid::Uuid;

/// D3: a group is done when it is not waiting for promotion and enough of the
/// deployment's live allocations in it are healthy.
pub fn group_done(state: &State, d: &Deployment, group: &str) -> bool {
    let Some(g) = d.task_groups.get(group) else {
        return true;
    };
    !g.canarying() && state.live_healthy_allocs(&d.id, group) >= g.desired_total
}

/// D2: the earliest `RequireProgressBy` of the groups that are not done (zero if none).
pub fn cutoff(state: &State, d: &Deployment) -> Timestamp {
    d.task_groups
        .iter()
        .filter(|(_, g)| !g.require_progress_by.is_zero())
        .filter(|(name, _)| !group_done(state, d, name))
        .map(|(_, g)| g.require_progress_by)
        .min()
        .unwrap_or(Timestamp::ZERO)
}

/// The cutoff a deployment's timer is armed with, if any: active, not paused (S6, D5),
/// a non-zero cutoff, and not one that already expired without effect (D6).
fn armed_cutoff(state: &State, d: &Deployment) -> Option<Timestamp> {
    if !d.active() || d.status == status::PAUSED {
        return None;
    }
    let c = cutoff(state, d);
    if c.is_zero() || state.t().deadlines_passed.get(&d.id) == Some(&c) {
        return None;
    }
    Some(c)
}

impl State {
    /// Re-arms (or disarms) one deployment's deadline after it or its allocations changed.
    pub(crate) fn refresh_deadline(&mut self, id: &Uuid) {
        let (armed, active) = match self.t().deployments.get(id) {
            Some(d) => (armed_cutoff(self, d), d.active()),
            None => (None, false),
        };
        if !active && self.t().deadlines_passed.contains_key(id) {
            self.t_mut().deadlines_passed.remove(id);
        }
        let current = self.t().deadline_of.get(id).copied();
        if current == armed {
            return;
        }
        if let Some(old) = current {
            self.t_mut().deadline_of.remove(id);
            self.t_mut().deadline_queue.remove(&(old, *id));
        }
        if let Some(c) = armed {
            self.t_mut().deadline_of.insert(*id, c);
            self.t_mut().deadline_queue.insert((c, *id));
        }
    }

    /// Rebuilds the deadline queue from scratch (after loading a snapshot).
    pub(crate) fn rebuild_deadlines(&mut self) {
        self.t_mut().deadline_queue = Default::default();
        self.t_mut().deadline_of = Default::default();
        let ids: Vec<Uuid> = self.active_deployments().map(|d| d.id).collect();
        for id in ids {
            self.refresh_deadline(&id);
        }
    }

    /// Deployments whose deadline is due at `now`, soonest first.
    pub(crate) fn due_deadlines(&self, now: UnixNanos) -> Vec<(Timestamp, Uuid)> {
        self.t()
            .deadline_queue
            .iter()
            .take_while(|(t, _)| t.nanos() <= now)
            .cloned()
            .collect()
    }
}

/// When the next `Tick` can change anything: the earliest armed progress deadline.
/// `None` means no deadline is pending; the driver need not tick at all.
pub fn next_deadline(state: &State) -> Option<UnixNanos> {
    state.t().deadline_queue.get_min().map(|(t, _)| t.nanos())
}

/// D5: the groups that have not made enough progress when the deadline expires. A group
/// waiting for promotion needs its canaries healthy; any other group its total.
pub fn failing_groups(d: &Deployment) -> Vec<&str> {
    d.task_groups
        .iter()
        .filter(|(_, g)| {
            if g.canarying() {
                g.healthy() < g.desired_canaries
            } else {
                g.healthy() < g.desired_total
            }
        })
        .map(|(name, _)| name.as_str())
        .collect()
}
