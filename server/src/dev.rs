//! `stowage dev`: a three-node cluster on this machine with no config. Each node is a real
//! `stowage agent` child process, supervised: one that exits on its own is restarted.

use crate::agent::stop_signal;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Debug, Clone, clap::Args)]
pub struct DevArgs {
    /// Where the three nodes keep their data and logs.
    #[arg(long, default_value = ".stowage/dev")]
    pub data_dir: PathBuf,
    /// HTTP port of node 1; node N uses this + 10*(N-1), and each RPC port is its HTTP port + 1.
    #[arg(long, default_value_t = 4646)]
    pub http_port: u16,
}

struct DevNode {
    id: u64,
    http: String,
    rpc: String,
    dir: PathBuf,
    /// The running child's pid; the child itself is owned by the task that awaits its exit.
    pid: Option<i32>,
    restarts: Vec<Instant>,
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
    let mut nodes: Vec<DevNode> = (0..3u16)
        .map(|i| {
            let http_port = args.http_port + 10 * i;
            DevNode {
                id: u64::from(i) + 1,
                http: format!("127.0.0.1:{http_port}"),
                rpc: format!("127.0.0.1:{}", http_port + 1),
                dir: root.join(format!("node{}", i + 1)),
                pid: None,
                restarts: Vec::new(),
            }
        })
        .collect();
    let peers = nodes
        .iter()
        .map(|n| format!("{}={}", n.id, n.rpc))
        .collect::<Vec<_>>()
        .join(",");

    println!("stowage dev: three nodes, data under {}", root.display());
    for n in &nodes {
        println!(
            "  node {}: HTTP http://{}  RPC {}  log {}",
            n.id,
            n.http,
            n.rpc,
            log_path(&n.dir).display()
        );
    }
    println!(
        "try: curl http://{}/v1/status/leader   (Ctrl-C stops all three)",
        nodes[0].http
    );

    let (exits_tx, mut exits) = mpsc::unbounded_channel();
    for i in 0..nodes.len() {
        start_node(&exe, &mut nodes, i, &peers, &exits_tx)?;
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
                eprintln!("stowage dev: node {} exited ({status}); see {}", n.id, log_path(&n.dir).display());
                if n.restarts.len() >= 5 {
                    eprintln!("stowage dev: node {} keeps failing; not restarting it", n.id);
                    continue;
                }
                n.restarts.push(now);
                start_node(&exe, &mut nodes, i, &peers, &exits_tx)?;
                eprintln!("stowage dev: node {} restarted", nodes[i].id);
            }
        }
    }
    stop_all(&mut nodes, &mut exits).await;
    println!("stowage dev: stopped; data kept in {}", root.display());
    Ok(0)
}

fn log_path(dir: &Path) -> PathBuf {
    dir.with_extension("log")
}

fn start_node(
    exe: &Path,
    nodes: &mut [DevNode],
    i: usize,
    peers: &str,
    exits: &Exits,
) -> anyhow::Result<()> {
    let n = &mut nodes[i];
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(&n.dir))
        .with_context(|| format!("cannot open {}", log_path(&n.dir).display()))?;
    let err = log.try_clone()?;
    let mut child = Command::new(exe)
        .arg("agent")
        .args(["--node-id", &n.id.to_string()])
        .arg("--data-dir")
        .arg(&n.dir)
        .args([
            "--http-addr",
            &n.http,
            "--rpc-addr",
            &n.rpc,
            "--peer",
            peers,
            "--bootstrap-expect",
            "3",
        ])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start node {}", n.id))?;
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
        crate::signal::send(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while nodes.iter().any(|n| n.pid.is_some()) {
        match tokio::time::timeout_at(deadline, exits.recv()).await {
            Ok(Some((i, _))) => nodes[i].pid = None,
            _ => break,
        }
    }
    for pid in nodes.iter().filter_map(|n| n.pid) {
        crate::signal::send(pid, libc::SIGKILL);
    }
}
