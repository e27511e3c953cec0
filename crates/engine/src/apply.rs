//! `apply`: one command, one index, all or nothing — and [`apply_in_entry`], for the
//! later commands of a log entry that carries several, which share its index.

use crate::command::{Command, Envelope};
use crate::deadline::failing_groups;
use crate::fail::fail_deployment;
use crate::model::description;
use crate::outcome::Outcome;
use crate::state::State;
use crate::tx::Tx;
use crate::{Error, Result};

/// Applies one command to a state.
///
/// On success returns the new state (the old one is untouched and still valid) and the
/// outcome. On error nothing changed: the caller keeps using the old state. The result
/// depends only on `state` and `env`.
///
/// The engine's clock never goes backwards: the command is applied at the later of
/// `env.now` and [`State::now`] (a wall clock stepped back by NTP, or a new consensus
/// leader whose clock is behind the old one's, cannot make time run backwards in the
/// state). The rule is applied here, so every path — [`DeploymentEngine::submit`],
/// [`DeploymentEngine::replay`] and direct calls — obeys it alike.
///
/// In debug builds every applied command is checked against the engine's invariants
/// ([`invariants::check_applied`](crate::invariants::check_applied)); a violation panics,
/// naming the command and the rule.
///
/// [`DeploymentEngine::submit`]: crate::DeploymentEngine::submit
/// [`DeploymentEngine::replay`]: crate::DeploymentEngine::replay
pub fn apply(state: &State, env: &Envelope) -> Result<(State, Outcome)> {
    if env.index <= state.index() {
        return Err(Error::IndexNotIncreasing {
            index: env.index,
            last: state.index(),
        });
    }
    apply_checked(state, env, IndexRule::Increases)
}

/// Applies a command that follows, in the same log entry, a command already applied at
/// this index: its index must be the state's ([`Error::IndexNotShared`]).
///
/// A consensus log may carry several commands in one entry (a leader that gathers the
/// writes arriving while the previous entry commits, as Nomad batches its allocation
/// updates); the entry's index is the index the API shows, so all of them are applied at
/// it, in order, each all or nothing. The first command of an entry that applies goes
/// through [`apply`]; the ones after it through this. Every other rule is `apply`'s.
pub fn apply_in_entry(state: &State, env: &Envelope) -> Result<(State, Outcome)> {
    if env.index != state.index() {
        return Err(Error::IndexNotShared {
            index: env.index,
            last: state.index(),
        });
    }
    apply_checked(state, env, IndexRule::Shared)
}

/// How the index of an applied command relates to the state's before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IndexRule {
    /// A new log entry: the index goes up.
    Increases,
    /// A later command of the entry the state's index names: the index stays.
    Shared,
}

fn apply_checked(state: &State, env: &Envelope, rule: IndexRule) -> Result<(State, Outcome)> {
    let mut tx = Tx::new(state, env);
    match &env.command {
        Command::RegisterJob(c) => crate::register::register(&mut tx, c)?,
        Command::DeregisterJob(c) => crate::register::deregister(&mut tx, c)?,
        Command::RevertJob(c) => crate::register::revert(&mut tx, c)?,
        Command::SetJobStability(c) => crate::register::set_stability(&mut tx, c)?,
        Command::EvaluateJob(c) => crate::register::evaluate(&mut tx, c)?,
        Command::ApplyPlanResult(c) => crate::plan_result::apply_plan_result(&mut tx, c)?,
        Command::UpdateAllocsFromClient(c) => crate::client::update_allocs(&mut tx, c)?,
        Command::SetAllocHealth(c) => crate::health::set_alloc_health(&mut tx, c)?,
        Command::PromoteDeployment(c) => crate::promote::promote(&mut tx, c)?,
        Command::PauseDeployment(c) => crate::pause::pause(&mut tx, c)?,
        Command::FailDeployment(c) => crate::fail::fail(&mut tx, c)?,
        Command::Tick => tick(&mut tx)?,
        Command::UpdateEvalStatus(c) => crate::eval::update_eval_status(&mut tx, c)?,
        Command::ReapDeployments(c) => crate::gc::reap(&mut tx, c)?,
        Command::GcDeployments(c) => crate::gc::gc(&mut tx, c)?,
        Command::GcEvaluations(c) => crate::gc::gc_evals(&mut tx, c)?,
        Command::GcAllocations(c) => crate::gc::gc_allocs(&mut tx, c)?,
        Command::BootstrapAcl(c) => crate::acl::write::bootstrap(&mut tx, c)?,
        Command::UpsertAclPolicies(c) => crate::acl::write::upsert_policies(&mut tx, c)?,
        Command::DeleteAclPolicies(c) => crate::acl::write::delete_policies(&mut tx, c)?,
        Command::UpsertAclTokens(c) => crate::acl::write::upsert_tokens(&mut tx, c)?,
        Command::DeleteAclTokens(c) => crate::acl::write::delete_tokens(&mut tx, c)?,
        Command::UpsertNamespaces(c) => crate::namespace::upsert(&mut tx, c)?,
        Command::DeleteNamespaces(c) => crate::namespace::delete(&mut tx, c)?,
        Command::StopAllocation(c) => crate::alloc_stop::stop(&mut tx, c)?,
        Command::RegisterNode(c) => crate::node::register(&mut tx, c)?,
        Command::UpdateNodeEligibility(c) => crate::node::update_eligibility(&mut tx, c)?,
        Command::DeregisterNodes(c) => crate::node::deregister(&mut tx, c)?,
    }
    settle(&mut tx)?;
    let (next, outcome) = tx.finish();
    if cfg!(debug_assertions) {
        if let Err(v) = crate::invariants::check_applied_as(state, env, &next, &outcome, rule) {
            panic!(
                "engine invariant broken by {} at index {}: {v}",
                env.command.name(),
                env.index
            );
        }
    }
    Ok((next, outcome))
}

/// What Nomad's watcher and scheduler would do after the write, done in the same write:
/// observe changed allocations (§3.9), then settle each touched job's deployment
/// lifecycle (decision 14), then derived data (job status, deadline timers).
fn settle(tx: &mut Tx) -> Result<()> {
    crate::watcher::observe_changes(tx)?;
    crate::lifecycle::settle_jobs(tx)?;
    crate::job_status::refresh(tx);
    let touched = std::mem::take(&mut tx.touched_deployments);
    for id in touched {
        tx.state.refresh_deadline(&id);
    }
    Ok(())
}

/// §3.10 D5–D7: every due deadline either fails its deployment or is noted as passed.
fn tick(tx: &mut Tx) -> Result<()> {
    for (cutoff, id) in tx.state.due_deadlines(tx.now) {
        let Some(d) = tx.deployment(&id) else {
            continue;
        };
        let failing = failing_groups(&d);
        if failing.is_empty() {
            // D6: ignored; not re-armed until the cutoff changes.
            tx.state.t_mut().deadlines_passed.insert(id, cutoff);
            tx.touched_deployments.insert(id);
            continue;
        }
        // Decision 7: rollback if a failing group's state auto-reverts.
        let wanted = failing
            .iter()
            .any(|g| d.task_groups.get(g).is_some_and(|s| s.auto_revert));
        let groups: Vec<String> = failing
            .iter()
            .filter_map(|name| d.task_groups.get_key_value(name))
            .map(|(name, g)| {
                let (have, need) = if g.canarying() {
                    (g.healthy(), g.desired_canaries)
                } else {
                    (g.healthy(), g.desired_total)
                };
                format!(
                    "{name} {have}/{need} healthy, auto_revert {}",
                    g.auto_revert
                )
            })
            .collect();
        let cause = (
            "D5",
            format!(
                "the progress deadline {cutoff} passed with group(s) {}",
                groups.join("; ")
            ),
        );
        fail_deployment(tx, &d, description::PROGRESS_DEADLINE, wanted, cause)?;
    }
    Ok(())
}
