//! The openraft type configuration and the aliases the rest of the crate uses.

use stowage_proto::{CommandResponse, Request};

openraft::declare_raft_types!(
    /// Raft types of stowage: log entries carry a stamped `Request`, apply answers a
    /// `CommandResponse`, and a node is known by its gRPC address plus (in `data`) its HTTP address.
    pub TypeConfig:
        D = Request,
        R = CommandResponse,
        Node = openraft::NodeInfo,
);

pub type NodeId = u64;
pub type Node = openraft::NodeInfo;
pub type LogId = openraft::alias::LogIdOf<TypeConfig>;
pub type Vote = openraft::alias::VoteOf<TypeConfig>;
pub type Entry = openraft::alias::EntryOf<TypeConfig>;
pub type StoredMembership = openraft::alias::StoredMembershipOf<TypeConfig>;
pub type SnapshotMeta = openraft::alias::SnapshotMetaOf<TypeConfig>;
pub type Snapshot = openraft::alias::SnapshotOf<TypeConfig, SnapshotData>;
/// A snapshot travels and rests as one encoded `StateImage`.
pub type SnapshotData = Vec<u8>;
pub type Raft = openraft::Raft<TypeConfig, crate::store::StateMachineStore>;
