//! The corpus: a jobspec per family of blocks, parsed and compared with snapshots of
//! the API JSON, and the JSON Nomad documents for its `nomad init` example.

use rollout_jobspec::{parse, Options};
use serde_json::{json, Value};
use std::path::Path;

fn corpus(name: &str, options: &Options) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    match parse(name, &text, options) {
        Ok(job) => job,
        Err(e) => panic!("{name}:\n{e}"),
    }
}

#[test]
fn the_init_example_parses_to_the_json_nomad_documents() {
    let job = corpus("example.nomad.hcl", &Options::default());
    // The fields Nomad's JSON-jobs page shows for `nomad job run -output` of this job
    // (its nulls are the fields the jobspec leaves unset, which rollout omits).
    assert_eq!(job["ID"], "example");
    assert_eq!(job["Name"], "example");
    assert_eq!(job["Type"], "service");
    assert_eq!(job["NodePool"], "prod");
    assert_eq!(job["Datacenters"], json!(["dc1"]));
    let group = &job["TaskGroups"][0];
    assert_eq!(group["Name"], "cache");
    assert_eq!(group["Count"], 1);
    assert_eq!(
        group["Networks"],
        json!([{"DynamicPorts": [{"Label": "db", "Value": 0, "To": 6379, "HostNetwork": "default"}]}])
    );
    let task = &group["Tasks"][0];
    assert_eq!(task["Name"], "redis");
    assert_eq!(task["Driver"], "docker");
    assert_eq!(
        task["Config"],
        json!({"auth_soft_fail": true, "image": "redis:7", "ports": ["db"]})
    );
    assert_eq!(task["Resources"], json!({"CPU": 500, "MemoryMB": 256}));
    assert_eq!(task["Identity"], json!({"Env": true, "File": true}));
}

#[test]
fn every_service_block_maps_to_its_api_field() {
    insta::assert_json_snapshot!("service", corpus("service.nomad.hcl", &Options::default()));
}

#[test]
fn every_batch_periodic_and_storage_block_maps_to_its_api_field() {
    insta::assert_json_snapshot!("batch", corpus("batch.nomad.hcl", &Options::default()));
}

#[test]
fn hcl2_variables_locals_functions_and_dynamic_blocks_evaluate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let options = Options {
        var_files: vec![(
            "hcl2.vars.hcl".into(),
            std::fs::read_to_string(dir.join("hcl2.vars.hcl")).unwrap(),
        )],
        vars: vec![("count".into(), "3".into())],
        base_dir: Some(dir),
        ..Options::default()
    };
    let job = corpus("hcl2.nomad.hcl", &options);
    insta::assert_json_snapshot!("hcl2", job);
}

/// Every key path of `parsed` that is missing from `kept`.
fn lost(parsed: &Value, kept: &Value, path: &str, out: &mut Vec<String>) {
    match (parsed, kept) {
        (Value::Object(p), Value::Object(k)) => {
            for (key, v) in p {
                let here = format!("{path}.{key}");
                match k.get(key) {
                    Some(kv) => lost(v, kv, &here, out),
                    None => out.push(here),
                }
            }
        }
        (Value::Array(p), Value::Array(k)) => {
            for (i, v) in p.iter().enumerate() {
                match k.get(i) {
                    Some(kv) => lost(v, kv, &format!("{path}[{i}]"), out),
                    None => out.push(format!("{path}[{i}]")),
                }
            }
        }
        (p, k) if p == k => {}
        _ => out.push(format!("{path} (changed)")),
    }
}

#[test]
fn the_engine_keeps_every_field_the_parser_maps() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let options = Options {
        vars: vec![("image".into(), "app:1".into())],
        base_dir: Some(dir),
        ..Options::default()
    };
    let mut missing = Vec::new();
    for name in [
        "example.nomad.hcl",
        "service.nomad.hcl",
        "batch.nomad.hcl",
        "hcl2.nomad.hcl",
    ] {
        let with_vars = if name.starts_with("hcl2") {
            &options
        } else {
            &Options::default()
        };
        let parsed = corpus(name, with_vars);
        let job: rollout_engine::model::Job = serde_json::from_value(parsed.clone()).unwrap();
        let kept = serde_json::to_value(&job).unwrap();
        lost(&parsed, &kept, name, &mut missing);
    }
    assert_eq!(missing, Vec::<String>::new());
}
