//! `rollout job plan`'s view of a `JobPlanResponse`, laid out as Nomad's `job plan`
//! prints it: the diff (`+` added, `-` deleted, `+/-` edited), the scheduler dry-run,
//! and the `-check-index` hint.

use serde_json::Value;

/// The marker of a diff type.
fn marker(kind: &str) -> &'static str {
    match kind {
        "Added" => "+",
        "Deleted" => "-",
        "Edited" => "+/-",
        _ => "",
    }
}

fn line(out: &mut String, indent: usize, kind: &str, text: &str) {
    let m = marker(kind);
    out.push_str(&" ".repeat(indent));
    if !m.is_empty() {
        out.push_str(m);
        out.push(' ');
    }
    out.push_str(text);
    out.push('\n');
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// Whether to list the contents of an object of this diff type.
fn shows_contents(kind: &str, verbose: bool) -> bool {
    verbose || kind == "Edited"
}

fn fields(out: &mut String, indent: usize, fields: &[Value]) {
    let width = fields.iter().map(|f| s(f, "Name").len()).max().unwrap_or(0);
    for f in fields {
        let kind = s(f, "Type");
        let name = format!("{:width$}", s(f, "Name"));
        let text = match kind {
            "Added" => format!("{name}: {:?}", s(f, "New")),
            "Deleted" => format!("{name}: {:?}", s(f, "Old")),
            "Edited" => format!("{name}: {:?} => {:?}", s(f, "Old"), s(f, "New")),
            _ => format!("{name}: {:?}", s(f, "New")),
        };
        let text = match f["Annotations"].as_array() {
            Some(a) if !a.is_empty() => {
                let notes: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
                format!("{text} ({})", notes.join(", "))
            }
            _ => text,
        };
        line(out, indent, kind, &text);
    }
}

fn objects(out: &mut String, indent: usize, objects: &[Value]) {
    for o in objects {
        let kind = s(o, "Type");
        line(out, indent, kind, &format!("{} {{", s(o, "Name")));
        fields(out, indent + 2, list(&o["Fields"]));
        self::objects(out, indent + 2, list(&o["Objects"]));
        let pad = indent + marker(kind).len() + usize::from(!marker(kind).is_empty());
        out.push_str(&" ".repeat(pad));
        out.push_str("}\n");
    }
}

fn updates(group: &Value) -> String {
    let Some(u) = group["Updates"].as_object().filter(|u| !u.is_empty()) else {
        return String::new();
    };
    let parts: Vec<String> = u
        .iter()
        .map(|(k, n)| format!("{} {k}", n.as_u64().unwrap_or(0)))
        .collect();
    format!(" ({})", parts.join(", "))
}

/// The diff part of the view.
pub fn diff_text(diff: &Value, verbose: bool) -> String {
    let mut out = String::new();
    let kind = s(diff, "Type");
    line(&mut out, 0, kind, &format!("Job: {:?}", s(diff, "ID")));
    if shows_contents(kind, verbose) {
        fields(&mut out, 0, list(&diff["Fields"]));
        objects(&mut out, 0, list(&diff["Objects"]));
    }
    for g in list(&diff["TaskGroups"]) {
        let gkind = s(g, "Type");
        line(
            &mut out,
            0,
            gkind,
            &format!("Task Group: {:?}{}", s(g, "Name"), updates(g)),
        );
        if shows_contents(gkind, verbose) {
            fields(&mut out, 2, list(&g["Fields"]));
            objects(&mut out, 2, list(&g["Objects"]));
        }
        for t in list(&g["Tasks"]) {
            let tkind = s(t, "Type");
            if tkind == "None" && !verbose {
                continue;
            }
            let notes: Vec<&str> = list(&t["Annotations"])
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join(", "))
            };
            line(
                &mut out,
                2,
                tkind,
                &format!("Task: {:?}{notes}", s(t, "Name")),
            );
            if shows_contents(tkind, verbose) {
                fields(&mut out, 4, list(&t["Fields"]));
                objects(&mut out, 4, list(&t["Objects"]));
            }
        }
    }
    out
}

/// The whole view: diff, dry-run and the hint naming `file`.
pub fn plan_text(resp: &Value, file: &str, verbose: bool) -> String {
    let mut out = String::new();
    if resp["Diff"].is_object() {
        out.push_str(&diff_text(&resp["Diff"], verbose));
        out.push('\n');
    }
    out.push_str("Scheduler dry-run:\n");
    match resp["FailedTGAllocs"].as_object().filter(|f| !f.is_empty()) {
        None => out.push_str("- All tasks successfully allocated.\n"),
        Some(failed) => {
            for group in failed.keys() {
                out.push_str(&format!(
                    "- WARNING: Failed to place all allocations.\n  Task Group {group:?}\n"
                ));
            }
        }
    }
    let warnings = s(resp, "Warnings");
    if !warnings.is_empty() {
        out.push_str(&format!("\nJob Warnings:\n{}", warnings.trim_end()));
        out.push('\n');
    }
    let index = resp["JobModifyIndex"].as_u64().unwrap_or(0);
    out.push_str(&format!(
        "\nJob Modify Index: {index}\n\
         To submit the job with version verification run:\n\n\
         rollout job run -check-index {index} {file}\n\n\
         When running the job with the check-index flag, the job will only be run if the\n\
         job modify index given matches the server-side version. If the index has\n\
         changed, another user has modified the job and the plan's results are\n\
         potentially invalid."
    ));
    out
}

/// Nomad's exit code of `job plan`: 1 when allocations would be created, destroyed or
/// replaced, or the spec changes; else 0.
pub fn exit_code(resp: &Value) -> u8 {
    let moves = resp["Annotations"]["DesiredTGUpdates"]
        .as_object()
        .is_some_and(|groups| {
            groups.values().any(|u| {
                [
                    "Place",
                    "Stop",
                    "Migrate",
                    "DestructiveUpdate",
                    "Canary",
                    "InPlaceUpdate",
                ]
                .iter()
                .any(|k| u[*k].as_u64().unwrap_or(0) > 0)
            })
        });
    let changed = resp["Diff"]["Type"].as_str().is_some_and(|t| t != "None");
    u8::from(moves || changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_edited_task_shows_its_fields_and_the_group_its_counts() {
        let resp = json!({
            "Diff": {"Type": "Edited", "ID": "web", "TaskGroups": [{
                "Type": "Edited", "Name": "web", "Updates": {"canary": 1, "ignore": 2},
                "Tasks": [{"Type": "Edited", "Name": "app", "Annotations": ["forces create/destroy update"],
                    "Objects": [{"Type": "Edited", "Name": "Config", "Fields": [
                        {"Type": "Edited", "Name": "image", "Old": "app:1", "New": "app:2"}]}]}]}]},
            "Annotations": {"DesiredTGUpdates": {"web": {"Canary": 1, "Ignore": 2}}},
            "JobModifyIndex": 7
        });
        let text = plan_text(&resp, "web.nomad.hcl", false);
        assert!(text.starts_with(
            "+/- Job: \"web\"\n+/- Task Group: \"web\" (1 canary, 2 ignore)\n  +/- Task: \"app\" (forces create/destroy update)\n    +/- Config {\n      +/- image: \"app:1\" => \"app:2\"\n        }\n"
        ), "{text}");
        assert!(text.contains("rollout job run -check-index 7 web.nomad.hcl"));
        assert_eq!(exit_code(&resp), 1);
        let none = json!({"Diff": {"Type": "None", "ID": "web"}, "Annotations": {"DesiredTGUpdates": {"web": {"Ignore": 2}}}});
        assert_eq!(exit_code(&none), 0);
    }
}
