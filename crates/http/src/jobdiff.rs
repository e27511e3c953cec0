//! Job diffs as Nomad's API shows them (`structs.JobDiff`): what `job plan` and
//! `versions?diffs=true` report between two versions of a job.
//!
//! The diff works on the jobs' JSON (the canonical job as stored), so every field is
//! compared without listing them: a primitive field is a `FieldDiff`; an object (a
//! block, `Meta`, a driver's `Config`) an `ObjectDiff` whose fields are its leaves,
//! flattened (`args[0]`, `port_map.http`); a list of strings (`Datacenters`, `Tags`) an
//! `ObjectDiff` of its added and removed elements; a list of objects (`Constraints`,
//! `Services`) an `ObjectDiff` per element, matched by position. Groups and tasks are
//! matched by name. Only differences are listed (Nomad's non-contextual diff).

use rollout_engine::model::Job;
use rollout_engine::planner::DesiredUpdates;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// `Added`, `Deleted`, `Edited` or `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DiffType {
    Added,
    Deleted,
    Edited,
    None,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FieldDiff {
    #[serde(rename = "Type")]
    pub kind: DiffType,
    pub name: String,
    pub old: String,
    pub new: String,
    pub annotations: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectDiff {
    #[serde(rename = "Type")]
    pub kind: DiffType,
    pub name: String,
    pub fields: Option<Vec<FieldDiff>>,
    pub objects: Option<Vec<ObjectDiff>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskDiff {
    #[serde(rename = "Type")]
    pub kind: DiffType,
    pub name: String,
    pub fields: Option<Vec<FieldDiff>>,
    pub objects: Option<Vec<ObjectDiff>>,
    pub annotations: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskGroupDiff {
    #[serde(rename = "Type")]
    pub kind: DiffType,
    pub name: String,
    pub fields: Option<Vec<FieldDiff>>,
    pub objects: Option<Vec<ObjectDiff>>,
    pub tasks: Option<Vec<TaskDiff>>,
    /// `{"create/destroy update": 1, "ignore": 2}`: only `job plan` fills it.
    pub updates: Option<BTreeMap<String, u64>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobDiff {
    #[serde(rename = "Type")]
    pub kind: DiffType,
    #[serde(rename = "ID")]
    pub id: String,
    pub fields: Option<Vec<FieldDiff>>,
    pub objects: Option<Vec<ObjectDiff>>,
    pub task_groups: Option<Vec<TaskGroupDiff>>,
}

/// Bookkeeping fields that are never part of a diff (Nomad skips the same ones).
const JOB_SKIPPED: &[&str] = &[
    "ID",
    "Status",
    "StatusDescription",
    "Version",
    "Stable",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "SubmitTime",
    "NomadTokenID",
    "TaskGroups",
    "Update",
];
const GROUP_SKIPPED: &[&str] = &["Name", "Tasks"];
const TASK_SKIPPED: &[&str] = &["Name"];

/// The diff from `old` (none: a new job) to `new` (none: a job going away). `updates`
/// are the plan's per-group counts, which also decide the task annotations.
pub fn job_diff(
    old: Option<&Job>,
    new: Option<&Job>,
    updates: Option<&BTreeMap<String, DesiredUpdates>>,
) -> JobDiff {
    let o = old.map(to_object).unwrap_or_default();
    let n = new.map(to_object).unwrap_or_default();
    let id = new.or(old).map(|j| j.id.clone()).unwrap_or_default();
    let (fields, objects) = diff_members(&o, &n, JOB_SKIPPED);
    let groups = diff_named(&o, &n, "TaskGroups", |name, og, ng| {
        group_diff(name, og, ng, updates.and_then(|u| u.get(name)))
    });
    let kind = overall(old.is_some(), new.is_some(), || {
        !fields.is_empty() || !objects.is_empty() || groups.iter().any(|g| g.kind != DiffType::None)
    });
    JobDiff {
        kind,
        id,
        fields: non_empty(fields),
        objects: non_empty(objects),
        task_groups: non_empty(groups),
    }
}

fn group_diff(
    name: &str,
    o: Option<&Map<String, Value>>,
    n: Option<&Map<String, Value>>,
    updates: Option<&DesiredUpdates>,
) -> TaskGroupDiff {
    let empty = Map::new();
    let (fields, objects) = diff_members(o.unwrap_or(&empty), n.unwrap_or(&empty), GROUP_SKIPPED);
    let annotation = updates.and_then(task_annotation);
    let tasks = diff_named(
        o.unwrap_or(&empty),
        n.unwrap_or(&empty),
        "Tasks",
        |tname, ot, nt| {
            let (fields, objects) =
                diff_members(ot.unwrap_or(&empty), nt.unwrap_or(&empty), TASK_SKIPPED);
            let kind = overall(ot.is_some(), nt.is_some(), || {
                !fields.is_empty() || !objects.is_empty()
            });
            let annotations = match kind {
                DiffType::Added => Some(vec!["forces create".to_owned()]),
                DiffType::Deleted => Some(vec!["forces destroy".to_owned()]),
                DiffType::Edited => annotation.clone().map(|a| vec![a]),
                DiffType::None => None,
            };
            TaskDiff {
                kind,
                name: tname.to_owned(),
                fields: non_empty(fields),
                objects: non_empty(objects),
                annotations,
            }
        },
    );
    let kind = overall(o.is_some(), n.is_some(), || {
        !fields.is_empty() || !objects.is_empty() || tasks.iter().any(|t| t.kind != DiffType::None)
    });
    TaskGroupDiff {
        kind,
        name: name.to_owned(),
        fields: non_empty(fields),
        objects: non_empty(objects),
        tasks: non_empty(tasks),
        updates: updates.map(update_counts).filter(|u| !u.is_empty()),
    }
}

/// Nomad's names for the plan's counts, zeros left out.
pub fn update_counts(u: &DesiredUpdates) -> BTreeMap<String, u64> {
    [
        ("create", u.place),
        ("canary", u.canary),
        ("create/destroy update", u.destructive_update),
        ("in-place update", u.in_place_update),
        ("destroy", u.stop),
        ("ignore", u.ignore),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(k, n)| (k.to_owned(), n))
    .collect()
}

fn task_annotation(u: &DesiredUpdates) -> Option<String> {
    if u.destructive_update > 0 || u.canary > 0 {
        Some("forces create/destroy update".to_owned())
    } else if u.in_place_update > 0 {
        Some("forces in-place update".to_owned())
    } else {
        None
    }
}

fn overall(had: bool, has: bool, changed: impl FnOnce() -> bool) -> DiffType {
    match (had, has) {
        (false, true) => DiffType::Added,
        (true, false) => DiffType::Deleted,
        (false, false) => DiffType::None,
        (true, true) if changed() => DiffType::Edited,
        (true, true) => DiffType::None,
    }
}

fn to_object(job: &Job) -> Map<String, Value> {
    match serde_json::to_value(job) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// Elements of the list `key` in both objects, matched by `Name`.
fn diff_named<T>(
    o: &Map<String, Value>,
    n: &Map<String, Value>,
    key: &str,
    mut f: impl FnMut(&str, Option<&Map<String, Value>>, Option<&Map<String, Value>>) -> T,
) -> Vec<T> {
    let by_name = |m: &Map<String, Value>| -> BTreeMap<String, Map<String, Value>> {
        m.get(key)
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_object())
                    .map(|g| {
                        (
                            g.get("Name")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned(),
                            g.clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (old, new) = (by_name(o), by_name(n));
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    names
        .into_iter()
        .map(|name| f(name, old.get(name), new.get(name)))
        .collect()
}

/// Whether a value counts as absent (Nomad's diffs treat empty and unset alike).
fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(m)) => m.is_empty(),
        _ => false,
    }
}

fn primitive(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// The field and object diffs of two objects' members.
fn diff_members(
    o: &Map<String, Value>,
    n: &Map<String, Value>,
    skipped: &[&str],
) -> (Vec<FieldDiff>, Vec<ObjectDiff>) {
    let keys: BTreeSet<&String> = o
        .keys()
        .chain(n.keys())
        .filter(|k| !skipped.contains(&k.as_str()))
        .collect();
    let mut fields = Vec::new();
    let mut objects = Vec::new();
    for key in keys {
        let (ov, nv) = (o.get(key), n.get(key));
        if is_empty(ov) && is_empty(nv) {
            continue;
        }
        let sample = nv.filter(|v| !is_empty(Some(v))).or(ov);
        match sample {
            Some(v) if primitive(v) => {
                if let Some(f) = field(key, ov, nv) {
                    fields.push(f);
                }
            }
            Some(Value::Array(items)) if items.iter().all(primitive) => {
                if let Some(d) = set_diff(key, ov, nv) {
                    objects.push(d);
                }
            }
            Some(Value::Array(_)) => objects.extend(list_diff(key, ov, nv)),
            Some(Value::Object(_)) => {
                if let Some(d) = object_diff(key, ov, nv) {
                    objects.push(d);
                }
            }
            _ => {}
        }
    }
    (fields, objects)
}

fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn field(name: &str, o: Option<&Value>, n: Option<&Value>) -> Option<FieldDiff> {
    let (old, new) = (text(o), text(n));
    let kind = match (old.is_empty(), new.is_empty()) {
        _ if old == new => return None,
        (true, false) => DiffType::Added,
        (false, true) => DiffType::Deleted,
        _ => DiffType::Edited,
    };
    Some(FieldDiff {
        kind,
        name: name.to_owned(),
        old,
        new,
        annotations: None,
    })
}

fn kind_of(o: Option<&Value>, n: Option<&Value>) -> DiffType {
    match (is_empty(o), is_empty(n)) {
        (true, false) => DiffType::Added,
        (false, true) => DiffType::Deleted,
        _ => DiffType::Edited,
    }
}

/// A list of strings: the elements added and removed.
fn set_diff(name: &str, o: Option<&Value>, n: Option<&Value>) -> Option<ObjectDiff> {
    let items = |v: Option<&Value>| -> BTreeSet<String> {
        v.and_then(Value::as_array)
            .map(|l| l.iter().map(|x| text(Some(x))).collect())
            .unwrap_or_default()
    };
    let (old, new) = (items(o), items(n));
    let mut fields: Vec<FieldDiff> = Vec::new();
    for added in new.difference(&old) {
        fields.push(FieldDiff {
            kind: DiffType::Added,
            name: name.to_owned(),
            old: String::new(),
            new: added.clone(),
            annotations: None,
        });
    }
    for removed in old.difference(&new) {
        fields.push(FieldDiff {
            kind: DiffType::Deleted,
            name: name.to_owned(),
            old: removed.clone(),
            new: String::new(),
            annotations: None,
        });
    }
    if fields.is_empty() {
        return None;
    }
    Some(ObjectDiff {
        kind: kind_of(o, n),
        name: name.to_owned(),
        fields: Some(fields),
        objects: None,
    })
}

/// `Constraints` → `Constraint`, `Affinities` → `Affinity`.
fn singular(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = name.strip_suffix('s') {
        stem.to_owned()
    } else {
        name.to_owned()
    }
}

fn list_diff(name: &str, o: Option<&Value>, n: Option<&Value>) -> Vec<ObjectDiff> {
    let items = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
    let (old, new) = (items(o), items(n));
    let element = singular(name);
    (0..old.len().max(new.len()))
        .filter_map(|i| object_diff(&element, old.get(i), new.get(i)))
        .collect()
}

/// An object's leaves, flattened: `{"a": {"b": [1]}}` → `a.b[0] = 1`.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, v, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        Value::Null => {}
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}

fn object_diff(name: &str, o: Option<&Value>, n: Option<&Value>) -> Option<ObjectDiff> {
    if is_empty(o) && is_empty(n) {
        return None;
    }
    let leaves = |v: Option<&Value>| {
        let mut out = BTreeMap::new();
        if let Some(v) = v {
            flatten("", v, &mut out);
        }
        out
    };
    let (old, new) = (leaves(o), leaves(n));
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let fields: Vec<FieldDiff> = keys
        .into_iter()
        .filter_map(|k| field(k, old.get(k), new.get(k)))
        .collect();
    if fields.is_empty() {
        return None;
    }
    Some(ObjectDiff {
        kind: kind_of(o, n),
        name: name.to_owned(),
        fields: Some(fields),
        objects: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollout_engine::model::{Task, TaskGroup};
    use serde_json::json;

    fn job(image: &str, count: i64) -> Job {
        Job {
            id: "web".into(),
            datacenters: Some(vec!["dc1".into()]),
            task_groups: vec![TaskGroup {
                name: "web".into(),
                count: Some(count),
                tasks: vec![Task {
                    name: "app".into(),
                    driver: "docker".into(),
                    config: Some(json!({"image": image})),
                    ..Task::default()
                }],
                ..TaskGroup::default()
            }],
            ..Job::default()
        }
    }

    #[test]
    fn an_unchanged_job_diffs_to_none_and_a_new_one_to_added() {
        assert_eq!(
            job_diff(Some(&job("a", 1)), Some(&job("a", 1)), None).kind,
            DiffType::None
        );
        let added = job_diff(None, Some(&job("a", 1)), None);
        assert_eq!(added.kind, DiffType::Added);
        assert_eq!(added.task_groups.unwrap()[0].kind, DiffType::Added);
    }

    #[test]
    fn edits_are_listed_per_group_task_and_field() {
        let d = job_diff(Some(&job("a", 1)), Some(&job("b", 2)), None);
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["Type"], "Edited");
        let g = &v["TaskGroups"][0];
        assert_eq!(
            g["Fields"][0],
            json!({"Type": "Edited", "Name": "Count", "Old": "1", "New": "2", "Annotations": null})
        );
        let t = &g["Tasks"][0];
        assert_eq!(t["Objects"][0]["Name"], "Config");
        assert_eq!(
            t["Objects"][0]["Fields"][0],
            json!({"Type": "Edited", "Name": "image", "Old": "a", "New": "b", "Annotations": null})
        );
    }
}
