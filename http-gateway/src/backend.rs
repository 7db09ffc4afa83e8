//! What the gateway needs from the node it runs on: the CSI endpoint, which decides everything
//! about volumes, claims and plugins, and this node's view of the cluster for the status
//! endpoints and the meta headers.

use std::future::Future;
use stowage_proto::api::{AclApi, CsiApi};

/// A node's health as `/v1/agent/health` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    pub healthy: bool,
    pub message: String,
}

/// How fresh this node's view is, for `X-Nomad-KnownLeader` and `X-Nomad-LastContact`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    pub known_leader: bool,
    pub last_contact_ms: u64,
}

pub trait Backend: Clone + Send + Sync + 'static {
    type Csi: CsiApi + AclApi;

    /// The endpoint every volume, claim, plugin, namespace and ACL request goes to.
    fn csi(&self) -> &Self::Csi;
    /// The leader's RPC address, if a leader is known.
    fn leader_rpc_addr(&self) -> Option<String>;
    /// The RPC addresses of the voting members.
    fn peer_rpc_addrs(&self) -> Vec<String>;
    fn health(&self) -> impl Future<Output = HealthReport> + Send;
    fn freshness(&self) -> Freshness;
}
