//! Serde mirrors of the structs in Nomad's Go `api` package (api/csi.go), field for field and
//! type for type. Decoding a response into them fails on a misnamed field or a wrong type.

use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CSITopology {
    #[serde(rename = "Segments")]
    pub segments: Option<HashMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CSITopologyRequest {
    #[serde(rename = "Required")]
    pub required: Option<Vec<Option<CSITopology>>>,
    #[serde(rename = "Preferred")]
    pub preferred: Option<Vec<Option<CSITopology>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CSIMountOptions {
    #[serde(rename = "FSType")]
    pub fs_type: String,
    #[serde(rename = "MountFlags")]
    pub mount_flags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct CSIVolumeCapability {
    pub access_mode: String,
    pub attachment_mode: String,
}

/// api.AllocationListStub: every field is optional to a Go decoder.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct AllocationListStub {
    pub ID: Option<String>,
    pub EvalID: Option<String>,
    pub Name: Option<String>,
    pub Namespace: Option<String>,
    pub NodeID: Option<String>,
    pub NodeName: Option<String>,
    pub JobID: Option<String>,
    pub JobType: Option<String>,
    pub JobVersion: Option<u64>,
    pub TaskGroup: Option<String>,
    pub DesiredStatus: Option<String>,
    pub DesiredDescription: Option<String>,
    pub ClientStatus: Option<String>,
    pub ClientDescription: Option<String>,
    pub TaskStates: Option<Value>,
    pub CreateIndex: Option<u64>,
    pub ModifyIndex: Option<u64>,
    pub CreateTime: Option<i64>,
    pub ModifyTime: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct CSIVolume {
    pub ID: String,
    pub Name: String,
    pub ExternalID: String,
    pub Namespace: String,
    pub RequestedTopologies: Option<CSITopologyRequest>,
    pub Topologies: Option<Vec<Option<CSITopology>>>,
    pub AccessMode: String,
    pub AttachmentMode: String,
    pub MountOptions: Option<CSIMountOptions>,
    pub Secrets: Option<HashMap<String, String>>,
    pub Parameters: Option<HashMap<String, String>>,
    pub Context: Option<HashMap<String, String>>,
    pub Capacity: i64,
    pub RequestedCapacityMin: i64,
    pub RequestedCapacityMax: i64,
    pub RequestedCapabilities: Option<Vec<Option<CSIVolumeCapability>>>,
    pub CloneID: String,
    pub SnapshotID: String,
    pub ReadAllocs: Option<HashMap<String, Option<Value>>>,
    pub WriteAllocs: Option<HashMap<String, Option<Value>>>,
    pub Allocations: Option<Vec<Option<AllocationListStub>>>,
    pub Schedulable: bool,
    pub PluginID: String,
    pub Provider: String,
    pub ProviderVersion: String,
    pub ControllerRequired: bool,
    pub ControllersHealthy: i64,
    pub ControllersExpected: i64,
    pub NodesHealthy: i64,
    pub NodesExpected: i64,
    /// Go's time.Time: null or an RFC 3339 string.
    pub ResourceExhausted: Option<String>,
    pub CreateIndex: u64,
    pub ModifyIndex: u64,
    pub CreateTime: i64,
    pub ModifyTime: i64,
    /// stowage's one extension field; Go's decoder ignores it.
    pub StowageClaimHistory: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct CSIVolumeListStub {
    pub ID: String,
    pub Namespace: String,
    pub Name: String,
    pub ExternalID: String,
    pub Topologies: Option<Vec<Option<CSITopology>>>,
    pub AccessMode: String,
    pub AttachmentMode: String,
    pub CurrentReaders: i64,
    pub CurrentWriters: i64,
    pub Schedulable: bool,
    pub PluginID: String,
    pub Provider: String,
    pub ControllerRequired: bool,
    pub ControllersHealthy: i64,
    pub ControllersExpected: i64,
    pub NodesHealthy: i64,
    pub NodesExpected: i64,
    pub ResourceExhausted: Option<String>,
    pub CreateIndex: u64,
    pub ModifyIndex: u64,
    pub CreateTime: i64,
    pub ModifyTime: i64,
}

/// The register response (structs.CSIVolumeRegisterResponse as the client decodes it).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct CSIVolumeRegisterResponse {
    pub Volumes: Option<Vec<CSIVolume>>,
    pub Warnings: String,
    pub Index: u64,
    pub LastContact: i64,
    pub KnownLeader: bool,
    pub NextToken: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct CSIPlugin {
    pub ID: String,
    pub Provider: String,
    pub Version: String,
    pub ControllerRequired: bool,
    pub Controllers: Option<HashMap<String, Option<Value>>>,
    pub Nodes: Option<HashMap<String, Option<Value>>>,
    pub Allocations: Option<Vec<Option<AllocationListStub>>>,
    pub ControllersHealthy: i64,
    pub ControllersExpected: i64,
    pub NodesHealthy: i64,
    pub NodesExpected: i64,
    pub CreateIndex: u64,
    pub ModifyIndex: u64,
    pub CreateTime: i64,
    pub ModifyTime: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct CSIPluginListStub {
    pub ID: String,
    pub Provider: String,
    pub ControllerRequired: bool,
    pub ControllersHealthy: i64,
    pub ControllersExpected: i64,
    pub NodesHealthy: i64,
    pub NodesExpected: i64,
    pub CreateIndex: u64,
    pub ModifyIndex: u64,
}
