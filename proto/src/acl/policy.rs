//! The ACL policy language: `namespace "<name or glob>" { policy = … capabilities = [...] }` and
//! `plugin { policy = … }` blocks, in Nomad's HCL or its JSON form, checked and expanded into the
//! capabilities they grant. Blocks for parts of Nomad stowage does not have (node, agent,
//! operator, quota, host volumes, …) are accepted and grant nothing here.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Every namespace capability Nomad knows; a policy naming another is refused.
pub const NAMESPACE_CAPABILITIES: &[&str] = &[
    "deny",
    "list-jobs",
    "parse-job",
    "read-job",
    "submit-job",
    "dispatch-job",
    "read-logs",
    "read-fs",
    "alloc-exec",
    "alloc-node-exec",
    "alloc-lifecycle",
    "sentinel-override",
    "csi-register-plugin",
    "csi-write-volume",
    "csi-read-volume",
    "csi-list-volume",
    "csi-mount-volume",
    "host-volume-create",
    "host-volume-register",
    "host-volume-read",
    "host-volume-write",
    "host-volume-delete",
    "list-scaling-policies",
    "read-scaling-policy",
    "read-job-scaling",
    "scale-job",
    "register-job",
    "revert-job",
    "deregister-job",
    "purge-job",
    "evaluate-job",
    "plan-job",
    "tag-job-version",
    "stable-job",
    "fail-deployment",
    "pause-deployment",
    "promote-deployment",
    "unblock-deployment",
    "cancel-deployment",
    "set-alloc-health-deployment",
    "gc-allocation",
    "pause-allocation",
    "force-periodic-job",
    "delete-service-registration",
    "submit-recommendation",
];

const READ: &[&str] = &[
    "list-jobs",
    "parse-job",
    "read-job",
    "csi-list-volume",
    "csi-read-volume",
    "read-job-scaling",
    "list-scaling-policies",
    "read-scaling-policy",
    "host-volume-read",
];

const WRITE_EXTRA: &[&str] = &[
    "scale-job",
    "submit-job",
    "dispatch-job",
    "read-logs",
    "read-fs",
    "alloc-exec",
    "alloc-lifecycle",
    "csi-mount-volume",
    "csi-write-volume",
    "submit-recommendation",
    "host-volume-create",
];

const SCALE: &[&str] = &[
    "list-scaling-policies",
    "read-scaling-policy",
    "read-job-scaling",
    "scale-job",
    "read-job",
    "submit-recommendation",
];

/// The top-level blocks of Nomad's policy language. Only `namespace` and `plugin` grant anything
/// here; the others are checked and kept, so that a policy written for Nomad applies as it is.
const BLOCKS: &[&str] = &[
    "namespace",
    "plugin",
    "node_pool",
    "host_volume",
    "agent",
    "node",
    "operator",
    "sentinel",
    "quota",
];

/// What a `policy = "…"` of a namespace block grants.
fn expand(policy: &str) -> Option<&'static [&'static [&'static str]]> {
    match policy {
        "deny" => Some(&[&["deny"]]),
        "read" => Some(&[READ]),
        "write" => Some(&[READ, WRITE_EXTRA]),
        "scale" => Some(&[SCALE]),
        _ => None,
    }
}

/// A plugin block's policy, from least to most privilege; `deny` overrides every other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginPolicy {
    List,
    Read,
    Write,
    Deny,
}

impl PluginPolicy {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "list" => Some(PluginPolicy::List),
            "read" => Some(PluginPolicy::Read),
            "write" => Some(PluginPolicy::Write),
            "deny" => Some(PluginPolicy::Deny),
            _ => None,
        }
    }
}

/// One policy's rules, checked and expanded: per namespace name or glob, the capabilities it
/// grants (`deny` alone when it denies), and the plugin policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRules {
    pub namespaces: BTreeMap<String, BTreeSet<String>>,
    pub plugin: Option<PluginPolicy>,
}

#[derive(Deserialize)]
struct RawNamespace {
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    capabilities: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RawPlugin {
    #[serde(default)]
    policy: String,
}

/// A block with just a policy (agent, node, operator, quota, sentinel).
#[derive(Deserialize)]
struct RawPolicyBlock {
    #[serde(default)]
    policy: String,
}

#[derive(Deserialize)]
struct RawRules {
    #[serde(default)]
    namespace: BTreeMap<String, RawNamespace>,
    #[serde(default)]
    plugin: Option<RawPlugin>,
    #[serde(default)]
    agent: Option<RawPolicyBlock>,
    #[serde(default)]
    node: Option<RawPolicyBlock>,
    #[serde(default)]
    operator: Option<RawPolicyBlock>,
    #[serde(default)]
    quota: Option<RawPolicyBlock>,
    #[serde(default)]
    sentinel: Option<RawPolicyBlock>,
}

/// Reads a policy's rules: Nomad's JSON form when the text is a JSON object, its HCL otherwise.
/// An error says what is wrong, in Nomad's words where Nomad has them; an HCL syntax error
/// names its line and column. Empty rules grant nothing, as in Nomad.
pub fn parse_rules(text: &str) -> Result<PolicyRules, String> {
    let parse_failed = |e: &dyn std::fmt::Display| format!("Failed to parse ACL Policy: {e}");
    let value: serde_json::Value = if text.trim().is_empty() {
        serde_json::Value::Object(Default::default())
    } else if text.trim_start().starts_with('{') {
        super::strict_json::from_str(text).map_err(|e| parse_failed(&e))?
    } else {
        hcl::from_str(text).map_err(|e| parse_failed(&e))?
    };
    let Some(keys) = value.as_object().map(|o| o.keys()) else {
        return Err(format!("Invalid policy: {text}"));
    };
    let unknown: Vec<&str> = keys
        .map(String::as_str)
        .filter(|k| !BLOCKS.contains(k))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "Invalid or duplicate policy keys: {}",
            unknown.join(", ")
        ));
    }
    let raw: RawRules = serde_json::from_value(value).map_err(|e| parse_failed(&e))?;
    for (block, policy, may_be_empty) in [
        ("agent", &raw.agent, false),
        ("node", &raw.node, false),
        ("quota", &raw.quota, false),
        ("operator", &raw.operator, true),
        ("sentinel", &raw.sentinel, true),
    ] {
        if let Some(b) = policy
            && !(matches!(b.policy.as_str(), "deny" | "read" | "write" | "scale")
                || (may_be_empty && b.policy.is_empty()))
        {
            return Err(format!("Invalid {block} policy: {:?}", b.policy));
        }
    }
    let mut rules = PolicyRules::default();
    for (name, ns) in raw.namespace {
        if !valid_namespace_pattern(&name) {
            return Err(format!("Invalid namespace name: {name:?}"));
        }
        let mut caps = BTreeSet::new();
        if let Some(policy) = ns.policy.as_deref().filter(|p| !p.is_empty()) {
            let granted = expand(policy).ok_or_else(|| {
                format!("Invalid namespace policy: {policy:?} for namespace {name:?}")
            })?;
            caps.extend(
                granted
                    .iter()
                    .flat_map(|set| set.iter())
                    .map(|c| c.to_string()),
            );
        }
        for cap in ns.capabilities.unwrap_or_default() {
            if !NAMESPACE_CAPABILITIES.contains(&cap.as_str()) {
                return Err(format!(
                    "Invalid namespace capability '{cap}' for namespace {name:?}"
                ));
            }
            caps.insert(cap);
        }
        if caps.contains("deny") {
            caps = BTreeSet::from(["deny".to_string()]);
        }
        rules.namespaces.insert(name, caps);
    }
    if let Some(plugin) = raw.plugin {
        rules.plugin = Some(
            PluginPolicy::parse(&plugin.policy)
                .ok_or_else(|| format!("Invalid plugin policy: {:?}", plugin.policy))?,
        );
    }
    Ok(rules)
}

/// A namespace rule names a namespace or a glob of them (`*` matches any run of characters).
fn valid_namespace_pattern(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_and_json_say_the_same() {
        let hcl = r#"
            namespace "default" {
              policy = "read"
            }
            namespace "prod-*" {
              policy       = "write"
              capabilities = ["csi-register-plugin"]
            }
            namespace "secret" {
              policy       = "deny"
              capabilities = ["csi-read-volume"]
            }
            plugin { policy = "list" }
            node { policy = "read" }
        "#;
        let json = r#"{"namespace": {"default": {"policy": "read"},
            "prod-*": {"policy": "write", "capabilities": ["csi-register-plugin"]},
            "secret": {"policy": "deny", "capabilities": ["csi-read-volume"]}},
            "plugin": {"policy": "list"}, "node": {"policy": "read"}}"#;
        let a = parse_rules(hcl).expect("hcl");
        assert_eq!(a, parse_rules(json).expect("json"));
        assert!(a.namespaces["default"].contains("csi-list-volume"));
        assert!(!a.namespaces["default"].contains("csi-write-volume"));
        assert!(a.namespaces["prod-*"].contains("csi-mount-volume"));
        assert!(a.namespaces["prod-*"].contains("csi-register-plugin"));
        assert_eq!(a.namespaces["secret"], BTreeSet::from(["deny".to_string()]));
        assert_eq!(a.plugin, Some(PluginPolicy::List));
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        let err = |s: &str| parse_rules(s).expect_err(s);
        assert!(err(r#"namespace "x" { policy = "admin" }"#).contains("Invalid namespace policy"));
        assert!(
            err(r#"namespace "x" { capabilities = ["fly"] }"#)
                .contains("Invalid namespace capability 'fly'")
        );
        assert!(err(r#"plugin { policy = "all" }"#).contains("Invalid plugin policy"));
        assert!(err(r#"node { policy = "list" }"#).contains("Invalid node policy"));
        assert_eq!(
            err("bogus { policy = \"read\" }\nanother { x = 1 }"),
            "Invalid or duplicate policy keys: another, bogus"
        );
        assert_eq!(
            parse_rules("").expect("empty rules"),
            PolicyRules::default()
        );
        assert!(err(r#"namespace "a b" { policy = "read" }"#).contains("Invalid namespace name"));
        let syntax = err("namespace \"x\" {\n  policy = \n}");
        assert!(syntax.starts_with("Failed to parse ACL Policy"), "{syntax}");
        assert!(syntax.contains("line 2"), "{syntax}");
        assert!(err("{\"namespace\": 3}").starts_with("Failed to parse ACL Policy"));
    }
}
