//! What a caller may do: the union of its policies' rules (or everything, for a management
//! token), and the checks each endpoint asks of it.

use super::policy::{PluginPolicy, PolicyRules};
use std::collections::{BTreeMap, BTreeSet};

/// A namespace capability an endpoint may ask for.
pub type NsCapability = &'static str;

/// What a plugin endpoint asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PluginAccess {
    List,
    Read,
    Write,
}

/// The merged permissions of one caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acl {
    /// A management token: everything is allowed.
    Management,
    /// The union of some policies' rules: capabilities per namespace name or glob, and the
    /// plugin policy with the most privilege (`deny` above all).
    Rules {
        namespaces: BTreeMap<String, BTreeSet<String>>,
        plugin: Option<PluginPolicy>,
    },
}

impl Acl {
    /// The union of `rules`: capabilities are added per namespace name, and a `deny` anywhere
    /// for a name leaves only `deny` for it.
    pub fn merge<'a>(rules: impl IntoIterator<Item = &'a PolicyRules>) -> Acl {
        let mut namespaces: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut plugin: Option<PluginPolicy> = None;
        for r in rules {
            for (name, caps) in &r.namespaces {
                namespaces
                    .entry(name.clone())
                    .or_default()
                    .extend(caps.iter().cloned());
            }
            plugin = plugin.max(r.plugin);
        }
        for caps in namespaces.values_mut() {
            if caps.contains("deny") {
                *caps = BTreeSet::from(["deny".to_string()]);
            }
        }
        Acl::Rules { namespaces, plugin }
    }

    /// The capabilities that apply to namespace `ns`: its own rule, or else the glob that
    /// matches it most closely (the fewest characters left to the `*`s).
    fn rule_for<'a>(
        namespaces: &'a BTreeMap<String, BTreeSet<String>>,
        ns: &str,
    ) -> Option<&'a BTreeSet<String>> {
        if let Some(caps) = namespaces.get(ns) {
            return Some(caps);
        }
        // Nomad's distance: the characters the `*`s stand for, plus one per `*`; among equals,
        // the glob that sorts last.
        let distance = |pattern: &str| ns.len() + pattern.matches('*').count() - pattern.len();
        namespaces
            .iter()
            .filter(|(pattern, _)| pattern.contains('*') && glob_matches(pattern, ns))
            .min_by(|(a, _), (b, _)| distance(a).cmp(&distance(b)).then(b.cmp(a)))
            .map(|(_, caps)| caps)
    }

    /// Whether any of `caps` is granted in namespace `ns`; `*` asks whether it is granted in
    /// some namespace.
    pub fn allows_namespace(&self, ns: &str, caps: &[NsCapability]) -> bool {
        let Acl::Rules { namespaces, .. } = self else {
            return true;
        };
        let grants = |held: &BTreeSet<String>| {
            !held.contains("deny") && caps.iter().any(|c| held.contains(*c))
        };
        if ns == "*" {
            return namespaces.values().any(grants);
        }
        Self::rule_for(namespaces, ns).is_some_and(grants)
    }

    /// Whether any capability at all is granted in namespace `ns`.
    pub fn allows_any_in_namespace(&self, ns: &str) -> bool {
        let Acl::Rules { namespaces, .. } = self else {
            return true;
        };
        Self::rule_for(namespaces, ns)
            .is_some_and(|held| !held.contains("deny") && !held.is_empty())
    }

    /// Plugin access: `list` by a list, read or write policy; `read` by read or write (write
    /// implies read, unlike in Nomad); `write` by write only; nothing under `deny`.
    pub fn allows_plugin(&self, access: PluginAccess) -> bool {
        let Acl::Rules { plugin, .. } = self else {
            return true;
        };
        matches!(
            (plugin, access),
            (Some(PluginPolicy::Write), _)
                | (
                    Some(PluginPolicy::Read),
                    PluginAccess::List | PluginAccess::Read
                )
                | (Some(PluginPolicy::List), PluginAccess::List)
        )
    }

    pub fn is_management(&self) -> bool {
        matches!(self, Acl::Management)
    }
}

/// Glob matching where `*` stands for any run of characters, itself included.
fn glob_matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = match parts.split_first() {
        Some(x) => x,
        None => return name.is_empty(),
    };
    let Some(mut tail) = name.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return tail.is_empty();
    };
    for part in middle {
        match tail.find(part) {
            Some(at) => tail = &tail[at + part.len()..],
            None => return false,
        }
    }
    tail.len() >= last.len() && tail.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::parse_rules;

    fn acl(policies: &[&str]) -> Acl {
        let rules: Vec<PolicyRules> = policies
            .iter()
            .map(|p| parse_rules(p).expect("valid"))
            .collect();
        Acl::merge(&rules)
    }

    #[test]
    fn globs_match_and_the_closest_wins() {
        assert!(glob_matches("prod-*", "prod-eu"));
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches("*-eu", "prod-eu"));
        assert!(glob_matches("p*d*u", "prod-eu"));
        assert!(!glob_matches("prod-*", "staging"));
        assert!(!glob_matches("a*a", "a"));
        let a = acl(&[r#"namespace "*" { policy = "read" }
            namespace "prod-*" { policy = "deny" }
            namespace "prod-eu" { policy = "write" }"#]);
        assert!(a.allows_namespace("dev", &["csi-read-volume"]));
        assert!(
            !a.allows_namespace("prod-us", &["csi-read-volume"]),
            "the closer glob denies"
        );
        assert!(
            a.allows_namespace("prod-eu", &["csi-write-volume"]),
            "an exact name wins"
        );
        assert!(!a.allows_namespace("dev", &["csi-write-volume"]));
        assert!(
            a.allows_namespace("*", &["csi-write-volume"]),
            "some namespace allows it"
        );
    }

    #[test]
    fn policies_merge_and_deny_wins() {
        let a = acl(&[
            r#"namespace "default" { policy = "read" }"#,
            r#"namespace "default" { capabilities = ["csi-mount-volume"] }"#,
        ]);
        assert!(a.allows_namespace("default", &["csi-mount-volume"]));
        assert!(a.allows_namespace("default", &["csi-list-volume"]));
        let a = acl(&[
            r#"namespace "default" { policy = "write" }"#,
            r#"namespace "default" { policy = "deny" }"#,
        ]);
        assert!(!a.allows_namespace("default", &["csi-list-volume"]));
        assert!(!a.allows_any_in_namespace("default"));
    }

    #[test]
    fn plugin_write_implies_read_and_deny_wins() {
        let a = acl(&[
            r#"plugin { policy = "read" }"#,
            r#"plugin { policy = "write" }"#,
        ]);
        assert!(a.allows_plugin(PluginAccess::Read), "write implies read");
        assert!(a.allows_plugin(PluginAccess::Write));
        let a = acl(&[r#"plugin { policy = "list" }"#]);
        assert!(a.allows_plugin(PluginAccess::List));
        assert!(!a.allows_plugin(PluginAccess::Read));
        let a = acl(&[
            r#"plugin { policy = "write" }"#,
            r#"plugin { policy = "deny" }"#,
        ]);
        assert!(!a.allows_plugin(PluginAccess::List));
        assert!(!acl(&[]).allows_plugin(PluginAccess::List));
        assert!(Acl::Management.allows_plugin(PluginAccess::Write));
    }
}
