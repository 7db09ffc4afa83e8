//! Agent configuration from flags, environment variables and an optional TOML file, in that
//! order of precedence, checked once at start-up.

use crate::limits::{FileLimits, LimitArgs, NodeLimits};
use crate::tls::{FileTls, NodeTls, TlsArgs};
use anyhow::{Context, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use stowage_raft::{ClusterSecret, RaftTiming, TestFaults};

pub const DEFAULT_HTTP_ADDR: &str = "0.0.0.0:4646";
pub const DEFAULT_RPC_ADDR: &str = ":4647";
pub const DEFAULT_BOOTSTRAP_EXPECT: usize = 3;
/// Nomad's bounds for `raft_multiplier`.
const RAFT_MULTIPLIERS: std::ops::RangeInclusive<u32> = 1..=10;

/// `stowage agent` flags. Each has an environment variable; a config file fills what is unset.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AgentArgs {
    /// This node's id: a positive integer, unique in the cluster.
    #[arg(long, env = "STOWAGE_NODE_ID")]
    pub node_id: Option<u64>,
    /// Where this node keeps its Raft log and state.
    #[arg(long, env = "STOWAGE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to serve Nomad's HTTP API on.
    #[arg(long, env = "STOWAGE_HTTP_ADDR")]
    pub http_addr: Option<String>,
    /// Address to serve the internal gRPC API on (`:4647` means every interface).
    #[arg(long, env = "STOWAGE_RPC_ADDR")]
    pub rpc_addr: Option<String>,
    /// The initial voters as `id=host:port` (their RPC addresses), this node included.
    /// Repeat the flag or separate with commas.
    #[arg(long = "peer", env = "STOWAGE_PEERS", value_delimiter = ',')]
    pub peers: Vec<String>,
    /// How many peers must be reachable before the cluster initializes itself.
    #[arg(long, env = "STOWAGE_BOOTSTRAP_EXPECT")]
    pub bootstrap_expect: Option<usize>,
    /// A file holding the cluster secret: every node of a cluster needs the same one, and every
    /// call to a node's RPC port must carry it.
    #[arg(long, env = "STOWAGE_CLUSTER_SECRET_FILE")]
    pub cluster_secret_file: Option<PathBuf>,
    /// The cluster secret itself (prefer the file: a command line is visible to other users).
    #[arg(long, env = "STOWAGE_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<ClusterSecret>,
    /// Hold every caller to ACL tokens and policies (as Nomad's `acl { enabled = true }`).
    #[arg(long, env = "STOWAGE_ACL_ENABLED")]
    pub acl_enabled: bool,
    /// Scales Raft's heartbeat and election timeouts, as Nomad's `raft_multiplier`: 1 (the
    /// default: heartbeats every 40 ms, elections after 120-240 ms) to 10, for networks or
    /// machines slow enough that the default would see needless elections.
    #[arg(long, env = "STOWAGE_RAFT_MULTIPLIER")]
    pub raft_multiplier: Option<u32>,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// A TOML file with any of: node_id, data_dir, http_addr, rpc_addr, peers, bootstrap_expect,
    /// cluster_secret_file, cluster_secret, raft_multiplier, an `[acl]` table with `enabled`, a
    /// `[limits]` table with the limit settings below, and a `[tls]` table with ca_file,
    /// cert_file, key_file and verify_https_client.
    #[arg(long, env = "STOWAGE_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    node_id: Option<u64>,
    data_dir: Option<PathBuf>,
    http_addr: Option<String>,
    rpc_addr: Option<String>,
    #[serde(default)]
    peers: Vec<String>,
    bootstrap_expect: Option<usize>,
    cluster_secret_file: Option<PathBuf>,
    cluster_secret: Option<ClusterSecret>,
    raft_multiplier: Option<u32>,
    #[serde(default)]
    acl: FileAcl,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    tls: FileTls,
}

/// The config file's `[acl]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAcl {
    #[serde(default)]
    enabled: bool,
}

/// A checked agent configuration.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub node_id: u64,
    pub data_dir: PathBuf,
    pub http_bind: SocketAddr,
    pub rpc_bind: SocketAddr,
    pub peers: BTreeMap<u64, String>,
    pub bootstrap_expect: usize,
    pub secret: ClusterSecret,
    /// Whether callers are held to ACL tokens and policies.
    pub acl_enabled: bool,
    /// Raft's timing: the defaults scaled by `raft_multiplier`.
    pub timing: RaftTiming,
    /// What this node allows its clients.
    pub limits: NodeLimits,
    /// TLS on both ports, when configured.
    pub tls: Option<NodeTls>,
    /// Deliberately wrong behaviours, for the chaos suite's self-checks: no flag, variable or
    /// file sets them, and a default build has none.
    pub faults: TestFaults,
}

impl AgentConfig {
    /// This node's RPC address as its peers know it.
    pub fn rpc_advertise(&self) -> &str {
        self.peers.get(&self.node_id).map_or("", String::as_str)
    }

    /// The HTTP address to tell others about: the bind address, with an unspecified host
    /// replaced by the host peers reach this node's RPC on.
    pub fn http_advertise(&self) -> String {
        if !self.http_bind.ip().is_unspecified() {
            return self.http_bind.to_string();
        }
        let host = self
            .rpc_advertise()
            .rsplit_once(':')
            .map_or("127.0.0.1", |(h, _)| h);
        format!("{host}:{}", self.http_bind.port())
    }
}

impl AgentConfig {
    /// This configuration as `/v1/agent/self` shows it. The cluster secret is never shown,
    /// only that one is set.
    pub fn redacted_json(&self) -> serde_json::Value {
        serde_json::json!({
            "NodeID": self.node_id,
            "DataDir": self.data_dir.display().to_string(),
            "HTTPAddr": self.http_bind.to_string(),
            "RPCAddr": self.rpc_bind.to_string(),
            "AdvertiseRPC": self.rpc_advertise(),
            "AdvertiseHTTP": self.http_advertise(),
            "Peers": self.peers,
            "BootstrapExpect": self.bootstrap_expect,
            "ClusterSecret": "<redacted>",
            "ACL": { "Enabled": self.acl_enabled },
            "TLS": self.tls.as_ref().map(|t| serde_json::json!({
                "CAFile": t.files.ca_file,
                "CertFile": t.files.cert_file,
                "KeyFile": t.files.key_file,
                "VerifyHTTPSClient": t.verify_https_client,
            })),
            "Limits": {
                "HTTPMaxBody": self.limits.http.max_body,
                "HTTPMaxHeaderBytes": self.limits.http.max_header_bytes,
                "HTTPMaxConnsPerClient": self.limits.http.max_conns_per_ip,
                "HTTPHeaderTimeoutMs": self.limits.http.header_timeout.as_millis() as u64,
                "HTTPBodyTimeoutMs": self.limits.http.body_timeout.as_millis() as u64,
                "MaxBlockingQueries": self.limits.max_blocking_queries,
                "MinFreeDiskMB": self.limits.min_free_disk_mb,
            },
            "Raft": {
                "HeartbeatMs": self.timing.heartbeat_ms,
                "ElectionTimeoutMs": [self.timing.election_min_ms, self.timing.election_max_ms],
                "SnapshotEvery": self.timing.snapshot_every,
            },
            "Version": { "Version": env!("CARGO_PKG_VERSION") },
        })
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}

/// Reads a secret file: its first line, trimmed.
pub fn read_secret_file(path: &Path) -> anyhow::Result<ClusterSecret> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the cluster secret file {}", path.display()))?;
    let first = text.lines().next().unwrap_or_default();
    ClusterSecret::new(first).with_context(|| format!("cluster secret file {}", path.display()))
}

/// The secret from, in order: the value given, the file given, the config file's value, the
/// config file's file. With TLS on, none is needed: the certificates authenticate peers, and
/// members share a value derived from their CA certificate instead.
fn resolve_secret(
    value: Option<ClusterSecret>,
    file: Option<PathBuf>,
    file_value: Option<ClusterSecret>,
    file_file: Option<PathBuf>,
    tls: Option<&NodeTls>,
) -> anyhow::Result<ClusterSecret> {
    match (value, file, file_value, file_file) {
        (Some(v), ..) => Ok(v),
        (None, Some(f), ..) => read_secret_file(&f),
        (None, None, Some(v), _) => Ok(v),
        (None, None, None, Some(f)) => read_secret_file(&f),
        (None, None, None, None) => match tls {
            Some(tls) => Ok(tls.rpc.derived_secret()),
            None => bail!(
                "a cluster secret is required (--cluster-secret-file, STOWAGE_CLUSTER_SECRET, or cluster_secret in the config file), unless TLS is on; every node of a cluster needs the same one"
            ),
        },
    }
}

fn parse_addr(what: &str, s: &str) -> anyhow::Result<SocketAddr> {
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_string()
    };
    full.parse()
        .with_context(|| format!("{what} {s:?} is not host:port"))
}

pub fn parse_peers(list: &[String]) -> anyhow::Result<BTreeMap<u64, String>> {
    let mut peers = BTreeMap::new();
    for item in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let Some((id, addr)) = item.split_once('=') else {
            bail!("peer {item:?} is not id=host:port");
        };
        let id: u64 = id
            .trim()
            .parse()
            .with_context(|| format!("peer {item:?}: id is not a number"))?;
        // Peers may be named by host name (as in a compose network), so only the shape is checked.
        let valid = addr
            .trim()
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !valid {
            bail!("peer {item:?}: address is not host:port");
        }
        if peers.insert(id, addr.trim().to_string()).is_some() {
            bail!("peer id {id} is listed twice");
        }
    }
    Ok(peers)
}

impl AgentArgs {
    pub fn resolve(self) -> anyhow::Result<AgentConfig> {
        let file = match &self.config {
            Some(p) => read_file(p)?,
            None => FileConfig::default(),
        };
        let node_id = self
            .node_id
            .or(file.node_id)
            .context("a node id is required (--node-id)")?;
        if node_id == 0 {
            bail!("node id must be a positive integer");
        }
        let data_dir = self
            .data_dir
            .or(file.data_dir)
            .context("a data dir is required (--data-dir)")?;
        let http = self
            .http_addr
            .or(file.http_addr)
            .unwrap_or_else(|| DEFAULT_HTTP_ADDR.into());
        let rpc = self
            .rpc_addr
            .or(file.rpc_addr)
            .unwrap_or_else(|| DEFAULT_RPC_ADDR.into());
        let peers = parse_peers(if self.peers.is_empty() {
            &file.peers
        } else {
            &self.peers
        })?;
        let bootstrap_expect = self
            .bootstrap_expect
            .or(file.bootstrap_expect)
            .unwrap_or(DEFAULT_BOOTSTRAP_EXPECT);
        let tls = self.tls.resolve(file.tls)?;
        let secret = resolve_secret(
            self.cluster_secret,
            self.cluster_secret_file,
            file.cluster_secret,
            file.cluster_secret_file,
            tls.as_ref(),
        )?;
        let multiplier = self.raft_multiplier.or(file.raft_multiplier).unwrap_or(1);
        if !RAFT_MULTIPLIERS.contains(&multiplier) {
            bail!("raft_multiplier must be between 1 and 10 (it is {multiplier})");
        }
        let config = AgentConfig {
            node_id,
            data_dir,
            http_bind: parse_addr("HTTP address", &http)?,
            rpc_bind: parse_addr("RPC address", &rpc)?,
            peers,
            bootstrap_expect,
            secret,
            acl_enabled: self.acl_enabled || file.acl.enabled,
            timing: RaftTiming::default().scaled(multiplier),
            limits: self.limits.resolve(file.limits)?,
            tls,
            faults: TestFaults::default(),
        };
        if !config.peers.contains_key(&node_id) {
            bail!(
                "the peer list ({}) does not include this node (id {node_id}); list every voter, this one too",
                crate::launch::peer_list(config.peers.iter().map(|(i, a)| (*i, a)))
            );
        }
        if config.peers.len() < bootstrap_expect {
            bail!(
                "bootstrap_expect is {bootstrap_expect} but the peer list names only {} nodes",
                config.peers.len()
            );
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(peers: &[&str]) -> AgentArgs {
        AgentArgs {
            node_id: Some(2),
            data_dir: Some("/tmp/x".into()),
            peers: peers.iter().map(|s| s.to_string()).collect(),
            cluster_secret: Some("0123456789abcdef".parse().expect("valid secret")),
            ..Default::default()
        }
    }

    #[test]
    fn resolves_defaults_and_advertised_addresses() {
        let c = args(&["1=10.0.0.1:4647", "2=10.0.0.2:4647", "3=10.0.0.3:4647"])
            .resolve()
            .expect("valid");
        assert_eq!(c.http_bind.to_string(), "0.0.0.0:4646");
        assert_eq!(c.rpc_bind.to_string(), "0.0.0.0:4647");
        assert_eq!(c.rpc_advertise(), "10.0.0.2:4647");
        assert_eq!(c.http_advertise(), "10.0.0.2:4646");
        assert_eq!(c.bootstrap_expect, 3);
        assert_eq!(c.timing.heartbeat_ms, RaftTiming::default().heartbeat_ms);
    }

    #[test]
    fn raft_multiplier_scales_the_timing_within_nomads_bounds() {
        let peers = ["1=a:1", "2=b:2", "3=c:3"];
        let mut a = args(&peers);
        a.raft_multiplier = Some(5);
        let base = RaftTiming::default();
        let c = a.resolve().expect("valid");
        assert_eq!(
            (
                c.timing.heartbeat_ms,
                c.timing.election_min_ms,
                c.timing.election_max_ms
            ),
            (
                base.heartbeat_ms * 5,
                base.election_min_ms * 5,
                base.election_max_ms * 5
            )
        );
        for bad in [0, 11] {
            let mut a = args(&peers);
            a.raft_multiplier = Some(bad);
            let err = format!("{:#}", a.resolve().expect_err("out of bounds"));
            assert!(
                err.contains("raft_multiplier must be between 1 and 10"),
                "{err}"
            );
        }
    }

    #[test]
    fn refuses_bad_peer_lists_with_one_clear_line() {
        let err = |a: AgentArgs| format!("{:#}", a.resolve().expect_err("must fail"));
        assert!(
            err(args(&["1=a:1", "3=c:3", "4=d:4"])).contains("does not include this node (id 2)")
        );
        assert!(err(args(&["1=a:1", "2=b:2"])).contains("bootstrap_expect is 3"));
        assert!(err(args(&["x=a:1"])).contains("id is not a number"));
        assert!(err(args(&["1=a:1", "1=a:2"])).contains("listed twice"));
        assert!(err(args(&["1"])).contains("not id=host:port"));
        assert!(err(args(&["2=:80"])).contains("address is not host:port"));
        let mut no_secret = args(&["1=a:1", "2=b:2", "3=c:3"]);
        no_secret.cluster_secret = None;
        assert!(err(no_secret).contains("a cluster secret is required"));
        let dir = tempfile::tempdir().expect("tempdir");
        let short = dir.path().join("short");
        std::fs::write(&short, "hunter2").expect("write");
        let mut from_file = args(&["1=a:1", "2=b:2", "3=c:3"]);
        from_file.cluster_secret = None;
        from_file.cluster_secret_file = Some(short);
        assert!(err(from_file).contains("at least 16 characters"));
    }

    #[test]
    fn file_fills_what_flags_leave_unset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("agent.toml");
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "from-the-secret-file\n").expect("write");
        std::fs::write(
            &path,
            format!("node_id = 1\ndata_dir = \"/d\"\npeers = [\"1=127.0.0.1:7001\", \"2=127.0.0.1:7002\", \"3=127.0.0.1:7003\"]\ncluster_secret_file = {secret:?}\n[acl]\nenabled = true\n"),
        )
        .expect("write");
        let a = AgentArgs {
            config: Some(path.clone()),
            http_addr: Some("127.0.0.1:9000".into()),
            ..Default::default()
        };
        let c = a.resolve().expect("valid");
        assert_eq!(
            (c.node_id, c.http_bind.to_string(), c.secret.expose()),
            (1, "127.0.0.1:9000".to_string(), "from-the-secret-file")
        );
        assert!(c.acl_enabled, "[acl] enabled = true");
        std::fs::write(&path, "node_idd = 1\n").expect("write");
        let a = AgentArgs {
            config: Some(path),
            ..Default::default()
        };
        assert!(format!("{:#}", a.resolve().expect_err("typo")).contains("unknown field"));
    }
}
