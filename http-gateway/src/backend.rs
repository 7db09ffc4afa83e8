//! What the gateway needs from the cluster. Implemented in-process by the server crate; a remote
//! implementation over the internal gRPC API can stand in without touching the handlers.

use std::future::Future;
pub use stowage_proto::Watch;
use stowage_proto::{ClusterError, Command, CommandResponse, Query, QueryResult};
use tokio::time::Instant;

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
    /// The leader's RPC address, if a leader is known.
    fn leader_rpc_addr(&self) -> Option<String>;
    /// The RPC addresses of the voting members.
    fn peer_rpc_addrs(&self) -> Vec<String>;
    fn health(&self) -> impl Future<Output = HealthReport> + Send;
    fn freshness(&self) -> Freshness;
    /// Applies a command through the leader.
    fn write(
        &self,
        command: Command,
    ) -> impl Future<Output = Result<CommandResponse, ClusterError>> + Send;
    /// A typed read: linearizable unless `stale`. Returns the table index it reflects.
    fn read(
        &self,
        query: Query,
        stale: bool,
    ) -> impl Future<Output = Result<(QueryResult, u64), ClusterError>> + Send;
    /// Waits until what `watch` names changed after index `after`, or the deadline; returns the
    /// change index seen last (not above `after` when the deadline came first).
    fn wait(&self, watch: Watch, after: u64, deadline: Instant)
    -> impl Future<Output = u64> + Send;
}
