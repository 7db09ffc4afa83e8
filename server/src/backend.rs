//! The gateway's `Backend` for a node in this process: its CSI endpoint, and its Raft status for
//! the status endpoints and meta headers.

use stowage_http_gateway::{Backend, Freshness, HealthReport};
use stowage_raft::{Csi, Forwarder, NodeStatus};

#[derive(Clone)]
pub struct NodeBackend {
    pub status: NodeStatus,
    pub csi: Csi<Forwarder>,
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
}
