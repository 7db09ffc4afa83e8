//! The chaos suite against the real docker-compose cluster (the repository's
//! `docker-compose.yml`), with real container faults: `docker kill`/`start`, `docker pause`,
//! `docker network disconnect`, a node's volume wiped, and one-way cuts made with iptables inside
//! a container's network namespace (entered from the host, so the image needs no tools).
//!
//! Each run is its own compose project with its own network, on a subnet it picks, with a fixed
//! address per node so that a node keeps its address across restarts and reconnects. The run
//! reaches the nodes at those addresses directly; nothing is published that could collide with
//! a cluster already running here. Dropping the project removes its containers, network and
//! volumes, whatever happened.

use crate::network::Network;
use crate::nodes::{NodeAddrs, Nodes};
use anyhow::{Context, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::Command;

/// What the run starts, beyond the repository's compose file.
#[derive(Clone, Debug)]
pub struct ComposeSpec {
    /// The repository's `docker-compose.yml`.
    pub file: PathBuf,
    /// The image every service runs.
    pub image: String,
    /// The nodes' entrypoint, when not `stowage` (the self-check's wrong agent).
    pub entrypoint: Option<String>,
    /// Extra environment for the nodes.
    pub node_env: BTreeMap<String, String>,
    pub acl_enabled: bool,
    /// The cluster secret the nodes share, which the run needs to ask them about themselves.
    pub secret: String,
}

/// The compose command on this machine: the `docker compose` plugin, else `docker-compose`.
pub async fn compose_command() -> anyhow::Result<Vec<String>> {
    let plugin = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    if plugin {
        return Ok(vec!["docker".into(), "compose".into()]);
    }
    let standalone = Command::new("docker-compose")
        .arg("version")
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    if standalone {
        return Ok(vec!["docker-compose".into()]);
    }
    bail!("neither `docker compose` nor `docker-compose` answers")
}

/// Whether `tc netem` works here, tried in a network namespace of its own that vanishes with the
/// command; the error says why not (no `sch_netem` in the kernel, or no right to make namespaces).
pub async fn netem_available() -> anyhow::Result<()> {
    let probe = [
        "-n", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
    ];
    run("unshare", &probe).await.map(|_| ())
}

/// Runs `cmd` (named `what` in errors), and returns its standard output, or an error carrying
/// its stderr.
async fn stdout_of(mut cmd: Command, what: String) -> anyhow::Result<String> {
    // A run dropped midway (Ctrl-C) must not leave a `compose up` going behind its own `down`.
    let out = cmd
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!("{what}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs `program args`, and returns its standard output.
async fn run(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    stdout_of(cmd, format!("{program} {}", args.join(" "))).await
}

/// One run's compose project.
struct Project {
    name: String,
    compose: Vec<String>,
    files: Vec<PathBuf>,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
    network: String,
    nodes: Vec<NodeAddrs>,
    ips: BTreeMap<u64, Ipv4Addr>,
    /// Nodes taken off the network, to put back on heal.
    disconnected: Mutex<BTreeSet<u64>>,
    /// iptables rules added inside nodes' namespaces, to delete on heal.
    rules: Mutex<Vec<(u64, Vec<String>)>>,
}

impl Project {
    /// `<compose> -p <project> -f … <args>`, with the run's environment.
    async fn compose(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut cmd = Command::new(&self.compose[0]);
        cmd.args(&self.compose[1..]).args(["-p", &self.name]);
        for f in &self.files {
            cmd.arg("-f").arg(f);
        }
        cmd.args(args).envs(self.env.iter().cloned());
        stdout_of(cmd, format!("compose {}", args.join(" "))).await
    }

    fn service(id: u64) -> String {
        format!("node{id}")
    }

    /// Node `id`'s container, if it exists.
    async fn container(&self, id: u64) -> Option<String> {
        let ids = self
            .compose(&["ps", "-a", "-q", &Self::service(id)])
            .await
            .ok()?;
        ids.lines().next().map(str::to_string)
    }

    /// The pid whose network namespace is node `id`'s.
    async fn pid(&self, id: u64) -> anyhow::Result<String> {
        let c = self.container(id).await.context("no container")?;
        run("docker", &["inspect", "-f", "{{.State.Pid}}", &c]).await
    }

    /// Runs iptables inside node `id`'s network namespace, with the host's iptables.
    async fn iptables(&self, id: u64, rule: &[&str]) -> anyhow::Result<()> {
        let pid = self.pid(id).await?;
        let mut args = vec!["-t", &pid, "-n", "iptables"];
        args.extend_from_slice(rule);
        run("nsenter", &args).await.map(|_| ())
    }

    /// Adds `rule` in node `id`'s namespace, to be deleted on heal; false if it could not.
    async fn drop_rule(&self, id: u64, rule: Vec<String>) -> bool {
        let add: Vec<&str> = std::iter::once("-I")
            .chain(rule.iter().map(String::as_str))
            .collect();
        match self.iptables(id, &add).await {
            Ok(()) => {
                self.rules
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((id, rule));
                true
            }
            Err(e) => {
                tracing::warn!("cannot add a rule in node {id}: {e:#}");
                false
            }
        }
    }

    fn ip(&self, id: u64) -> String {
        self.ips
            .get(&id)
            .map(|ip| ip.to_string())
            .unwrap_or_default()
    }

    /// `compose` as a blocking command, for `Drop` and for logs.
    fn compose_blocking(&self, args: &[&str]) -> Option<std::process::Output> {
        std::process::Command::new(&self.compose[0])
            .args(&self.compose[1..])
            .args(["-p", &self.name])
            .args(
                self.files
                    .iter()
                    .flat_map(|f| [Path::new("-f"), f.as_path()]),
            )
            .args(args)
            .envs(self.env.iter().cloned())
            .output()
            .ok()
    }

    /// Takes everything down and removes what the project made. Blocking, for `Drop`.
    fn remove_everything(&self) {
        // A frozen container cannot be stopped: thaw them first.
        if let Some(out) = self.compose_blocking(&["ps", "-q"]) {
            for c in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = std::process::Command::new("docker")
                    .args(["unpause", c])
                    .output();
            }
        }
        self.compose_blocking(&["down", "-v", "--remove-orphans", "-t", "5"]);
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        self.remove_everything();
    }
}

/// The run's view of the network: faults made with Docker.
pub struct ComposeNet(Arc<Project>);

/// The run's view of the nodes: containers.
pub struct ComposeNodes {
    project: Arc<Project>,
    running: BTreeSet<u64>,
}

/// A private /24 in 172.20-31.x.0, drawn at random so that two runs (or a run and anything else
/// here) are unlikely to meet; Docker refuses one in use, and the run then draws again.
fn subnet() -> (u8, u8) {
    (rand::random_range(20..32), rand::random_range(1..255))
}

/// The override file that makes a run's project: its subnet and fixed addresses, the runner in
/// charge of restarts, and the nodes' image, entrypoint and environment.
fn override_yaml(spec: &ComposeSpec, ips: &BTreeMap<u64, Ipv4Addr>, net: (u8, u8)) -> String {
    let mut y = String::from("version: \"3.8\"\nservices:\n");
    for (id, ip) in ips {
        y += &format!("  node{id}:\n    restart: \"no\"\n");
        y += &format!("    image: {:?}\n", spec.image);
        if let Some(e) = &spec.entrypoint {
            y += &format!("    entrypoint: [{e:?}]\n");
        }
        if !spec.node_env.is_empty() {
            y += "    environment:\n";
            for (k, v) in &spec.node_env {
                y += &format!("      {k}: {v:?}\n");
            }
        }
        y += &format!("    networks:\n      cluster:\n        ipv4_address: {ip}\n");
    }
    y += &format!(
        "networks:\n  cluster:\n    ipam:\n      config:\n        - subnet: 172.{}.{}.0/24\n",
        net.0, net.1
    );
    y
}

/// Starts a three-node project from `spec`, on a subnet nothing else here uses.
pub async fn start(spec: &ComposeSpec) -> anyhow::Result<(ComposeNet, ComposeNodes)> {
    let compose = compose_command().await?;
    let mut last = None;
    for _ in 0..5 {
        match start_on(spec, compose.clone(), subnet()).await {
            Ok(started) => return Ok(started),
            // The project is removed when dropped; try another subnet.
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("the project did not start")))
}

async fn start_on(
    spec: &ComposeSpec,
    compose: Vec<String>,
    net: (u8, u8),
) -> anyhow::Result<(ComposeNet, ComposeNodes)> {
    let dir = tempfile::Builder::new()
        .prefix("stowage-chaos-compose-")
        .tempdir()?;
    let name = format!("stowagechaos{}", rand::random::<u32>());
    let ips: BTreeMap<u64, Ipv4Addr> = [1u64, 2, 3]
        .into_iter()
        .map(|id| (id, Ipv4Addr::new(172, net.0, net.1, 10 + id as u8)))
        .collect();
    let override_file = dir.path().join("chaos.override.yml");
    std::fs::write(&override_file, override_yaml(spec, &ips, net))?;
    let env = vec![
        ("STOWAGE_IMAGE".to_string(), spec.image.clone()),
        ("STOWAGE_CLUSTER_SECRET".to_string(), spec.secret.clone()),
        (
            "STOWAGE_ACL_ENABLED".to_string(),
            spec.acl_enabled.to_string(),
        ),
        // Published ports the run never uses (it reaches the nodes on their own addresses):
        // any free ones on loopback, so nothing collides with a cluster already running here.
        ("STOWAGE_PORT".to_string(), "127.0.0.1:".into()),
        ("STOWAGE_NODE1_PORT".to_string(), "127.0.0.1:".into()),
        ("STOWAGE_NODE2_PORT".to_string(), "127.0.0.1:".into()),
        ("STOWAGE_NODE3_PORT".to_string(), "127.0.0.1:".into()),
    ];
    let nodes = ips
        .iter()
        .map(|(id, ip)| NodeAddrs {
            id: *id,
            http: SocketAddr::from((*ip, 4646)),
            rpc: SocketAddr::from((*ip, 4647)),
            advertised: format!("node{id}:4647"),
        })
        .collect();
    let project = Arc::new(Project {
        network: format!("{name}_cluster"),
        name,
        compose,
        files: vec![spec.file.clone(), override_file],
        env,
        dir,
        nodes,
        ips,
        disconnected: Mutex::default(),
        rules: Mutex::default(),
    });
    project
        .compose(&["up", "-d", "node1", "node2", "node3"])
        .await?;
    let nodes = ComposeNodes {
        project: project.clone(),
        running: [1, 2, 3].into(),
    };
    Ok((ComposeNet(project), nodes))
}

impl Network for ComposeNet {
    fn nodes(&self) -> &[NodeAddrs] {
        &self.0.nodes
    }

    async fn cut_off(&self, victim: u64) -> bool {
        let Some(c) = self.0.container(victim).await else {
            return false;
        };
        match run("docker", &["network", "disconnect", &self.0.network, &c]).await {
            Ok(_) => {
                self.0
                    .disconnected
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(victim);
                true
            }
            Err(e) => {
                tracing::warn!("cannot disconnect node {victim}: {e:#}");
                false
            }
        }
    }

    async fn silence(&self, victim: u64) -> bool {
        let mut made = true;
        for other in self.0.ips.keys().filter(|o| **o != victim) {
            let ip = self.0.ip(*other);
            for chain in [["INPUT", "-s"], ["OUTPUT", "-d"]] {
                let rule = vec![
                    chain[0].into(),
                    chain[1].into(),
                    ip.clone(),
                    "-j".into(),
                    "DROP".into(),
                ];
                made &= self.0.drop_rule(victim, rule).await;
            }
        }
        made
    }

    async fn cut_one_way(&self, from: u64, to: u64) -> bool {
        // Only `from`'s requests to `to`'s RPC port vanish; `from`'s answers to `to`'s own
        // connections leave from port 4647 and pass.
        let rule = [
            "OUTPUT",
            "-d",
            &self.0.ip(to),
            "-p",
            "tcp",
            "--dport",
            "4647",
            "-j",
            "DROP",
        ];
        self.0
            .drop_rule(from, rule.iter().map(|s| s.to_string()).collect())
            .await
    }

    /// Docker's network has no delay of its own, and `tc netem` needs the `sch_netem` kernel
    /// module (`netem_available` says whether it is here); the run leaves delays out.
    async fn delay_all(&self, _delay: Duration) -> bool {
        false
    }

    async fn heal(&self) {
        let rules = std::mem::take(&mut *self.0.rules.lock().unwrap_or_else(|p| p.into_inner()));
        for (id, rule) in rules {
            let del: Vec<&str> = std::iter::once("-D")
                .chain(rule.iter().map(String::as_str))
                .collect();
            if let Err(e) = self.0.iptables(id, &del).await {
                tracing::warn!("cannot remove a rule in node {id}: {e:#}");
            }
        }
        let cut = std::mem::take(
            &mut *self
                .0
                .disconnected
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        for id in cut {
            let Some(c) = self.0.container(id).await else {
                continue;
            };
            let (ip, alias) = (self.0.ip(id), Project::service(id));
            let args = [
                "network",
                "connect",
                "--ip",
                &ip,
                "--alias",
                &alias,
                &self.0.network,
                &c,
            ];
            if let Err(e) = run("docker", &args).await {
                tracing::warn!("cannot reconnect node {id}: {e:#}");
            }
        }
    }
}

impl Nodes for ComposeNodes {
    async fn kill(&mut self, id: u64) {
        if let Some(c) = self.project.container(id).await
            && let Err(e) = run("docker", &["kill", &c]).await
        {
            tracing::warn!("cannot kill node {id}: {e:#}");
        }
        self.running.remove(&id);
    }

    async fn start(&mut self, id: u64) -> anyhow::Result<()> {
        // Starts a stopped container, or makes a removed one (and its volume) again.
        self.project
            .compose(&["up", "-d", "--no-deps", &Project::service(id)])
            .await?;
        self.running.insert(id);
        Ok(())
    }

    async fn pause(&mut self, id: u64) -> bool {
        match self.project.container(id).await {
            Some(c) => run("docker", &["pause", &c]).await.is_ok(),
            None => false,
        }
    }

    async fn resume(&mut self, id: u64) {
        if let Some(c) = self.project.container(id).await {
            // Not frozen is fine: unpause then fails, and there is nothing to do.
            let _ = run("docker", &["unpause", &c]).await;
        }
    }

    async fn wipe(&mut self, id: u64) {
        let service = Project::service(id);
        let volume = format!("{}_{service}-data", self.project.name);
        if let Err(e) = self.project.compose(&["rm", "-f", "-s", &service]).await {
            tracing::warn!("cannot remove node {id}'s container: {e:#}");
        }
        if let Err(e) = run("docker", &["volume", "rm", &volume]).await {
            tracing::warn!("cannot remove node {id}'s volume: {e:#}");
        }
    }

    fn running(&self, id: u64) -> bool {
        self.running.contains(&id)
    }

    fn logs(&self) -> Vec<PathBuf> {
        self.project
            .ips
            .keys()
            .filter_map(|id| {
                let service = Project::service(*id);
                let path = self.project.dir.path().join(format!("{service}.log"));
                let out = self
                    .project
                    .compose_blocking(&["logs", "--no-color", &service])?;
                std::fs::write(&path, out.stdout).ok()?;
                Some(path)
            })
            .collect()
    }
}
