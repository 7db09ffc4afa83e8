//! Errors with stable identities: domain rule violations (values returned by apply) and cluster
//! conditions (no leader, unknown outcome). Each boundary maps these once, exhaustively.

use crate::rules::ClaimRefusal;
use serde::{Deserialize, Serialize};

/// A rule of the domain refused the command. Messages are Nomad's texts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code")]
pub enum DomainError {
    #[error("volume not found: {id}")]
    VolumeNotFound { id: String },
    #[error("volume in use: {id}")]
    VolumeInUse { id: String },
    #[error("volume {id} is in nonexistent namespace {namespace}")]
    NamespaceMissing { id: String, namespace: String },
    #[error("unable to update volume: {detail}")]
    UpdateRefused { id: String, detail: String },
    #[error("volume already exists: {id}")]
    AlreadyExists { id: String },
    /// `?cas=N` did not match the volume's ModifyIndex.
    #[error("volume {id} has ModifyIndex {current}, not {expected}")]
    IndexMismatch {
        id: String,
        expected: u64,
        current: u64,
    },
    #[error("alloc \"{alloc}\" failed to claim volume \"{id}\": {reason}")]
    ClaimRefused {
        alloc: String,
        id: String,
        reason: ClaimRefusal,
    },
    /// Detach of a volume that does not exist (Nomad's text for that endpoint).
    #[error("no such volume")]
    NoSuchVolume { id: String },
    #[error("plugin not found: {id}")]
    PluginNotFound { id: String },
    #[error("namespace not found")]
    NamespaceNotFound { name: String },
    #[error("can not delete default namespace")]
    DefaultNamespace,
    /// A namespace that still holds volumes cannot go.
    #[error(
        "1 error occurred:
	* namespace {name:?} has volumes associated with it in regions: [global]

"
    )]
    NamespaceInUse { name: String },
    #[error("ACL bootstrap already done (reset index: {reset_index})")]
    AclBootstrapped { reset_index: u64 },
    #[error("Invalid bootstrap reset index (specified {specified}, reset index: {reset_index})")]
    BootstrapResetMismatch { specified: u64, reset_index: u64 },
    /// An update named a token that does not exist.
    #[error("cannot find token {accessor_id}")]
    AclTokenMissing { accessor_id: String },
    #[error("Cannot delete nonexistent tokens: {}", accessor_ids.join(", "))]
    AclTokensMissing { accessor_ids: Vec<String> },
    /// An update may not change a token's scope or expiry.
    #[error("token 0 invalid: {}", crate::rules::multierror(std::slice::from_ref(.0)))]
    AclTokenUnchangeable(String),
    /// A new token's accessor or secret is already some token's.
    #[error("ACL token accessor or secret already in use")]
    AclTokenExists,
    /// The caller may not, by the ACL state this command is applied to: a token revoked, or a
    /// policy narrowed, after the leader admitted the command but before it was applied.
    #[error("Permission denied")]
    PermissionDenied,
}

/// The cluster could not give a definite answer. Kept apart from `DomainError` because these
/// say nothing about the data, only about reaching it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", content = "detail")]
pub enum ClusterError {
    /// No leader was known within the hold time; nothing was written.
    #[error("No cluster leader")]
    NoLeader,
    /// The write was sent but its fate is unknown (timeout, leader change, lost connection).
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(String),
    /// This node's Raft core has stopped; the node must be restarted.
    #[error("raft stopped: {0}")]
    Stopped(String),
    /// This node is not the leader (internal: the forwarder retries elsewhere).
    #[error("not the leader")]
    NotLeader,
    /// A fault of the server itself.
    #[error("internal error: {0}")]
    Internal(String),
}
