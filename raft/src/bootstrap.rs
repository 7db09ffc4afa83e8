//! Forming the cluster: initialize exactly once when every expected node is new, and bring a node
//! that lost its data back through the leader instead of re-initializing.

use crate::node::NodeConfig;
use crate::peers::Peers;
use crate::types::{NodeId, Raft};
use openraft::async_runtime::watch::WatchReceiver;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use stowage_proto::pb::{NodeInfoReply, NodeInfoRequest, RejoinRequest};

/// Initializes the cluster exactly once: only a pristine node does it, only when every expected
/// peer answers and none of them is initialized, and only the lowest id among them. A pristine
/// node that finds an initialized peer never initializes: it has lost its data (or is new), so it
/// asks the leader to restart replication to it from scratch, and only then accepts replication.
pub(crate) async fn bootstrap(
    raft: Raft,
    peers: Peers,
    config: NodeConfig,
    admitted: Arc<AtomicBool>,
) {
    loop {
        match raft.is_initialized().await {
            Ok(true) => {
                admitted.store(true, Ordering::Release);
                return;
            }
            Err(_) => return,
            Ok(false) => {}
        }
        let mut members = BTreeMap::new();
        let mut leader_addr = None;
        let mut someone_initialized = false;
        for (&id, addr) in &config.peers {
            if id == config.id {
                members.insert(
                    id,
                    openraft::NodeInfo {
                        raft_addr: config.rpc_addr.clone(),
                        data: config.http_addr.clone(),
                    },
                );
                continue;
            }
            if let Some(info) = ask_node_info(&peers, addr).await {
                if info.id != id {
                    tracing::warn!(
                        "peer at {addr} says it is node {}, expected node {id}",
                        info.id
                    );
                    continue;
                }
                someone_initialized |= info.initialized;
                if info.has_leader && !info.leader_rpc_addr.is_empty() {
                    leader_addr = Some(info.leader_rpc_addr.clone());
                }
                members.insert(
                    id,
                    openraft::NodeInfo {
                        raft_addr: addr.clone(),
                        data: info.http_addr,
                    },
                );
            }
        }
        if someone_initialized {
            if let Some(leader) = leader_addr
                && ask_rejoin(&peers, &leader, config.id).await
            {
                tracing::info!("joined the existing cluster through its leader at {leader}");
                admitted.store(true, Ordering::Release);
                return;
            }
        } else if members.len() >= config.bootstrap_expect {
            // Everyone is new: there is no history to protect, so accept replication at once.
            admitted.store(true, Ordering::Release);
            if config.peers.keys().next() == Some(&config.id) {
                match raft.initialize(members).await {
                    Ok(()) => tracing::info!("initialized the cluster"),
                    Err(e) => tracing::warn!("initialize: {e}"),
                }
                return;
            }
        }
        let mut m = raft.metrics();
        let _ = tokio::time::timeout(Duration::from_millis(300), m.changed()).await;
    }
}

/// Asks the leader to restart replication to `id` from an empty log.
async fn ask_rejoin(peers: &Peers, leader: &str, id: NodeId) -> bool {
    let Ok(mut client) = peers.cluster_client(leader) else {
        return false;
    };
    match tokio::time::timeout(Duration::from_secs(5), client.rejoin(RejoinRequest { id })).await {
        Ok(Ok(r)) => r.into_inner().error.is_empty(),
        _ => false,
    }
}

async fn ask_node_info(peers: &Peers, addr: &str) -> Option<NodeInfoReply> {
    let mut client = peers.cluster_client(addr).ok()?;
    match tokio::time::timeout(Duration::from_secs(1), client.node_info(NodeInfoRequest {})).await {
        Ok(Ok(r)) => Some(r.into_inner()),
        Ok(Err(_)) => {
            peers.invalidate(addr);
            None
        }
        Err(_) => None,
    }
}
