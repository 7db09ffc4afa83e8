//! Three agents as real processes of a given binary, on loopback addresses of their own, started
//! the one way every agent child is started (`stowage_server::launch`), so that tests can SIGKILL
//! and SIGSTOP them.

use crate::poll::{free_addr, loopback_ips};
use rustix::process::{Pid, Signal, kill_process};
use std::path::{Path, PathBuf};
use stowage_raft::{ClusterClient, ClusterSecret};
use stowage_server::launch::{AgentSpec, write_secret_file};
use tokio::process::Child;

pub struct ProcessNode {
    pub spec: AgentSpec,
    pub child: Option<Child>,
}

impl ProcessNode {
    pub fn id(&self) -> u64 {
        self.spec.id
    }
    pub fn http(&self) -> &str {
        &self.spec.http_addr
    }
    pub fn rpc(&self) -> &str {
        &self.spec.rpc_addr
    }
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// Sends `signal` to the running agent; false if it is not running.
    pub fn signal(&self, signal: Signal) -> bool {
        self.child
            .as_ref()
            .and_then(|c| c.id())
            .and_then(|p| i32::try_from(p).ok())
            .and_then(Pid::from_raw)
            .is_some_and(|pid| kill_process(pid, signal).is_ok())
    }
}

pub struct ProcessCluster {
    dir: tempfile::TempDir,
    secret: ClusterSecret,
    /// Variables every agent gets on top of this process's environment.
    env: Vec<(String, String)>,
    pub nodes: Vec<ProcessNode>,
}

impl ProcessCluster {
    /// Starts three agents of `exe` (the `stowage` binary, or one that takes its arguments).
    pub fn start(exe: &Path) -> ProcessCluster {
        Self::start_with_env(exe, &[])
    }

    /// Starts three agents of `exe`, each with the variables `env` set.
    pub fn start_with_env(exe: &Path, env: &[(&str, &str)]) -> ProcessCluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = ClusterSecret::generate();
        let secret_file = dir.path().join("cluster-secret");
        write_secret_file(&secret_file, &secret).expect("secret file");
        let ips = loopback_ips();
        let addrs: Vec<(String, String)> = ips
            .iter()
            .map(|ip| (free_addr(*ip), free_addr(*ip)))
            .collect();
        let peers = addrs
            .iter()
            .enumerate()
            .map(|(i, (_, rpc))| format!("{}={rpc}", i + 1))
            .collect::<Vec<_>>()
            .join(",");
        let nodes = addrs
            .into_iter()
            .enumerate()
            .map(|(i, (http_addr, rpc_addr))| ProcessNode {
                spec: AgentSpec {
                    exe: PathBuf::from(exe),
                    id: i as u64 + 1,
                    data_dir: dir.path().join(format!("node{}", i + 1)),
                    http_addr,
                    rpc_addr,
                    peers: peers.clone(),
                    secret_file: secret_file.clone(),
                    log: dir.path().join(format!("node{}.log", i + 1)),
                    acl_enabled: false,
                    tls: None,
                },
                child: None,
            })
            .collect();
        let mut cluster = ProcessCluster {
            dir,
            secret,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            nodes,
        };
        for i in 0..3 {
            cluster.spawn(i);
        }
        cluster
    }

    pub fn secret(&self) -> &ClusterSecret {
        &self.secret
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// (Re)starts node `i` on its data dir.
    pub fn spawn(&mut self, i: usize) {
        let mut cmd = self.nodes[i].spec.command().expect("agent command");
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        self.nodes[i].child = Some(cmd.spawn().expect("spawn agent"));
    }

    /// SIGKILLs node `i` and reaps it.
    pub async fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            child.start_kill().expect("SIGKILL");
            child.wait().await.expect("reaped");
        }
    }

    pub fn index_of(&self, id: u64) -> usize {
        self.nodes
            .iter()
            .position(|n| n.id() == id)
            .expect("known id")
    }

    /// A `ClusterService` client for `rpc` carrying this cluster's secret.
    pub fn client(&self, rpc: &str) -> ClusterClient {
        stowage_raft::cluster_client(rpc, &self.secret).expect("a client")
    }

    /// What node `i` wrote to its log so far.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.nodes[i].spec.log).unwrap_or_default()
    }
}

impl Drop for ProcessCluster {
    fn drop(&mut self) {
        // A frozen agent cannot die from SIGKILL queued behind SIGSTOP on every system: resume it
        // first; `kill_on_drop` then ends it.
        for n in &self.nodes {
            n.signal(Signal::CONT);
        }
    }
}
