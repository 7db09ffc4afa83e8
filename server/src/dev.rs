//! `stowage dev`: a three-node cluster on this machine with no config. Each node is a real
//! `stowage agent` child process, supervised: one that exits on its own is restarted. The
//! cluster secret is generated once and kept in the data dir.

use crate::agent::stop_signal;
use crate::config::read_secret_file;
use crate::launch::{AgentSpec, peer_list, write_secret_file};
use anyhow::Context;
use rustix::process::{Pid, Signal, kill_process};
use std::path::{Path, PathBuf};
use std::time::Duration;
use stowage_raft::{ClusterSecret, TlsFiles};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The cluster secret's file under the dev data dir.
pub const SECRET_FILE: &str = "cluster-secret";

#[derive(Debug, Clone, clap::Args)]
pub struct DevArgs {
    /// Where the three nodes keep their data and logs.
    #[arg(long, default_value = ".stowage/dev")]
    pub data_dir: PathBuf,
    /// HTTP port of node 1; node N uses this + 10*(N-1), and each RPC port is its HTTP port + 1.
    #[arg(long, default_value_t = 4646)]
    pub http_port: u16,
    /// Hold every caller to ACL tokens and policies, on all three nodes.
    #[arg(long)]
    pub acl_enabled: bool,
    /// Serve both ports over TLS with the certificates `deploy/tls/make-certs.sh DIR` made:
    /// `ca.pem`, and `nodeN.pem` with `nodeN-key.pem` for node N.
    #[arg(long)]
    pub tls_dir: Option<PathBuf>,
}

struct DevNode {
    spec: AgentSpec,
    /// The running child's pid; the child itself is owned by the task that awaits its exit.
    pid: Option<i32>,
    restarts: Vec<Instant>,
}

/// The dev cluster's secret: the one kept in `root`, or a new one written there.
fn dev_secret(root: &Path) -> anyhow::Result<PathBuf> {
    let path = root.join(SECRET_FILE);
    if path.exists() {
        read_secret_file(&path)?;
    } else {
        write_secret_file(&path, &ClusterSecret::generate())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(path)
}

type Exits = mpsc::UnboundedSender<(usize, std::process::ExitStatus)>;

pub async fn run(args: DevArgs) -> anyhow::Result<u8> {
    let exe = std::env::current_exe().context("cannot find the stowage binary")?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let root = args
        .data_dir
        .canonicalize()
        .unwrap_or(args.data_dir.clone());
    let secret_file = dev_secret(&root)?;
    let port = |i: u16, rpc: u16| format!("127.0.0.1:{}", args.http_port + 10 * i + rpc);
    let peers = peer_list((0..3u16).map(|i| (u64::from(i) + 1, port(i, 1))));
    let mut nodes: Vec<DevNode> = (0..3u16)
        .map(|i| {
            let dir = root.join(format!("node{}", i + 1));
            DevNode {
                spec: AgentSpec {
                    exe: exe.clone(),
                    id: u64::from(i) + 1,
                    log: dir.with_extension("log"),
                    data_dir: dir,
                    http_addr: port(i, 0),
                    rpc_addr: port(i, 1),
                    peers: peers.clone(),
                    secret_file: secret_file.clone(),
                    acl_enabled: args.acl_enabled,
                    tls: args.tls_dir.as_ref().map(|d| TlsFiles {
                        ca_file: d.join("ca.pem"),
                        cert_file: d.join(format!("node{}.pem", i + 1)),
                        key_file: d.join(format!("node{}-key.pem", i + 1)),
                    }),
                },
                pid: None,
                restarts: Vec::new(),
            }
        })
        .collect();

    println!("stowage dev: three nodes, data under {}", root.display());
    let scheme = if args.tls_dir.is_some() {
        "https"
    } else {
        "http"
    };
    for n in &nodes {
        println!(
            "  node {}: HTTP {scheme}://{}  RPC {}  log {}",
            n.spec.id,
            n.spec.http_addr,
            n.spec.rpc_addr,
            n.spec.log.display()
        );
    }
    println!(
        "cluster secret (for `stowage operator`): {}",
        secret_file.display()
    );
    match &args.tls_dir {
        Some(d) => println!(
            "try: curl --cacert {0}/ca.pem --cert {0}/cli.pem --key {0}/cli-key.pem https://{1}/v1/status/leader   (Ctrl-C stops all three)",
            d.display(),
            nodes[0].spec.http_addr
        ),
        None => println!(
            "try: curl http://{}/v1/status/leader   (Ctrl-C stops all three)",
            nodes[0].spec.http_addr
        ),
    }

    let (exits_tx, mut exits) = mpsc::unbounded_channel();
    for i in 0..nodes.len() {
        start_node(&mut nodes, i, &exits_tx)?;
    }
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some((i, status)) = exits.recv() => {
                let n = &mut nodes[i];
                n.pid = None;
                let now = Instant::now();
                n.restarts.retain(|t| now.duration_since(*t) < Duration::from_secs(60));
                eprintln!("stowage dev: node {} exited ({status}); see {}", n.spec.id, n.spec.log.display());
                if n.restarts.len() >= 5 {
                    eprintln!("stowage dev: node {} keeps failing; not restarting it", n.spec.id);
                    continue;
                }
                n.restarts.push(now);
                start_node(&mut nodes, i, &exits_tx)?;
                eprintln!("stowage dev: node {} restarted", nodes[i].spec.id);
            }
        }
    }
    stop_all(&mut nodes, &mut exits).await;
    println!("stowage dev: stopped; data kept in {}", root.display());
    Ok(0)
}

fn start_node(nodes: &mut [DevNode], i: usize, exits: &Exits) -> anyhow::Result<()> {
    let n = &mut nodes[i];
    let mut child = n
        .spec
        .spawn()
        .with_context(|| format!("cannot start node {}", n.spec.id))?;
    n.pid = child.id().and_then(|p| i32::try_from(p).ok());
    let exits = exits.clone();
    tokio::spawn(async move {
        if let Ok(status) = child.wait().await {
            let _ = exits.send((i, status));
        }
    });
    Ok(())
}

/// SIGTERM to every node, then SIGKILL to any still running after 10 s.
async fn stop_all(
    nodes: &mut [DevNode],
    exits: &mut mpsc::UnboundedReceiver<(usize, std::process::ExitStatus)>,
) {
    for pid in nodes.iter().filter_map(|n| n.pid) {
        send(pid, Signal::TERM);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while nodes.iter().any(|n| n.pid.is_some()) {
        match tokio::time::timeout_at(deadline, exits.recv()).await {
            Ok(Some((i, _))) => nodes[i].pid = None,
            _ => break,
        }
    }
    for pid in nodes.iter().filter_map(|n| n.pid) {
        send(pid, Signal::KILL);
    }
}

/// Signals a child this process started and has not reaped.
fn send(pid: i32, signal: Signal) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = kill_process(pid, signal);
    }
}
