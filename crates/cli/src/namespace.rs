//! `rollout namespace list|status|apply|delete`, as Nomad's `nomad namespace …`, over
//! the namespace API of `docs/http-api.md` R11 (NS1–NS3). Writes need a management
//! token when ACLs are on; the agent's refusals are printed as Nomad prints them
//! (`Error deleting namespace: Unexpected response code: 409 (…)`).

use crate::client::{encode, ClientError};
use crate::operator::{str_of, CmdResult, Context, Ctx, Failure, OperatorArgs};
use crate::output::{key_values, or_none, Cell, Style, Table};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};
use std::io::Read;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct NamespaceArgs {
    #[command(flatten)]
    op: OperatorArgs,
    #[command(subcommand)]
    command: NamespaceCommand,
}

#[derive(Debug, Subcommand)]
enum NamespaceCommand {
    /// List the namespaces (those the token may do anything in), by name.
    List,
    /// Show a namespace, by name or unique prefix.
    Status {
        /// The namespace's name, or the start of it.
        name: String,
    },
    /// Create or update a namespace: by name (with -description, -quota), or from a
    /// specification file (HCL or JSON; `-` reads stdin).
    ///
    /// When the argument is a file, the flags are ignored (as Nomad's, with a warning).
    Apply {
        /// The namespace's description.
        #[arg(long)]
        description: Option<String>,
        /// The quota to attach (stored; rollout enforces none).
        #[arg(long)]
        quota: Option<String>,
        /// A namespace name, or a specification file (`*.hcl`, `*.json`, `-`).
        input: String,
    },
    /// Delete a namespace (refused for `default` and while it holds a live job).
    Delete {
        /// The namespace's name.
        name: String,
    },
}

pub fn main(args: NamespaceArgs) -> ExitCode {
    let command = args.command;
    args.op
        .run(move |ctx| async move { run(&ctx, command).await })
}

async fn run(ctx: &Ctx, command: NamespaceCommand) -> CmdResult {
    let writes = matches!(
        command,
        NamespaceCommand::Apply { .. } | NamespaceCommand::Delete { .. }
    );
    if writes && ctx.dry_run {
        // The agent has no dry run of namespace writes: never write when asked not to.
        return Err(Failure::usage(
            "--dry-run is not supported for namespace writes (the agent has no dry run of them)",
        ));
    }
    match command {
        NamespaceCommand::List => {
            let list = ctx.read("/v1/namespaces", "retrieving namespaces").await?;
            ctx.print(&list, |list| {
                list_text(
                    list.as_array().map(Vec::as_slice).unwrap_or_default(),
                    &ctx.style,
                )
            });
            Ok(())
        }
        NamespaceCommand::Status { name } => {
            let ns = find(ctx, &name).await?;
            ctx.print(&ns, |ns| status_text(ns, &ctx.style));
            Ok(())
        }
        NamespaceCommand::Apply {
            description,
            quota,
            input,
        } => apply(ctx, &input, description, quota).await,
        NamespaceCommand::Delete { name } => {
            if name.is_empty() {
                return Err(Failure::msg("Namespace name required"));
            }
            ctx.client
                .delete(&format!("/v1/namespace/{}", encode(&name)))
                .await
                .doing("deleting namespace")?;
            if !ctx.json {
                crate::output::emit(format!("Successfully deleted namespace {name:?}!"));
            }
            Ok(())
        }
    }
}

/// Nomad's `namespace list`: `Name  Description`, by name; `No namespaces found`.
pub fn list_text(namespaces: &[Value], style: &Style) -> String {
    if namespaces.is_empty() {
        return "No namespaces found".into();
    }
    let mut sorted: Vec<&Value> = namespaces.iter().collect();
    sorted.sort_by(|a, b| str_of(a, "Name").cmp(str_of(b, "Name")));
    let mut t = Table::new(&["Name", "Description"]);
    for ns in sorted {
        t.row(vec![
            or_none(str_of(ns, "Name")),
            or_none(str_of(ns, "Description")),
        ]);
    }
    t.render(style)
}

/// Nomad's `namespace status`: name, description, quota; the task drivers when the
/// namespace limits them, and its metadata.
pub fn status_text(ns: &Value, style: &Style) -> String {
    let mut rows = vec![
        ("Name", or_none(str_of(ns, "Name"))),
        ("Description", or_none(str_of(ns, "Description"))),
        ("Quota", or_none(str_of(ns, "Quota"))),
    ];
    let caps = &ns["Capabilities"];
    if caps.is_object() {
        let drivers = |key: &str| {
            caps[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        };
        let enabled = drivers("EnabledTaskDrivers");
        rows.push((
            "EnabledDrivers",
            if enabled.is_empty() {
                "*".into()
            } else {
                enabled.into()
            },
        ));
        rows.push(("DisabledDrivers", or_none(&drivers("DisabledTaskDrivers"))));
    }
    let mut out = key_values(&rows, style);
    if let Some(meta) = ns["Meta"].as_object().filter(|m| !m.is_empty()) {
        let rows: Vec<(&str, Cell)> = meta
            .iter()
            .map(|(k, v)| (k.as_str(), or_none(&crate::output::text(v))))
            .collect();
        out.push_str("\n\nMetadata\n");
        out.push_str(&key_values(&rows, style));
    }
    out
}

/// The namespace named `name`, else the only one whose name starts with it.
async fn find(ctx: &Ctx, name: &str) -> Result<Value, Failure> {
    let list = ctx
        .read(
            &format!("/v1/namespaces?prefix={}", encode(name)),
            "retrieving namespaces",
        )
        .await?;
    let list = list.as_array().cloned().unwrap_or_default();
    if let Some(exact) = list.iter().find(|n| str_of(n, "Name") == name) {
        return Ok(exact.clone());
    }
    match list.as_slice() {
        [] => Err(Failure::new(
            "retrieving namespaces",
            format!("Namespace {name:?} matched no namespaces"),
        )),
        [one] => Ok(one.clone()),
        many => Err(Failure::msg(format!(
            "Prefix matched multiple namespaces\n\n{}",
            list_text(many, &Style::default())
        ))),
    }
}

async fn apply(
    ctx: &Ctx,
    input: &str,
    description: Option<String>,
    quota: Option<String>,
) -> CmdResult {
    let is_file = input == "-" || std::path::Path::new(input).is_file();
    let ns = if is_file {
        if description.is_some() || quota.is_some() {
            eprintln!("Flags are ignored when a file is specified!");
        }
        let text = read_input(input)?;
        spec_from_text(&text)
            .map_err(|e| Failure::msg(format!("Error parsing namespace specification: {e}")))?
    } else {
        if input.is_empty() {
            return Err(Failure::msg("Namespace name required"));
        }
        // An update keeps what is not given (Nomad reads the namespace first).
        let mut ns = match ctx
            .client
            .get(&format!("/v1/namespace/{}", encode(input)))
            .await
        {
            Ok(r) => r.json().doing("looking up namespace")?,
            Err(ClientError::Status { code: 404, .. }) => json!({"Name": input}),
            Err(e) => return Err(Failure::new("looking up namespace", e)),
        };
        if let Some(d) = description {
            ns["Description"] = json!(d);
        }
        if let Some(q) = quota {
            ns["Quota"] = json!(q);
        }
        ns
    };
    let name = str_of(&ns, "Name").to_owned();
    if name.is_empty() {
        return Err(Failure::msg("Namespace name required"));
    }
    ctx.client
        .put(&format!("/v1/namespace/{}", encode(&name)), &ns)
        .await
        .doing("applying namespace")?;
    if !ctx.json {
        crate::output::emit(format!("Successfully applied namespace {name:?}!"));
    }
    Ok(())
}

fn read_input(input: &str) -> Result<String, Failure> {
    let mut text = String::new();
    let read = if input == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(input).map(|t| text = t)
    };
    read.map_err(|e| {
        let what = if input == "-" {
            "Failed to read stdin"
        } else {
            "Failed to read file"
        };
        Failure::msg(format!("{what}: {e}"))
    })?;
    Ok(text)
}

/// A namespace specification as the API's JSON: Nomad's JSON namespace as it is, or its
/// HCL form (`name = "team"`, `description = …`, `quota = …`, `meta { … }`,
/// `capabilities { enabled_task_drivers = […] }`) with the keys named as the API names
/// them.
pub fn spec_from_text(text: &str) -> Result<Value, String> {
    if rollout_jobspec::is_json(text) {
        let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        return match v {
            Value::Object(_) => Ok(v),
            _ => Err("the specification must be an object".into()),
        };
    }
    let v: Value = hcl::from_str(text).map_err(|e| e.to_string())?;
    let Value::Object(top) = v else {
        return Err("root should be an object".into());
    };
    let mut out = Map::new();
    for (k, v) in top {
        let key = match k.as_str() {
            "node_pool_config" => "NodePoolConfiguration".to_owned(),
            "vault" => "VaultConfiguration".to_owned(),
            "consul" => "ConsulConfiguration".to_owned(),
            other => pascal(other),
        };
        // Blocks decode as objects (or lists of them when repeated); the first counts.
        let v = match v {
            Value::Array(items) if k != "meta" && items.iter().all(Value::is_object) => {
                items.into_iter().next().unwrap_or(Value::Null)
            }
            v => v,
        };
        let v = if k == "meta" { v } else { pascal_keys(v) };
        out.insert(key, v);
    }
    Ok(Value::Object(out))
}

/// `enabled_task_drivers` → `EnabledTaskDrivers`.
fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn pascal_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (pascal(&k), pascal_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(pascal_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_specifications_use_the_apis_names() {
        let spec = spec_from_text(
            "name = \"team\"\ndescription = \"The team\"\nmeta {\n  owner_name = \"x\"\n}\ncapabilities {\n  enabled_task_drivers = [\"docker\"]\n}\n",
        )
        .unwrap();
        assert_eq!(
            spec,
            json!({"Name": "team", "Description": "The team", "Meta": {"owner_name": "x"},
                   "Capabilities": {"EnabledTaskDrivers": ["docker"]}})
        );
        let spec = spec_from_text(r#"{"Name": "team", "Description": "d"}"#).unwrap();
        assert_eq!(spec, json!({"Name": "team", "Description": "d"}));
        assert!(spec_from_text("[1]").is_err());
        assert!(spec_from_text("name = ").is_err());
    }

    #[test]
    fn namespaces_print_like_nomad() {
        let style = Style::default();
        assert_eq!(list_text(&[], &style), "No namespaces found");
        let list = [
            json!({"Name": "team", "Description": "The team"}),
            json!({"Name": "default", "Description": "Default shared namespace"}),
        ];
        assert_eq!(
            list_text(&list, &style),
            "Name     Description\ndefault  Default shared namespace\nteam     The team"
        );
        assert_eq!(
            status_text(
                &json!({"Name": "team", "Description": "d", "Meta": {"a": "b"}}),
                &style
            ),
            "Name        = team\nDescription = d\nQuota       = <none>\n\nMetadata\na = b"
        );
    }
}
