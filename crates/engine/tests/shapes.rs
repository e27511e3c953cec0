//! JSON shapes on the wire (`http-api.md` §7), pinned with insta snapshots. IDs and times
//! are deterministic (fixed seeds and clock), so nothing needs redacting.
mod common;
use common::*;
use rollout_engine::model::*;

fn world_with_canary() -> (World, uuid::Uuid, rollout_engine::Outcome) {
    let mut w = World::new();
    w.deploy(service_job("web", 2, update(1, 1)));
    w.register(with_image(service_job("web", 2, update(1, 1)), "app:2"));
    let c = w.schedule();
    w.healthy(&c);
    let d = w.latest_deployment("web").id;
    let o = w.promote(d).unwrap();
    (w, d, o)
}

#[test]
fn deployment_json_shape() {
    let (w, d, _) = world_with_canary();
    insta::assert_json_snapshot!("deployment", w.deployment(d));
}

#[test]
fn deployment_update_response_json_shape() {
    let (_, _, o) = world_with_canary();
    insta::assert_json_snapshot!("deployment_update_response", o.deployment_update_response());
    let mut w = World::new();
    let d = w
        .register(service_job("web", 2, update(1, 0)))
        .deployments_created[0];
    let paused = w.pause(d, true).unwrap();
    insta::assert_json_snapshot!(
        "deployment_update_response_pause",
        paused.deployment_update_response()
    );
}

#[test]
fn alloc_list_stub_json_shape() {
    let (w, d, _) = world_with_canary();
    let a = w.state().deployment_allocs(&d).next().unwrap();
    insta::assert_json_snapshot!("alloc_list_stub", AllocListStub::new(a, "service"));
}

#[test]
fn allocation_json_omits_zero_fields() {
    let (w, d, _) = world_with_canary();
    let a = w.state().deployment_allocs(&d).next().unwrap();
    insta::assert_json_snapshot!("allocation", **a);
}

#[test]
fn job_json_shape() {
    let (w, _, _) = world_with_canary();
    insta::assert_json_snapshot!("job", *w.job("web"));
}

#[test]
fn evaluation_json_omits_zero_fields() {
    let (w, _, o) = world_with_canary();
    insta::assert_json_snapshot!("evaluation", **w.state().eval(&o.eval_id.unwrap()).unwrap());
}

#[test]
fn fresh_deployment_has_null_times_and_canaries() {
    let mut w = World::new();
    let d = w
        .register(service_job("web", 3, update(1, 0)))
        .deployments_created[0];
    let v = serde_json::to_value(w.deployment(d)).unwrap();
    assert_eq!(
        v["TaskGroups"]["web"]["PlacedCanaries"],
        serde_json::Value::Null
    );
    assert_eq!(
        v["TaskGroups"]["web"]["RequireProgressBy"],
        serde_json::Value::Null
    );
    assert_eq!(v["ModifyTime"], 0);
}

#[test]
fn model_round_trips_through_json() {
    let (w, d, _) = world_with_canary();
    let dep = w.deployment(d);
    let back: Deployment = serde_json::from_str(&serde_json::to_string(&dep).unwrap()).unwrap();
    assert_eq!(back, dep);
    let job = (*w.job("web")).clone();
    let back: Job = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
    assert_eq!(back, job);
    let a = (**w.state().deployment_allocs(&d).next().unwrap()).clone();
    let back: Allocation = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    assert_eq!(back, a);
}

/// 64 bytes that are not 64 ASCII characters: "é" (two bytes) straddles a digit pair, so
/// slicing by byte offsets would cut it and panic. Decoding must fail with an error.
fn hex_with_multibyte_char() -> String {
    let s = format!("\"{}é{}\"", "0".repeat(61), "0");
    assert_eq!(s.len(), 64 + 2);
    s
}

#[test]
fn entropy_hex_with_multibyte_char_is_an_error_not_a_panic() {
    let err =
        serde_json::from_str::<rollout_engine::Entropy>(&hex_with_multibyte_char()).unwrap_err();
    assert!(err.to_string().contains("hex"), "{err}");
}

#[test]
fn secret_hash_hex_with_multibyte_char_is_an_error_not_a_panic() {
    let err = serde_json::from_str::<rollout_engine::acl::SecretHash>(&hex_with_multibyte_char())
        .unwrap_err();
    assert!(err.to_string().contains("hex"), "{err}");
}

#[test]
fn entropy_and_secret_hash_hex_round_trip() {
    let e = rollout_engine::Entropy(std::array::from_fn(|i| (i * 37) as u8));
    let json = serde_json::to_string(&e).unwrap();
    assert_eq!(
        json,
        "\"00254a6f94b9de03284d7297bce1062b50759abfe4092e53789dc2e70c31567b\""
    );
    assert_eq!(
        serde_json::from_str::<rollout_engine::Entropy>(&json).unwrap(),
        e
    );
    // Upper-case digits are hex too.
    let upper = json.to_uppercase();
    assert_eq!(
        serde_json::from_str::<rollout_engine::Entropy>(&upper).unwrap(),
        e
    );
    let h = rollout_engine::acl::SecretHash(e.0);
    assert_eq!(serde_json::to_string(&h).unwrap(), json);
    assert_eq!(
        serde_json::from_str::<rollout_engine::acl::SecretHash>(&json).unwrap(),
        h
    );
    for bad in [
        "\"00\"",
        "\"zz254a6f94b9de03284d7297bce1062b50759abfe4092e53789dc2e70c31567b\"",
    ] {
        assert!(
            serde_json::from_str::<rollout_engine::Entropy>(bad).is_err(),
            "{bad}"
        );
    }
}
