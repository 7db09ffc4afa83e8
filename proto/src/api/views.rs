//! Nomad's JSON shapes for volumes and plugins, built from the stored records: plugin health is
//! denormalized onto every volume, claims become ReadAllocs/WriteAllocs/Allocations, and secrets
//! never leave (Secrets is `null`, MountFlags redacted).

use crate::filter::Fields;
use crate::model::{
    AccessMode, AttachmentMode, Capability, Claim, ClaimEvent, ClaimMode, MountOptions, Plugin,
    Topology, TopologyRequest, Volume,
};
use crate::query::VolumeDetail;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Nomad's `AllocListStub`, as far as a claim knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocStub {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub namespace: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub task_group: String,
    pub create_time: i64,
    pub modify_time: i64,
}

/// Nomad's full `CSIVolume`, sanitized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiVolume {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    #[serde(rename = "ExternalID")]
    pub external_id: String,
    pub namespace: String,
    pub topologies: Vec<Topology>,
    pub requested_topologies: Option<TopologyRequest>,
    pub access_mode: AccessMode,
    pub attachment_mode: AttachmentMode,
    pub mount_options: MountOptions,
    /// Always `null`: secrets are write-only.
    pub secrets: Option<BTreeMap<String, String>>,
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
    pub read_allocs: BTreeMap<String, Option<()>>,
    pub write_allocs: BTreeMap<String, Option<()>>,
    pub allocations: Vec<AllocStub>,
    pub schedulable: bool,
    #[serde(rename = "PluginID")]
    pub plugin_id: String,
    pub provider: String,
    pub provider_version: String,
    pub controller_required: bool,
    pub controllers_healthy: i64,
    pub controllers_expected: i64,
    pub nodes_healthy: i64,
    pub nodes_expected: i64,
    pub resource_exhausted: Option<String>,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
    /// Extension: who claimed or released this volume, when, and through which state.
    #[serde(rename = "StowageClaimHistory")]
    pub claim_history: Vec<ClaimEvent>,
}

/// Nomad's `CSIVolListStub`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeStub {
    #[serde(rename = "ID")]
    pub id: String,
    pub namespace: String,
    pub name: String,
    #[serde(rename = "ExternalID")]
    pub external_id: String,
    pub topologies: Vec<Topology>,
    pub access_mode: AccessMode,
    pub attachment_mode: AttachmentMode,
    pub current_readers: usize,
    pub current_writers: usize,
    pub schedulable: bool,
    #[serde(rename = "PluginID")]
    pub plugin_id: String,
    pub provider: String,
    pub controller_required: bool,
    pub controllers_healthy: i64,
    pub controllers_expected: i64,
    pub nodes_healthy: i64,
    pub nodes_expected: i64,
    pub resource_exhausted: Option<String>,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
}

/// A stored volume with what its views are derived from, borrowed from the state: list pages
/// and filters read through this, so a candidate is never copied unless it is answered.
#[derive(Debug, Clone, Copy)]
pub struct VolumeRef<'a> {
    pub volume: &'a Volume,
    /// The volume's claims by allocation ID; `None` when it has none.
    pub claims: Option<&'a BTreeMap<String, Claim>>,
    pub plugin: Option<&'a Plugin>,
    /// The volume's claim history, oldest first.
    pub history: &'a [ClaimEvent],
}

fn redact(m: &MountOptions) -> MountOptions {
    MountOptions {
        fs_type: m.fs_type.clone(),
        mount_flags: m.mount_flags.as_ref().map(|f| {
            if f.is_empty() {
                vec![]
            } else {
                vec!["[REDACTED]".to_string()]
            }
        }),
    }
}

/// Plugin health as a volume shows it: the plugin's record while it exists, else the volume's
/// own stored values (Nomad keeps the expected counts and the controller flag it last saw).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Health<'a> {
    provider: &'a str,
    provider_version: &'a str,
    controller_required: bool,
    controllers_healthy: i64,
    controllers_expected: i64,
    nodes_healthy: i64,
    nodes_expected: i64,
    schedulable: bool,
}

impl<'a> VolumeRef<'a> {
    fn claims(&self) -> impl Iterator<Item = &'a Claim> + use<'a> {
        self.claims.into_iter().flat_map(|m| m.values())
    }

    fn health(&self) -> Health<'a> {
        let v = self.volume;
        match self.plugin {
            Some(p) => Health {
                provider: &p.provider,
                provider_version: &p.version,
                controller_required: p.controller_required,
                controllers_healthy: p.controllers_healthy,
                controllers_expected: p.controllers_expected,
                nodes_healthy: p.nodes_healthy,
                nodes_expected: p.nodes_expected,
                schedulable: p.schedulable(),
            },
            None => Health {
                provider: &v.provider,
                provider_version: &v.provider_version,
                controller_required: v.controller_required,
                controllers_healthy: 0,
                controllers_expected: 0,
                nodes_healthy: 0,
                nodes_expected: 0,
                schedulable: false,
            },
        }
    }

    fn allocs(&self, mode: ClaimMode) -> BTreeMap<String, Option<()>> {
        self.claims()
            .filter(|c| c.mode == mode)
            .map(|c| (c.allocation_id.clone(), None))
            .collect()
    }

    fn count(&self, mode: ClaimMode) -> usize {
        self.claims().filter(|c| c.mode == mode).count()
    }

    fn allocations(&self) -> Vec<AllocStub> {
        self.claims()
            .filter(|c| c.mode != ClaimMode::Gc)
            .map(|c| AllocStub {
                id: c.allocation_id.clone(),
                name: c.name.clone(),
                namespace: self.volume.namespace.clone(),
                node_id: c.node_id.clone(),
                job_id: c.job_id.clone(),
                task_group: c.task_group.clone(),
                create_time: c.claimed_at,
                modify_time: c.updated_at,
            })
            .collect()
    }

    /// The full, sanitized volume as Nomad's GET shows it.
    pub fn to_api(&self) -> ApiVolume {
        let v = self.volume;
        let h = self.health();
        ApiVolume {
            id: v.id.clone(),
            name: v.name.clone(),
            external_id: v.external_id.clone(),
            namespace: v.namespace.clone(),
            topologies: v.topologies.clone(),
            requested_topologies: v.requested_topologies.clone(),
            access_mode: v.access_mode,
            attachment_mode: v.attachment_mode,
            mount_options: redact(&v.mount_options),
            secrets: None,
            parameters: v.parameters.clone(),
            context: v.context.clone(),
            capacity: v.capacity,
            requested_capacity_min: v.requested_capacity_min,
            requested_capacity_max: v.requested_capacity_max,
            requested_capabilities: v.requested_capabilities.clone(),
            clone_id: v.clone_id.clone(),
            snapshot_id: v.snapshot_id.clone(),
            read_allocs: self.allocs(ClaimMode::Read),
            write_allocs: self.allocs(ClaimMode::Write),
            allocations: self.allocations(),
            schedulable: h.schedulable,
            plugin_id: v.plugin_id.clone(),
            provider: h.provider.to_string(),
            provider_version: h.provider_version.to_string(),
            controller_required: h.controller_required,
            controllers_healthy: h.controllers_healthy,
            controllers_expected: h.controllers_expected,
            nodes_healthy: h.nodes_healthy,
            nodes_expected: h.nodes_expected,
            resource_exhausted: v.resource_exhausted.clone(),
            create_index: v.create_index,
            modify_index: v.modify_index,
            create_time: v.create_time,
            modify_time: v.modify_time,
            claim_history: self.history.to_vec(),
        }
    }

    /// The list stub, built without the full view.
    pub fn to_stub(&self) -> VolumeStub {
        let v = self.volume;
        let h = self.health();
        VolumeStub {
            id: v.id.clone(),
            namespace: v.namespace.clone(),
            name: v.name.clone(),
            external_id: v.external_id.clone(),
            topologies: v.topologies.clone(),
            access_mode: v.access_mode,
            attachment_mode: v.attachment_mode,
            current_readers: self.count(ClaimMode::Read),
            current_writers: self.count(ClaimMode::Write),
            schedulable: h.schedulable,
            plugin_id: v.plugin_id.clone(),
            provider: h.provider.to_string(),
            controller_required: h.controller_required,
            controllers_healthy: h.controllers_healthy,
            controllers_expected: h.controllers_expected,
            nodes_healthy: h.nodes_healthy,
            nodes_expected: h.nodes_expected,
            resource_exhausted: v.resource_exhausted.clone(),
            create_index: v.create_index,
            modify_index: v.modify_index,
            create_time: v.create_time,
            modify_time: v.modify_time,
        }
    }
}

fn json<T: Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Filters see one field of the sanitized volume at a time, computed from the typed record: the
/// names and values are exactly those of `ApiVolume`'s JSON (a test holds the two together).
impl Fields for VolumeRef<'_> {
    fn field(&self, name: &str) -> Option<Value> {
        let v = self.volume;
        let h = || self.health();
        Some(match name {
            "ID" => json(&v.id),
            "Name" => json(&v.name),
            "ExternalID" => json(&v.external_id),
            "Namespace" => json(&v.namespace),
            "Topologies" => json(&v.topologies),
            "RequestedTopologies" => json(&v.requested_topologies),
            "AccessMode" => json(v.access_mode),
            "AttachmentMode" => json(v.attachment_mode),
            "MountOptions" => json(redact(&v.mount_options)),
            "Secrets" => Value::Null,
            "Parameters" => json(&v.parameters),
            "Context" => json(&v.context),
            "Capacity" => json(v.capacity),
            "RequestedCapacityMin" => json(v.requested_capacity_min),
            "RequestedCapacityMax" => json(v.requested_capacity_max),
            "RequestedCapabilities" => json(&v.requested_capabilities),
            "CloneID" => json(&v.clone_id),
            "SnapshotID" => json(&v.snapshot_id),
            "ReadAllocs" => json(self.allocs(ClaimMode::Read)),
            "WriteAllocs" => json(self.allocs(ClaimMode::Write)),
            "Allocations" => json(self.allocations()),
            "Schedulable" => json(h().schedulable),
            "PluginID" => json(&v.plugin_id),
            "Provider" => json(h().provider),
            "ProviderVersion" => json(h().provider_version),
            "ControllerRequired" => json(h().controller_required),
            "ControllersHealthy" => json(h().controllers_healthy),
            "ControllersExpected" => json(h().controllers_expected),
            "NodesHealthy" => json(h().nodes_healthy),
            "NodesExpected" => json(h().nodes_expected),
            "ResourceExhausted" => json(&v.resource_exhausted),
            "CreateIndex" => json(v.create_index),
            "ModifyIndex" => json(v.modify_index),
            "CreateTime" => json(v.create_time),
            "ModifyTime" => json(v.modify_time),
            "StowageClaimHistory" => json(self.history),
            _ => return None,
        })
    }
}

impl VolumeDetail {
    /// A borrowed view of this detail.
    pub fn as_ref(&self) -> VolumeRef<'_> {
        VolumeRef {
            volume: &self.volume,
            claims: Some(&self.claims),
            plugin: self.plugin.as_ref(),
            history: &self.volume.claim_history,
        }
    }
}

impl ApiVolume {
    pub fn from_detail(d: &VolumeDetail) -> Self {
        d.as_ref().to_api()
    }
}

/// Nomad's `CSIPluginListStub`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginStub {
    #[serde(rename = "ID")]
    pub id: String,
    pub provider: String,
    pub controller_required: bool,
    pub controllers_healthy: i64,
    pub controllers_expected: i64,
    pub nodes_healthy: i64,
    pub nodes_expected: i64,
    pub create_index: u64,
    pub modify_index: u64,
}

/// Nomad's `CSIPlugin`. Per-node fingerprints are not tracked, so the maps are empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiPlugin {
    #[serde(rename = "ID")]
    pub id: String,
    pub provider: String,
    pub version: String,
    pub controller_required: bool,
    pub controllers: BTreeMap<String, Value>,
    pub nodes: BTreeMap<String, Value>,
    pub allocations: Vec<AllocStub>,
    pub controllers_healthy: i64,
    pub controllers_expected: i64,
    pub nodes_healthy: i64,
    pub nodes_expected: i64,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
}

impl PluginStub {
    pub fn from_plugin(p: &Plugin) -> Self {
        PluginStub {
            id: p.id.clone(),
            provider: p.provider.clone(),
            controller_required: p.controller_required,
            controllers_healthy: p.controllers_healthy,
            controllers_expected: p.controllers_expected,
            nodes_healthy: p.nodes_healthy,
            nodes_expected: p.nodes_expected,
            create_index: p.create_index,
            modify_index: p.modify_index,
        }
    }
}

impl ApiPlugin {
    pub fn from_plugin(p: &Plugin) -> Self {
        ApiPlugin {
            id: p.id.clone(),
            provider: p.provider.clone(),
            version: p.version.clone(),
            controller_required: p.controller_required,
            controllers: BTreeMap::new(),
            nodes: BTreeMap::new(),
            allocations: vec![],
            controllers_healthy: p.controllers_healthy,
            controllers_expected: p.controllers_expected,
            nodes_healthy: p.nodes_healthy,
            nodes_expected: p.nodes_expected,
            create_index: p.create_index,
            modify_index: p.modify_index,
            create_time: 0,
            modify_time: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClaimState, Secrets};

    fn sample() -> (Volume, BTreeMap<String, Claim>, Plugin) {
        let volume = Volume {
            id: "db".into(),
            namespace: "prod".into(),
            plugin_id: "ebs".into(),
            secrets: Secrets(Some(BTreeMap::from([("k".into(), "v".into())]))),
            mount_options: MountOptions {
                fs_type: "ext4".into(),
                mount_flags: Some(vec!["noatime".into()]),
            },
            parameters: BTreeMap::from([("tier".into(), "gold".into())]),
            ..Default::default()
        };
        let claim = |alloc: &str, mode| Claim {
            allocation_id: alloc.into(),
            node_id: "n1".into(),
            external_node_id: String::new(),
            mode,
            access_mode: AccessMode::MultiNodeMultiWriter,
            attachment_mode: AttachmentMode::FileSystem,
            state: ClaimState::Taken,
            claimed_at: 5,
            updated_at: 6,
            job_id: "job".into(),
            task_group: "tg".into(),
            name: "n".into(),
        };
        let plugin = Plugin {
            id: "ebs".into(),
            provider: "aws".into(),
            nodes_healthy: 2,
            ..Default::default()
        };
        let claims = [claim("r", ClaimMode::Read), claim("w", ClaimMode::Write)]
            .into_iter()
            .map(|c| (c.allocation_id.clone(), c))
            .collect();
        (volume, claims, plugin)
    }

    /// Filters must see exactly what the API shows: every field of the JSON, no other, each
    /// with the same value, with and without a plugin record.
    #[test]
    fn filter_fields_are_the_api_volume_json() {
        let (volume, claims, plugin) = sample();
        for plugin in [Some(&plugin), None] {
            let r = VolumeRef {
                volume: &volume,
                claims: Some(&claims),
                plugin,
                history: &volume.claim_history,
            };
            let Value::Object(full) = json(r.to_api()) else {
                panic!("an object")
            };
            for (key, value) in &full {
                assert_eq!(r.field(key).as_ref(), Some(value), "{key}");
            }
            assert_eq!(r.field("Nope"), None);
            assert!(full["Secrets"].is_null());
            assert_eq!(full["MountOptions"]["MountFlags"], json(["[REDACTED]"]));
        }
    }

    #[test]
    fn stub_agrees_with_the_full_view() {
        let (volume, claims, plugin) = sample();
        let r = VolumeRef {
            volume: &volume,
            claims: Some(&claims),
            plugin: Some(&plugin),
            history: &volume.claim_history,
        };
        let (full, stub) = (json(r.to_api()), json(r.to_stub()));
        for (key, value) in stub.as_object().into_iter().flatten() {
            match key.as_str() {
                "CurrentReaders" => assert_eq!(value, &json(1)),
                "CurrentWriters" => assert_eq!(value, &json(1)),
                _ => assert_eq!(Some(value), full.get(key), "{key}"),
            }
        }
        assert_eq!(full["Schedulable"], json(true));
    }
}
