//! ACL objects as Nomad puts them on the wire (`http-api.md` §8.5).
//!
//! A token goes through Go's `encoding/json` (its own `MarshalJSON`): keys in declaration
//! order, `ExpirationTTL` as a duration string, `<`, `>` and `&` escaped, an unset
//! `ExpirationTime` omitted (`omitempty` on a nil pointer). Everything else goes through
//! Nomad's msgpack JSON handle like the rest of the API (key order free, nil → `null`).

use rollout_engine::acl::policy::{
    JobAcl, LabelledRule, LevelRule, NamespaceRule, OperatorRule, PolicyRules, VariablesRule,
};
use rollout_engine::acl::{AclPolicy, AclToken};
use rollout_engine::format::go_duration;
use rollout_engine::model::time::format_rfc3339;
use serde::Serialize;
use serde_json::value::RawValue;

/// Standard base64 with padding (Go's encoding of `[]byte`).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A JSON string as Go's `encoding/json` writes it: HTML characters and the two
/// JavaScript line separators escaped.
fn go_json_string(s: &str) -> Box<RawValue> {
    let plain = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string());
    let mut out = String::with_capacity(plain.len());
    for c in plain.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    RawValue::from_string(out).unwrap_or_else(|_| {
        RawValue::from_string("\"\"".to_string()).expect("an empty string is JSON")
    })
}

/// A token, in `ACLToken.MarshalJSON`'s order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TokenView {
    #[serde(rename = "ExpirationTTL")]
    expiration_ttl: String,
    #[serde(rename = "AccessorID")]
    accessor_id: String,
    #[serde(rename = "SecretID")]
    secret_id: String,
    name: Box<RawValue>,
    #[serde(rename = "Type")]
    token_type: &'static str,
    policies: Option<Vec<String>>,
    roles: Option<()>,
    global: bool,
    hash: String,
    create_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_time: Option<String>,
    create_index: u64,
    modify_index: u64,
}

impl TokenView {
    /// `secret` is shown only to whoever already holds it: at creation, at bootstrap,
    /// and to the token itself. Elsewhere `SecretID` is `""`: rollout stores only a hash.
    pub fn new(t: &AclToken, secret: Option<&str>) -> TokenView {
        TokenView {
            expiration_ttl: if t.expiration_ttl == 0 {
                String::new()
            } else {
                go_duration(t.expiration_ttl)
            },
            accessor_id: t.accessor_id.to_string(),
            secret_id: secret.unwrap_or_default().to_string(),
            name: go_json_string(&t.name),
            token_type: t.token_type.as_str(),
            policies: (!t.policies.is_empty()).then(|| t.policies.clone()),
            roles: None,
            global: t.global,
            hash: base64(&t.hash),
            create_time: format_rfc3339(t.create_time),
            expiration_time: t.expiration_time.map(format_rfc3339),
            create_index: t.create_index,
            modify_index: t.modify_index,
        }
    }
}

/// `GET /v1/acl/tokens` items (no secret).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TokenStub {
    #[serde(rename = "AccessorID")]
    accessor_id: String,
    create_index: u64,
    create_time: String,
    expiration_time: Option<String>,
    global: bool,
    hash: String,
    modify_index: u64,
    name: String,
    policies: Option<Vec<String>>,
    roles: Option<()>,
    #[serde(rename = "Type")]
    token_type: &'static str,
}

impl TokenStub {
    pub fn new(t: &AclToken) -> TokenStub {
        TokenStub {
            accessor_id: t.accessor_id.to_string(),
            create_index: t.create_index,
            create_time: format_rfc3339(t.create_time),
            expiration_time: t.expiration_time.map(format_rfc3339),
            global: t.global,
            hash: base64(&t.hash),
            modify_index: t.modify_index,
            name: t.name.clone(),
            policies: (!t.policies.is_empty()).then(|| t.policies.clone()),
            roles: None,
            token_type: t.token_type.as_str(),
        }
    }
}

/// `GET /v1/acl/policies` items.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyStub {
    create_index: u64,
    description: String,
    hash: String,
    #[serde(rename = "JobACL")]
    job_acl: Option<JobAcl>,
    modify_index: u64,
    name: String,
}

impl PolicyStub {
    pub fn new(p: &AclPolicy) -> PolicyStub {
        PolicyStub {
            create_index: p.create_index,
            description: p.description.clone(),
            hash: base64(&p.hash),
            job_acl: p.job_acl.clone(),
            modify_index: p.modify_index,
            name: p.name.clone(),
        }
    }
}

/// `GET /v1/acl/policy/:name`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyView {
    create_index: u64,
    description: String,
    hash: String,
    #[serde(rename = "JobACL")]
    job_acl: Option<JobAcl>,
    modify_index: u64,
    name: String,
    rules: String,
    #[serde(rename = "RulesJSON")]
    rules_json: RulesJson,
}

impl PolicyView {
    pub fn new(p: &AclPolicy) -> PolicyView {
        PolicyView {
            create_index: p.create_index,
            description: p.description.clone(),
            hash: base64(&p.hash),
            job_acl: p.job_acl.clone(),
            modify_index: p.modify_index,
            name: p.name.clone(),
            rules: p.rules.clone(),
            rules_json: RulesJson::new(&p.parsed, &p.rules),
        }
    }
}

fn some_if_any<T: Clone>(items: &[T]) -> Option<Vec<T>> {
    (!items.is_empty()).then(|| items.to_vec())
}

/// Nomad's `acl.Policy` after parsing: shorthands already expanded into `Capabilities`;
/// empty lists are Go's nil slices (`null`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct RulesJson {
    agent: Option<LevelRule>,
    #[serde(rename = "ExtraKeysHCL")]
    extra_keys_hcl: Option<Vec<String>>,
    host_volumes: Option<Vec<LabelledView>>,
    namespaces: Option<Vec<NamespaceView>>,
    node: Option<LevelRule>,
    node_pools: Option<Vec<LabelledView>>,
    operator: Option<OperatorView>,
    plugin: Option<LevelRule>,
    quota: Option<LevelRule>,
    raw: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct NamespaceView {
    capabilities: Option<Vec<String>>,
    name: String,
    policy: String,
    variables: Option<VariablesRule>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct LabelledView {
    capabilities: Option<Vec<String>>,
    name: String,
    policy: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct OperatorView {
    capabilities: Option<Vec<String>>,
    policy: String,
}

impl RulesJson {
    fn new(p: &PolicyRules, raw: &str) -> RulesJson {
        let labelled = |rules: &[LabelledRule]| {
            (!rules.is_empty()).then(|| {
                rules
                    .iter()
                    .map(|r| LabelledView {
                        capabilities: some_if_any(&r.capabilities),
                        name: r.name.clone(),
                        policy: r.policy.clone(),
                    })
                    .collect()
            })
        };
        let namespace = |n: &NamespaceRule| NamespaceView {
            capabilities: some_if_any(&n.capabilities),
            name: n.name.clone(),
            policy: n.policy.clone(),
            variables: n.variables.clone(),
        };
        RulesJson {
            agent: p.agent.clone(),
            extra_keys_hcl: None,
            host_volumes: labelled(&p.host_volumes),
            namespaces: (!p.namespaces.is_empty())
                .then(|| p.namespaces.iter().map(namespace).collect()),
            node: p.node.clone(),
            node_pools: labelled(&p.node_pools),
            operator: p.operator.as_ref().map(|o: &OperatorRule| OperatorView {
                capabilities: some_if_any(&o.capabilities),
                policy: o.policy.clone(),
            }),
            plugin: p.plugin.clone(),
            quota: p.quota.clone(),
            raw: raw.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_like_go() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xfe]), "//4=");
    }

    #[test]
    fn go_escapes_html() {
        assert_eq!(
            go_json_string("a<b>&\"c").get(),
            r#""a\u003cb\u003e\u0026\"c""#
        );
    }
}
