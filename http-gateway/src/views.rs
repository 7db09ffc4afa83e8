//! Nomad's JSON shapes for volumes and plugins, built from the stored records: plugin health is
//! denormalized onto every volume, claims become ReadAllocs/WriteAllocs/Allocations, and secrets
//! never leave (Secrets is `null`, MountFlags redacted).

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use stowage_proto::{
    AccessMode, AttachmentMode, Capability, Claim, ClaimEvent, ClaimMode, MountOptions, Plugin,
    Topology, TopologyRequest, VolumeDetail,
};

/// Nomad's `AllocListStub`, as far as a claim knows it.
#[derive(Debug, Clone, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
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

fn allocs(claims: &[Claim], mode: ClaimMode) -> BTreeMap<String, Option<()>> {
    claims
        .iter()
        .filter(|c| c.mode == mode)
        .map(|c| (c.allocation_id.clone(), None))
        .collect()
}

impl ApiVolume {
    /// The full, sanitized volume as Nomad's GET shows it.
    pub fn from_detail(d: &VolumeDetail) -> Self {
        let v = &d.volume;
        let mut out = ApiVolume {
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
            read_allocs: allocs(&d.claims, ClaimMode::Read),
            write_allocs: allocs(&d.claims, ClaimMode::Write),
            allocations: d
                .claims
                .iter()
                .filter(|c| c.mode != ClaimMode::Gc)
                .map(|c| AllocStub {
                    id: c.allocation_id.clone(),
                    name: c.name.clone(),
                    namespace: v.namespace.clone(),
                    node_id: c.node_id.clone(),
                    job_id: c.job_id.clone(),
                    task_group: c.task_group.clone(),
                    create_time: c.claimed_at,
                    modify_time: c.updated_at,
                })
                .collect(),
            schedulable: false,
            plugin_id: v.plugin_id.clone(),
            provider: v.provider.clone(),
            provider_version: v.provider_version.clone(),
            controller_required: v.controller_required,
            controllers_healthy: 0,
            controllers_expected: 0,
            nodes_healthy: 0,
            nodes_expected: 0,
            resource_exhausted: v.resource_exhausted.clone(),
            create_index: v.create_index,
            modify_index: v.modify_index,
            create_time: v.create_time,
            modify_time: v.modify_time,
            claim_history: v.claim_history.clone(),
        };
        if let Some(p) = &d.plugin {
            out.denormalize(p);
        }
        out
    }

    /// Plugin health on the volume, as Nomad denormalizes it on every read.
    fn denormalize(&mut self, p: &Plugin) {
        self.provider = p.provider.clone();
        self.provider_version = p.version.clone();
        self.controller_required = p.controller_required;
        self.controllers_healthy = p.controllers_healthy;
        self.controllers_expected = p.controllers_expected;
        self.nodes_healthy = p.nodes_healthy;
        self.nodes_expected = p.nodes_expected;
        self.schedulable = p.schedulable();
    }

    pub fn stub(&self) -> VolumeStub {
        VolumeStub {
            id: self.id.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            external_id: self.external_id.clone(),
            topologies: self.topologies.clone(),
            access_mode: self.access_mode,
            attachment_mode: self.attachment_mode,
            current_readers: self.read_allocs.len(),
            current_writers: self.write_allocs.len(),
            schedulable: self.schedulable,
            plugin_id: self.plugin_id.clone(),
            provider: self.provider.clone(),
            controller_required: self.controller_required,
            controllers_healthy: self.controllers_healthy,
            controllers_expected: self.controllers_expected,
            nodes_healthy: self.nodes_healthy,
            nodes_expected: self.nodes_expected,
            resource_exhausted: self.resource_exhausted.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
            create_time: self.create_time,
            modify_time: self.modify_time,
        }
    }

    /// The value `filter` expressions see: the sanitized full volume.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Nomad's `CSIPluginListStub`.
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
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
