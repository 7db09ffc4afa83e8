//! The stored CSI volume: the fields a user registers plus the ones the server owns. Claims are
//! kept as their own records (see `Claim`), never inside the volume.

use super::modes::{AccessMode, AttachmentMode, Capability};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The primary key of a volume: (namespace, id), compared bytewise like Nomad's memdb key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VolumeKey {
    pub namespace: String,
    pub id: String,
}

impl VolumeKey {
    pub fn new(namespace: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            id: id.into(),
        }
    }
}

impl fmt::Display for VolumeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.id)
    }
}

/// `{"Segments": {...}}`: where a volume is reachable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Topology {
    pub segments: BTreeMap<String, String>,
}

/// `{"Required": [...], "Preferred": [...]}`; either list may be null.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TopologyRequest {
    pub required: Option<Vec<Option<Topology>>>,
    pub preferred: Option<Vec<Option<Topology>>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MountOptions {
    #[serde(rename = "FSType")]
    pub fs_type: String,
    #[serde(rename = "MountFlags")]
    pub mount_flags: Option<Vec<String>>,
}

/// Credentials passed to the plugin. Stored as given; never printed by Debug, and every API output
/// replaces them with `null`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secrets(pub Option<BTreeMap<String, String>>);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("Secrets(none)"),
            Some(m) => write!(f, "Secrets({} redacted)", m.len()),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Volume {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    #[serde(rename = "ExternalID")]
    pub external_id: String,
    pub namespace: String,
    pub requested_topologies: Option<TopologyRequest>,
    pub topologies: Vec<Topology>,
    /// The current access mode: set by the first claim, reset when the last claim is freed.
    pub access_mode: AccessMode,
    /// The current attachment mode, with the same lifecycle as `access_mode`.
    pub attachment_mode: AttachmentMode,
    pub mount_options: MountOptions,
    pub secrets: Secrets,
    pub parameters: BTreeMap<String, String>,
    pub context: BTreeMap<String, String>,
    pub capacity: i64,
    pub requested_capacity_min: i64,
    pub requested_capacity_max: i64,
    pub requested_capabilities: Vec<Capability>,
    #[serde(rename = "CloneID")]
    pub clone_id: String,
    #[serde(rename = "SnapshotID")]
    pub snapshot_id: String,
    #[serde(rename = "PluginID")]
    pub plugin_id: String,
    pub provider: String,
    pub provider_version: String,
    pub controller_required: bool,
    /// RFC 3339 time; only a user can set it (Nomad keeps it as given).
    pub resource_exhausted: Option<String>,
    pub create_index: u64,
    pub modify_index: u64,
    /// Nanoseconds since the epoch, stamped by the leader before proposing (apply reads no
    /// clock).
    pub create_time: i64,
    pub modify_time: i64,
    /// Who claimed or released this volume, when, and through which state: a stowage extension,
    /// newest last, bounded to `ClaimEvent::KEEP` entries. The live tables keep it in a table of
    /// its own, so that a claim never rewrites it whole; it is filled here where a volume leaves
    /// them whole: in snapshots, archives and answers.
    #[serde(rename = "StowageClaimHistory")]
    pub claim_history: Vec<super::claim::ClaimEvent>,
}

impl Volume {
    pub fn key(&self) -> VolumeKey {
        VolumeKey::new(self.namespace.clone(), self.id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let v = Volume {
            secrets: Secrets(Some(BTreeMap::from([(
                "password".into(),
                "hunter2".into(),
            )]))),
            ..Default::default()
        };
        let dbg = format!("{v:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("1 redacted"));
    }

    #[test]
    fn uses_nomad_field_names() {
        let v = Volume {
            id: "vol".into(),
            plugin_id: "p".into(),
            ..Default::default()
        };
        let json = serde_json::to_value(&v).expect("json");
        assert_eq!(json["ID"], "vol");
        assert_eq!(json["PluginID"], "p");
        assert_eq!(json["MountOptions"]["FSType"], "");
        assert!(json["Secrets"].is_null());
    }
}
