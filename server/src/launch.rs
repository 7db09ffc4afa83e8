//! The one way an agent is started as a child process: by `stowage dev`, by the chaos suite's
//! process runner, and by the tests that need real processes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use stowage_raft::TlsFiles;
use tokio::process::{Child, Command};

/// What one child agent needs to know.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    /// The binary to run: `stowage`, or a test build that accepts the same arguments.
    pub exe: PathBuf,
    pub id: u64,
    pub data_dir: PathBuf,
    pub http_addr: String,
    pub rpc_addr: String,
    /// Every initial voter as `id=rpc-address`, comma separated.
    pub peers: String,
    /// The file holding the cluster secret (a path, so the secret never shows on a command line).
    pub secret_file: PathBuf,
    /// Where the child's standard output and error go (appended).
    pub log: PathBuf,
    /// Start it with `--acl-enabled`.
    pub acl_enabled: bool,
    /// Its CA, certificate and key, to start it with TLS on both ports.
    pub tls: Option<TlsFiles>,
}

impl AgentSpec {
    /// The command that starts this agent, with its output appended to its log. The child is
    /// killed if its handle is dropped.
    pub fn command(&self) -> std::io::Result<Command> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut cmd = Command::new(&self.exe);
        cmd.arg("agent")
            .args(["--node-id", &self.id.to_string()])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--http-addr", &self.http_addr, "--rpc-addr", &self.rpc_addr])
            .args(["--peer", &self.peers])
            .arg("--cluster-secret-file")
            .arg(&self.secret_file)
            .args(self.acl_enabled.then_some("--acl-enabled"));
        if let Some(tls) = &self.tls {
            cmd.arg("--tls-ca-file")
                .arg(&tls.ca_file)
                .arg("--tls-cert-file")
                .arg(&tls.cert_file)
                .arg("--tls-key-file")
                .arg(&tls.key_file);
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        Ok(cmd)
    }

    pub fn spawn(&self) -> std::io::Result<Child> {
        self.command()?.spawn()
    }
}

/// Voters as `--peer` takes them, `id=address` joined by commas (`config::parse_peers` reads
/// them back).
pub fn peer_list<A: std::fmt::Display>(peers: impl IntoIterator<Item = (u64, A)>) -> String {
    peers
        .into_iter()
        .map(|(id, addr)| format!("{id}={addr}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Writes `secret` to `path`, readable by this user only.
pub fn write_secret_file(path: &Path, secret: &stowage_raft::ClusterSecret) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    writeln!(file, "{}", secret.expose())
}
