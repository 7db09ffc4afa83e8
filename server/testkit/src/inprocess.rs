//! Three nodes in this process for the chaos suite in `cargo test`: the same proxies and faults
//! as real processes, with stop/start through `Agent` (a frozen node becomes a silent one).

use crate::poll::POLL;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use stowage_chaos::nodes::{Net, Nodes};
use stowage_raft::{ClusterSecret, RaftTiming, TestFaults};
use stowage_server::agent::{Agent, Listeners};
use stowage_server::config::AgentConfig;
use tokio::net::TcpListener;

pub struct InProcess {
    configs: BTreeMap<u64, AgentConfig>,
    agents: BTreeMap<u64, Agent>,
    timing: RaftTiming,
}

impl InProcess {
    /// Starts one agent per node of `net` on the listeners `Net::build` bound.
    pub async fn start(
        net: &Net,
        listeners: BTreeMap<u64, (TcpListener, TcpListener)>,
        dir: &Path,
        timing: RaftTiming,
        secret: &ClusterSecret,
    ) -> anyhow::Result<InProcess> {
        let mut configs = BTreeMap::new();
        for n in &net.nodes {
            configs.insert(
                n.id,
                AgentConfig {
                    node_id: n.id,
                    data_dir: dir.join(format!("node{}", n.id)),
                    http_bind: n.http,
                    rpc_bind: n.rpc,
                    peers: net.peers(),
                    bootstrap_expect: net.nodes.len(),
                    secret: secret.clone(),
                    faults: TestFaults::default(),
                },
            );
        }
        let mut this = InProcess {
            configs,
            agents: BTreeMap::new(),
            timing,
        };
        let starts = listeners.into_iter().map(|(id, (rpc, http))| {
            let config = this.configs[&id].clone();
            let timing = this.timing.clone();
            async move {
                (
                    id,
                    Agent::start(&config, Listeners { rpc, http }, timing).await,
                )
            }
        });
        for (id, agent) in futures::future::join_all(starts).await {
            this.agents.insert(id, agent?);
        }
        Ok(this)
    }

    /// Node `id`'s agent, while it runs.
    pub fn agent(&self, id: u64) -> Option<&Agent> {
        self.agents.get(&id)
    }

    pub async fn shutdown(mut self) {
        for (_, agent) in std::mem::take(&mut self.agents) {
            agent.shutdown().await;
        }
    }
}

impl Nodes for InProcess {
    async fn kill(&mut self, id: u64) {
        if let Some(agent) = self.agents.remove(&id) {
            agent.shutdown().await;
        }
    }

    async fn start(&mut self, id: u64) -> anyhow::Result<()> {
        let config = self
            .configs
            .get(&id)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no node {id}"))?;
        // The old sockets and RocksDB lock are released asynchronously after a shutdown.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let attempt = async {
                Agent::start(
                    &config,
                    Listeners::bind(&config).await?,
                    self.timing.clone(),
                )
                .await
            };
            match attempt.await {
                Ok(agent) => {
                    self.agents.insert(id, agent);
                    return Ok(());
                }
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    fn pause(&mut self, _id: u64) -> bool {
        false
    }

    fn resume(&mut self, _id: u64) {}

    fn wipe(&mut self, id: u64) {
        if let Some(c) = self.configs.get(&id) {
            let _ = std::fs::remove_dir_all(&c.data_dir);
        }
    }

    fn running(&self, id: u64) -> bool {
        self.agents.contains_key(&id)
    }

    fn logs(&self) -> Vec<PathBuf> {
        Vec::new()
    }
}
