//! A token's policies compiled into something cheap to ask (Nomad's `acl.ACL`), and the
//! namespace rules of §8.3: exact label first, else the closest matching glob; `deny`
//! wins within a label; `*` as the requested namespace asks "any namespace".

use super::capability::{Capability, CapabilitySet};
use super::policy::PolicyRules;
use std::collections::BTreeMap;

/// What a token may do. Management tokens may do everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acl {
    management: bool,
    /// Exact namespace labels.
    namespaces: BTreeMap<String, CapabilitySet>,
    /// Labels containing `*`, in byte order (the order Nomad walks its radix tree in).
    globs: BTreeMap<String, CapabilitySet>,
    /// The `agent { policy = … }` level: `/v1/agent/self`, `/v1/agent/members`.
    agent: Level,
    /// The `node { policy = … }` level: `/v1/nodes`, `/v1/node/:id`.
    node: Level,
    /// The `operator { policy = … }` level: the Raft configuration and peers.
    operator: Level,
}

/// A coarse rule (`agent`, `node`, `operator`): what Nomad's `read`, `write` and
/// `deny` levels grant. Merging policies keeps the highest level, except that a `deny`
/// anywhere wins for good (Nomad's `maxPrivilege`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Nothing granted (no block in any policy).
    #[default]
    None,
    /// `policy = "read"`.
    Read,
    /// `policy = "write"` (also grants read).
    Write,
    /// `policy = "deny"`: nothing, whatever other policies say.
    Deny,
}

impl Level {
    /// The level a rule's `policy` string names; unknown strings grant nothing (policies
    /// are validated when written, so they do not occur).
    fn parse(policy: &str) -> Level {
        match policy {
            "read" => Level::Read,
            "write" => Level::Write,
            "deny" => Level::Deny,
            _ => Level::None,
        }
    }

    /// Two policies' levels merged: `deny` wins, else the higher.
    fn merge(self, other: Level) -> Level {
        if self == Level::Deny || other == Level::Deny {
            Level::Deny
        } else {
            self.max(other)
        }
    }

    fn allows_read(self) -> bool {
        matches!(self, Level::Read | Level::Write)
    }

    fn allows_write(self) -> bool {
        self == Level::Write
    }
}

/// The namespace that means "all namespaces" in list requests.
pub const ALL_NAMESPACES: &str = "*";

impl Acl {
    /// The ACL of a management token.
    pub fn management() -> Acl {
        Acl {
            management: true,
            ..Acl::default()
        }
    }

    /// Compiles client policies (Nomad's `NewACL`). Within one label the capabilities of
    /// every block are unioned, and a `deny` anywhere replaces them all for good.
    pub fn compile<'a>(policies: impl IntoIterator<Item = &'a PolicyRules>) -> Acl {
        let mut acl = Acl::default();
        for policy in policies {
            for ns in &policy.namespaces {
                let table = if ns.name.contains('*') {
                    &mut acl.globs
                } else {
                    &mut acl.namespaces
                };
                let set = table.entry(ns.name.clone()).or_default();
                if set.contains(Capability::Deny) {
                    continue;
                }
                for cap in ns.capabilities.iter().filter_map(|c| Capability::parse(c)) {
                    if cap == Capability::Deny {
                        *set = CapabilitySet::only(Capability::Deny);
                        break;
                    }
                    set.insert(cap);
                }
            }
            let level = |rule: Option<&str>| rule.map(Level::parse).unwrap_or_default();
            acl.agent = acl
                .agent
                .merge(level(policy.agent.as_ref().map(|r| r.policy.as_str())));
            acl.node = acl
                .node
                .merge(level(policy.node.as_ref().map(|r| r.policy.as_str())));
            acl.operator = acl
                .operator
                .merge(level(policy.operator.as_ref().map(|r| r.policy.as_str())));
        }
        acl
    }

    /// `agent:read`: the agent's own configuration and members.
    pub fn allow_agent_read(&self) -> bool {
        self.management || self.agent.allows_read()
    }

    /// `node:read`: the nodes and their allocations.
    pub fn allow_node_read(&self) -> bool {
        self.management || self.node.allows_read()
    }

    /// `node:write`: registering or updating nodes through the ingest API.
    pub fn allow_node_write(&self) -> bool {
        self.management || self.node.allows_write()
    }

    /// `operator:read`: the Raft configuration.
    pub fn allow_operator_read(&self) -> bool {
        self.management || self.operator.allows_read()
    }

    /// `operator:write`: removing Raft peers.
    pub fn allow_operator_write(&self) -> bool {
        self.management || self.operator.allows_write()
    }

    /// Whether the token is a management token (every capability, every namespace).
    pub fn is_management(&self) -> bool {
        self.management
    }

    /// `AllowNamespaceOperation`: may this token do `op` in namespace `ns`? With `ns` =
    /// `*`: in at least one namespace.
    pub fn allow_namespace_operation(&self, ns: &str, op: Capability) -> bool {
        if self.management {
            return true;
        }
        if ns == ALL_NAMESPACES && self.any_namespace(|set| set.contains(op)) {
            return true;
        }
        self.matching(ns).is_some_and(|set| set.contains(op))
    }

    /// Any of `ops` (every deployment and job write accepts `submit-job` or its
    /// fine-grained capability: Nomad's `NamespaceValidator`).
    pub fn allow_any(&self, ns: &str, ops: &[Capability]) -> bool {
        ops.iter().any(|op| self.allow_namespace_operation(ns, *op))
    }

    /// `AllowNamespace`: may this token do anything at all in `ns`?
    pub fn allow_namespace(&self, ns: &str) -> bool {
        if self.management {
            return true;
        }
        let useful = |set: &CapabilitySet| !set.is_empty() && !set.contains(Capability::Deny);
        if ns == ALL_NAMESPACES && self.any_namespace(useful) {
            return true;
        }
        self.matching(ns).is_some_and(|set| useful(&set))
    }

    fn any_namespace(&self, f: impl Fn(&CapabilitySet) -> bool) -> bool {
        self.namespaces.values().chain(self.globs.values()).any(f)
    }

    /// The capability set that governs `ns`: its exact label, else the closest glob.
    fn matching(&self, ns: &str) -> Option<CapabilitySet> {
        if let Some(set) = self.namespaces.get(ns) {
            return Some(*set);
        }
        closest_glob(&self.globs, ns)
    }
}

/// Nomad's closest-match rule: among the globs that match `name`, the one with the
/// smallest difference `len(name) - len(glob) + count('*')`; on a tie the last one in
/// byte order wins (Nomad's stable sort with a `<=` comparison moves later equals first).
fn closest_glob(globs: &BTreeMap<String, CapabilitySet>, name: &str) -> Option<CapabilitySet> {
    let mut best: Option<(i64, CapabilitySet)> = None;
    for (glob, set) in globs {
        if !glob_match(glob, name) {
            continue;
        }
        let difference = name.len() as i64 - glob.len() as i64 + glob.matches('*').count() as i64;
        if best.is_none_or(|(d, _)| difference <= d) {
            best = Some((difference, *set));
        }
    }
    best.map(|(_, set)| set)
}

/// `go-glob`'s match: `*` matches any run of characters, nothing else is special.
pub fn glob_match(pattern: &str, subject: &str) -> bool {
    if pattern.is_empty() {
        return subject.is_empty();
    }
    if pattern == "*" {
        return true;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return subject == pattern;
    }
    let leading = pattern.starts_with('*');
    let trailing = pattern.ends_with('*');
    let last = parts.len() - 1;
    let mut rest = subject;
    for (i, part) in parts[..last].iter().enumerate() {
        match rest.find(part) {
            Some(at) if i > 0 || leading || at == 0 => rest = &rest[at + part.len()..],
            _ => return false,
        }
    }
    trailing || rest.ends_with(parts[last])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::policy::{normalize, NamespaceRule};
    use Capability::*;

    fn policy(blocks: &[(&str, &str, &[&str])]) -> PolicyRules {
        let doc = PolicyRules {
            namespaces: blocks
                .iter()
                .map(|(name, policy, caps)| NamespaceRule {
                    name: name.to_string(),
                    policy: policy.to_string(),
                    capabilities: caps.iter().map(|c| c.to_string()).collect(),
                    variables: None,
                })
                .collect(),
            ..PolicyRules::default()
        };
        normalize("rules", &doc).expect("valid policy")
    }

    fn levels(agent: Option<&str>, node: Option<&str>) -> PolicyRules {
        use crate::acl::policy::LevelRule;
        let rule = |p: Option<&str>| {
            p.map(|p| LevelRule {
                policy: p.to_string(),
            })
        };
        PolicyRules {
            agent: rule(agent),
            node: rule(node),
            ..PolicyRules::default()
        }
    }

    #[test]
    fn coarse_levels_grant_read_with_write_and_deny_wins() {
        let none = Acl::compile([&levels(None, None)]);
        assert!(!none.allow_agent_read() && !none.allow_node_read());
        let read = Acl::compile([&levels(Some("read"), Some("read"))]);
        assert!(read.allow_agent_read() && read.allow_node_read());
        assert!(!read.allow_node_write());
        let write = Acl::compile([&levels(None, Some("write"))]);
        assert!(write.allow_node_read() && write.allow_node_write());
        assert!(!write.allow_agent_read());
        for acl in [
            Acl::compile([
                &levels(Some("read"), Some("write")),
                &levels(Some("deny"), Some("deny")),
            ]),
            Acl::compile([
                &levels(Some("deny"), Some("deny")),
                &levels(Some("read"), Some("write")),
            ]),
        ] {
            assert!(!acl.allow_agent_read() && !acl.allow_node_read());
        }
        assert!(Acl::management().allow_operator_write());
    }

    #[test]
    fn shorthands_grant_their_expansion() {
        let acl = Acl::compile([&policy(&[("default", "read", &[])])]);
        assert!(acl.allow_namespace_operation("default", ReadJob));
        assert!(acl.allow_namespace_operation("default", ListJobs));
        assert!(!acl.allow_namespace_operation("default", SubmitJob));
        assert!(!acl.allow_namespace_operation("other", ReadJob));

        let acl = Acl::compile([&policy(&[("default", "write", &[])])]);
        assert!(acl.allow_namespace_operation("default", SubmitJob));
        assert!(!acl.allow_namespace_operation("default", PromoteDeployment));
        assert!(acl.allow_any("default", &[SubmitJob, PromoteDeployment]));

        let acl = Acl::compile([&policy(&[("default", "scale", &[])])]);
        assert!(acl.allow_namespace_operation("default", ScaleJob));
        assert!(acl.allow_namespace_operation("default", ReadJob));
        assert!(!acl.allow_namespace_operation("default", ListJobs));
    }

    #[test]
    fn policy_and_capabilities_are_unioned() {
        let acl = Acl::compile([&policy(&[("default", "read", &["promote-deployment"])])]);
        assert!(acl.allow_namespace_operation("default", ReadJob));
        assert!(acl.allow_namespace_operation("default", PromoteDeployment));
        assert!(!acl.allow_namespace_operation("default", FailDeployment));
        // Across policies too.
        let a = policy(&[("default", "read", &[])]);
        let b = policy(&[("default", "", &["fail-deployment"])]);
        let acl = Acl::compile([&a, &b]);
        assert!(acl.allow_namespace_operation("default", ReadJob));
        assert!(acl.allow_namespace_operation("default", FailDeployment));
    }

    #[test]
    fn deny_wins_whatever_the_order() {
        let write = policy(&[("default", "write", &[])]);
        let deny = policy(&[("default", "deny", &[])]);
        for acl in [Acl::compile([&write, &deny]), Acl::compile([&deny, &write])] {
            assert!(!acl.allow_namespace_operation("default", ReadJob));
            assert!(!acl.allow_namespace("default"));
        }
        // `deny` inside a capability list wins over the rest of the list.
        let acl = Acl::compile([&policy(&[("default", "write", &["deny"])])]);
        assert!(!acl.allow_namespace_operation("default", SubmitJob));
        // An exact deny beats a matching glob (exact labels are looked at first).
        let acl = Acl::compile([&policy(&[("*", "write", &[]), ("secret", "deny", &[])])]);
        assert!(acl.allow_namespace_operation("default", SubmitJob));
        assert!(!acl.allow_namespace_operation("secret", ReadJob));
    }

    #[test]
    fn globs_closest_match() {
        let acl = Acl::compile([&policy(&[
            ("*", "read", &[]),
            ("prod-*", "write", &[]),
            ("prod-api-*", "deny", &[]),
        ])]);
        assert!(acl.allow_namespace_operation("dev", ReadJob));
        assert!(!acl.allow_namespace_operation("dev", SubmitJob));
        assert!(acl.allow_namespace_operation("prod-web", SubmitJob));
        assert!(!acl.allow_namespace_operation("prod-api-eu", ReadJob));
        // An exact label wins over any glob.
        let acl = Acl::compile([&policy(&[
            ("prod-*", "write", &[]),
            ("prod-db", "read", &[]),
        ])]);
        assert!(!acl.allow_namespace_operation("prod-db", SubmitJob));
        assert!(acl.allow_namespace_operation("prod-db", ReadJob));
    }

    #[test]
    fn glob_ties_go_to_the_last_in_byte_order() {
        // "prod*" and "*-api" are equally close to "prod-api" (difference 4); Nomad
        // picks the one its radix walk meets last: "prod*" ('p' > '*').
        let acl = Acl::compile([&policy(&[("prod*", "write", &[]), ("*-api", "read", &[])])]);
        assert!(acl.allow_namespace_operation("prod-api", SubmitJob));
        let acl = Acl::compile([&policy(&[("prod*", "read", &[]), ("*-api", "write", &[])])]);
        assert!(!acl.allow_namespace_operation("prod-api", SubmitJob));
    }

    #[test]
    fn all_namespaces_means_any() {
        let acl = Acl::compile([&policy(&[("team-a", "read", &[])])]);
        assert!(acl.allow_namespace_operation(ALL_NAMESPACES, ReadJob));
        assert!(!acl.allow_namespace_operation(ALL_NAMESPACES, SubmitJob));
        assert!(acl.allow_namespace(ALL_NAMESPACES));
        let acl = Acl::compile([&policy(&[("team-a", "deny", &[])])]);
        assert!(!acl.allow_namespace(ALL_NAMESPACES));
        assert!(!acl.allow_namespace_operation(ALL_NAMESPACES, ReadJob));
        let none = Acl::compile([]);
        assert!(!none.allow_namespace_operation("default", ReadJob));
        assert!(!none.allow_namespace(ALL_NAMESPACES));
        let m = Acl::management();
        assert!(m.is_management() && m.allow_namespace_operation("x", PurgeJob));
    }

    #[test]
    fn go_glob_semantics() {
        assert!(glob_match("*", ""));
        assert!(glob_match("prod-*", "prod-"));
        assert!(glob_match("prod-*", "prod-web"));
        assert!(!glob_match("prod-*", "dev-prod-web"));
        assert!(glob_match("*-web", "prod-web"));
        assert!(!glob_match("*-web", "prod-web-2"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(!glob_match("", "x"));
    }
}
