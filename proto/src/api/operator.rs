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

/// Nomad's `RaftServer`, as `/v1/operator/raft/configuration` answers it and the CLI reads
/// it; `ID` and `Node` are this cluster's numeric node id, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiRaftServer {
    #[serde(rename = "ID")]
    pub id: String,
    pub node: String,
    pub address: String,
    pub leader: bool,
    pub voter: bool,
    pub raft_protocol: String,
}

/// Nomad's `RaftConfigurationResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiRaftConfiguration {
    pub index: u64,
    pub servers: Vec<ApiRaftServer>,
}

impl From<RaftConfiguration> for ApiRaftConfiguration {
    fn from(c: RaftConfiguration) -> Self {
        ApiRaftConfiguration {
            index: c.index,
            servers: c
                .servers
                .into_iter()
                .map(|s| ApiRaftServer {
                    id: s.id.to_string(),
                    node: format!("node{}", s.id),
                    address: s.rpc_addr,
                    leader: s.leader,
                    voter: s.voter,
                    raft_protocol: "3".into(),
                })
                .collect(),
        }
    }
}

/// Why a peer cannot be removed: it is not a member.
pub fn not_a_member(id: u64) -> super::CsiError {
    super::CsiError::invalid(format!(
        "id \"{id}\" was not found in the Raft configuration"
    ))
}

/// Why a peer cannot be removed: it is the only voter left.
pub fn only_voter(id: u64) -> super::CsiError {
    super::CsiError::invalid(format!(
        "node {id} is the only voter: removing it would leave no cluster"
    ))
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
