//! ACL policies: the parsed rules document, its validation and normalisation (Nomad's
//! `acl.Parse` after decoding), and the stored policy row.
//!
//! Parsing the `Rules` text (HCL or JSON) is not done here: the caller (the HTTP layer)
//! turns text into a [`PolicyRules`] document and the command carries both the text and
//! the document. `apply` validates the document and stores it with every shorthand
//! already expanded, so replaying a log never depends on a parser's version, and what a
//! policy grants is fixed when it is written.

use super::capability::{
    expand_namespace_policy, implied_capabilities, is_namespace_policy, Capability,
};
use crate::format::go_quote;
use blake2::{Blake2b256, Digest};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The longest policy description Nomad accepts.
pub const MAX_DESCRIPTION_LEN: usize = 256;

/// The rules of a policy, shaped like Nomad's `acl.Policy` (its `RulesJSON`).
///
/// As a command input it is the document as written; once stored, every namespace's
/// `Capabilities` also holds what its `Policy` shorthand and the implied capabilities
/// expand to (Nomad's order: explicit first, then shorthand, then implied).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PolicyRules {
    /// `namespace "…" {}` blocks, in document order.
    pub namespaces: Vec<NamespaceRule>,
    /// `node_pool "…" {}` blocks: accepted and validated, not enforced (no node pools
    /// here).
    pub node_pools: Vec<LabelledRule>,
    /// `host_volume "…" {}` blocks: accepted and validated, not enforced.
    pub host_volumes: Vec<LabelledRule>,
    /// The `agent` block: its level governs `/v1/agent/self` and `/v1/agent/members`.
    pub agent: Option<LevelRule>,
    /// The `node` block: its level governs `/v1/nodes` and node writes.
    pub node: Option<LevelRule>,
    /// The `operator` block: its level governs the Raft operator endpoints (its
    /// explicit capabilities are validated and stored, not enforced).
    pub operator: Option<OperatorRule>,
    /// The `quota` block: accepted and validated, not enforced.
    pub quota: Option<LevelRule>,
    /// The `plugin` block: accepted and validated, not enforced.
    pub plugin: Option<LevelRule>,
}

/// `namespace "<name>" { policy = "…"  capabilities = [...]  variables { … } }`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NamespaceRule {
    /// The namespace name or glob (`*` matches any run of characters).
    pub name: String,
    /// The shorthand, `""` when absent.
    pub policy: String,
    /// Explicit capabilities, added to those of `policy`.
    pub capabilities: Vec<String>,
    /// The `variables` block: accepted and validated, not enforced.
    pub variables: Option<VariablesRule>,
}

/// `variables { path "<spec>" { capabilities = [...] } }` inside a namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct VariablesRule {
    /// One rule per variable path.
    pub paths: Vec<PathRule>,
}

/// One `path "…" {}` of a `variables` block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PathRule {
    /// The variable path or glob.
    pub path_spec: String,
    /// The capabilities granted on it.
    pub capabilities: Vec<String>,
}

/// `node_pool "<name>" { … }` and `host_volume "<name>" { … }`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct LabelledRule {
    /// The pool or volume name (or glob).
    pub name: String,
    /// The shorthand level (`read`, `write`, `deny`, …).
    pub policy: String,
    /// Explicit capabilities.
    pub capabilities: Vec<String>,
}

/// `agent`, `node`, `quota`, `plugin`: a level only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct LevelRule {
    /// The level: `read`, `write` or `deny`.
    pub policy: String,
}

/// `operator { policy = "…"  capabilities = [...] }`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct OperatorRule {
    /// The level: `read`, `write` or `deny`.
    pub policy: String,
    /// Explicit capabilities.
    pub capabilities: Vec<String>,
}

/// A policy's optional binding to a workload (`JobACL`), stored and echoed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobAcl {
    /// The namespace of the job the policy is bound to.
    pub namespace: String,
    /// The job's ID (`JobID`).
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The task group, or empty for every group of the job.
    pub group: String,
    /// The task, or empty for every task of the group.
    pub task: String,
}

/// A stored policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AclPolicy {
    /// The policy's name (`Name`): its key.
    pub name: String,
    /// Free text (`Description`).
    pub description: String,
    /// The rules text exactly as submitted.
    pub rules: String,
    /// The rules as validated and normalised at write time.
    pub parsed: PolicyRules,
    /// The workload the policy is bound to (`JobACL`), if any.
    #[serde(rename = "JobACL")]
    pub job_acl: Option<JobAcl>,
    /// BLAKE2b-256 of the user-set fields, as Nomad's `ACLPolicy.SetHash`.
    pub hash: [u8; 32],
    /// `CreateIndex`: the index that created the policy.
    pub create_index: u64,
    /// `ModifyIndex`: the index that last wrote it.
    pub modify_index: u64,
}

impl AclPolicy {
    /// Nomad's policy hash: name, description, rules and the JobACL fields.
    pub fn compute_hash(
        name: &str,
        description: &str,
        rules: &str,
        job_acl: Option<&JobAcl>,
    ) -> [u8; 32] {
        let mut h = Blake2b256::new();
        h.update(name.as_bytes());
        h.update(description.as_bytes());
        h.update(rules.as_bytes());
        if let Some(j) = job_acl {
            h.update(j.namespace.as_bytes());
            h.update(j.job_id.as_bytes());
            h.update(j.group.as_bytes());
            h.update(j.task.as_bytes());
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(&h.finalize());
        out
    }
}

/// A valid policy name: `^[a-zA-Z0-9-]{1,128}$`.
pub fn is_valid_policy_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A valid namespace (or host volume) label: `^[a-zA-Z0-9-*]{1,128}$`.
fn is_valid_label(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*')
}

/// A valid node pool label: `^[a-zA-Z0-9-_*]{1,128}$`.
fn is_valid_node_pool(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*')
}

/// Validates a whole policy write as `ACLPolicy.Validate` does and returns its
/// normalised rules, or every problem found (the caller frames them as
/// `policy <i> invalid: …`). `rules` is the document parsed from `raw`, or the parser's
/// error text.
pub fn validate_policy(
    name: &str,
    description: &str,
    raw: &str,
    rules: Result<&PolicyRules, &str>,
    job_acl: Option<&JobAcl>,
) -> Result<PolicyRules, Vec<String>> {
    let mut errors = Vec::new();
    if !is_valid_policy_name(name) {
        errors.push(format!("invalid name '{name}'"));
    }
    let normalized = match rules {
        Ok(doc) => match normalize(raw, doc) {
            Ok(n) => Some(n),
            Err(e) => {
                errors.push(format!("failed to parse rules: {e}"));
                None
            }
        },
        Err(e) => {
            errors.push(format!("failed to parse rules: {e}"));
            None
        }
    };
    if description.len() > MAX_DESCRIPTION_LEN {
        errors.push(format!("description longer than {MAX_DESCRIPTION_LEN}"));
    }
    if let Some(j) = job_acl {
        errors.extend(validate_job_acl(j));
    }
    match normalized {
        Some(n) if errors.is_empty() => Ok(n),
        _ => Err(errors),
    }
}

/// A workload binding names a chain: a task needs a group, a group a job, a job a
/// namespace.
fn validate_job_acl(j: &JobAcl) -> Vec<String> {
    let mut errors = Vec::new();
    if !j.job_id.is_empty() && j.namespace.is_empty() {
        errors.push("namespace must be set to set job ID".to_string());
    }
    if !j.group.is_empty() && j.job_id.is_empty() {
        errors.push("job ID must be set to set group".to_string());
    }
    if !j.task.is_empty() && j.group.is_empty() {
        errors.push("group must be set to set task".to_string());
    }
    errors
}

/// `acl.Parse` after decoding: checks names, levels and capabilities and expands the
/// shorthands. Errors carry Nomad's texts (`Invalid namespace policy: …`).
pub fn normalize(raw: &str, doc: &PolicyRules) -> Result<PolicyRules, String> {
    if raw.is_empty() {
        // Nomad's hot path: empty rules are a valid policy that grants nothing.
        return Ok(PolicyRules::default());
    }
    if is_empty(doc) {
        return Err(format!("Invalid policy: {raw}"));
    }
    let mut out = doc.clone();
    for ns in &mut out.namespaces {
        if !is_valid_label(&ns.name) {
            return Err(format!("Invalid namespace name: {}", go_namespace(ns)));
        }
        if !ns.policy.is_empty() && !is_namespace_policy(&ns.policy) {
            return Err(format!("Invalid namespace policy: {}", go_namespace(ns)));
        }
        let mut granted = Vec::with_capacity(ns.capabilities.len());
        for cap in &ns.capabilities {
            match Capability::parse(cap) {
                Some(c) => granted.push(c),
                None => {
                    return Err(format!(
                        "Invalid namespace capability '{cap}': {}",
                        go_namespace(ns)
                    ))
                }
            }
        }
        if !ns.policy.is_empty() {
            let shorthand = expand_namespace_policy(&ns.policy);
            ns.capabilities
                .extend(shorthand.iter().map(|c| c.as_str().to_string()));
            granted.extend(shorthand);
        }
        ns.capabilities.extend(
            implied_capabilities(&granted)
                .into_iter()
                .map(|c| c.as_str().to_string()),
        );
        if let Some(vars) = &mut ns.variables {
            normalize_variables(&ns.name, vars)?;
        }
    }
    for np in &mut out.node_pools {
        if !is_valid_node_pool(&np.name) {
            return Err(format!("Invalid node pool name '{}'", np.name));
        }
        if !np.policy.is_empty() && !is_namespace_policy(&np.policy) {
            return Err(format!(
                "Invalid node pool policy '{}' for '{}'",
                np.policy, np.name
            ));
        }
        for cap in &np.capabilities {
            if !matches!(cap.as_str(), "delete" | "read" | "write" | "deny") {
                return Err(format!(
                    "Invalid node pool capability '{cap}' for '{}'",
                    np.name
                ));
            }
        }
        let extra: &[&str] = match np.policy.as_str() {
            "deny" => &["deny"],
            "read" => &["read"],
            "write" => &["delete", "read", "write"],
            _ => &[],
        };
        np.capabilities.extend(extra.iter().map(|c| c.to_string()));
    }
    for hv in &mut out.host_volumes {
        if !is_valid_label(&hv.name) {
            return Err(format!(
                "Invalid host volume name: {}",
                go_labelled("HostVolumePolicy", hv)
            ));
        }
        if !hv.policy.is_empty() && !is_namespace_policy(&hv.policy) {
            return Err(format!(
                "Invalid host volume policy: {}",
                go_labelled("HostVolumePolicy", hv)
            ));
        }
        for cap in &hv.capabilities {
            if !matches!(cap.as_str(), "deny" | "mount-readonly" | "mount-readwrite") {
                return Err(format!(
                    "Invalid host volume capability '{cap}': {}",
                    go_labelled("HostVolumePolicy", hv)
                ));
            }
        }
        let extra: &[&str] = match hv.policy.as_str() {
            "deny" => &["deny"],
            "read" => &["mount-readonly"],
            "write" => &["mount-readonly", "mount-readwrite"],
            _ => &[],
        };
        hv.capabilities.extend(extra.iter().map(|c| c.to_string()));
    }
    for (what, rule) in [("agent", &out.agent), ("node", &out.node)] {
        if let Some(r) = rule {
            if !is_namespace_policy(&r.policy) {
                return Err(format!(
                    "Invalid {what} policy: {}",
                    go_level(
                        if what == "agent" {
                            "AgentPolicy"
                        } else {
                            "NodePolicy"
                        },
                        r
                    )
                ));
            }
        }
    }
    if let Some(op) = &mut out.operator {
        if !op.policy.is_empty() && !is_namespace_policy(&op.policy) {
            return Err(format!(
                "Invalid operator policy: &acl.OperatorPolicy{{Policy:{}, Capabilities:{}}}",
                go_quote(&op.policy),
                go_strings(&op.capabilities)
            ));
        }
        for cap in &op.capabilities {
            if !matches!(cap.as_str(), "deny" | "snapshot-save" | "license-read") {
                return Err(format!("Invalid operator capability '{cap}'"));
            }
        }
        let extra: &[&str] = match op.policy.as_str() {
            "deny" => &["deny"],
            "read" => &["license-read"],
            "write" => &["snapshot-save", "license-read"],
            _ => &[],
        };
        op.capabilities.extend(extra.iter().map(|c| c.to_string()));
    }
    if let Some(q) = &out.quota {
        if !is_namespace_policy(&q.policy) {
            return Err(format!(
                "Invalid quota policy: {}",
                go_level("QuotaPolicy", q)
            ));
        }
    }
    if let Some(p) = &out.plugin {
        if !matches!(p.policy.as_str(), "deny" | "read" | "list" | "write") {
            return Err(format!(
                "Invalid plugin policy: {}",
                go_level("PluginPolicy", p)
            ));
        }
    }
    Ok(out)
}

fn normalize_variables(namespace: &str, vars: &mut VariablesRule) -> Result<(), String> {
    if vars.paths.is_empty() {
        return Err(format!(
            "Invalid variable policy: no variable paths in namespace {namespace}"
        ));
    }
    for path in &mut vars.paths {
        if path.path_spec.is_empty() {
            return Err(format!(
                "Invalid missing variable path in namespace {namespace}"
            ));
        }
        if path.path_spec.starts_with('/') {
            return Err(format!(
                "Invalid variable path {} in namespace {namespace}: cannot start with a leading '/'`",
                go_quote(&path.path_spec)
            ));
        }
        for cap in &path.capabilities {
            if !matches!(cap.as_str(), "write" | "read" | "list" | "destroy" | "deny") {
                return Err(format!(
                    "Invalid variable capability '{cap}' in namespace {namespace}"
                ));
            }
        }
        // `deny` overrides the rest; `read` implies `list`.
        if path.capabilities.iter().any(|c| c == "deny") {
            path.capabilities = vec!["deny".to_string()];
        } else if path.capabilities.iter().any(|c| c == "read")
            && !path.capabilities.iter().any(|c| c == "list")
        {
            path.capabilities.push("list".to_string());
        }
    }
    Ok(())
}

/// Whether a document sets nothing at all (Nomad's `Policy.IsEmpty`).
fn is_empty(p: &PolicyRules) -> bool {
    p.namespaces.is_empty()
        && p.node_pools.is_empty()
        && p.host_volumes.is_empty()
        && p.agent.is_none()
        && p.node.is_none()
        && p.operator.is_none()
        && p.quota.is_none()
        && p.plugin.is_none()
}

// --- Go's `%#v`, for error texts that quote the offending block ---------------------------

fn go_strings(items: &[String]) -> String {
    if items.is_empty() {
        return "[]string(nil)".to_string();
    }
    let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

fn go_namespace(ns: &NamespaceRule) -> String {
    let mut out = format!(
        "&acl.NamespacePolicy{{Name:{}, Policy:{}, Capabilities:{}, Variables:",
        go_quote(&ns.name),
        go_quote(&ns.policy),
        go_strings(&ns.capabilities)
    );
    match &ns.variables {
        None => out.push_str("(*acl.VariablesPolicy)(nil)"),
        Some(v) => {
            let _ = write!(
                out,
                "&acl.VariablesPolicy{{Paths:[]*acl.VariablesPathPolicy{{"
            );
            for (i, p) in v.paths.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(
                    out,
                    "&acl.VariablesPathPolicy{{PathSpec:{}, Capabilities:{}}}",
                    go_quote(&p.path_spec),
                    go_strings(&p.capabilities)
                );
            }
            out.push_str("}}");
        }
    }
    out.push('}');
    out
}

fn go_labelled(kind: &str, r: &LabelledRule) -> String {
    format!(
        "&acl.{kind}{{Name:{}, Policy:{}, Capabilities:{}}}",
        go_quote(&r.name),
        go_quote(&r.policy),
        go_strings(&r.capabilities)
    )
}

fn go_level(kind: &str, r: &LevelRule) -> String {
    format!("&acl.{kind}{{Policy:{}}}", go_quote(&r.policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(name: &str, policy: &str, caps: &[&str]) -> NamespaceRule {
        NamespaceRule {
            name: name.into(),
            policy: policy.into(),
            capabilities: caps.iter().map(|s| s.to_string()).collect(),
            variables: None,
        }
    }

    fn doc(namespaces: Vec<NamespaceRule>) -> PolicyRules {
        PolicyRules {
            namespaces,
            ..PolicyRules::default()
        }
    }

    #[test]
    fn shorthand_is_appended_after_explicit_capabilities() {
        let out = normalize("x", &doc(vec![ns("default", "read", &["submit-job"])])).unwrap();
        let caps = &out.namespaces[0].capabilities;
        assert_eq!(caps[0], "submit-job");
        assert_eq!(caps[1..4], ["list-jobs", "parse-job", "read-job"]);
        assert_eq!(caps.len(), 10);
        assert_eq!(out.namespaces[0].policy, "read", "the shorthand is kept");
    }

    #[test]
    fn implied_host_volume_capabilities() {
        let out = normalize("x", &doc(vec![ns("default", "", &["host-volume-create"])])).unwrap();
        assert_eq!(
            out.namespaces[0].capabilities,
            ["host-volume-create", "host-volume-read"]
        );
    }

    #[test]
    fn invalid_documents_get_nomads_texts() {
        let e = normalize("# nothing", &PolicyRules::default()).unwrap_err();
        assert_eq!(e, "Invalid policy: # nothing");
        let e = normalize("x", &doc(vec![ns("default", "list", &[])])).unwrap_err();
        assert_eq!(
            e,
            "Invalid namespace policy: &acl.NamespacePolicy{Name:\"default\", Policy:\"list\", Capabilities:[]string(nil), Variables:(*acl.VariablesPolicy)(nil)}"
        );
        let e = normalize("x", &doc(vec![ns("default", "", &["read-jobs"])])).unwrap_err();
        assert!(e.starts_with("Invalid namespace capability 'read-jobs': &acl.NamespacePolicy{"));
        let e = normalize("x", &doc(vec![ns("a b", "read", &[])])).unwrap_err();
        assert!(e.starts_with("Invalid namespace name: "), "{e}");
        assert!(normalize("", &PolicyRules::default()).is_ok());
        let agent = PolicyRules {
            agent: Some(LevelRule::default()),
            ..PolicyRules::default()
        };
        assert_eq!(
            normalize("x", &agent).unwrap_err(),
            "Invalid agent policy: &acl.AgentPolicy{Policy:\"\"}"
        );
    }

    #[test]
    fn policy_validation_collects_every_problem() {
        let errors = validate_policy(
            "bad name",
            &"d".repeat(257),
            "x",
            Err("Invalid or duplicate policy keys: foo"),
            None,
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "invalid name 'bad name'",
                "failed to parse rules: Invalid or duplicate policy keys: foo",
                "description longer than 256"
            ]
        );
        let d = doc(vec![ns("prod-*", "write", &[])]);
        assert!(validate_policy("ops", "", "x", Ok(&d), None).is_ok());
    }

    #[test]
    fn variables_paths() {
        let mut n = ns("default", "", &[]);
        n.variables = Some(VariablesRule {
            paths: vec![PathRule {
                path_spec: "app/*".into(),
                capabilities: vec!["read".into()],
            }],
        });
        let out = normalize("x", &doc(vec![n.clone()])).unwrap();
        assert_eq!(
            out.namespaces[0].variables.as_ref().unwrap().paths[0].capabilities,
            ["read", "list"]
        );
        n.variables = Some(VariablesRule { paths: vec![] });
        assert_eq!(
            normalize("x", &doc(vec![n])).unwrap_err(),
            "Invalid variable policy: no variable paths in namespace default"
        );
    }

    #[test]
    fn hash_is_blake2b_256_of_the_user_fields() {
        let a = AclPolicy::compute_hash("readonly", "", "namespace \"default\" {}", None);
        let b = AclPolicy::compute_hash("readonly", "x", "namespace \"default\" {}", None);
        assert_ne!(a, b);
        // BLAKE2b-256 of the empty input (known answer).
        let empty = AclPolicy::compute_hash("", "", "", None);
        assert_eq!(
            empty[..4],
            [0x0e, 0x57, 0x51, 0xc0],
            "BLAKE2b-256(\"\") starts 0e5751c0"
        );
    }
}
