//! What callers send the CSI endpoint, one type per operation. Fields a caller writes as text
//! (modes) stay text here, so that the endpoint can name an unknown value in its refusal, the
//! same way for every door.

use crate::model::{ClaimMode, ClaimState, MountOptions, Secrets, Topology, TopologyRequest};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The longest a blocking query waits (Nomad's code says 5 minutes; its docs say 10).
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// One capability pair as the caller wrote it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CapabilitySpec {
    pub access_mode: String,
    pub attachment_mode: String,
}

/// A volume as submitted for registration: the fields a user may set, in Nomad's JSON names.
/// Fields the server owns are not here, so they cannot be set by accident.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeSpec {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    #[serde(rename = "ExternalID")]
    pub external_id: String,
    /// Empty means the request's namespace.
    pub namespace: String,
    pub requested_topologies: Option<TopologyRequest>,
    pub topologies: Vec<Option<Topology>>,
    pub mount_options: Option<MountOptions>,
    pub secrets: Secrets,
    pub parameters: BTreeMap<String, String>,
    pub context: BTreeMap<String, String>,
    pub capacity: i64,
    pub requested_capacity_min: i64,
    pub requested_capacity_max: i64,
    pub requested_capabilities: Vec<Option<CapabilitySpec>>,
    #[serde(rename = "CloneID")]
    pub clone_id: String,
    #[serde(rename = "SnapshotID")]
    pub snapshot_id: String,
    #[serde(rename = "PluginID")]
    pub plugin_id: String,
    /// An RFC 3339 time; Go's zero time (which Nomad's Go client always sends) means none.
    pub resource_exhausted: Option<String>,
    /// Server-owned as the current mode, but read as the requested capability when the volume
    /// names no `RequestedCapabilities`, as Nomad's own legacy fix-up does.
    pub access_mode: String,
    pub attachment_mode: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// The namespace of volumes that name none.
    pub namespace: String,
    pub volumes: Vec<VolumeSpec>,
    /// `Some(0)`: create only; `Some(n)`: update only while the volume's ModifyIndex is `n`.
    pub cas: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeregisterRequest {
    pub namespace: String,
    pub id: String,
    /// Deregister even with claims, as long as every one is already being released.
    pub force: bool,
    pub cas: Option<u64>,
}

/// One claim or release as a claimant sends it (Nomad's `CSIVolumeClaimRequest`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimSpec {
    pub allocation_id: String,
    pub node_id: String,
    pub external_node_id: String,
    pub mode: ClaimMode,
    pub state: ClaimState,
    pub access_mode: String,
    pub attachment_mode: String,
    pub job_id: String,
    pub task_group: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimVolumeRequest {
    pub namespace: String,
    pub volume_id: String,
    pub claim: ClaimSpec,
    /// Apply only while the volume's ModifyIndex is this.
    pub cas: Option<u64>,
}

/// An operator's statement that a node no longer uses a volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetachRequest {
    pub namespace: String,
    pub volume_id: String,
    pub node_id: String,
}

/// A plugin's fingerprint: provider, version and health counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginReport {
    pub id: String,
    pub provider: String,
    pub version: String,
    pub controller_required: bool,
    pub controllers_healthy: i64,
    pub controllers_expected: i64,
    pub nodes_healthy: i64,
    pub nodes_expected: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletePluginRequest {
    pub id: String,
}

/// How a read is answered: from whom, and whether it blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryOptions {
    /// Answer from the receiving node's state instead of confirming with the leader.
    pub stale: bool,
    /// Block until the answer's index exceeds this (0: answer at once).
    pub index: u64,
    /// How long a blocking query may wait, at most `MAX_WAIT` (plus jitter).
    pub wait: Duration,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            stale: false,
            index: 0,
            wait: MAX_WAIT,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeQuery {
    pub namespace: String,
    pub id: String,
    pub options: QueryOptions,
}

/// Which namespaces a list covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Namespaces {
    One(String),
    All,
}

/// `GET /v1/volumes`: every filter composes, and results come in (namespace, ID) order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    pub namespaces: Namespaces,
    /// Volume ID prefix.
    pub prefix: Option<String>,
    /// Plugin ID prefix (case-sensitive).
    pub plugin_id: Option<String>,
    /// Prefix of the node ID of a current claim (case-insensitive).
    pub node_id: Option<String>,
    /// At most this many items (0: all).
    pub per_page: u32,
    /// Start at this `<namespace>.<id>`, from the previous page's `next_token`.
    pub next_token: Option<String>,
    /// A filter expression over the volume's fields.
    pub filter: Option<String>,
    pub options: QueryOptions,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            namespaces: Namespaces::One(crate::Namespace::DEFAULT.to_string()),
            prefix: None,
            plugin_id: None,
            node_id: None,
            per_page: 0,
            next_token: None,
            filter: None,
            options: QueryOptions::default(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginsQuery {
    pub prefix: Option<String>,
    pub options: QueryOptions,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginQuery {
    pub id: String,
    pub options: QueryOptions,
}
