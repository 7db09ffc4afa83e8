//! The cluster under test: each node on its own loopback address with a proxy in front of its RPC
//! port, and the `Nodes` trait through which faults stop, start, pause and wipe nodes. Real
//! processes implement it here; the in-process runner implements it over `Agent`s.

use super::proxy::{Links, Proxy};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// Where one node lives.
#[derive(Clone, Debug)]
pub struct NodeAddrs {
    pub id: u64,
    pub ip: IpAddr,
    pub http: SocketAddr,
    /// The node's own RPC listener.
    pub rpc: SocketAddr,
    /// Its proxy: the address every peer uses for it.
    pub advertised: SocketAddr,
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
                ip,
                http: http.local_addr()?,
                rpc: rpc.local_addr()?,
                advertised: proxy_listener.local_addr()?,
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
            .map(|n| (n.id, n.advertised.to_string()))
            .collect()
    }

    pub fn node(&self, id: u64) -> &NodeAddrs {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or(&self.nodes[0])
    }

    /// The node whose advertised RPC address is `addr`.
    pub fn id_of(&self, addr: &str) -> Option<u64> {
        self.nodes
            .iter()
            .find(|n| n.advertised.to_string() == addr)
            .map(|n| n.id)
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
    fn pause(&mut self, id: u64) -> bool;
    fn resume(&mut self, id: u64);
    /// Deletes a stopped node's data dir.
    fn wipe(&mut self, id: u64);
    fn running(&self, id: u64) -> bool;
    /// Log files worth keeping in a failure report.
    fn logs(&self) -> Vec<PathBuf>;
}

/// Real `stowage agent` processes.
pub struct Processes {
    exe: PathBuf,
    dir: PathBuf,
    nodes: Vec<NodeAddrs>,
    peers: String,
    unsafe_fault: Option<String>,
    children: HashMap<u64, Child>,
}

impl Processes {
    pub fn new(exe: PathBuf, dir: &Path, net: &Net, unsafe_fault: Option<String>) -> Processes {
        let peers = net
            .peers()
            .iter()
            .map(|(id, a)| format!("{id}={a}"))
            .collect::<Vec<_>>()
            .join(",");
        Processes {
            exe,
            dir: dir.to_path_buf(),
            nodes: net.nodes.clone(),
            peers,
            unsafe_fault,
            children: HashMap::new(),
        }
    }

    fn pid(&self, id: u64) -> Option<i32> {
        self.children
            .get(&id)
            .and_then(|c| c.id())
            .and_then(|p| i32::try_from(p).ok())
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
        let Some(n) = self.nodes.iter().find(|n| n.id == id).cloned() else {
            anyhow::bail!("no node {id}");
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("node{id}.log")))?;
        let mut cmd = Command::new(&self.exe);
        cmd.arg("agent")
            .args(["--node-id", &id.to_string()])
            .arg("--data-dir")
            .arg(self.dir.join(format!("node{id}")))
            .args([
                "--http-addr",
                &n.http.to_string(),
                "--rpc-addr",
                &n.rpc.to_string(),
                "--peer",
                &self.peers,
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        if let Some(f) = &self.unsafe_fault {
            cmd.env(crate::agent::UNSAFE_FAULT_ENV, f);
        }
        self.children.insert(id, cmd.spawn()?);
        Ok(())
    }

    fn pause(&mut self, id: u64) -> bool {
        self.pid(id)
            .map(|p| crate::signal::send(p, libc::SIGSTOP))
            .is_some()
    }

    fn resume(&mut self, id: u64) {
        if let Some(p) = self.pid(id) {
            crate::signal::send(p, libc::SIGCONT);
        }
    }

    fn wipe(&mut self, id: u64) {
        let _ = std::fs::remove_dir_all(self.dir.join(format!("node{id}")));
    }

    fn running(&self, id: u64) -> bool {
        self.children.contains_key(&id)
    }

    fn logs(&self) -> Vec<PathBuf> {
        self.nodes
            .iter()
            .map(|n| self.dir.join(format!("node{}.log", n.id)))
            .collect()
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        // Never leave a frozen node behind: resume, then kill_on_drop ends it.
        for pid in self
            .children
            .values()
            .filter_map(|c| c.id())
            .filter_map(|p| i32::try_from(p).ok())
        {
            crate::signal::send(pid, libc::SIGCONT);
        }
    }
}
