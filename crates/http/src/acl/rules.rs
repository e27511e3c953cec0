//! Policy `Rules` text → the engine's [`PolicyRules`] document (`http-api.md` §8.4).
//!
//! Nomad's rules are HCL (v1) or HCL's JSON form (text starting with `{`). There is no
//! maintained HCL1 parser in Rust, so HCL is read with `hcl-rs`, a maintained HCL2
//! parser, after [`hcl1::normalize`] has rewritten HCL1's item boundaries as HCL2's
//! (`namespace "x" { policy = "read" capabilities = ["list-jobs"] }` on one line, commas
//! between items, a value on the line after its `=`); every other construct of Nomad's
//! policies (`agent { … }`, `agent = { … }`, lists, `#`/`//`/`/* */` comments, heredocs)
//! means the same in both. Both syntaxes become one small tree of blocks and attributes,
//! which a schema-driven pass turns into the document. Parsing is strict, as Nomad's is
//! on create and update: an unknown or repeated key is an error (Nomad only catches
//! top-level ones; rollout checks every level, so a typo never silently grants less).
//!
//! Only syntax is checked here. Names, levels and capabilities are checked by the engine
//! when the policy is written (`rollout_engine::acl::policy::normalize`), so that what a
//! stored policy means does not depend on this parser.

use super::hcl1;
use rollout_engine::acl::policy::{
    LabelledRule, LevelRule, NamespaceRule, OperatorRule, PathRule, PolicyRules, VariablesRule,
};

/// Parses a policy's rules. The error is the text after `failed to parse rules: `.
pub fn parse_rules(text: &str) -> Result<PolicyRules, String> {
    if text.is_empty() {
        return Ok(PolicyRules::default());
    }
    let items = if text.trim_start().starts_with('{') {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("Failed to parse ACL Policy: {e}"))?;
        let serde_json::Value::Object(map) = value else {
            return Err("Failed to parse ACL Policy: root should be an object".into());
        };
        json_items(&map, &SCHEMA_TOP)?
    } else {
        hcl_items(&parse_hcl1(text)?)?
    };
    let mut extra = Vec::new();
    let rules = decode_top(&items, &mut extra)?;
    if !extra.is_empty() {
        return Err(format!(
            "Invalid or duplicate policy keys: {}",
            extra.join(", ")
        ));
    }
    Ok(rules)
}

/// HCL1 text read by an HCL2 parser: HCL1's item boundaries are rewritten first
/// ([`hcl1::normalize`]); a syntax error is placed in the text as written, as HCL1's
/// `At line:column: message`.
fn parse_hcl1(text: &str) -> Result<hcl::Body, String> {
    let normalized = hcl1::normalize(text);
    let body = hcl::edit::parser::parse_body(&normalized.text).map_err(|e| {
        let offset = normalized.original_offset(e.location().offset());
        let (line, column) = hcl1::line_column(text, offset);
        format!(
            "Failed to parse ACL Policy: At {line}:{column}: {}",
            e.message()
        )
    })?;
    Ok(body.into())
}

/// One attribute or block, whichever syntax it came from.
#[derive(Debug)]
struct Item {
    key: String,
    labels: Vec<String>,
    value: Value,
}

#[derive(Debug)]
enum Value {
    String(String),
    Strings(Vec<String>),
    Body(Vec<Item>),
    /// Anything else (numbers, booleans, expressions); named for the error.
    Other(&'static str),
}

// --- HCL -----------------------------------------------------------------------------------

fn hcl_items(body: &hcl::Body) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    for structure in body.iter() {
        match structure {
            hcl::Structure::Attribute(a) => items.push(Item {
                key: a.key.as_str().to_string(),
                labels: Vec::new(),
                value: hcl_value(&a.expr)?,
            }),
            hcl::Structure::Block(b) => items.push(Item {
                key: b.identifier.as_str().to_string(),
                labels: b
                    .labels
                    .iter()
                    .map(|l| match l {
                        hcl::BlockLabel::Identifier(i) => i.as_str().to_string(),
                        hcl::BlockLabel::String(s) => s.clone(),
                    })
                    .collect(),
                value: Value::Body(hcl_items(&b.body)?),
            }),
        }
    }
    Ok(items)
}

fn hcl_value(expr: &hcl::Expression) -> Result<Value, String> {
    use hcl::Expression as E;
    Ok(match expr {
        E::String(s) => Value::String(s.clone()),
        E::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    E::String(s) => out.push(s.clone()),
                    _ => return Ok(Value::Other("a list of non-strings")),
                }
            }
            Value::Strings(out)
        }
        // HCL1 style `agent = { policy = "read" }`: an object is a block body.
        E::Object(object) => {
            let mut body = Vec::with_capacity(object.len());
            for (key, value) in object {
                let key = match key {
                    hcl::ObjectKey::Identifier(i) => i.as_str().to_string(),
                    hcl::ObjectKey::Expression(E::String(s)) => s.clone(),
                    _ => return Err("Failed to parse ACL Policy: object keys must be names".into()),
                };
                body.push(Item {
                    key,
                    labels: Vec::new(),
                    value: hcl_value(value)?,
                });
            }
            Value::Body(body)
        }
        // A heredoc, or a string that held `${`/`%{` (escaped as literal text, as HCL1
        // reads them): templates without interpolations, evaluated to their text.
        E::TemplateExpr(_) => {
            match hcl::eval::Evaluate::evaluate(expr, &hcl::eval::Context::new()) {
                Ok(hcl::Value::String(s)) => Value::String(s),
                _ => Value::Other("an expression"),
            }
        }
        E::Bool(_) => Value::Other("a bool"),
        E::Number(_) => Value::Other("a number"),
        E::Null => Value::Other("null"),
        _ => Value::Other("an expression"),
    })
}

// --- JSON (HCL's JSON form) ----------------------------------------------------------------

/// How JSON keys map to blocks: which keys are blocks, and with how many labels.
struct Schema {
    blocks: &'static [(&'static str, usize, &'static Schema)],
}

const SCHEMA_LEAF: Schema = Schema { blocks: &[] };
const SCHEMA_PATH: Schema = Schema {
    blocks: &[("path", 1, &SCHEMA_LEAF)],
};
const SCHEMA_NAMESPACE: Schema = Schema {
    blocks: &[("variables", 0, &SCHEMA_PATH)],
};
const SCHEMA_TOP: Schema = Schema {
    blocks: &[
        ("namespace", 1, &SCHEMA_NAMESPACE),
        ("node_pool", 1, &SCHEMA_LEAF),
        ("host_volume", 1, &SCHEMA_LEAF),
        ("agent", 0, &SCHEMA_LEAF),
        ("node", 0, &SCHEMA_LEAF),
        ("operator", 0, &SCHEMA_LEAF),
        ("quota", 0, &SCHEMA_LEAF),
        ("plugin", 0, &SCHEMA_LEAF),
    ],
};

type JsonMap = serde_json::Map<String, serde_json::Value>;

fn json_items(map: &JsonMap, schema: &Schema) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    for (key, value) in map {
        match schema.blocks.iter().find(|(k, _, _)| k == key) {
            Some((_, labels, inner)) => json_blocks(key, *labels, value, inner, &mut items)?,
            None => items.push(Item {
                key: key.clone(),
                labels: Vec::new(),
                value: json_value(value),
            }),
        }
    }
    Ok(items)
}

/// A block in JSON: `{"<label>": {body}}` for labelled blocks, `{body}` otherwise; either
/// may also be a list of such objects.
fn json_blocks(
    key: &str,
    labels: usize,
    value: &serde_json::Value,
    schema: &Schema,
    out: &mut Vec<Item>,
) -> Result<(), String> {
    use serde_json::Value as J;
    match value {
        J::Array(list) => {
            for v in list {
                json_blocks(key, labels, v, schema, out)?;
            }
        }
        J::Object(map) if labels == 0 => out.push(Item {
            key: key.to_string(),
            labels: Vec::new(),
            value: Value::Body(json_items(map, schema)?),
        }),
        J::Object(map) => {
            for (label, body) in map {
                let bodies: Vec<&JsonMap> = match body {
                    J::Object(b) => vec![b],
                    J::Array(list) => list
                        .iter()
                        .map(|b| {
                            b.as_object().ok_or_else(|| {
                                format!("Failed to parse ACL Policy: {key} {label:?}: expected an object")
                            })
                        })
                        .collect::<Result<_, _>>()?,
                    _ => {
                        return Err(format!(
                            "Failed to parse ACL Policy: {key} {label:?}: expected an object"
                        ))
                    }
                };
                for b in bodies {
                    out.push(Item {
                        key: key.to_string(),
                        labels: vec![label.clone()],
                        value: Value::Body(json_items(b, schema)?),
                    });
                }
            }
        }
        _ => {
            return Err(format!(
                "Failed to parse ACL Policy: {key}: expected an object"
            ))
        }
    }
    Ok(())
}

fn json_value(value: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match value {
        J::String(s) => Value::String(s.clone()),
        J::Array(items) => {
            let strings: Option<Vec<String>> = items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect();
            strings.map_or(Value::Other("a list of non-strings"), Value::Strings)
        }
        J::Object(_) => Value::Other("an object"),
        J::Bool(_) => Value::Other("a bool"),
        J::Number(_) => Value::Other("a number"),
        J::Null => Value::Other("null"),
    }
}

// --- the policy schema -----------------------------------------------------------------------

fn decode_top(items: &[Item], extra: &mut Vec<String>) -> Result<PolicyRules, String> {
    let mut rules = PolicyRules::default();
    let mut seen = Vec::new();
    for item in items {
        match item.key.as_str() {
            "namespace" => {
                let (name, body) = labelled(item)?;
                rules.namespaces.push(decode_namespace(name, body, extra)?);
            }
            "node_pool" | "host_volume" => {
                let (name, body) = labelled(item)?;
                let (policy, capabilities) = decode_level(body, true, extra)?;
                let rule = LabelledRule {
                    name,
                    policy,
                    capabilities,
                };
                if item.key == "node_pool" {
                    rules.node_pools.push(rule);
                } else {
                    rules.host_volumes.push(rule);
                }
            }
            key @ ("agent" | "node" | "operator" | "quota" | "plugin") => {
                if seen.contains(&key) {
                    extra.push(key.to_string());
                    continue;
                }
                seen.push(key);
                let body = unlabelled(item)?;
                let (policy, capabilities) = decode_level(body, key == "operator", extra)?;
                match key {
                    "agent" => rules.agent = Some(LevelRule { policy }),
                    "node" => rules.node = Some(LevelRule { policy }),
                    "quota" => rules.quota = Some(LevelRule { policy }),
                    "plugin" => rules.plugin = Some(LevelRule { policy }),
                    _ => {
                        rules.operator = Some(OperatorRule {
                            policy,
                            capabilities,
                        })
                    }
                }
            }
            _ => extra.push(item.key.clone()),
        }
    }
    Ok(rules)
}

/// A block with one label (a missing label becomes `""`, which validation refuses).
fn labelled(item: &Item) -> Result<(String, &[Item]), String> {
    let Value::Body(body) = &item.value else {
        return Err(format!(
            "Failed to parse ACL Policy: {}: expected a block",
            item.key
        ));
    };
    match item.labels.as_slice() {
        [] => Ok((String::new(), body)),
        [label] => Ok((label.clone(), body)),
        _ => Err(format!(
            "Failed to parse ACL Policy: {}: expected one label, found {}",
            item.key,
            item.labels.len()
        )),
    }
}

fn unlabelled(item: &Item) -> Result<&[Item], String> {
    match (&item.value, item.labels.is_empty()) {
        (Value::Body(body), true) => Ok(body),
        (Value::Body(_), false) => Err(format!(
            "Failed to parse ACL Policy: {}: expected no label",
            item.key
        )),
        _ => Err(format!(
            "Failed to parse ACL Policy: {}: expected a block",
            item.key
        )),
    }
}

fn decode_namespace(
    name: String,
    body: &[Item],
    extra: &mut Vec<String>,
) -> Result<NamespaceRule, String> {
    let mut rule = NamespaceRule {
        name,
        ..NamespaceRule::default()
    };
    let mut seen = Vec::new();
    for item in body {
        if seen.contains(&item.key.as_str()) && item.key != "variables" {
            extra.push(item.key.clone());
            continue;
        }
        seen.push(item.key.as_str());
        match item.key.as_str() {
            "policy" => rule.policy = string(item)?,
            "capabilities" => rule.capabilities = strings(item)?,
            "variables" => {
                if rule.variables.is_some() {
                    extra.push(item.key.clone());
                    continue;
                }
                rule.variables = Some(decode_variables(unlabelled(item)?, extra)?);
            }
            _ => extra.push(item.key.clone()),
        }
    }
    Ok(rule)
}

fn decode_variables(body: &[Item], extra: &mut Vec<String>) -> Result<VariablesRule, String> {
    let mut vars = VariablesRule::default();
    for item in body {
        if item.key != "path" {
            extra.push(item.key.clone());
            continue;
        }
        let (path_spec, path_body) = labelled(item)?;
        let mut capabilities = Vec::new();
        let mut seen = false;
        for i in path_body {
            match i.key.as_str() {
                "capabilities" if !seen => {
                    seen = true;
                    capabilities = strings(i)?;
                }
                _ => extra.push(i.key.clone()),
            }
        }
        vars.paths.push(PathRule {
            path_spec,
            capabilities,
        });
    }
    Ok(vars)
}

/// `policy = "…"` and, where allowed, `capabilities = [...]`.
fn decode_level(
    body: &[Item],
    with_capabilities: bool,
    extra: &mut Vec<String>,
) -> Result<(String, Vec<String>), String> {
    let (mut policy, mut capabilities) = (None, None);
    for item in body {
        match item.key.as_str() {
            "policy" if policy.is_none() => policy = Some(string(item)?),
            "capabilities" if with_capabilities && capabilities.is_none() => {
                capabilities = Some(strings(item)?)
            }
            _ => extra.push(item.key.clone()),
        }
    }
    Ok((policy.unwrap_or_default(), capabilities.unwrap_or_default()))
}

fn string(item: &Item) -> Result<String, String> {
    match &item.value {
        Value::String(s) => Ok(s.clone()),
        other => Err(type_error(item, "a string", other)),
    }
}

fn strings(item: &Item) -> Result<Vec<String>, String> {
    match &item.value {
        Value::Strings(s) => Ok(s.clone()),
        other => Err(type_error(item, "a list of strings", other)),
    }
}

fn type_error(item: &Item, wanted: &str, found: &Value) -> String {
    let found = match found {
        Value::String(_) => "a string",
        Value::Strings(_) => "a list",
        Value::Body(_) => "a block",
        Value::Other(what) => what,
    };
    format!(
        "Failed to parse ACL Policy: {}: expected {wanted}, found {found}",
        item.key
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_namespaces_and_blocks() {
        let rules = parse_rules(
            r#"
            # readers everywhere, writers in prod
            namespace "default" {
              policy       = "read"
              capabilities = ["submit-job", "promote-deployment"]
            }
            namespace "prod-*" { policy = "write" }
            agent { policy = "read" }
            operator = { policy = "deny" }
            node_pool "gpu" { capabilities = ["read"] }
            "#,
        )
        .unwrap();
        assert_eq!(rules.namespaces.len(), 2);
        assert_eq!(rules.namespaces[0].name, "default");
        assert_eq!(rules.namespaces[0].policy, "read");
        assert_eq!(
            rules.namespaces[0].capabilities,
            ["submit-job", "promote-deployment"]
        );
        assert_eq!(rules.namespaces[1].name, "prod-*");
        assert_eq!(rules.agent.unwrap().policy, "read");
        assert_eq!(rules.operator.unwrap().policy, "deny");
        assert_eq!(rules.node_pools[0].capabilities, ["read"]);
    }

    #[test]
    fn json_forms() {
        let a = parse_rules(
            r#"{"namespace": {"default": {"policy": "read", "capabilities": ["submit-job"]}}}"#,
        )
        .unwrap();
        let b = parse_rules(
            r#"{"namespace": [{"default": {"policy": "read", "capabilities": ["submit-job"]}}]}"#,
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.namespaces[0].capabilities, ["submit-job"]);
        let c = parse_rules(r#"{"agent": {"policy": "write"}, "namespace": {"a": {"policy": "deny"}, "b": {"policy": "read"}}}"#).unwrap();
        assert_eq!(c.namespaces.len(), 2);
        assert_eq!(c.agent.unwrap().policy, "write");
    }

    #[test]
    fn variables() {
        let rules = parse_rules(
            r#"namespace "default" {
                 variables {
                   path "app/*" { capabilities = ["read"] }
                 }
               }"#,
        )
        .unwrap();
        let vars = rules.namespaces[0].variables.as_ref().unwrap();
        assert_eq!(vars.paths[0].path_spec, "app/*");
        assert_eq!(vars.paths[0].capabilities, ["read"]);
    }

    #[test]
    fn strict_about_unknown_and_repeated_keys() {
        assert_eq!(
            parse_rules(r#"namespace "default" { polcy = "read" }"#).unwrap_err(),
            "Invalid or duplicate policy keys: polcy"
        );
        assert_eq!(
            parse_rules("agent { policy = \"read\" }\nagent { policy = \"write\" }\nfoo = 1")
                .unwrap_err(),
            "Invalid or duplicate policy keys: agent, foo"
        );
        assert_eq!(
            parse_rules(r#"{"namespace": {"default": {"policy": "read", "extra": true}}}"#)
                .unwrap_err(),
            "Invalid or duplicate policy keys: extra"
        );
        assert_eq!(
            parse_rules("agent {\n  policy = \"read\"\n  capabilities = [\"x\"]\n}").unwrap_err(),
            "Invalid or duplicate policy keys: capabilities"
        );
        // On one line, as HCL1 reads it: still checked key by key.
        assert_eq!(
            parse_rules(r#"agent { policy = "read" capabilities = ["x"] }"#).unwrap_err(),
            "Invalid or duplicate policy keys: capabilities"
        );
    }

    #[test]
    fn syntax_and_type_errors() {
        assert!(parse_rules(r#"namespace "default" { policy = }"#)
            .unwrap_err()
            .starts_with("Failed to parse ACL Policy: "));
        assert!(parse_rules("{ not json")
            .unwrap_err()
            .starts_with("Failed to parse ACL Policy: "));
        assert_eq!(
            parse_rules(r#"namespace "default" { policy = 3 }"#).unwrap_err(),
            "Failed to parse ACL Policy: policy: expected a string, found a number"
        );
        assert_eq!(
            parse_rules(r#"namespace "a" "b" { policy = "read" }"#).unwrap_err(),
            "Failed to parse ACL Policy: namespace: expected one label, found 2"
        );
        // A missing label is left for validation to refuse, as Nomad does.
        assert_eq!(
            parse_rules(r#"namespace { policy = "read" }"#)
                .unwrap()
                .namespaces[0]
                .name,
            ""
        );
        // Only comments: an empty document (refused by validation as `Invalid policy`).
        assert_eq!(parse_rules("# nothing").unwrap(), PolicyRules::default());
    }

    /// The policies of Nomad's ACL policy documentation (reconstructed), each as written
    /// there (multi-line, comments) and as HCL1 also reads it: on one line, and with
    /// commas between items. All forms give the same document.
    mod nomad_policy_docs {
        use super::*;

        const DOCS: &[&str] = &[
            // The namespace rule.
            r#"
namespace "default" {
  policy = "read"
}
"#,
            // Two namespaces, a fine-grained capability list.
            r#"
# Allow read only access to the default namespace
namespace "default" {
  policy = "read"
}

# Allow writing to the `foo` namespace
namespace "foo" {
  policy = "write"
}
"#,
            r#"
namespace "default" {
  policy       = "read"
  capabilities = ["submit-job", "dispatch-job", "read-logs"]
}
"#,
            // Wildcards: the most specific name wins.
            r#"
namespace "*" {
  policy = "write"
}

namespace "default" {
  policy       = "read"
  capabilities = ["list-jobs"]
}
"#,
            // Variables inside a namespace.
            r#"
namespace "dev" {
  policy = "write"

  variables {
    # full access to secrets in all "project" paths
    path "project/*" {
      capabilities = ["write", "read", "destroy", "list"]
    }

    # read/list access within a "system/" path belonging to administrators
    path "system/*" {
      capabilities = ["read"]
    }
  }
}
"#,
            // Node pools and host volumes.
            r#"
node_pool "prod" {
  policy = "read"
}

node_pool "dev" {
  policy       = "write"
  capabilities = ["delete"]
}
"#,
            r#"
host_volume "prod-*" {
  policy = "write"
}

host_volume "prod-ca" {
  policy = "deny"
}

host_volume "*" {
  capabilities = ["mount-readonly"]
}
"#,
            // The cluster-wide rules.
            r#"
agent {
  policy = "read"
}

node {
  policy = "read"
}

operator {
  policy = "read"
}

quota {
  policy = "read"
}

plugin {
  policy = "list"
}
"#,
            // The anonymous policy of the ACL tutorial.
            r#"
namespace "*" {
  policy       = "write"
  capabilities = ["alloc-node-exec"]
}

agent {
  policy = "write"
}

operator {
  policy = "write"
}

quota {
  policy = "write"
}

node {
  policy = "write"
}

host_volume "*" {
  policy = "write"
}
"#,
            // HCL1's object form.
            r#"
agent = {
  policy = "read"
}
operator = { policy = "deny" }
"#,
        ];

        /// The example without its comment lines, joined into one line.
        fn one_line(doc: &str) -> String {
            doc.lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        }

        /// One line, with a comma after every attribute and block, as HCL1 allows.
        fn with_commas(doc: &str) -> String {
            one_line(doc)
                .replace("\" ", "\", ")
                .replace("] ", "], ")
                .replace("} ", "}, ")
                // Not between a block's labels and its `{`.
                .replace("\", {", "\" {")
        }

        #[test]
        fn every_docs_example_parses() {
            for doc in DOCS {
                let rules = parse_rules(doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
                assert_ne!(rules, PolicyRules::default(), "{doc}");
            }
        }

        #[test]
        fn every_docs_example_on_one_line_is_the_same_policy() {
            for doc in DOCS {
                let line = one_line(doc);
                assert!(!line.contains('\n'));
                assert_eq!(
                    parse_rules(&line).unwrap_or_else(|e| panic!("{line}: {e}")),
                    parse_rules(doc).unwrap(),
                    "{line}"
                );
            }
        }

        #[test]
        fn every_docs_example_with_commas_is_the_same_policy() {
            for doc in DOCS {
                let line = with_commas(doc);
                assert_eq!(
                    parse_rules(&line).unwrap_or_else(|e| panic!("{line}: {e}")),
                    parse_rules(doc).unwrap(),
                    "{line}"
                );
            }
        }

        #[test]
        fn the_issue_example_on_one_line() {
            let rules = parse_rules(
                r#"namespace "default" { policy = "read" capabilities = ["list-jobs"] }"#,
            )
            .unwrap();
            assert_eq!(rules.namespaces[0].name, "default");
            assert_eq!(rules.namespaces[0].policy, "read");
            assert_eq!(rules.namespaces[0].capabilities, ["list-jobs"]);
        }

        #[test]
        fn variables_on_one_line() {
            let rules = parse_rules(
                r#"namespace "dev" { policy = "write" variables { path "project/*" { capabilities = ["read", "list"] } path "system/*" { capabilities = ["read"] } } }"#,
            )
            .unwrap();
            let vars = rules.namespaces[0].variables.as_ref().unwrap();
            assert_eq!(vars.paths.len(), 2);
            assert_eq!(vars.paths[1].path_spec, "system/*");
        }

        #[test]
        fn comments_of_every_kind_anywhere() {
            let rules = parse_rules(
                "/* prod */ namespace \"prod\" { policy = \"read\" /* inline */ capabilities = [\"submit-job\"] } // trailing\n\
                 # hash\n\
                 agent { // why\n  policy = \"read\" # reason\n}\n\
                 /* multi\n   line */ node { policy = \"read\" }",
            )
            .unwrap();
            assert_eq!(rules.namespaces[0].capabilities, ["submit-job"]);
            assert_eq!(rules.agent.unwrap().policy, "read");
            assert_eq!(rules.node.unwrap().policy, "read");
        }

        #[test]
        fn newlines_are_whitespace_inside_an_item() {
            let rules = parse_rules(
                "namespace \"default\"\n{\n  policy =\n    \"read\"\n  capabilities = [\n    \"list-jobs\",\n  ]\n}",
            )
            .unwrap();
            assert_eq!(rules.namespaces[0].policy, "read");
            assert_eq!(rules.namespaces[0].capabilities, ["list-jobs"]);
        }

        #[test]
        fn windows_line_endings() {
            let rules = parse_rules(
                "namespace \"default\" {\r\n  policy = \"read\"\r\n  capabilities = [\"list-jobs\"]\r\n}\r\nagent { policy = \"read\" }\r\n",
            )
            .unwrap();
            assert_eq!(rules.namespaces[0].capabilities, ["list-jobs"]);
            assert_eq!(rules.agent.unwrap().policy, "read");
        }

        #[test]
        fn heredoc_values() {
            let rules = parse_rules(
                "namespace \"default\" { policy = <<EOF\nread\nEOF\n}\nagent {\n  policy = <<-EOT\n    write\n    EOT\n}",
            )
            .unwrap();
            // A heredoc's value ends with its last newline, as in HCL1: not a level.
            assert_eq!(rules.namespaces[0].policy, "read\n");
            assert_eq!(rules.agent.unwrap().policy, "write\n");
        }

        #[test]
        fn string_contents_are_never_rewritten() {
            let rules = parse_rules(
                r#"namespace "a { b = c, d } # e // f /* g */ ${h} %{i}" { policy = "read ${x}" }"#,
            )
            .unwrap();
            assert_eq!(rules.namespaces[0].policy, "read ${x}");
            assert_eq!(
                rules.namespaces[0].name,
                "a { b = c, d } # e // f /* g */ ${h} %{i}"
            );
        }

        #[test]
        fn malformed_policies_name_the_line_and_column_written() {
            let cases = [
                (r#"namespace "default" { policy = }"#, "At 1:32: "),
                ("agent {\n  policy = \"read\"\n", "At 2:18: "),
                (
                    "namespace \"default\" { policy = \"read\" }\nnode { policy \"read\" }",
                    "At 2:22: expected `{`",
                ),
                (r#"namespace "default" { policy = "read }"#, "At 1:"),
                ("agent { policy = [\"read\" }", "At 1:"),
                ("x = <<EOF\nno end", "At "),
                ("}", "At 1:1: "),
            ];
            for (text, at) in cases {
                let e = parse_rules(text).unwrap_err();
                assert!(
                    e.starts_with(&format!("Failed to parse ACL Policy: {at}")),
                    "{text:?}: {e}"
                );
            }
        }

        #[test]
        fn still_strict_on_one_line() {
            assert_eq!(
                parse_rules(r#"namespace "default" { policy = "read" polcy = "write" }"#)
                    .unwrap_err(),
                "Invalid or duplicate policy keys: polcy"
            );
            assert_eq!(
                parse_rules(r#"agent { policy = "read" } agent { policy = "write" }"#).unwrap_err(),
                "Invalid or duplicate policy keys: agent"
            );
            // A repeated attribute is a syntax error of HCL2, placed where it repeats.
            assert_eq!(
                parse_rules(r#"namespace "default" { policy = "read" policy = "write" }"#).unwrap_err(),
                "Failed to parse ACL Policy: At 1:39: invalid attribute; expected unique attribute key; found redefined attribute"
            );
        }
    }
}
