//! The `stowage chaos` command line: settings in, a printed summary out, exit 1 on anomalies.

use crate::launch::{AgentSpec, write_secret_file};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;
use stowage_chaos::nodes::{Launch, Net};
use stowage_chaos::{self as chaos, Config, faults::FaultKind};
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
    /// Where a failing run saves its report.
    #[arg(long, default_value = "chaos-reports")]
    pub report_dir: PathBuf,
    /// Run no cluster: check a saved report's history.jsonl again.
    #[arg(long)]
    pub check_history: Option<PathBuf>,
    /// Run the agents with ACLs on; the workload bootstraps them and uses the management token.
    #[arg(long)]
    pub acl_enabled: bool,
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
        let peers = net
            .peers()
            .iter()
            .map(|(id, a)| format!("{id}={a}"))
            .collect::<Vec<_>>()
            .join(",");
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
    let kinds = if args.faults.is_empty() {
        FaultKind::ALL.to_vec()
    } else {
        args.faults
            .iter()
            .map(|s| parse_kind(s))
            .collect::<anyhow::Result<_>>()?
    };
    let cfg = Config {
        seed,
        duration: parse_duration(&args.duration)?,
        clients: args.clients,
        volumes: args.volumes,
        volume_lifetime: parse_duration(&args.volume_lifetime)?,
        kinds,
        report_root: args.report_dir,
        secret: ClusterSecret::generate(),
        acl_enabled: args.acl_enabled,
    };
    println!("chaos: seed {seed}, {} for {:?}", args.duration, cfg.kinds);
    let exe = std::env::current_exe().context("cannot find the stowage binary")?;
    let launch = agent_launch(exe, &cfg.secret, cfg.acl_enabled);
    let summary = chaos::run_processes(cfg, launch).await?;
    summary.print(seed);
    Ok(if summary.anomalies.is_empty() { 0 } else { 1 })
}
