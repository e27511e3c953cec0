//! Namespaces (R11): `default` always there, registrations only into namespaces that
//! exist, deletes refused while a live job remains, and the table in snapshots.

use rollout_engine::command::{DeregisterJob, RegisterJob};
use rollout_engine::model::job_status;
use rollout_engine::namespace::{DeleteNamespaces, Namespace, UpsertNamespaces, DEFAULT_NAMESPACE};
use rollout_engine::testing::{service_job, update, World};
use rollout_engine::{Command, Error, State};

fn upsert(name: &str, description: &str) -> Command {
    Command::UpsertNamespaces(UpsertNamespaces {
        namespaces: vec![Namespace {
            name: name.into(),
            description: description.into(),
            ..Namespace::default()
        }],
    })
}

fn delete(name: &str) -> Command {
    Command::DeleteNamespaces(DeleteNamespaces {
        namespaces: vec![name.into()],
        region: String::new(),
    })
}

fn register_in(w: &mut World, namespace: &str) -> Result<(), Error> {
    let mut job = service_job("web", 1, update(1, 0));
    job.namespace = namespace.into();
    w.try_apply(Command::RegisterJob(RegisterJob {
        job,
        ..RegisterJob::default()
    }))
    .map(|_| ())
}

#[test]
fn ns1_default_always_exists_and_unknown_namespaces_refuse_registrations() {
    let mut w = World::new();
    let default = w.state().namespace(DEFAULT_NAMESPACE).expect("default");
    assert_eq!(default.description, "Default shared namespace");
    assert_eq!(w.state().namespaces().len(), 1);
    let before = w.state().clone();
    let e = register_in(&mut w, "team").unwrap_err();
    assert_eq!(
        e.to_string(),
        "job \"web\" is in nonexistent namespace \"team\""
    );
    assert_eq!(*w.state(), before, "a refused registration changes nothing");
    w.apply(upsert("team", "the team's jobs"));
    register_in(&mut w, "team").expect("registered once the namespace exists");
    register_in(&mut w, DEFAULT_NAMESPACE).expect("default needs no write");
}

#[test]
fn ns2_names_and_descriptions_are_validated_and_create_index_is_kept() {
    let mut w = World::new();
    for (name, description, message) in [
        (
            "no spaces",
            "",
            "1 error occurred:\n\t* invalid name \"no spaces\". Must match regex ^[a-zA-Z0-9-]{1,128}$\n\n",
        ),
        (
            "ok",
            &"x".repeat(257) as &str,
            "1 error occurred:\n\t* description longer than 256\n\n",
        ),
    ] {
        let e = w.try_apply(upsert(name, description)).unwrap_err();
        assert_eq!(e.to_string(), message);
    }
    let created = w.apply(upsert("team", "first")).index;
    let updated = w.apply(upsert("team", "second")).index;
    let ns = w.state().namespace("team").unwrap();
    assert_eq!((ns.create_index, ns.modify_index), (created, updated));
    assert_eq!(ns.description, "second");
    assert_eq!(w.state().namespaces_index(), updated);
    let names: Vec<String> = w
        .state()
        .namespaces()
        .iter()
        .map(|n| n.name.clone())
        .collect();
    assert_eq!(names, ["default", "team"]);
}

#[test]
fn ns3_deletes_refuse_default_and_namespaces_with_live_jobs() {
    let mut w = World::new();
    assert_eq!(
        w.try_apply(delete("default")).unwrap_err().to_string(),
        "can not delete default namespace"
    );
    assert_eq!(
        w.try_apply(delete("nope")).unwrap_err().to_string(),
        "namespace not found"
    );
    w.apply(upsert("team", ""));
    register_in(&mut w, "team").unwrap();
    let e = w.try_apply(delete("team")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "namespace \"team\" has non-terminal jobs in regions: [global]"
    );
    w.apply(Command::DeregisterJob(DeregisterJob {
        job_id: "web".into(),
        namespace: "team".into(),
        ..DeregisterJob::default()
    }));
    // The stop is dead once its evaluation is done (nothing was placed).
    w.schedule();
    let job = w.state().job("team", "web").expect("stopped, not purged");
    assert_eq!(job.status, job_status::DEAD);
    w.apply(delete("team"));
    assert!(w.state().namespace("team").is_none());
}

#[test]
fn namespaces_survive_a_snapshot() {
    let mut w = World::new();
    w.apply(upsert("team", "kept"));
    let bytes = serde_json::to_vec(w.state()).unwrap();
    let back: State = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(&back, w.state());
    assert_eq!(back.namespace("team").unwrap().description, "kept");
}
