//! One Raft node: opens its data dir, starts openraft and the gRPC servers on a bound listener,
//! bootstraps the cluster exactly once, and reports its status and health.

use crate::contact::LeaderContact;
use crate::forward::{Forwarder, Timeouts};
use crate::network::Network;
use crate::peers::{MAX_MESSAGE, Peers};
use crate::service::{ClusterRpc, Member, RaftRpc, encode_members};
use crate::store::{DataDir, LogStore, OpenError, StateMachineStore};
use crate::types::{NodeId, Raft, TypeConfig};
use openraft::async_runtime::watch::WatchReceiver;
use openraft::{Config, Instant as _, RaftMetrics, ServerState, SnapshotPolicy};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use stowage_proto::pb::NodeInfoReply;
use stowage_proto::pb::cluster_service_server::ClusterServiceServer;
use stowage_proto::pb::raft_service_server::RaftServiceServer;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// Raft timing. Defaults suit a loaded 2-core machine with an fsync per append.
#[derive(Clone, Debug)]
pub struct RaftTiming {
    pub heartbeat_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
    /// Build a snapshot (and purge the log behind it) after this many applied entries.
    pub snapshot_every: u64,
    /// Entries kept in the log behind a snapshot, for followers that are only a little behind.
    pub keep_behind_snapshot: u64,
}

impl Default for RaftTiming {
    fn default() -> Self {
        Self {
            heartbeat_ms: 100,
            election_min_ms: 800,
            election_max_ms: 1600,
            snapshot_every: 5000,
            keep_behind_snapshot: 1000,
        }
    }
}

#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub id: NodeId,
    pub data_dir: PathBuf,
    /// The gRPC address peers use to reach this node.
    pub rpc_addr: String,
    /// The HTTP address clients use to reach this node.
    pub http_addr: String,
    /// Every voter of the initial cluster by id, including this node, with its gRPC address.
    pub peers: BTreeMap<NodeId, String>,
    /// How many nodes must be reachable before the cluster initializes itself.
    pub bootstrap_expect: usize,
    pub timing: RaftTiming,
    pub timeouts: Timeouts,
    /// Dial peers from this address (a node bound to one loopback address dials from it too).
    pub source_ip: Option<std::net::IpAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Open(#[from] OpenError),
    #[error("the peer list {peers:?} does not include this node (id {id})")]
    NotInPeers { id: NodeId, peers: Vec<NodeId> },
    #[error("the peer list names {got} nodes but bootstrap_expect is {expect}")]
    TooFewPeers { got: usize, expect: usize },
    #[error("peer list gives node {id} address {listed}, but this node advertises {own}")]
    AddressMismatch {
        id: NodeId,
        listed: String,
        own: String,
    },
    #[error("invalid raft config: {0}")]
    Config(String),
    #[error("storage: {0}")]
    Storage(#[from] std::io::Error),
    #[error("raft: {0}")]
    Raft(String),
}

/// Cheap, cloneable view of a node's Raft status for status endpoints and `NodeInfo`.
#[derive(Clone)]
pub struct NodeStatus {
    id: NodeId,
    raft: Raft,
    reader: crate::store::StateReader,
    rpc_addr: String,
    http_addr: String,
    contact: Arc<LeaderContact>,
    /// Without contact for this long, a follower no longer trusts the leader it last knew.
    contact_timeout: Duration,
}

/// What `/v1/agent/health` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Health {
    pub healthy: bool,
    pub reason: String,
}

impl NodeStatus {
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// A snapshot of openraft's view of this node.
    pub fn metrics(&self) -> RaftMetrics<TypeConfig> {
        self.raft.metrics().borrow_watched().clone()
    }

    pub fn members(&self) -> BTreeMap<NodeId, Member> {
        let m = self.raft.metrics().borrow_watched().clone();
        let membership = m.membership_config.membership();
        let voters: std::collections::BTreeSet<NodeId> = membership.voter_ids().collect();
        membership
            .nodes()
            .map(|(id, n)| {
                (
                    *id,
                    Member {
                        id: *id,
                        rpc_addr: n.raft_addr.clone(),
                        http_addr: n.data.clone(),
                        voter: voters.contains(id),
                    },
                )
            })
            .collect()
    }

    /// The leader's gRPC address, if a leader is known.
    pub fn leader_rpc_addr(&self) -> Option<String> {
        let leader = self.raft.metrics().borrow_watched().current_leader?;
        self.members().get(&leader).map(|m| m.rpc_addr.clone())
    }

    /// Time since this node last heard from its leader (a leader: from a quorum of followers).
    fn contact_age(&self) -> Option<Duration> {
        let m = self.raft.metrics().borrow_watched().clone();
        if m.state == ServerState::Leader {
            m.last_quorum_acked
                .map(|t| t.elapsed())
                .or(Some(Duration::ZERO))
        } else {
            self.contact.since()
        }
    }

    /// Milliseconds since the last leader contact, for `X-Nomad-LastContact`; 0 on the leader.
    pub fn last_contact_ms(&self) -> u64 {
        if self.raft.metrics().borrow_watched().state == ServerState::Leader {
            return 0;
        }
        self.contact
            .since()
            .map_or(u64::MAX, |d| d.as_millis() as u64)
    }

    /// A leader is known and was heard from recently.
    pub fn known_leader(&self) -> bool {
        self.raft
            .metrics()
            .borrow_watched()
            .current_leader
            .is_some()
            && self
                .contact_age()
                .is_some_and(|age| age < self.contact_timeout)
    }

    pub fn health(&self) -> Health {
        let m = self.raft.metrics().borrow_watched().clone();
        let unhealthy = |reason: String| Health {
            healthy: false,
            reason,
        };
        if let Err(e) = &m.running_state {
            return unhealthy(format!("raft core stopped: {e}"));
        }
        if m.current_leader.is_none() {
            return unhealthy("no cluster leader".into());
        }
        if !self.known_leader() {
            return unhealthy(format!(
                "no contact with leader {:?} for over {:?}",
                m.current_leader, self.contact_timeout
            ));
        }
        let applied = m.last_applied.as_ref().map_or(0, |l| l.index());
        let committed = m.local_committed.as_ref().map_or(0, |l| l.index());
        if applied < committed {
            return unhealthy(format!(
                "catching up: applied {applied} of {committed} committed entries"
            ));
        }
        Health {
            healthy: true,
            reason: format!("leader {:?}, applied {applied}", m.current_leader),
        }
    }

    pub async fn info(&self) -> NodeInfoReply {
        let m = self.raft.metrics().borrow_watched().clone();
        let initialized = self.raft.is_initialized().await.unwrap_or(false);
        let (digest_index, state_digest) = self.reader.digest();
        NodeInfoReply {
            id: self.id,
            rpc_addr: self.rpc_addr.clone(),
            http_addr: self.http_addr.clone(),
            initialized,
            leader_id: m.current_leader.unwrap_or(0),
            has_leader: m.current_leader.is_some(),
            leader_rpc_addr: self.leader_rpc_addr().unwrap_or_default(),
            term: m.current_term,
            last_applied: m.last_applied.as_ref().map_or(0, |l| l.index()),
            committed: m.local_committed.as_ref().map_or(0, |l| l.index()),
            state: format!("{:?}", m.state),
            members: encode_members(&self.members()),
            state_digest,
            digest_index,
            claim_limit_breaches: self.reader.claim_limit_breaches(),
        }
    }
}

/// A running node. Drop it only after `shutdown`.
pub struct RaftNode {
    pub forwarder: Forwarder,
    pub status: NodeStatus,
    raft: Raft,
    grpc_stop: Option<oneshot::Sender<()>>,
    grpc_task: Option<JoinHandle<()>>,
    bootstrap_task: JoinHandle<()>,
    fatal: watch::Receiver<Option<String>>,
}

impl RaftNode {
    /// Starts the node, serving gRPC on `rpc_listener` until `shutdown` is called.
    pub async fn start(
        config: NodeConfig,
        rpc_listener: TcpListener,
    ) -> Result<RaftNode, StartError> {
        validate(&config)?;
        let dir = DataDir::open(&config.data_dir, config.id)?;
        let log_store = LogStore::new(dir.clone());
        let sm = StateMachineStore::open(dir)?;
        let reader = sm.reader();
        let raft_config = Config {
            cluster_name: "stowage".into(),
            heartbeat_interval: config.timing.heartbeat_ms,
            election_timeout_min: config.timing.election_min_ms,
            election_timeout_max: config.timing.election_max_ms,
            install_snapshot_timeout: 10_000,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.timing.snapshot_every),
            max_in_snapshot_log_to_keep: config.timing.keep_behind_snapshot,
            enable_pre_vote: Some(true),
            ..Default::default()
        }
        .validate()
        .map_err(|e| StartError::Config(e.to_string()))?;
        let peers = Peers::new(config.source_ip);
        let network = Network {
            id: config.id,
            peers: peers.clone(),
        };
        let raft = Raft::new(config.id, Arc::new(raft_config), network, log_store, sm)
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;

        let forwarder = Forwarder {
            id: config.id,
            raft: raft.clone(),
            reader,
            peers: peers.clone(),
            timeouts: config.timeouts,
        };
        let contact = Arc::new(LeaderContact::default());
        let status = NodeStatus {
            id: config.id,
            raft: raft.clone(),
            reader: forwarder.reader().clone(),
            rpc_addr: config.rpc_addr.clone(),
            http_addr: config.http_addr.clone(),
            contact: contact.clone(),
            contact_timeout: Duration::from_millis(2 * config.timing.election_max_ms),
        };
        // A node with data is a member already; one without must first learn whether it is joining
        // a new cluster or coming back to one that remembers it (see `bootstrap`).
        let admitted = Arc::new(AtomicBool::new(
            raft.is_initialized()
                .await
                .map_err(|e| StartError::Raft(e.to_string()))?,
        ));
        let raft_svc = RaftServiceServer::new(RaftRpc {
            id: config.id,
            raft: raft.clone(),
            contact,
            admitted: admitted.clone(),
        })
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
        let cluster_svc = ClusterServiceServer::new(ClusterRpc {
            forwarder: forwarder.clone(),
            status: status.clone(),
        })
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(rpc_listener);
        let grpc_task = tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(raft_svc)
                .add_service(cluster_svc)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stop_rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!("gRPC server ended: {e}");
            }
        });
        let bootstrap_task = tokio::spawn(crate::bootstrap::bootstrap(
            raft.clone(),
            peers,
            config.clone(),
            admitted,
        ));
        let fatal = watch_fatal(&raft);
        Ok(RaftNode {
            forwarder,
            status,
            raft,
            grpc_stop: Some(stop_tx),
            grpc_task: Some(grpc_task),
            bootstrap_task,
            fatal,
        })
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Resolves when this node's Raft core has stopped on its own (a fatal error), with why.
    pub fn fatal(&self) -> impl Future<Output = String> + Send + 'static {
        let mut rx = self.fatal.clone();
        async move {
            loop {
                if let Some(reason) = rx.borrow_and_update().clone() {
                    return reason;
                }
                if rx.changed().await.is_err() {
                    return "raft metrics closed".to_string();
                }
            }
        }
    }

    /// Stops serving, stops Raft, and waits for both.
    pub async fn shutdown(mut self) {
        self.bootstrap_task.abort();
        if let Some(tx) = self.grpc_stop.take() {
            let _ = tx.send(());
        }
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!("raft shutdown: {e}");
        }
        if let Some(task) = self.grpc_task.take() {
            let _ = task.await;
        }
    }
}

fn validate(config: &NodeConfig) -> Result<(), StartError> {
    match config.peers.get(&config.id) {
        None => {
            return Err(StartError::NotInPeers {
                id: config.id,
                peers: config.peers.keys().copied().collect(),
            });
        }
        Some(listed) if listed != &config.rpc_addr => {
            return Err(StartError::AddressMismatch {
                id: config.id,
                listed: listed.clone(),
                own: config.rpc_addr.clone(),
            });
        }
        Some(_) => {}
    }
    if config.peers.len() < config.bootstrap_expect {
        return Err(StartError::TooFewPeers {
            got: config.peers.len(),
            expect: config.bootstrap_expect,
        });
    }
    Ok(())
}

/// Watches metrics for a stopped core: openraft reports it through `running_state`.
fn watch_fatal(raft: &Raft) -> watch::Receiver<Option<String>> {
    let (tx, rx) = watch::channel(None);
    let mut metrics = raft.metrics();
    tokio::spawn(async move {
        loop {
            let state = metrics.borrow_watched().running_state.clone();
            if let Err(e) = state {
                let _ = tx.send(Some(e.to_string()));
                return;
            }
            if metrics.changed().await.is_err() {
                return;
            }
        }
    });
    rx
}
