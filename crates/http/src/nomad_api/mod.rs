//! The JSON shape of Nomad's `api` structs, for answers that are an `api.Job` as Nomad
//! encodes it: `POST /v1/jobs/parse` without `Canonicalize` (`http-api.md` §7.12).
//!
//! Nomad answers that endpoint with the `api.Job` the jobspec decoded into, so every
//! field of the struct is in the JSON: a pointer, slice or map the jobspec did not set
//! is `null`, a non-pointer its zero value (`""`, `0`, `false`), and only `omitempty`
//! fields are left out. rollout's jobspec parser emits only the fields the jobspec sets;
//! [`with_unset_fields`] adds the rest from a table generated from Nomad's Go source
//! (`shape.rs`, by `tools/nomad_api_shape.py`), so nothing is hand-copied.

mod shape;

use serde_json::Value;

/// One JSON field of a Nomad `api` struct.
#[derive(Debug)]
pub(crate) struct Field {
    name: &'static str,
    omitempty: bool,
    ty: Ty,
}

/// What a field holds, for what an unset one is and where to look further.
#[derive(Debug)]
pub(crate) enum Ty {
    /// A pointer, slice or map of non-structs, or an interface: `null` when unset.
    Null,
    /// A non-pointer scalar: its Go zero value when unset.
    Zero(Zero),
    /// A pointer to the named struct: `null` when unset, filled when set.
    Struct(&'static str),
    /// A slice of (pointers to) the named struct.
    List(&'static str),
    /// A map of (pointers to) the named struct.
    Map(&'static str),
}

#[derive(Debug)]
pub(crate) enum Zero {
    String,
    Bool,
    Number,
}

/// `job` (an `api.Job` as rollout's jobspec parser emits it) with every field Nomad's
/// encoding would add: `null` or the zero value where the jobspec set nothing, at every
/// level the jobspec did set. Fields Nomad does not know are kept as they are.
pub fn with_unset_fields(mut job: Value) -> Value {
    fill(&mut job, "Job");
    job
}

fn fields(name: &str) -> Option<&'static [Field]> {
    shape::STRUCTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, fields)| *fields)
}

fn fill(value: &mut Value, name: &str) {
    let (Some(fields), Value::Object(map)) = (fields(name), value) else {
        return;
    };
    for field in fields {
        match map.get_mut(field.name) {
            Some(set) => descend(set, &field.ty),
            None if field.omitempty => {}
            None => {
                map.insert(field.name.to_owned(), unset(&field.ty));
            }
        }
    }
}

fn descend(value: &mut Value, ty: &Ty) {
    match (ty, value) {
        (Ty::Struct(name), v) => fill(v, name),
        (Ty::List(name), Value::Array(items)) => items.iter_mut().for_each(|i| fill(i, name)),
        (Ty::Map(name), Value::Object(map)) => map.values_mut().for_each(|v| fill(v, name)),
        _ => {}
    }
}

fn unset(ty: &Ty) -> Value {
    match ty {
        Ty::Zero(Zero::String) => Value::String(String::new()),
        Ty::Zero(Zero::Bool) => Value::Bool(false),
        Ty::Zero(Zero::Number) => Value::from(0),
        Ty::Null | Ty::Struct(_) | Ty::List(_) | Ty::Map(_) => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_struct_named_by_a_field_is_in_the_table() {
        for (_, fields) in shape::STRUCTS {
            for f in *fields {
                if let Ty::Struct(n) | Ty::List(n) | Ty::Map(n) = f.ty {
                    assert!(super::fields(n).is_some(), "{n}");
                }
            }
        }
    }

    #[test]
    fn an_empty_job_is_all_nulls_and_zero_values() {
        let job = with_unset_fields(json!({"ID": "web", "Name": "web"}));
        assert_eq!(job["ID"], "web");
        assert_eq!(job["Region"], Value::Null);
        assert_eq!(job["TaskGroups"], Value::Null);
        assert_eq!(job["Dispatched"], false);
        assert!(job.as_object().unwrap().contains_key("Priority"));
    }

    #[test]
    fn set_structs_are_filled_at_every_level_and_omitempty_stays_out() {
        let job = with_unset_fields(json!({
            "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Config": {"image": "x"}}],
                            "Volumes": {"v": {"Type": "host"}}}]
        }));
        let group = &job["TaskGroups"][0];
        assert_eq!(group["Count"], Value::Null);
        assert_eq!(group["Volumes"]["v"]["ReadOnly"], false);
        let task = &group["Tasks"][0];
        assert_eq!(task["Driver"], "");
        assert_eq!(task["Leader"], false);
        assert_eq!(task["ShutdownDelay"], 0);
        assert_eq!(task["KillTimeout"], Value::Null);
        assert_eq!(
            task["Config"],
            json!({"image": "x"}),
            "maps are not structs"
        );
        assert!(!task.as_object().unwrap().contains_key("CSIPluginConfig"));
    }

    #[test]
    fn unknown_fields_and_unexpected_types_are_left_alone() {
        let job = with_unset_fields(json!({"Extra": 1, "TaskGroups": "odd"}));
        assert_eq!(job["Extra"], 1);
        assert_eq!(job["TaskGroups"], "odd");
    }
}

/// The jobspec parser's field names are Nomad's: every key it emits for a struct field is
/// a field of that struct (so filling adds no second spelling of a set field).
#[cfg(test)]
mod corpus {
    use super::*;
    use std::path::Path;

    fn unknown(value: &Value, name: &str, path: &str, out: &mut Vec<String>) {
        let (Some(fields), Value::Object(map)) = (fields(name), value) else {
            return;
        };
        for (key, v) in map {
            let here = format!("{path}.{key}");
            match fields.iter().find(|f| f.name == key) {
                None => out.push(format!("{here} (not in api.{name})")),
                Some(f) => match (&f.ty, v) {
                    (Ty::Struct(n), v) => unknown(v, n, &here, out),
                    (Ty::List(n), Value::Array(items)) => {
                        for (i, item) in items.iter().enumerate() {
                            unknown(item, n, &format!("{here}[{i}]"), out);
                        }
                    }
                    (Ty::Map(n), Value::Object(m)) => {
                        for (k, item) in m {
                            unknown(item, n, &format!("{here}.{k}"), out);
                        }
                    }
                    _ => {}
                },
            }
        }
    }

    #[test]
    fn the_parser_emits_only_fields_of_nomads_structs() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../jobspec/tests/corpus");
        let mut out = Vec::new();
        for name in [
            "example.nomad.hcl",
            "service.nomad.hcl",
            "batch.nomad.hcl",
            "hcl2.nomad.hcl",
        ] {
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            let options = if name.starts_with("hcl2") {
                rollout_jobspec::Options {
                    vars: vec![("image".into(), "app:1".into())],
                    base_dir: Some(dir.clone()),
                    ..Default::default()
                }
            } else {
                rollout_jobspec::Options::default()
            };
            let job = rollout_jobspec::parse(name, &text, &options).unwrap();
            unknown(&job, "Job", name, &mut out);
        }
        assert!(out.is_empty(), "{}", out.join("\n"));
    }

    /// A client may send the answer back to register it: decoded as a register body is
    /// and canonicalized as registration does, the nulls and zero values give the job
    /// the jobspec alone gives (Go clients send every zero value anyway).
    #[test]
    fn the_filled_job_decodes_to_the_same_job() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../jobspec/tests/corpus");
        for name in ["example.nomad.hcl", "service.nomad.hcl", "batch.nomad.hcl"] {
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            let job = rollout_jobspec::parse(name, &text, &Default::default()).unwrap();
            // As a register body is decoded: Go's rules, `null` is the zero value.
            let decode = |v: &Value| {
                let bytes = serde_json::to_vec(v).unwrap();
                let mut job = crate::decode::from_slice::<rollout_engine::model::Job>(&bytes)
                    .unwrap_or_else(|e| panic!("{name}: {e:?}"));
                rollout_engine::job::canonicalize(&mut job);
                job
            };
            let plain = decode(&job);
            let filled = decode(&with_unset_fields(job));
            // Opaque blocks (networks, identities) keep the zero values as sent, as they
            // do from Go clients, which send every field: equal up to Go's zero values.
            assert_eq!(
                without_zero_values(serde_json::to_value(&filled).unwrap()),
                without_zero_values(serde_json::to_value(&plain).unwrap()),
                "{name}"
            );
        }
    }

    fn without_zero_values(value: Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, without_zero_values(v)))
                    .filter(|(_, v)| {
                        !matches!(v, Value::Null | Value::Bool(false))
                            && v != &Value::from(0)
                            && v != &Value::from("")
                    })
                    .collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(without_zero_values).collect())
            }
            other => other,
        }
    }
}
