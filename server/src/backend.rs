//! The gateway's `Backend` for a node in this process: its CSI endpoint, its Raft status for the
//! status endpoints and meta headers, its membership for the operator endpoints, and its metrics.

use futures::stream::BoxStream;
use std::sync::Arc;
use stowage_http_gateway::{Backend, Freshness, HealthReport, Metrics};
use stowage_proto::acl::Token;
use stowage_proto::api::{CsiError, EventQuery, RaftConfiguration};
use stowage_raft::{Csi, Forwarder, NodeStatus};

/// Cloned for every request (each handler takes the backend as its state), so it is one shared
/// pointer: cloning the parts themselves (Raft's handles, the configuration's JSON) cost more
/// than the read they served.
#[derive(Clone)]
pub struct NodeBackend(Arc<NodeParts>);

pub struct NodeParts {
    pub status: NodeStatus,
    pub csi: Csi<Forwarder>,
    pub metrics: Metrics,
    /// This node's configuration as `/v1/agent/self` shows it, secrets already redacted.
    pub config: serde_json::Value,
}

impl NodeBackend {
    pub fn new(parts: NodeParts) -> Self {
        NodeBackend(Arc::new(parts))
    }
}

impl std::ops::Deref for NodeBackend {
    type Target = NodeParts;
    fn deref(&self) -> &NodeParts {
        &self.0
    }
}

impl Backend for NodeBackend {
    type Csi = Csi<Forwarder>;

    fn csi(&self) -> &Self::Csi {
        &self.csi
    }

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

    async fn raft_configuration(&self, stale: bool) -> Result<RaftConfiguration, CsiError> {
        let forwarder = self.csi.store();
        if !stale {
            forwarder.linearize().await?;
        }
        Ok(forwarder.configuration())
    }

    async fn remove_raft_peer(&self, id: u64) -> Result<u64, CsiError> {
        self.csi.store().remove_member(id).await
    }

    async fn snapshot(&self) -> Result<(u64, Vec<u8>), CsiError> {
        self.csi.store().save_archive().await
    }

    async fn event_stream(
        &self,
        token: Token,
        query: EventQuery,
    ) -> Result<BoxStream<'static, String>, CsiError> {
        self.csi.event_stream(token, query).await
    }

    fn agent_self(&self) -> serde_json::Value {
        let m = self.status.metrics();
        let me = self.status.members().remove(&self.status.id());
        serde_json::json!({
            "config": self.config,
            "member": {
                "Name": format!("node{}", self.status.id()),
                "Addr": me.as_ref().map(|m| m.rpc_addr.clone()).unwrap_or_default(),
                "Status": "alive",
                "Tags": {
                    "id": self.status.id().to_string(),
                    "http_addr": me.as_ref().map(|m| m.http_addr.clone()).unwrap_or_default(),
                    "voter": me.as_ref().is_some_and(|m| m.voter).to_string(),
                },
            },
            "stats": {
                "raft": {
                    "state": format!("{:?}", m.state),
                    "term": m.current_term.to_string(),
                    "last_log_index": m.last_log_index.unwrap_or(0).to_string(),
                    "applied_index": m.last_applied.as_ref().map_or(0, |l| l.index()).to_string(),
                    "commit_index": m.local_committed.as_ref().map_or(0, |l| l.index()).to_string(),
                    "leader": self.status.leader_rpc_addr().unwrap_or_default(),
                },
            },
        })
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
