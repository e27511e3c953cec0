//! EV1: evaluating a job on demand — a new pending evaluation of its current version;
//! periodic and parameterized jobs (whose launches are evaluated) and unknown jobs are
//! refused, changing nothing.

use rollout_engine::command::EvaluateJob;
use rollout_engine::model::{eval_status, triggered_by};
use rollout_engine::testing::{service_job, update, World};
use rollout_engine::Command;

fn evaluate(job: &str) -> Command {
    Command::EvaluateJob(EvaluateJob {
        job_id: job.into(),
        namespace: "default".into(),
    })
}

#[test]
fn ev1_evaluating_a_job_creates_a_pending_evaluation_of_its_current_version() {
    let mut w = World::new();
    w.deploy(service_job("web", 1, update(1, 0)));
    let job = w.job("web");
    let o = w.apply(evaluate("web"));
    let id = o.eval_id.expect("an evaluation");
    let e = w.state().eval(&id).expect("stored").clone();
    assert_eq!(e.status, eval_status::PENDING);
    assert_eq!(e.triggered_by, triggered_by::JOB_EVAL);
    assert_eq!(e.job_modify_index, job.job_modify_index);
    assert_eq!(o.job_modify_index, job.job_modify_index);
    assert_eq!(w.job("web").version, job.version, "the job is not changed");
}

#[test]
fn ev1_periodic_parameterized_and_unknown_jobs_are_refused() {
    let mut w = World::new();
    let before = w.state().clone();
    assert_eq!(
        w.try_apply(evaluate("nope")).unwrap_err().to_string(),
        "job \"nope\" not found"
    );
    assert_eq!(*w.state(), before);
    for (id, text) in [
        ("cron", "can't evaluate periodic job"),
        ("batch", "can't evaluate parameterized job"),
    ] {
        let mut job = service_job(id, 1, update(1, 0));
        let block = Some(serde_json::json!({"Enabled": true}));
        if id == "cron" {
            job.periodic = block;
        } else {
            job.parameterized_job = block;
        }
        w.register(job);
        let before = w.state().clone();
        assert_eq!(w.try_apply(evaluate(id)).unwrap_err().to_string(), text);
        assert_eq!(*w.state(), before);
    }
}
