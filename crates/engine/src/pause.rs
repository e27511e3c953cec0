//! Pause and resume (§3.6).

use crate::command::PauseDeployment;
use crate::model::{description, status};
use crate::status::{update_status, watcher_eval};
use crate::tx::Tx;
use crate::{Error, Result};

/// S1–S5.
pub(crate) fn pause(tx: &mut Tx, req: &PauseDeployment) -> Result<()> {
    let id = req.deployment_id;
    let d = tx.deployment(&id).ok_or(Error::DeploymentNotFound)?;
    if !d.active() {
        return Err(if req.pause {
            Error::CantPauseTerminal
        } else {
            Error::CantResumeTerminal
        });
    }
    tx.out.deployment_modify_index = tx.index;
    if req.pause {
        // S2: no evaluation.
        let why = ("S2", "paused by the operator");
        update_status(tx, &id, status::PAUSED, description::PAUSED, tx.now, why)
    } else {
        // S3: the description is forced back to "running" and an evaluation created.
        let why = ("S3", "resumed by the operator");
        update_status(tx, &id, status::RUNNING, description::RUNNING, tx.now, why)?;
        let eval = watcher_eval(&tx.state, &d);
        let eval_id = tx.create_eval(eval, ("S3", "resumed by the operator"));
        tx.out.eval_id = Some(eval_id);
        tx.out.eval_create_index = tx.index;
        Ok(())
    }
}
