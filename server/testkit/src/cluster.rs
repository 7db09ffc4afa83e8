//! Three real nodes in the test process, each with its own temp data dir and loopback
//! listeners, sharing one cluster secret: on ports of their own, or behind the chaos suite's link
//! proxies, where they are the suite's in-process `Nodes`.

use crate::poll::{eventually, loopback_ips};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use stowage_chaos::nodes::{Net, Nodes};
use stowage_proto::acl::Token;
use stowage_proto::api::{CsiApi, CsiError, ListQuery, Namespaces, QueryOptions};
use stowage_proto::{AccessMode, AttachmentMode, Capability, Command, CommandResponse, Volume};
use stowage_raft::{ClusterSecret, RaftTiming, TestFaults};
use stowage_server::agent::{Agent, Listeners};
use stowage_server::config::AgentConfig;
use stowage_server::limits::NodeLimits;
use stowage_server::tls::NodeTls;
use tempfile::TempDir;
use tokio::net::TcpListener;

/// Fast timing for tests on loopback; snapshots every `snapshot_every` entries.
pub fn fast_timing(snapshot_every: u64) -> RaftTiming {
    RaftTiming {
        heartbeat_ms: 50,
        election_min_ms: 400,
        election_max_ms: 800,
        snapshot_every,
        keep_behind_snapshot: 5,
        token_reap_ms: 200,
    }
}

pub struct TestCluster {
    _root: TempDir,
    configs: BTreeMap<u64, AgentConfig>,
    agents: BTreeMap<u64, Agent>,
}

/// A valid volume `id` in the default namespace, for plugin `plugin`.
pub fn volume(id: &str) -> Volume {
    Volume {
        id: id.into(),
        namespace: "default".into(),
        plugin_id: "plugin".into(),
        requested_capabilities: vec![Capability {
            access_mode: AccessMode::MultiNodeMultiWriter,
            attachment_mode: AttachmentMode::FileSystem,
        }],
        ..Default::default()
    }
}

/// What `TestCluster::start_shaped` sets on each node beyond `start`'s defaults.
#[derive(Default)]
pub struct Shape {
    pub acl_enabled: bool,
    pub limits: NodeLimits,
    /// Node N keeps its data under `parents[N-1]` (a filesystem of the test's choosing).
    pub parents: Option<[PathBuf; 3]>,
    /// Node N's TLS, by id.
    pub tls: BTreeMap<u64, NodeTls>,
}

impl TestCluster {
    /// Three nodes on loopback addresses of their own, listening on free ports.
    pub async fn start(timing: RaftTiming) -> TestCluster {
        Self::start_shaped(timing, Shape::default()).await
    }

    /// Three nodes as `start` makes them, each with `limits`.
    pub async fn start_limited(timing: RaftTiming, limits: NodeLimits) -> TestCluster {
        Self::start_shaped(
            timing,
            Shape {
                limits,
                ..Shape::default()
            },
        )
        .await
    }

    /// Three nodes as `start` makes them, holding callers to ACLs.
    pub async fn start_with_acls(timing: RaftTiming) -> TestCluster {
        Self::start_shaped(
            timing,
            Shape {
                acl_enabled: true,
                ..Shape::default()
            },
        )
        .await
    }

    /// Three nodes as `start` makes them, with what `shape` sets.
    pub async fn start_shaped(timing: RaftTiming, shape: Shape) -> TestCluster {
        let secret = ClusterSecret::generate();
        let mut bound = BTreeMap::new();
        for (i, ip) in loopback_ips().into_iter().enumerate() {
            let rpc = TcpListener::bind((ip, 0)).await.expect("bind rpc");
            let http = TcpListener::bind((ip, 0)).await.expect("bind http");
            bound.insert(i as u64 + 1, Listeners { rpc, http });
        }
        let peers: BTreeMap<u64, String> = bound
            .iter()
            .map(|(id, l)| (*id, l.rpc.local_addr().expect("addr").to_string()))
            .collect();
        Self::launch(timing, &secret, peers, bound, shape).await
    }

    /// Three nodes on the listeners `Net::build` bound, each reached by its peers through the
    /// chaos suite's link proxy in front of its RPC port.
    pub async fn start_on(
        net: &Net,
        listeners: BTreeMap<u64, (TcpListener, TcpListener)>,
        timing: RaftTiming,
        secret: &ClusterSecret,
        acl_enabled: bool,
    ) -> TestCluster {
        let bound = listeners
            .into_iter()
            .map(|(id, (rpc, http))| (id, Listeners { rpc, http }))
            .collect();
        let shape = Shape {
            acl_enabled,
            ..Shape::default()
        };
        Self::launch(timing, secret, net.peers(), bound, shape).await
    }

    async fn launch(
        timing: RaftTiming,
        secret: &ClusterSecret,
        peers: BTreeMap<u64, String>,
        bound: BTreeMap<u64, Listeners>,
        mut shape: Shape,
    ) -> TestCluster {
        let root = tempfile::tempdir().expect("tempdir");
        let configs: BTreeMap<u64, AgentConfig> = bound
            .iter()
            .map(|(id, l)| {
                let parent = match &shape.parents {
                    Some(parents) => parents[*id as usize - 1].clone(),
                    None => root.path().to_path_buf(),
                };
                let config = AgentConfig {
                    node_id: *id,
                    data_dir: parent.join(format!("node{id}")),
                    http_bind: l.http.local_addr().expect("addr"),
                    rpc_bind: l.rpc.local_addr().expect("addr"),
                    peers: peers.clone(),
                    bootstrap_expect: peers.len(),
                    secret: secret.clone(),
                    faults: TestFaults::default(),
                    acl_enabled: shape.acl_enabled,
                    timing: timing.clone(),
                    limits: shape.limits.clone(),
                    tls: shape.tls.remove(id),
                };
                (*id, config)
            })
            .collect();
        let starts = bound.into_iter().map(|(id, listeners)| {
            let config = configs[&id].clone();
            async move {
                let agent = Agent::start(&config, listeners).await;
                (id, agent.expect("agent starts"))
            }
        });
        let agents = futures::future::join_all(starts)
            .await
            .into_iter()
            .collect();
        TestCluster {
            _root: root,
            configs,
            agents,
        }
    }

    /// Node `id`'s agent, if it runs.
    pub fn try_agent(&self, id: u64) -> Option<&Agent> {
        self.agents.get(&id)
    }

    pub fn agent(&self, id: u64) -> &Agent {
        self.agents
            .get(&id)
            .unwrap_or_else(|| panic!("node {id} is not running"))
    }

    pub fn running(&self) -> Vec<u64> {
        self.agents.keys().copied().collect()
    }

    pub fn http_addr(&self, id: u64) -> SocketAddr {
        self.configs[&id].http_bind
    }

    /// Node `id`'s data directory.
    pub fn data_dir(&self, id: u64) -> &std::path::Path {
        &self.configs[&id].data_dir
    }

    pub fn rpc_addr(&self, id: u64) -> String {
        self.configs[&id].peers[&id].clone()
    }

    /// The cluster secret every node of this cluster was given.
    pub fn secret(&self) -> &ClusterSecret {
        &self.configs[&1].secret
    }

    /// Waits until every running node names the same leader, which is itself running.
    pub async fn leader(&self) -> u64 {
        eventually(
            "all running nodes agree on a running leader",
            Duration::from_secs(30),
            || async {
                let views: Vec<Option<u64>> = self
                    .agents
                    .values()
                    .map(|a| a.node.status.metrics().current_leader)
                    .collect();
                match views.first() {
                    Some(Some(l))
                        if views.iter().all(|v| v == &Some(*l)) && self.agents.contains_key(l) =>
                    {
                        Some(*l)
                    }
                    _ => None,
                }
            },
        )
        .await
    }

    pub fn followers(&self, leader: u64) -> Vec<u64> {
        self.running()
            .into_iter()
            .filter(|id| *id != leader)
            .collect()
    }

    pub async fn stop(&mut self, id: u64) {
        let agent = self
            .agents
            .remove(&id)
            .unwrap_or_else(|| panic!("node {id} is not running"));
        agent.shutdown().await;
    }

    /// Node `id`'s configuration, to change before it is restarted.
    pub fn config_mut(&mut self, id: u64) -> &mut AgentConfig {
        self.configs
            .get_mut(&id)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    /// Starts a stopped node again on the same addresses and data dir.
    pub async fn restart(&mut self, id: u64) {
        let config = self.configs[&id].clone();
        let agent = eventually(
            &format!("node {id} restarts"),
            Duration::from_secs(15),
            || {
                let config = config.clone();
                async move {
                    // The old sockets and RocksDB lock are released asynchronously after shutdown.
                    let listeners = Listeners::bind(&config).await.ok()?;
                    match Agent::start(&config, listeners).await {
                        Ok(agent) => Some(agent),
                        Err(e) => {
                            eprintln!("node {id} does not start yet: {e:#}");
                            None
                        }
                    }
                }
            },
        )
        .await;
        self.agents.insert(id, agent);
    }

    /// Starts a new, empty node `id` whose peers are the running nodes: what an operator does to
    /// replace a dead server. It joins once it is added as a learner through the leader.
    pub async fn add_node(&mut self, id: u64) {
        assert!(!self.configs.contains_key(&id), "node {id} already exists");
        let ip = loopback_ips()[0];
        let rpc = TcpListener::bind((ip, 0)).await.expect("bind rpc");
        let http = TcpListener::bind((ip, 0)).await.expect("bind http");
        let mut peers: BTreeMap<u64, String> = self
            .running()
            .into_iter()
            .map(|n| (n, self.rpc_addr(n)))
            .collect();
        peers.insert(id, rpc.local_addr().expect("addr").to_string());
        let template = self.configs.values().next().expect("a node").clone();
        let config = AgentConfig {
            node_id: id,
            data_dir: self._root.path().join(format!("node{id}")),
            http_bind: http.local_addr().expect("addr"),
            rpc_bind: rpc.local_addr().expect("addr"),
            bootstrap_expect: peers.len(),
            peers,
            ..template
        };
        let agent = Agent::start(&config, Listeners { rpc, http })
            .await
            .expect("the new node starts");
        self.configs.insert(id, config);
        self.agents.insert(id, agent);
    }

    pub fn wipe(&self, id: u64) {
        assert!(
            !self.agents.contains_key(&id),
            "stop node {id} before wiping it"
        );
        // A stopped node's RocksDB may still be closing (its last handle is dropped by a task
        // that ends after the stop returns) and writing a file as the tree is removed: try
        // again until the tree is gone, within a deadline.
        let dir = &self.configs[&id].data_dir;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match std::fs::remove_dir_all(dir) {
                Ok(()) => return,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
                Err(e) if std::time::Instant::now() >= deadline => panic!("wipe data dir: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// Applies `command` through node `via` as an anonymous caller (every caller, with ACLs
    /// off).
    pub async fn write(&self, via: u64, command: Command) -> Result<CommandResponse, CsiError> {
        self.write_as(via, command, &Token::anonymous()).await
    }

    /// Applies `command` through node `via` for the caller holding `token`.
    pub async fn write_as(
        &self,
        via: u64,
        command: Command,
        token: &Token,
    ) -> Result<CommandResponse, CsiError> {
        self.agent(via).node.forwarder.write(command, token).await
    }

    pub async fn register(&self, via: u64, id: &str) -> CommandResponse {
        let resp = self
            .write(
                via,
                Command::RegisterVolumes {
                    volumes: vec![volume(id)],
                    cas: None,
                },
            )
            .await
            .expect("write accepted");
        assert!(resp.result.is_ok(), "register {id}: {:?}", resp.result);
        resp
    }

    /// The volume IDs node `id` holds right now, without asking anyone else.
    pub fn local_volume_ids(&self, id: u64) -> Vec<String> {
        self.agent(id)
            .node
            .forwarder
            .reader()
            .read(|s| s.volumes.values().map(|v| v.id.clone()).collect())
    }

    /// Every volume ID through node `id`'s CSI endpoint: linearizable unless `stale`.
    pub async fn read_volume_ids(&self, id: u64, stale: bool) -> Result<Vec<String>, CsiError> {
        let query = ListQuery {
            namespaces: Namespaces::All,
            options: QueryOptions {
                stale,
                ..QueryOptions::default()
            },
            ..ListQuery::default()
        };
        let page = self
            .agent(id)
            .node
            .csi
            .volumes(&Token::anonymous(), query)
            .await?;
        Ok(page.items.into_iter().map(|v| v.id).collect())
    }

    pub fn applied(&self, id: u64) -> u64 {
        self.agent(id).node.forwarder.reader().last_applied_index()
    }

    pub async fn shutdown(mut self) {
        for id in self.running() {
            self.stop(id).await;
        }
    }
}

/// The chaos suite's faults, on nodes in this process: a kill is a stop, a start a restart, and a
/// node cannot be frozen (the suite silences its links instead).
impl Nodes for TestCluster {
    async fn kill(&mut self, id: u64) {
        if self.agents.contains_key(&id) {
            self.stop(id).await;
        }
    }

    async fn start(&mut self, id: u64) -> anyhow::Result<()> {
        self.restart(id).await;
        Ok(())
    }

    async fn pause(&mut self, _id: u64) -> bool {
        false
    }

    async fn resume(&mut self, _id: u64) {}

    async fn wipe(&mut self, id: u64) {
        TestCluster::wipe(self, id);
    }

    fn running(&self, id: u64) -> bool {
        self.agents.contains_key(&id)
    }

    /// Nodes in this process log to the test's own output.
    fn logs(&self) -> Vec<std::path::PathBuf> {
        Vec::new()
    }
}
