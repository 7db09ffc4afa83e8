//! One Raft node: opens its data dir, starts openraft and the gRPC servers on a bound listener,
//! bootstraps the cluster exactly once, and reports its status and health.

use crate::contact::LeaderContact;
use crate::csi::Csi;
use crate::disk::DiskGuard;
use crate::faults::TestFaults;
use crate::forward::{Forwarder, Timeouts};
use crate::metrics::RaftCollector;
use crate::network::Network;
use crate::peers::{MAX_MESSAGE, Peers};
use crate::secret::ClusterSecret;
use crate::served::Served;
use crate::service::{ClusterRpc, RaftRpc};
use crate::status::NodeStatus;
use crate::store::{DataDir, LogStore, OpenError, StateMachineStore};
use crate::tls::RpcTls;
use crate::types::{NodeId, Raft, TypeConfig};
use openraft::alias::InstantOf;
use openraft::async_runtime::watch::WatchReceiver;
use openraft::{Config, Instant as _, SnapshotPolicy};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use stowage_proto::pb::cluster_service_server::ClusterServiceServer;
use stowage_proto::pb::raft_service_server::RaftServiceServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;

/// How long a stopping node lets its gRPC server drain.
const GRPC_GRACE: Duration = Duration::from_secs(2);
/// How long a stopping node waits for its Raft core to stop before leaving it behind.
const RAFT_STOP: Duration = Duration::from_secs(5);
/// How long a stopping leader waits for the follower it chose to take over.
const HANDOVER: Duration = Duration::from_secs(2);
/// How long a stopping leader waits for every other voter to answer a heartbeat before it
/// decides whether to hand over: a few round trips on a LAN.
const FRESH_ANSWERS: Duration = Duration::from_millis(300);
/// Idle peer connections are probed this often, and closed when a probe goes unanswered this
/// long, so a connection whose peer vanished never holds a shutdown.
const KEEPALIVE: Duration = Duration::from_secs(5);

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
    /// How often the leader removes expired ACL tokens.
    pub token_reap_ms: u64,
}

impl RaftTiming {
    /// The heartbeat and election timeouts times `multiplier` (Nomad's `raft_multiplier`).
    pub fn scaled(self, multiplier: u32) -> RaftTiming {
        let m = u64::from(multiplier.max(1));
        RaftTiming {
            heartbeat_ms: self.heartbeat_ms * m,
            election_min_ms: self.election_min_ms * m,
            election_max_ms: self.election_max_ms * m,
            ..self
        }
    }
}

impl Default for RaftTiming {
    fn default() -> Self {
        Self {
            heartbeat_ms: 40,
            election_min_ms: 120,
            election_max_ms: 240,
            // etcd's default. A snapshot copies and encodes the whole state: with 100,000
            // volumes (60 MB) every 5,000 entries it ran every 1.3 s under load and took most of
            // the CPU; the log between snapshots is ~1 KB an entry on disk.
            snapshot_every: 100_000,
            keep_behind_snapshot: 1000,
            token_reap_ms: 30_000,
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
    /// Every RPC to or from this node carries it.
    pub secret: ClusterSecret,
    /// Mutual TLS on the RPC port, for the server and for calls to peers.
    pub tls: Option<RpcTls>,
    /// Deliberately wrong behaviours, for the chaos suite's self-checks only.
    pub faults: TestFaults,
    /// Whether callers are held to ACL tokens and policies.
    pub acl_enabled: bool,
    /// How many blocking queries this node holds at once; more are refused.
    pub max_blocking_queries: usize,
    /// Free space, in MiB, below which this node takes no new entries.
    pub min_free_disk_mb: u64,
}

/// The file in a node's data dir where an operator puts the index of an ACL bootstrap to redo,
/// as Nomad's `acl-bootstrap-reset`.
pub const BOOTSTRAP_RESET_FILE: &str = "acl-bootstrap-reset";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
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
    #[error("TLS on the RPC port: {0}")]
    Tls(String),
    #[error("storage: {0}")]
    Storage(#[from] std::io::Error),
    #[error("raft: {0}")]
    Raft(String),
}

/// A running node. Drop it only after `shutdown`.
pub struct RaftNode {
    pub forwarder: Forwarder,
    pub status: NodeStatus,
    /// The CSI endpoint over this node, which every door calls.
    pub csi: Csi<Forwarder>,
    /// This node's Raft and storage metrics, for the node's metrics registry.
    pub collector: RaftCollector,
    leader_changes_task: JoinHandle<()>,
    raft: Raft,
    grpc: Served,
    bootstrap_task: JoinHandle<()>,
    reaper_task: Option<JoinHandle<()>>,
    fatal_task: JoinHandle<()>,
    fatal: watch::Receiver<Option<String>>,
}

impl RaftNode {
    /// Starts the node, serving gRPC on `rpc_listener` until `shutdown` is called.
    pub async fn start(
        config: NodeConfig,
        rpc_listener: TcpListener,
    ) -> Result<RaftNode, StartError> {
        validate(&config)?;
        let dir = DataDir::open(&config.data_dir, config.id, config.faults)?;
        let disk = DiskGuard::new(config.data_dir.clone(), config.min_free_disk_mb);
        let log_store = LogStore::new(dir.clone());
        let sm = StateMachineStore::open(dir.clone(), config.faults)
            .map_err(|e| OpenError::from_load(&config.data_dir, e))?;
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
        let peers = Peers::new(config.source_ip, config.secret.clone(), config.tls.clone());
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
            faults: config.faults,
            acl_enabled: config.acl_enabled,
            bootstrap_reset: Some(config.data_dir.join(BOOTSTRAP_RESET_FILE)),
            read_rounds: Default::default(),
            leader_rounds: Default::default(),
            max_blocking_queries: config.max_blocking_queries,
            disk: disk.clone(),
        };
        let csi = Csi::new(forwarder.clone());
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
        let collector = RaftCollector::new(status.clone(), dir.clone())
            .map_err(|e| StartError::Config(format!("metrics: {e}")))?;
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
            disk,
        })
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
        let cluster_svc = ClusterServiceServer::new(ClusterRpc {
            forwarder: forwarder.clone(),
            status: status.clone(),
            csi: csi.clone(),
        })
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
        let (raft_secret, cluster_secret) = (config.secret.clone(), config.secret.clone());
        let raft_svc = InterceptedService::new(raft_svc, move |r| raft_secret.admit(r));
        let cluster_svc = InterceptedService::new(cluster_svc, move |r| cluster_secret.admit(r));
        // Without TCP_NODELAY an answer that HTTP/2 writes as several frames (headers, data,
        // trailers) waits for the peer's delayed ACK: 40 ms on every forwarded write and on
        // every append a follower acknowledges.
        let incoming = tokio_stream::StreamExt::map(
            tokio_stream::wrappers::TcpListenerStream::new(rpc_listener),
            |accepted| accepted.and_then(|s| s.set_nodelay(true).map(|()| s)),
        );
        let mut server = tonic::transport::Server::builder();
        if let Some(tls) = &config.tls {
            server = server
                .tls_config(tls.server())
                .map_err(|e| StartError::Tls(e.to_string()))?;
        }
        let grpc = Served::spawn("gRPC", |stop| async move {
            let served = server
                .http2_keepalive_interval(Some(KEEPALIVE))
                .http2_keepalive_timeout(Some(KEEPALIVE))
                .add_service(raft_svc)
                .add_service(cluster_svc)
                .serve_with_incoming_shutdown(incoming, stop)
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
        let reaper_task = config.acl_enabled.then(|| {
            tokio::spawn(crate::reaper::reap_expired_tokens(
                forwarder.clone(),
                Duration::from_millis(config.timing.token_reap_ms),
            ))
        });
        let (fatal, fatal_task) = watch_fatal(&raft);
        let leader_changes_task = collector.count_leader_changes();
        Ok(RaftNode {
            forwarder,
            status,
            csi,
            collector,
            leader_changes_task,
            raft,
            grpc,
            bootstrap_task,
            reaper_task,
            fatal_task,
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

    /// Answers every blocking query now, with what it has: the first step of stopping, so that
    /// the HTTP server can drain.
    pub fn release_waiters(&self) {
        self.forwarder.reader().release_waiters();
    }

    /// If this node leads, hands leadership to the follower that has the most of its log and
    /// waits (at most `HANDOVER`) until it has taken over: a planned stop of the leader then
    /// costs the cluster one round trip, not an election timeout with no leader. Only when every
    /// other voter answers a heartbeat sent after the stop began: a successor that cannot reach
    /// a quorum would lead nothing, and hold writes as "outcome unknown" where a leaderless
    /// cluster answers "no leader" at once. (An answer from before the stop is not enough: the
    /// node that gave it may be stopping too.)
    async fn hand_over_leadership(&self) {
        let metrics = self.raft.metrics().borrow_watched().clone();
        if metrics.current_leader != Some(metrics.id) {
            return;
        }
        let others: Vec<NodeId> = metrics
            .membership_config
            .membership()
            .voter_ids()
            .filter(|id| *id != metrics.id)
            .collect();
        let asked = InstantOf::<TypeConfig>::now();
        if self.raft.trigger().heartbeat().await.is_err() {
            return;
        }
        let answered = |m: &openraft::RaftMetrics<TypeConfig>| {
            others.iter().all(|id| {
                m.heartbeat
                    .as_ref()
                    .and_then(|h| h.get(id))
                    .and_then(|t| t.as_ref())
                    .is_some_and(|t| **t >= asked)
            })
        };
        let wait = self.raft.wait(Some(FRESH_ANSWERS));
        if wait
            .metrics(answered, "every voter answered")
            .await
            .is_err()
        {
            return;
        }
        let Some(to) = metrics.replication.as_ref().and_then(|r| {
            r.iter()
                .filter(|(id, _)| **id != metrics.id)
                .max_by_key(|(_, matched)| matched.as_ref().map(|l| l.index()))
                .map(|(id, _)| *id)
        }) else {
            return;
        };
        if self.raft.trigger().transfer_leader(to).await.is_err() {
            return;
        }
        let wait = self.raft.wait(Some(HANDOVER));
        let moved = wait
            .metrics(
                |m| m.current_leader.is_some_and(|l| l != m.id),
                "leadership handed over",
            )
            .await;
        match moved {
            Ok(_) => tracing::info!(to, "handed leadership over before stopping"),
            Err(_) => tracing::warn!(to, "leadership was not taken over in time; stopping anyway"),
        }
    }

    /// Stops serving and stops Raft, each within a bound, so a stop always returns: after
    /// `GRPC_GRACE` the gRPC server drops the connections it still holds, and after `RAFT_STOP`
    /// a Raft core that has not stopped is left behind (and said so).
    pub async fn shutdown(self) {
        self.release_waiters();
        self.bootstrap_task.abort();
        if let Some(reaper) = &self.reaper_task {
            reaper.abort();
        }
        self.hand_over_leadership().await;
        // Raft first: a node stopping is gone to its peers from this moment, and no request
        // still being served can start a new proposal.
        match tokio::time::timeout(RAFT_STOP, self.raft.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("raft shutdown: {e}"),
            Err(_) => tracing::warn!(
                "the raft core did not stop within {} ms; leaving it",
                RAFT_STOP.as_millis()
            ),
        }
        self.grpc.stop(GRPC_GRACE).await;
        self.fatal_task.abort();
        self.leader_changes_task.abort();
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
fn watch_fatal(raft: &Raft) -> (watch::Receiver<Option<String>>, JoinHandle<()>) {
    let (tx, rx) = watch::channel(None);
    let mut metrics = raft.metrics();
    let task = tokio::spawn(async move {
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
    (rx, task)
}
