//! The meaning of a parsed volume file, HCL or Nomad's snake_case JSON: each key of Nomad's CSI
//! volume specification into `VolumeSpec`. Unknown keys, repeats and wrong types are refused at
//! their place, so that a typo is never silently dropped.

use super::error::{ErrorKind, Fault};
use super::tree::{Item, Key, Kind, Node, Strings};
use super::units::parse_bytes;
use std::collections::{BTreeMap, HashSet};
use stowage_proto::api::{CapabilitySpec, VolumeSpec};
use stowage_proto::model::{MountOptions, Secrets, Topology, TopologyRequest};

/// Every top-level key. `access_mode` and `attachment_mode` are Nomad 1.0's form of one
/// capability; the server reads them as such when no `capability` block is given.
pub(super) const TOP: &[&str] = &[
    "id",
    "namespace",
    "name",
    "type",
    "plugin_id",
    "external_id",
    "snapshot_id",
    "clone_id",
    "capacity_min",
    "capacity_max",
    "capability",
    "mount_options",
    "topology_request",
    "secrets",
    "parameters",
    "context",
    "access_mode",
    "attachment_mode",
];

/// Top-level keys that may be given more than once: blocks that add up.
const TOP_REPEATABLE: &[&str] = &["capability", "secrets", "parameters", "context"];

/// Decodes the root object of a volume file.
pub(super) fn volume(root: &Node) -> Result<VolumeSpec, Fault> {
    let Kind::Object(items) = &root.kind else {
        return Err(root.wrong_type("a volume specification", "an object"));
    };
    // The type first: a host volume's file should be refused for its type, not its other keys.
    check_type(items)?;
    check_keys(items, "the volume specification", TOP, TOP_REPEATABLE)?;
    let mut spec = VolumeSpec::default();
    let mut secrets = None;
    for item in items {
        let name = item.key.name.as_str();
        let text = || item.value.text(name, Strings::Weak);
        match name {
            "id" => spec.id = text()?,
            "namespace" => spec.namespace = text()?,
            "name" => spec.name = text()?,
            "plugin_id" => spec.plugin_id = text()?,
            "external_id" => spec.external_id = text()?,
            "snapshot_id" => spec.snapshot_id = text()?,
            "clone_id" => spec.clone_id = text()?,
            "access_mode" => spec.access_mode = text()?,
            "attachment_mode" => spec.attachment_mode = text()?,
            "capacity_min" => spec.requested_capacity_min = capacity(item)?,
            "capacity_max" => spec.requested_capacity_max = capacity(item)?,
            "capability" => {
                for body in bodies(item)? {
                    spec.requested_capabilities.push(Some(capability(body)?));
                }
            }
            "mount_options" => spec.mount_options = Some(mount_options(single(item)?)?),
            "topology_request" => {
                spec.requested_topologies = Some(topology_request(single(item)?)?);
            }
            "secrets" => collect_map(
                item,
                Strings::Weak,
                secrets.get_or_insert_with(BTreeMap::new),
            )?,
            "parameters" => collect_map(item, Strings::Weak, &mut spec.parameters)?,
            "context" => collect_map(item, Strings::Weak, &mut spec.context)?,
            // "type" was checked above, and check_keys refused anything else.
            _ => {}
        }
    }
    spec.secrets = Secrets(secrets);
    Ok(spec)
}

/// Nomad's CLI dispatches on `type` (lower-cased), and only "csi" volumes are stored here.
fn check_type(items: &[Item]) -> Result<(), Fault> {
    let mut types = items.iter().filter(|i| i.key.name == "type");
    let Some(first) = types.next() else {
        return Err(Fault::nowhere(
            ErrorKind::VolumeType,
            "volume type is required: add type = \"csi\"",
        ));
    };
    if let Some(again) = types.next() {
        return Err(again.key.given_twice());
    }
    let kind = first.value.text("type", Strings::Weak)?;
    if !kind.eq_ignore_ascii_case("csi") {
        return Err(Fault::new(
            first.value.at,
            ErrorKind::VolumeType,
            format!("volume type {kind:?} is not supported here: only \"csi\""),
        ));
    }
    Ok(())
}

/// Refuses labels, keys outside `allowed`, and a second of any key not in `repeatable`.
fn check_keys(
    items: &[Item],
    block: &str,
    allowed: &[&str],
    repeatable: &[&str],
) -> Result<(), Fault> {
    let mut seen = HashSet::new();
    for item in items {
        let name = item.key.name.as_str();
        if let Some(label) = item.labels.first() {
            return Err(Fault::new(
                label.at,
                ErrorKind::UnknownKey,
                format!("{name:?} takes no label, found {:?}", label.name),
            ));
        }
        if !allowed.contains(&name) {
            return Err(Fault::new(
                item.key.at,
                ErrorKind::UnknownKey,
                format!(
                    "unknown key {name:?} in {block}; expected {}",
                    one_of(allowed)
                ),
            ));
        }
        if !seen.insert(name) && !repeatable.contains(&name) {
            return Err(item.key.given_twice());
        }
    }
    Ok(())
}

fn one_of(keys: &[&str]) -> String {
    match keys {
        [one] => one.to_string(),
        [most @ .., last] => format!("{} or {last}", most.join(", ")),
        [] => "nothing".to_string(),
    }
}

/// The bodies a block holds: one for `key { … }` or `key = { … }`, and one per element of a list
/// of objects, which is how JSON (and HCL 1's JSON reading) writes a repeated block.
fn bodies(item: &Item) -> Result<Vec<&[Item]>, Fault> {
    let name = &item.key.name;
    match &item.value.kind {
        Kind::Object(items) => Ok(vec![items.as_slice()]),
        Kind::List(list) => list
            .iter()
            .map(|node| match &node.kind {
                Kind::Object(items) => Ok(items.as_slice()),
                _ => Err(node.wrong_type(name, "a block")),
            })
            .collect(),
        _ => Err(item.value.wrong_type(name, "a block")),
    }
}

/// The body of a block that may appear once.
fn single(item: &Item) -> Result<&[Item], Fault> {
    let bodies = bodies(item)?;
    match (bodies.as_slice(), &item.value.kind) {
        ([one], _) => Ok(one),
        (_, Kind::List(list)) if list.len() > 1 => {
            let again = Key {
                name: item.key.name.clone(),
                at: list[1].at,
            };
            Err(again.given_twice())
        }
        _ => Err(item.value.wrong_type(&item.key.name, "a block")),
    }
}

fn capacity(item: &Item) -> Result<i64, Fault> {
    let name = &item.key.name;
    let text = match &item.value.kind {
        // A bare number is bytes, as Nomad reads the literal's text.
        Kind::Str(text) | Kind::Num(text) => text,
        _ => return Err(item.value.wrong_type(name, "a size such as \"10GiB\"")),
    };
    parse_bytes(text).map_err(|why| {
        Fault::new(
            item.value.at,
            ErrorKind::Capacity,
            format!("invalid {name}: {why}"),
        )
    })
}

fn capability(body: &[Item]) -> Result<CapabilitySpec, Fault> {
    check_keys(body, "capability", &["access_mode", "attachment_mode"], &[])?;
    let mut cap = CapabilitySpec::default();
    for item in body {
        let text = item.value.text(&item.key.name, Strings::Weak)?;
        match item.key.name.as_str() {
            "access_mode" => cap.access_mode = text,
            _ => cap.attachment_mode = text,
        }
    }
    Ok(cap)
}

fn mount_options(body: &[Item]) -> Result<MountOptions, Fault> {
    check_keys(body, "mount_options", &["fs_type", "mount_flags"], &[])?;
    let mut opts = MountOptions::default();
    for item in body {
        match (item.key.name.as_str(), &item.value.kind) {
            ("fs_type", _) => opts.fs_type = item.value.text("fs_type", Strings::Literal)?,
            (_, Kind::List(flags)) => {
                let flags = flags
                    .iter()
                    .map(|flag| flag.text("each of mount_flags", Strings::Literal))
                    .collect::<Result<_, _>>()?;
                opts.mount_flags = Some(flags);
            }
            _ => return Err(item.value.wrong_type("mount_flags", "a list of strings")),
        }
    }
    Ok(opts)
}

/// `required` and `preferred` may each be repeated; their topologies add up in order. (Nomad
/// keeps only the first that names any, which drops all but one topology of the JSON form its
/// own `volume init -json` writes.) A topology without segments says nothing, and is dropped as
/// Nomad drops it.
fn topology_request(body: &[Item]) -> Result<TopologyRequest, Fault> {
    let both = ["required", "preferred"];
    check_keys(body, "topology_request", &both, &both)?;
    let mut request = TopologyRequest::default();
    for item in body {
        let mut found = Vec::new();
        for list in bodies(item)? {
            check_keys(list, &item.key.name, &["topology"], &["topology"])?;
            for topology in list {
                for segments in bodies(topology)? {
                    check_keys(segments, "topology", &["segments"], &[])?;
                    for item in segments {
                        let mut map = BTreeMap::new();
                        collect_map(item, Strings::Literal, &mut map)?;
                        if !map.is_empty() {
                            found.push(Some(Topology { segments: map }));
                        }
                    }
                }
            }
        }
        let slot = match item.key.name.as_str() {
            "required" => &mut request.required,
            _ => &mut request.preferred,
        };
        slot.get_or_insert_with(Vec::new).extend(found);
    }
    // As Nomad: a list that names no topology is sent as none.
    for slot in [&mut request.required, &mut request.preferred] {
        if slot.as_ref().is_some_and(Vec::is_empty) {
            *slot = None;
        }
    }
    Ok(request)
}

/// Adds a block of strings to `into`. Nomad merges repeated `secrets`, `parameters` and
/// `context` blocks; a key given twice is refused here rather than letting the later one win
/// unseen.
fn collect_map(
    item: &Item,
    strings: Strings,
    into: &mut BTreeMap<String, String>,
) -> Result<(), Fault> {
    let block = &item.key.name;
    for body in bodies(item)? {
        for entry in body {
            let key = &entry.key.name;
            if let Some(label) = entry.labels.first() {
                return Err(Fault::new(
                    label.at,
                    ErrorKind::UnknownKey,
                    format!("{block} value {key:?} takes no label"),
                ));
            }
            let value = entry
                .value
                .text(&format!("{block} value {key:?}"), strings)?;
            if into.insert(key.clone(), value).is_some() {
                return Err(entry.key.given_twice());
            }
        }
    }
    Ok(())
}
