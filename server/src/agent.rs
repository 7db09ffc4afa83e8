//! One stowage node in this process: binds its listeners, starts Raft and the HTTP gateway, and
//! stops them together.

use crate::backend::{NodeBackend, NodeParts};
use crate::config::AgentConfig;
use anyhow::Context;
use std::net::SocketAddr;
use std::time::Duration;
use stowage_http_gateway::Metrics;
use stowage_raft::{NodeConfig, RaftNode, Served, Timeouts};
use tokio::net::TcpListener;

/// Exit code of an agent whose Raft core stopped: its supervisor should restart it.
pub const EXIT_RAFT_STOPPED: u8 = 70;

/// How long a stopping agent lets HTTP requests in flight finish. Blocking queries are answered
/// at once when stopping begins; a write may wait for its commit, and is cut off after this.
const HTTP_GRACE: Duration = Duration::from_secs(2);

pub struct Listeners {
    pub rpc: TcpListener,
    pub http: TcpListener,
}

impl Listeners {
    /// Binds both addresses, naming the one that failed.
    pub async fn bind(config: &AgentConfig) -> anyhow::Result<Self> {
        let rpc = TcpListener::bind(config.rpc_bind)
            .await
            .with_context(|| format!("cannot listen on RPC address {}", config.rpc_bind))?;
        let http = TcpListener::bind(config.http_bind)
            .await
            .with_context(|| format!("cannot listen on HTTP address {}", config.http_bind))?;
        Ok(Self { rpc, http })
    }
}

pub struct Agent {
    pub node: RaftNode,
    pub http_addr: SocketAddr,
    pub rpc_addr: SocketAddr,
    http: Served,
}

impl Agent {
    pub async fn start(config: &AgentConfig, listeners: Listeners) -> anyhow::Result<Agent> {
        let rpc_addr = listeners.rpc.local_addr()?;
        let http_addr = listeners.http.local_addr()?;
        let node_config = NodeConfig {
            id: config.node_id,
            data_dir: config.data_dir.clone(),
            rpc_addr: config.rpc_advertise().to_string(),
            http_addr: config.http_advertise(),
            peers: config.peers.clone(),
            bootstrap_expect: config.bootstrap_expect,
            timing: config.timing.clone(),
            timeouts: Timeouts::default(),
            source_ip: Some(config.rpc_bind.ip()).filter(|ip| !ip.is_unspecified()),
            secret: config.secret.clone(),
            faults: config.faults,
            acl_enabled: config.acl_enabled,
            max_blocking_queries: config.limits.max_blocking_queries,
            min_free_disk_mb: config.limits.min_free_disk_mb,
            tls: config.tls.as_ref().map(|t| t.rpc.clone()),
        };
        if config.faults.any() {
            tracing::warn!(
                "TEST-ONLY FAULTS {:?} ARE ON: this node is deliberately wrong",
                config.faults
            );
        }
        let node = RaftNode::start(node_config, listeners.rpc).await?;
        let metrics = Metrics::new(format!("node{}", config.node_id)).and_then(|m| {
            m.registry()
                .register(Box::new(node.collector.clone()))
                .map(|()| m)
        });
        let metrics = match metrics {
            Ok(m) => m,
            Err(e) => {
                node.shutdown().await;
                return Err(anyhow::anyhow!("cannot set up metrics: {e}"));
            }
        };
        let router = stowage_http_gateway::router_with(
            NodeBackend::new(NodeParts {
                status: node.status.clone(),
                csi: node.csi.clone(),
                metrics,
                config: config.redacted_json(),
            }),
            &config.limits.http,
        );
        let http_listener = listeners.http;
        let limits = config.limits.http.clone();
        let https = config.tls.as_ref().map(|t| t.https.clone());
        let http = Served::spawn("HTTP", |stop| async move {
            let served =
                stowage_http_gateway::serve_with(http_listener, router, &limits, https, stop);
            if let Err(e) = served.await {
                tracing::error!("HTTP server ended: {e}");
            }
        });
        Ok(Agent {
            node,
            http_addr,
            rpc_addr,
            http,
        })
    }

    /// Stops HTTP first (no new requests), then Raft and gRPC; every step is bounded, so this
    /// always returns, in a few seconds at most.
    pub async fn shutdown(self) {
        self.node.release_waiters();
        self.http.stop(HTTP_GRACE).await;
        self.node.shutdown().await;
    }
}

/// Runs an agent until SIGINT/SIGTERM (exit 0) or until its Raft core stops (exit 70).
pub async fn run(config: AgentConfig) -> anyhow::Result<u8> {
    let listeners = Listeners::bind(&config).await?;
    let agent = Agent::start(&config, listeners).await?;
    tracing::info!(
        node = config.node_id,
        http = %agent.http_addr,
        rpc = %agent.rpc_addr,
        data_dir = %config.data_dir.display(),
        "agent started"
    );
    let fatal = agent.node.fatal();
    let code = tokio::select! {
        _ = stop_signal() => 0,
        reason = fatal => {
            tracing::error!("raft core stopped: {reason}; exiting so the supervisor restarts this node");
            EXIT_RAFT_STOPPED
        }
    };
    tracing::info!("stopping");
    agent.shutdown().await;
    tracing::info!("stopped");
    Ok(code)
}

/// Resolves on SIGINT or SIGTERM.
pub async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
