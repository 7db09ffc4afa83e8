//! Per-link network faults without Docker: every node's RPC port is reached through a TCP proxy
//! in front of it, and every node dials from its own loopback address, so the proxy knows which
//! link a connection belongs to and can pass, drop, blackhole or delay it, one direction at a time.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What happens to connections from one node to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Pass,
    /// Refuse: connections close at once, so the caller sees the peer as unreachable.
    Drop,
    /// Accept and then stay silent: the caller's requests time out.
    Blackhole,
    /// Pass, with this much added to every chunk in either direction.
    Delay(Duration),
}

/// The rules for every directed link, shared by all proxies, and how much each carried.
#[derive(Debug)]
pub struct Links {
    rules: Mutex<HashMap<(u64, u64), Link>>,
    changed: watch::Sender<u64>,
    carried: Mutex<HashMap<(u64, u64), u64>>,
}

impl Default for Links {
    fn default() -> Self {
        Links {
            rules: Mutex::new(HashMap::new()),
            changed: watch::Sender::new(0),
            carried: Mutex::new(HashMap::new()),
        }
    }
}

impl Links {
    pub fn get(&self, from: u64, to: u64) -> Link {
        self.rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(from, to))
            .copied()
            .unwrap_or(Link::Pass)
    }

    pub fn set(&self, from: u64, to: u64, link: Link) {
        self.rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((from, to), link);
        self.changed.send_modify(|g| *g += 1);
    }

    /// Bytes carried, both ways, on connections that node `from` made to node `to`.
    pub fn carried(&self, from: u64, to: u64) -> u64 {
        self.carried
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(from, to))
            .copied()
            .unwrap_or(0)
    }

    fn count(&self, from: u64, to: u64, bytes: usize) {
        *self
            .carried
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((from, to))
            .or_default() += bytes as u64;
    }

    /// Every link back to `Pass`.
    pub fn heal(&self) {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.changed.send_modify(|g| *g += 1);
    }
}

/// The proxy in front of node `dest`.
pub struct Proxy {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Listens on `listener` and forwards to `target`; `sources` maps a caller's IP to its node.
    pub fn start(
        listener: TcpListener,
        target: SocketAddr,
        dest: u64,
        sources: Arc<HashMap<IpAddr, u64>>,
        links: Arc<Links>,
    ) -> std::io::Result<Proxy> {
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, peer)) = listener.accept().await else {
                    continue;
                };
                let from = sources.get(&peer.ip()).copied();
                let links = links.clone();
                tokio::spawn(async move {
                    let _ = serve(client, target, from, dest, links).await;
                });
            }
        });
        Ok(Proxy { addr, task })
    }
}

async fn serve(
    client: TcpStream,
    target: SocketAddr,
    from: Option<u64>,
    to: u64,
    links: Arc<Links>,
) -> std::io::Result<()> {
    // A caller that is not a node (an operator's tool) is never cut off.
    let rule = |links: &Links| from.map_or(Link::Pass, |f| links.get(f, to));
    let mut changed = links.changed.subscribe();
    match rule(&links) {
        Link::Drop => return Ok(()),
        Link::Blackhole => {
            // Hold the connection silently until the rule changes, then close it.
            let _ = changed.changed().await;
            return Ok(());
        }
        Link::Delay(d) => tokio::time::sleep(d).await,
        Link::Pass => {}
    }
    let server = TcpStream::connect(target).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = pump(cr, sw, links.clone(), from, to);
    let down = pump(sr, cw, links.clone(), from, to);
    // Connections that exist when a link is cut are cut too.
    let cut = async {
        loop {
            if changed.changed().await.is_err() {
                return;
            }
            if matches!(rule(&links), Link::Drop | Link::Blackhole) {
                return;
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
        _ = cut => {}
    }
    Ok(())
}

async fn pump(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    links: Arc<Links>,
    from: Option<u64>,
    to: u64,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        if let Some(f) = from {
            if let Link::Delay(d) = links.get(f, to) {
                tokio::time::sleep(d).await;
            }
            links.count(f, to, n);
        }
        w.write_all(&buf[..n]).await?;
    }
}
