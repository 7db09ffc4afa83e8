//! The gateway's `Backend`, implemented in-process over this node's Raft handles.

use stowage_http_gateway::{Backend, Freshness, HealthReport, Watch};
use stowage_proto::{ClusterError, Command, CommandResponse, Query, QueryResult};
use stowage_raft::{Forwarder, NodeStatus};
use tokio::time::Instant;

#[derive(Clone)]
pub struct NodeBackend {
    pub status: NodeStatus,
    pub forwarder: Forwarder,
}

impl Backend for NodeBackend {
    fn leader_rpc_addr(&self) -> Option<String> {
        self.status.leader_rpc_addr()
    }

    fn peer_rpc_addrs(&self) -> Vec<String> {
        self.status
            .members()
            .into_values()
            .filter(|m| m.voter)
            .map(|m| m.rpc_addr)
            .collect()
    }

    async fn health(&self) -> HealthReport {
        let h = self.status.health();
        HealthReport {
            healthy: h.healthy,
            message: h.reason,
        }
    }

    fn freshness(&self) -> Freshness {
        Freshness {
            known_leader: self.status.known_leader(),
            last_contact_ms: self.status.last_contact_ms(),
        }
    }

    async fn write(&self, command: Command) -> Result<CommandResponse, ClusterError> {
        self.forwarder.write(command).await
    }

    async fn read(&self, query: Query, stale: bool) -> Result<(QueryResult, u64), ClusterError> {
        self.forwarder.read(&query, stale).await
    }

    async fn wait(&self, watch: Watch, after: u64, deadline: Instant) -> u64 {
        self.forwarder.reader().wait(&watch, after, deadline).await
    }
}
