//! A claim: one allocation's use of one volume, stored as a first-class record (never derived
//! from allocations at read time) with everything needed to undo it recorded when it is taken.

use super::modes::{AccessMode, AttachmentMode};
use serde::{Deserialize, Serialize};

/// Nomad's claim mode codes: read = 0, write = 1, gc = 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimMode {
    Read,
    Write,
    Gc,
}

/// Nomad's release states, in the order a release walks them:
/// taken → unpublishing → node-detached → controller-detached → ready-to-free (→ freed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimState {
    Taken,
    NodeDetached,
    ControllerDetached,
    ReadyToFree,
    Unpublishing,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Claim {
    #[serde(rename = "AllocationID")]
    pub allocation_id: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    #[serde(rename = "ExternalNodeID")]
    pub external_node_id: String,
    pub mode: ClaimMode,
    pub access_mode: AccessMode,
    pub attachment_mode: AttachmentMode,
    pub state: ClaimState,
    /// When the claim was taken, in nanoseconds since the epoch (leader-stamped).
    pub claimed_at: i64,
    /// The last state change, in nanoseconds since the epoch (leader-stamped).
    pub updated_at: i64,
    /// Optional metadata the claimant sent, shown in the volume's `Allocations`.
    #[serde(default, rename = "JobID")]
    pub job_id: String,
    #[serde(default)]
    pub task_group: String,
    #[serde(default)]
    pub name: String,
}

impl ClaimState {
    /// Position in the release walk; a release never moves a claim backwards.
    pub fn rank(self) -> u8 {
        match self {
            ClaimState::Taken => 0,
            ClaimState::Unpublishing => 1,
            ClaimState::NodeDetached => 2,
            ClaimState::ControllerDetached => 3,
            ClaimState::ReadyToFree => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ClaimState::Taken => "taken",
            ClaimState::Unpublishing => "unpublishing",
            ClaimState::NodeDetached => "node-detached",
            ClaimState::ControllerDetached => "controller-detached",
            ClaimState::ReadyToFree => "ready-to-free",
        }
    }
}

impl std::fmt::Display for ClaimState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a claim, for the volume's claim history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimAction {
    Claimed,
    Released,
    Freed,
    /// Freed by an operator's detach of the claim's node.
    Detached,
}

/// One entry of a volume's bounded claim history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClaimEvent {
    pub index: u64,
    pub time: i64,
    #[serde(rename = "AllocationID")]
    pub allocation_id: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub mode: ClaimMode,
    pub action: ClaimAction,
    pub state: ClaimState,
}

impl ClaimEvent {
    /// How many events a volume keeps; older ones are dropped first.
    pub const KEEP: usize = 32;
}
