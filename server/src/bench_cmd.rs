//! The `stowage bench` command line: settings in; the table on stdout, JSON and the chart to
//! files. The harness itself is the `stowage-bench` crate; this file knows how to start a node.

use crate::launch::{AgentSpec, peer_list, write_secret_file};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use stowage_bench::procs::{Launch, Member};
use stowage_raft::ClusterSecret;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Rounds per case; the systems alternate which goes first each round.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Seconds each case runs per system per round.
    #[arg(long, default_value_t = 6.0)]
    pub seconds: f64,
    /// Concurrencies of the write rows, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,64,256")]
    pub write_clients: Vec<usize>,
    /// Concurrency of the claim, read and list rows.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Volumes (etcd: keys) loaded for the list rows, recovery and memory.
    #[arg(long, default_value_t = 100_000)]
    pub volumes: usize,
    /// Blocking watchers on one node (0 skips).
    #[arg(long, default_value_t = 10_000)]
    pub watchers: usize,
    /// Leader kills under load (0 skips).
    #[arg(long, default_value_t = 20)]
    pub kills: usize,
    /// Minutes to watch the idle cluster, on a machine kept busy, for needless elections
    /// (0 skips).
    #[arg(long, default_value_t = 0.0)]
    pub idle_minutes: f64,
    /// Run stowage alone.
    #[arg(long)]
    pub no_etcd: bool,
    /// Bench a running stowage cluster (say, compose's) at these HTTP addresses instead of
    /// starting one; kills, restarts, watchers' memory and RSS are then skipped.
    #[arg(long, value_delimiter = ',')]
    pub stowage: Vec<SocketAddr>,
    /// Where both systems keep their data during the run (a new temporary dir by default).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Write the full report, every round, as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Draw writes/s against concurrency for both systems as a PNG here.
    #[arg(long)]
    pub chart: Option<PathBuf>,
}

/// Starts a stowage node as `exe agent …` with the run's secret.
fn agent_launch(dir: &std::path::Path) -> anyhow::Result<Launch> {
    let exe = std::env::current_exe().context("cannot find the stowage binary")?;
    let secret_file = dir.join("cluster-secret");
    write_secret_file(&secret_file, &ClusterSecret::generate())?;
    Ok(Box::new(move |m: &Member, all: &[Member]| {
        let peers = peer_list(all.iter().map(|p| (p.index as u64 + 1, p.peer)));
        AgentSpec {
            exe: exe.clone(),
            id: m.index as u64 + 1,
            data_dir: m.data_dir.clone(),
            http_addr: m.client.to_string(),
            rpc_addr: m.peer.to_string(),
            peers,
            secret_file: secret_file.clone(),
            log: m.log.clone(),
            acl_enabled: false,
            tls: None,
        }
        .command()
        .map(|mut cmd| {
            // The load generator is one address standing for hundreds of clients (and 10,000
            // watchers): the per-address limit, there to stop one runaway client, would turn
            // them away.
            cmd.args(["--http-max-conns-per-client", "1000000"]);
            cmd
        })
    }))
}

pub async fn run(args: BenchArgs) -> anyhow::Result<u8> {
    // A temporary dir, when none is given, lives until the run's processes are gone.
    let _temp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            let t = tempfile::Builder::new()
                .prefix("stowage-bench-")
                .tempdir()?;
            let path = t.path().to_path_buf();
            _temp = t;
            path
        }
    };
    std::fs::create_dir_all(&dir)?;
    let cfg = stowage_bench::Config {
        dir: dir.clone(),
        rounds: args.rounds,
        duration: std::time::Duration::from_secs_f64(args.seconds),
        write_clients: args.write_clients.clone(),
        clients: args.clients,
        listed: args.volumes,
        watchers: args.watchers,
        kills: args.kills,
        idle: std::time::Duration::from_secs_f64(args.idle_minutes * 60.0),
        etcd: if args.no_etcd {
            None
        } else {
            Some(stowage_bench::etcd::find_binary()?)
        },
        stowage_addrs: (!args.stowage.is_empty()).then(|| args.stowage.clone()),
    };
    let run = stowage_bench::run(cfg, agent_launch(&dir)?);
    let report = tokio::select! {
        r = run => r?,
        () = crate::agent::stop_signal() => anyhow::bail!("interrupted: the run's processes are stopped"),
    };
    print!("{}", report.markdown());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.chart {
        stowage_bench::chart::draw(&report, path)?;
    }
    Ok(0)
}
