//! What the gateway needs from the node it runs on: the CSI endpoint, which decides everything
//! about volumes, claims and plugins, and this node's view of the cluster for the status
//! endpoints and the meta headers.

use futures::stream::BoxStream;
use std::future::Future;
use stowage_proto::acl::Token;
use stowage_proto::api::{AclApi, CsiApi, CsiError, EventQuery, OperatorApi, RaftConfiguration};

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
    type Csi: CsiApi + AclApi + OperatorApi;

    /// The endpoint every volume, claim, plugin, namespace and ACL request goes to.
    fn csi(&self) -> &Self::Csi;
    /// The leader's RPC address, if a leader is known.
    fn leader_rpc_addr(&self) -> Option<String>;
    /// The RPC addresses of the voting members.
    fn peer_rpc_addrs(&self) -> Vec<String>;
    fn health(&self) -> impl Future<Output = HealthReport> + Send;
    fn freshness(&self) -> Freshness;
    /// The cluster's members; confirmed with the leader first unless `stale`.
    fn raft_configuration(
        &self,
        stale: bool,
    ) -> impl Future<Output = Result<RaftConfiguration, CsiError>> + Send;
    /// Takes node `id` out of the cluster; the index of the change.
    fn remove_raft_peer(&self, id: u64) -> impl Future<Output = Result<u64, CsiError>> + Send;
    /// `/v1/agent/self`: this node's configuration with its secrets redacted, its place in the
    /// cluster, and its version.
    fn agent_self(&self) -> serde_json::Value;
    /// An archive of every table as of an index at least as new as every write acknowledged
    /// before the call, and that index.
    fn snapshot(&self) -> impl Future<Output = Result<(u64, Vec<u8>), CsiError>> + Send;
    /// The event stream for the caller holding `token`: newline-terminated JSON frames.
    fn event_stream(
        &self,
        token: Token,
        query: EventQuery,
    ) -> impl Future<Output = Result<BoxStream<'static, String>, CsiError>> + Send;
    /// This node's metrics registry, with the gateway's request metrics in it.
    fn metrics(&self) -> &crate::Metrics;
}
