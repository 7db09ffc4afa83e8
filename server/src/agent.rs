//! One stowage node in this process: binds its listeners, starts Raft and the HTTP gateway, and
//! stops them together.

use crate::backend::NodeBackend;
use crate::config::AgentConfig;
use anyhow::Context;
use std::net::SocketAddr;
use stowage_raft::{NodeConfig, RaftNode, RaftTiming, Timeouts};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Exit code of an agent whose Raft core stopped: its supervisor should restart it.
pub const EXIT_RAFT_STOPPED: u8 = 70;

/// Test-only: names a fault that makes the agent wrong on purpose (see
/// `stowage_proto::unsafe_faults`); the chaos suite uses it to check its checker.
pub const UNSAFE_FAULT_ENV: &str = "STOWAGE_UNSAFE_TEST_FAULT";

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
    http_stop: Option<oneshot::Sender<()>>,
    http_task: Option<JoinHandle<()>>,
}

impl Agent {
    pub async fn start(
        config: &AgentConfig,
        listeners: Listeners,
        timing: RaftTiming,
    ) -> anyhow::Result<Agent> {
        let rpc_addr = listeners.rpc.local_addr()?;
        let http_addr = listeners.http.local_addr()?;
        let node_config = NodeConfig {
            id: config.node_id,
            data_dir: config.data_dir.clone(),
            rpc_addr: config.rpc_advertise().to_string(),
            http_addr: config.http_advertise(),
            peers: config.peers.clone(),
            bootstrap_expect: config.bootstrap_expect,
            timing,
            timeouts: Timeouts::default(),
            source_ip: Some(config.rpc_bind.ip()).filter(|ip| !ip.is_unspecified()),
        };
        let node = RaftNode::start(node_config, listeners.rpc).await?;
        let router = stowage_http_gateway::router(NodeBackend {
            status: node.status.clone(),
            forwarder: node.forwarder.clone(),
        });
        let (tx, rx) = oneshot::channel::<()>();
        let http = listeners.http;
        let http_task = tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            if let Err(e) = stowage_http_gateway::serve(http, router, shutdown).await {
                tracing::error!("HTTP server ended: {e}");
            }
        });
        Ok(Agent {
            node,
            http_addr,
            rpc_addr,
            http_stop: Some(tx),
            http_task: Some(http_task),
        })
    }

    /// Stops HTTP first (no new requests), then Raft and gRPC.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.http_stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.http_task.take() {
            let _ = task.await;
        }
        self.node.shutdown().await;
    }
}

/// Runs an agent until SIGINT/SIGTERM (exit 0) or until its Raft core stops (exit 70).
pub async fn run(config: AgentConfig) -> anyhow::Result<u8> {
    if let Ok(name) = std::env::var(UNSAFE_FAULT_ENV) {
        let fault = stowage_proto::unsafe_faults::UnsafeFault::parse(&name).ok_or_else(|| {
            anyhow::anyhow!("{UNSAFE_FAULT_ENV}={name:?} is not a known test fault")
        })?;
        stowage_proto::unsafe_faults::enable(fault);
        tracing::warn!("TEST-ONLY FAULT {fault:?} IS ON: this node is deliberately wrong");
    }
    let listeners = Listeners::bind(&config).await?;
    let agent = Agent::start(&config, listeners, RaftTiming::default()).await?;
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
    agent.shutdown().await;
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
