//! The `stowage chaos` command line: settings in, a printed summary out, exit 1 on anomalies.

use crate::agent::stop_signal;
use crate::launch::{AgentSpec, peer_list, write_secret_file};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;
use stowage_chaos::compose::ComposeSpec;
use stowage_chaos::faults::{FaultKind, Pace};
use stowage_chaos::nodes::{Launch, Net};
use stowage_chaos::{self as chaos, Config};
use stowage_raft::ClusterSecret;

#[derive(Debug, Clone, clap::Args)]
pub struct ChaosArgs {
    /// Replays a schedule; a random one is chosen and printed when omitted.
    #[arg(long)]
    pub seed: Option<u64>,
    /// How long to run, e.g. `90s`, `10m`.
    #[arg(long, default_value = "2m")]
    pub duration: String,
    #[arg(long, default_value_t = 6)]
    pub clients: usize,
    /// Volumes in use at once.
    #[arg(long, default_value_t = 3)]
    pub volumes: usize,
    /// How long clients use one set of volumes before moving to fresh ones, e.g. `10s`.
    #[arg(long, default_value = "10s")]
    pub volume_lifetime: String,
    /// Fault kinds to draw from (comma separated); all by default.
    #[arg(long, value_delimiter = ',')]
    pub faults: Vec<String>,
    /// SIGKILL nodes in quick succession (kills only, unless `--faults` says otherwise), so
    /// that nodes die again while replaying their logs, catching up or electing.
    #[arg(long)]
    pub crash_loop: bool,
    /// Where a failing run saves its report.
    #[arg(long, default_value = "chaos-reports")]
    pub report_dir: PathBuf,
    /// Run no cluster: check a saved report's history.jsonl again.
    #[arg(long)]
    pub check_history: Option<PathBuf>,
    /// Run the agents with ACLs on; the workload bootstraps them and uses the management token.
    #[arg(long)]
    pub acl_enabled: bool,
    /// Run against the docker-compose cluster (this compose file, in a project of the run's
    /// own) with container faults, instead of agent processes on this machine.
    #[arg(long)]
    pub compose: Option<PathBuf>,
    /// With `--compose`: the image the nodes run; by default `stowage:local`, or
    /// `stowage-unsafe:local` with `--unsafe-fault` (deploy/build-image.sh builds both).
    #[arg(long)]
    pub image: Option<String>,
    /// With `--compose`: run the chaos self-checks' deliberately wrong agent with this fault
    /// (`stale-reads`, `early-ack`, `no-claim-limit`); needs `deploy/build-image.sh --unsafe`.
    #[arg(long)]
    pub unsafe_fault: Option<String>,
}

fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .with_context(|| format!("duration {s:?} is not like 90s or 10m"))?;
    Ok(match unit {
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(60 * n),
        "h" => Duration::from_secs(3600 * n),
        _ => bail!("duration {s:?} is not like 90s or 10m"),
    })
}

fn parse_kind(s: &str) -> anyhow::Result<FaultKind> {
    FaultKind::ALL
        .into_iter()
        .find(|k| {
            serde_json::to_value(k)
                .ok()
                .and_then(|v| v.as_str().map(|n| n == s))
                .unwrap_or(false)
        })
        .with_context(|| format!("unknown fault kind {s:?}"))
}

/// Starts each node as `exe agent …` with the run's cluster secret, written into the run's
/// folder, and with ACLs on when `acl_enabled`.
pub fn agent_launch(
    exe: PathBuf,
    secret: &ClusterSecret,
    acl_enabled: bool,
) -> impl FnOnce(&Net, &Path) -> anyhow::Result<Launch> + use<> {
    let secret = secret.clone();
    move |net, dir| {
        let secret_file = dir.join("cluster-secret");
        write_secret_file(&secret_file, &secret)?;
        let peers = peer_list(net.peers());
        Ok(Box::new(move |slot| {
            AgentSpec {
                exe: exe.clone(),
                id: slot.node.id,
                data_dir: slot.data_dir.clone(),
                http_addr: slot.node.http.to_string(),
                rpc_addr: slot.node.rpc.to_string(),
                peers: peers.clone(),
                secret_file: secret_file.clone(),
                log: slot.log.clone(),
                acl_enabled,
                tls: None,
            }
            .command()
        }))
    }
}

pub async fn run(args: ChaosArgs) -> anyhow::Result<u8> {
    if let Some(history) = &args.check_history {
        let summary = chaos::recheck(history)?;
        summary.print(args.seed.unwrap_or_default());
        return Ok(if summary.anomalies.is_empty() { 0 } else { 1 });
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut kinds: Vec<FaultKind> = if args.faults.is_empty() && args.crash_loop {
        vec![
            FaultKind::KillLeader,
            FaultKind::KillFollower,
            FaultKind::KillAll,
        ]
    } else if args.faults.is_empty() {
        FaultKind::ALL.to_vec()
    } else {
        args.faults
            .iter()
            .map(|s| parse_kind(s))
            .collect::<anyhow::Result<_>>()?
    };
    if args.compose.is_some() && kinds.contains(&FaultKind::DelayLinks) {
        kinds.retain(|k| *k != FaultKind::DelayLinks);
        let why = match chaos::compose::netem_available().await {
            Err(e) => {
                format!("Docker's network has no delays, and tc netem cannot be used here: {e}")
            }
            Ok(()) => "the compose runner makes no delays yet".to_string(),
        };
        println!("chaos: delay-links left out: {why}");
    }
    if args.unsafe_fault.is_some() && args.compose.is_none() {
        bail!(
            "--unsafe-fault is for --compose runs; process runs use stowage-unsafe-agent's own tests"
        );
    }
    let cfg = Config {
        seed,
        duration: parse_duration(&args.duration)?,
        clients: args.clients,
        volumes: args.volumes,
        volume_lifetime: parse_duration(&args.volume_lifetime)?,
        kinds,
        pace: if args.crash_loop {
            Pace::CrashLoop
        } else {
            Pace::Steady
        },
        report_root: args.report_dir,
        secret: ClusterSecret::generate(),
        acl_enabled: args.acl_enabled,
    };
    println!(
        "chaos: seed {seed}, {} for {:?} at a {:?} pace",
        args.duration, cfg.kinds, cfg.pace
    );
    let run = async {
        match &args.compose {
            Some(file) => {
                let spec = ComposeSpec {
                    file: file.clone(),
                    image: match (&args.image, &args.unsafe_fault) {
                        (Some(image), _) => image.clone(),
                        (None, Some(_)) => "stowage-unsafe:local".into(),
                        (None, None) => "stowage:local".into(),
                    },
                    entrypoint: args
                        .unsafe_fault
                        .as_ref()
                        .map(|_| "stowage-unsafe-agent".into()),
                    node_env: args
                        .unsafe_fault
                        .iter()
                        .map(|f| ("STOWAGE_UNSAFE_TEST_FAULT".to_string(), f.clone()))
                        .collect(),
                    acl_enabled: cfg.acl_enabled,
                    secret: cfg.secret.expose().to_string(),
                };
                chaos::run_compose(cfg, spec).await
            }
            None => {
                let exe = std::env::current_exe().context("cannot find the stowage binary")?;
                let launch = agent_launch(exe, &cfg.secret, cfg.acl_enabled);
                chaos::run_processes(cfg, launch).await
            }
        }
    };
    // Ctrl-C or SIGTERM drops the run, and with it every node it started: the agent processes,
    // or the compose project's containers, network and volumes.
    let summary = tokio::select! {
        summary = run => summary?,
        () = stop_signal() => anyhow::bail!("interrupted: the run's nodes are stopped and removed"),
    };
    summary.print(seed);
    Ok(if summary.anomalies.is_empty() { 0 } else { 1 })
}
