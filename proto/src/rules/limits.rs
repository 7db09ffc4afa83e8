//! The largest values a volume or claim may hold, and the IDs the path API can address. A value
//! past a limit is refused with the field named: every record is stored on three nodes and sent
//! in every list page and snapshot, so one client must not make a record that costs the cluster
//! megabytes, or one that no GET or DELETE can reach again.

use super::ClaimRequest;
use crate::model::{Topology, Volume};
use std::collections::BTreeMap;

/// IDs: a volume's, its plugin's, an allocation's and a node's.
pub const MAX_ID: usize = 256;
/// Other free text: a name, an external, clone or snapshot ID, a file-system type.
pub const MAX_TEXT: usize = 1024;
/// Entries in one map (parameters, context, secrets, topology segments).
pub const MAX_ENTRIES: usize = 64;
pub const MAX_KEY: usize = 256;
pub const MAX_VALUE: usize = 64 * 1024;
/// Items in one list (capabilities, topologies, mount flags).
pub const MAX_ITEMS: usize = 64;

fn too_long(field: &str, len: usize, limit: usize) -> String {
    format!("{field} is {len} bytes, longer than the limit of {limit}")
}

/// Why `id` cannot be an ID in a path, if it cannot: a `/` would be read as a path separator,
/// a control character cannot be sent in a request line, and either would leave a record that
/// no GET or DELETE reaches.
pub fn unaddressable(field: &str, id: &str) -> Option<String> {
    if id.contains('/') {
        Some(format!(
            "{field} {id:?} contains \"/\", which no API path can address"
        ))
    } else if id.chars().any(char::is_control) {
        Some(format!(
            "{field} {id:?} contains a control character, which no API path can address"
        ))
    } else if id.len() > MAX_ID {
        Some(too_long(field, id.len(), MAX_ID))
    } else {
        None
    }
}

fn text(out: &mut Vec<String>, field: &str, value: &str, limit: usize) {
    if value.len() > limit {
        out.push(too_long(field, value.len(), limit));
    }
}

fn map(out: &mut Vec<String>, field: &str, m: &BTreeMap<String, String>, values_shown: bool) {
    if m.len() > MAX_ENTRIES {
        out.push(format!(
            "{field} has {} entries, more than the limit of {MAX_ENTRIES}",
            m.len()
        ));
    }
    for (k, v) in m {
        if k.len() > MAX_KEY {
            out.push(too_long(&format!("a {field} key"), k.len(), MAX_KEY));
        }
        if v.len() > MAX_VALUE {
            // A secret's key may be named; its value never is.
            let which = if values_shown { k.as_str() } else { "a secret" };
            out.push(too_long(
                &format!("{field} value of {which:?}"),
                v.len(),
                MAX_VALUE,
            ));
        }
    }
}

fn items(out: &mut Vec<String>, field: &str, count: usize) {
    if count > MAX_ITEMS {
        out.push(format!(
            "{field} has {count} items, more than the limit of {MAX_ITEMS}"
        ));
    }
}

fn topologies<'a>(
    out: &mut Vec<String>,
    field: &str,
    list: impl ExactSizeIterator<Item = &'a Topology>,
) {
    items(out, field, list.len());
    for t in list {
        map(out, &format!("{field} segments"), &t.segments, true);
    }
}

/// Every limit `v` breaks, naming the field.
pub fn volume_limits(v: &Volume) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(unaddressable("ID", &v.id));
    out.extend(unaddressable("PluginID", &v.plugin_id));
    for (field, value) in [
        ("Name", &v.name),
        ("ExternalID", &v.external_id),
        ("CloneID", &v.clone_id),
        ("SnapshotID", &v.snapshot_id),
        ("MountOptions.FSType", &v.mount_options.fs_type),
    ] {
        text(&mut out, field, value, MAX_TEXT);
    }
    map(&mut out, "Parameters", &v.parameters, true);
    map(&mut out, "Context", &v.context, true);
    if let Some(secrets) = &v.secrets.0 {
        map(&mut out, "Secrets", secrets, false);
    }
    items(
        &mut out,
        "RequestedCapabilities",
        v.requested_capabilities.len(),
    );
    let flags = v.mount_options.mount_flags.as_deref().unwrap_or_default();
    items(&mut out, "MountOptions.MountFlags", flags.len());
    for f in flags {
        text(&mut out, "a mount flag", f, MAX_KEY);
    }
    topologies(&mut out, "Topologies", v.topologies.iter());
    if let Some(req) = &v.requested_topologies {
        for (field, list) in [
            ("RequestedTopologies.Required", &req.required),
            ("RequestedTopologies.Preferred", &req.preferred),
        ] {
            let list: Vec<&Topology> = list.iter().flatten().flatten().collect();
            topologies(&mut out, field, list.into_iter());
        }
    }
    out
}

/// Every limit a claim request breaks, naming the field.
pub fn claim_limits(req: &ClaimRequest) -> Vec<String> {
    let mut out = Vec::new();
    for (field, value) in [
        ("AllocationID", &req.allocation_id),
        ("NodeID", &req.node_id),
        ("ExternalNodeID", &req.external_node_id),
    ] {
        if value.chars().any(char::is_control) {
            out.push(format!("{field} contains a control character"));
        }
        text(&mut out, field, value, MAX_ID);
    }
    for (field, value) in [
        ("JobID", &req.job_id),
        ("TaskGroup", &req.task_group),
        ("Name", &req.name),
    ] {
        text(&mut out, field, value, MAX_TEXT);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume() -> Volume {
        Volume {
            id: "v".into(),
            plugin_id: "p".into(),
            namespace: "default".into(),
            ..Default::default()
        }
    }

    #[test]
    fn ids_a_path_cannot_reach_are_named() {
        for (id, words) in [
            ("a/b", "contains \"/\""),
            ("a\0b", "control character"),
            ("tab\there", "control character"),
        ] {
            let v = Volume {
                id: id.into(),
                ..volume()
            };
            let problems = volume_limits(&v);
            assert!(
                problems.len() == 1
                    && problems[0].starts_with("ID ")
                    && problems[0].contains(words),
                "{id:?}: {problems:?}"
            );
        }
        assert!(volume_limits(&volume()).is_empty());
        assert!(unaddressable("ID", "ok-1_2.3~x:y@z").is_none());
    }

    #[test]
    fn every_oversized_field_is_named_and_secret_values_never_are() {
        let mut v = Volume {
            id: "i".repeat(MAX_ID + 1),
            name: "n".repeat(MAX_TEXT + 1),
            ..volume()
        };
        v.parameters = (0..=MAX_ENTRIES)
            .map(|i| (i.to_string(), "x".into()))
            .collect();
        v.secrets.0 = Some(BTreeMap::from([("pw".into(), "s3cr3t".repeat(20_000))]));
        v.mount_options.mount_flags = Some(vec!["f".into(); MAX_ITEMS + 1]);
        let problems = volume_limits(&v).join("; ");
        for named in [
            "ID is 257 bytes",
            "Name is 1025 bytes",
            "Parameters has 65 entries",
            "Secrets value of \"a secret\"",
            "MountOptions.MountFlags has 65 items",
        ] {
            assert!(problems.contains(named), "{named} missing from {problems}");
        }
        assert!(!problems.contains("s3cr3t"));
        assert_eq!(MAX_ID, 256);
    }
}
