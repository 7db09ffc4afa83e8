//! What the operator endpoints take and answer: the cluster's Raft configuration, and what an
//! event stream subscribes to.

use serde::{Deserialize, Serialize};

/// One member of the Raft configuration, as the answering node knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftServer {
    pub id: u64,
    pub rpc_addr: String,
    pub http_addr: String,
    pub voter: bool,
    pub leader: bool,
}

/// Every member, and the log index of the entry that set this configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftConfiguration {
    pub index: u64,
    pub servers: Vec<RaftServer>,
}

/// What an event stream subscribes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventQuery {
    /// Send events after this index: 0 sends every event the node still holds, then new ones.
    pub index: u64,
    /// `(topic, key)` pairs, `*` matching any; empty means every topic and key.
    pub topics: Vec<(String, String)>,
    /// The namespace of volume events to send; `*` for all.
    pub namespace: String,
}
