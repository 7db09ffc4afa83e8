//! The cluster under test on this machine: each node on its own loopback address with a proxy in
//! front of its RPC port (the `Network` whose links faults cut), and the `Nodes` trait through
//! which faults stop, start, pause and wipe nodes. Real processes implement it here; the test kit
//! implements it over agents in its own process; the compose runner over containers.

use super::network::Network;
use super::proxy::{Link, Links, Proxy};
use rustix::process::{Pid, Signal, kill_process};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// Where one node lives.
#[derive(Clone, Debug)]
pub struct NodeAddrs {
    pub id: u64,
    /// Its HTTP API, as the run reaches it.
    pub http: SocketAddr,
    /// Its RPC port, as the run reaches it.
    pub rpc: SocketAddr,
    /// The RPC address every peer uses for it (here, its proxy's).
    pub advertised: String,
}

/// The addresses of a three-node cluster, its proxies, and the link rules.
pub struct Net {
    pub nodes: Vec<NodeAddrs>,
    pub links: Arc<Links>,
    _proxies: Vec<Proxy>,
}

/// The loopback address of node `id` in a run whose addresses start `127.a.b.`. Each node dials
/// from its own address, which also rules out TCP self-connects to a stopped peer's freed port.
fn node_ip(base: (u8, u8), id: u64) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, base.0, base.1, id as u8))
}

impl Net {
    /// Binds every node's listeners and starts the proxies. Returns the listeners, which the
    /// in-process runner hands to its nodes; the process runner drops them so agents can bind.
    pub async fn build(
        ids: &[u64],
    ) -> std::io::Result<(Net, BTreeMap<u64, (TcpListener, TcpListener)>)> {
        let links = Arc::new(Links::default());
        // Distinct runs (say, concurrent tests) never share addresses, so never each other's ports.
        let base = (rand::random_range(1..250), rand::random_range(1..250));
        let sources: Arc<HashMap<IpAddr, u64>> =
            Arc::new(ids.iter().map(|id| (node_ip(base, *id), *id)).collect());
        let mut nodes = Vec::new();
        let mut listeners = BTreeMap::new();
        let mut proxies = Vec::new();
        for &id in ids {
            let ip = node_ip(base, id);
            let rpc = TcpListener::bind((ip, 0)).await?;
            let http = TcpListener::bind((ip, 0)).await?;
            let proxy_listener = TcpListener::bind((ip, 0)).await?;
            let addrs = NodeAddrs {
                id,
                http: http.local_addr()?,
                rpc: rpc.local_addr()?,
                advertised: proxy_listener.local_addr()?.to_string(),
            };
            proxies.push(Proxy::start(
                proxy_listener,
                addrs.rpc,
                id,
                sources.clone(),
                links.clone(),
            )?);
            listeners.insert(id, (rpc, http));
            nodes.push(addrs);
        }
        Ok((
            Net {
                nodes,
                links,
                _proxies: proxies,
            },
            listeners,
        ))
    }

    pub fn peers(&self) -> BTreeMap<u64, String> {
        self.nodes
            .iter()
            .map(|n| (n.id, n.advertised.clone()))
            .collect()
    }

    pub fn node(&self, id: u64) -> &NodeAddrs {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or(&self.nodes[0])
    }

    fn others(&self, id: u64) -> impl Iterator<Item = u64> + '_ {
        self.nodes.iter().map(|n| n.id).filter(move |o| *o != id)
    }
}

impl Network for Net {
    fn nodes(&self) -> &[NodeAddrs] {
        &self.nodes
    }

    async fn cut_off(&self, victim: u64) -> bool {
        for other in self.others(victim) {
            self.links.set(victim, other, Link::Drop);
            self.links.set(other, victim, Link::Drop);
        }
        true
    }

    async fn silence(&self, victim: u64) -> bool {
        for other in self.others(victim) {
            self.links.set(victim, other, Link::Blackhole);
            self.links.set(other, victim, Link::Blackhole);
        }
        true
    }

    async fn cut_one_way(&self, from: u64, to: u64) -> bool {
        self.links.set(from, to, Link::Drop);
        true
    }

    async fn delay_all(&self, delay: std::time::Duration) -> bool {
        for n in &self.nodes {
            for other in self.others(n.id) {
                self.links.set(n.id, other, Link::Delay(delay));
            }
        }
        true
    }

    async fn heal(&self) {
        self.links.heal();
    }
}

/// What faults do to nodes.
#[allow(async_fn_in_trait)]
pub trait Nodes {
    /// Stops a node abruptly (SIGKILL for a process).
    async fn kill(&mut self, id: u64);
    /// Starts a stopped node on its data dir.
    async fn start(&mut self, id: u64) -> anyhow::Result<()>;
    /// Freezes a node (SIGSTOP); false where that is not possible.
    async fn pause(&mut self, id: u64) -> bool;
    async fn resume(&mut self, id: u64);
    /// Deletes a stopped node's data.
    async fn wipe(&mut self, id: u64);
    fn running(&self, id: u64) -> bool;
    /// Log files worth keeping in a failure report.
    fn logs(&self) -> Vec<PathBuf>;
}

/// Where one agent process keeps its data and its log.
#[derive(Clone, Debug)]
pub struct Slot {
    pub node: NodeAddrs,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

/// How to start the agent of a slot: the caller knows the agent's command line; this runner only
/// starts, stops, freezes and wipes what it gets.
pub type Launch = Box<dyn Fn(&Slot) -> std::io::Result<Command> + Send + Sync>;

/// Real agent processes.
pub struct Processes {
    launch: Launch,
    slots: Vec<Slot>,
    children: HashMap<u64, Child>,
}

/// Sends `signal` to a child this runner started and has not reaped.
fn signal(child: &Child, signal: Signal) -> bool {
    child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .and_then(Pid::from_raw)
        .is_some_and(|pid| kill_process(pid, signal).is_ok())
}

impl Processes {
    /// Agents for every node of `net`, each with its data dir and log under `dir`.
    pub fn new(dir: &Path, net: &Net, launch: Launch) -> Processes {
        let slots = net
            .nodes
            .iter()
            .map(|n| Slot {
                node: n.clone(),
                data_dir: dir.join(format!("node{}", n.id)),
                log: dir.join(format!("node{}.log", n.id)),
            })
            .collect();
        Processes {
            launch,
            slots,
            children: HashMap::new(),
        }
    }

    fn slot(&self, id: u64) -> Option<&Slot> {
        self.slots.iter().find(|s| s.node.id == id)
    }
}

impl Nodes for Processes {
    async fn kill(&mut self, id: u64) {
        if let Some(mut child) = self.children.remove(&id) {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    async fn start(&mut self, id: u64) -> anyhow::Result<()> {
        let Some(slot) = self.slot(id) else {
            anyhow::bail!("no node {id}");
        };
        let child = (self.launch)(slot)?.spawn()?;
        self.children.insert(id, child);
        Ok(())
    }

    async fn pause(&mut self, id: u64) -> bool {
        self.children
            .get(&id)
            .is_some_and(|c| signal(c, Signal::STOP))
    }

    async fn resume(&mut self, id: u64) {
        if let Some(c) = self.children.get(&id) {
            signal(c, Signal::CONT);
        }
    }

    async fn wipe(&mut self, id: u64) {
        if let Some(slot) = self.slot(id) {
            let _ = std::fs::remove_dir_all(&slot.data_dir);
        }
    }

    fn running(&self, id: u64) -> bool {
        self.children.contains_key(&id)
    }

    fn logs(&self) -> Vec<PathBuf> {
        self.slots.iter().map(|s| s.log.clone()).collect()
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        // Never leave a frozen node behind: resume, then kill_on_drop ends it.
        for child in self.children.values() {
            signal(child, Signal::CONT);
        }
    }
}
