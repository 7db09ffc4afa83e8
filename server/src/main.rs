//! The `stowage` binary: parses the command line and reports start-up errors in one line.

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use stowage_cli::{AclCmd, ApiArgs, ApiCommand, NamespaceCmd, PluginCmd, VolumeCmd};
use stowage_server::config::AgentArgs;
use stowage_server::dev::DevArgs;
use stowage_server::operator::OperatorArgs;
use stowage_server::{agent, bench_cmd, chaos_cmd, dev, entry, operator, secret_cmd, tls_cmd};

/// mimalloc rather than glibc's malloc: under a write load, a profile of the leader showed a fifth
/// of its CPU in glibc's malloc and free (its arena locks, consolidation and chunk unlinking);
/// BENCHMARKS.md has the before and after. Built without its transparent huge pages: with them,
/// every first touch of a 2 MiB region zeroed all of it, and waking 10,000 blocking queries at
/// once spent half its time in the kernel clearing pages for buffers a few KiB long.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A replicated store for CSI volumes and their claims that speaks Nomad's HTTP API.
#[derive(Parser)]
#[command(name = "stowage", version)]
struct Cli {
    /// The least severe log level shown: trace, debug (every request), info, warn or error.
    #[arg(long, env = "STOWAGE_LOG_LEVEL", global = true)]
    log_level: Option<tracing::Level>,
    /// Write logs as JSON objects, one per line.
    #[arg(long, env = "STOWAGE_LOG_JSON", global = true)]
    log_json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

/// Where a command of the API families is sent, and the command.
#[derive(clap::Args)]
struct Api<C: clap::Subcommand> {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    cmd: C,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one node of a cluster.
    Agent(AgentArgs),
    /// Run a three-node cluster on this machine (no config needed).
    Dev(DevArgs),
    /// Register, inspect, claim and remove CSI volumes (as `nomad volume`).
    Volume(Api<VolumeCmd>),
    /// Show CSI plugins (as `nomad plugin`).
    Plugin(Api<PluginCmd>),
    /// List, create and delete namespaces (as `nomad namespace`).
    Namespace(Api<NamespaceCmd>),
    /// Bootstrap ACLs, and manage policies and tokens (as `nomad acl`).
    Acl(Api<AclCmd>),
    /// The Raft peers and cluster membership.
    Operator(OperatorArgs),
    /// Run the chaos suite: three agents, a workload, seeded faults, and a history checker.
    Chaos(chaos_cmd::ChaosArgs),
    /// Measure a cluster against etcd, side by side: throughput, latency, failover, recovery.
    Bench(bench_cmd::BenchArgs),
    /// Serve one address in front of a cluster's nodes, trying another node when one is down.
    Gateway(entry::EntryArgs),
    /// Exit 0 if the node (or gateway) at an address reports itself healthy, else 1.
    Health(entry::HealthArgs),
    /// Make sure a cluster secret file exists, owned by the nodes' user (for containers).
    Secret(secret_cmd::SecretArgs),
    /// Install a cluster's certificates for its containers.
    #[command(subcommand)]
    Tls(tls_cmd::TlsCmd),
}

/// `RUST_LOG` when set; else `level` for stowage, and the libraries' chatter only from warn up.
fn log_filter(level: Option<tracing::Level>) -> tracing_subscriber::EnvFilter {
    if let Ok(from_env) = tracing_subscriber::EnvFilter::try_from_default_env() {
        return from_env;
    }
    let level = level.unwrap_or(tracing::Level::INFO);
    tracing_subscriber::EnvFilter::new(format!(
        "{level},openraft=warn,h2=warn,tower=warn,hyper=warn,reqwest=warn"
    ))
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(stowage_cli::nomad_style_args(std::env::args_os()));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(log_filter(cli.log_level))
        .with_writer(std::io::stderr);
    if cli.log_json {
        logs.json().init();
    } else {
        logs.init();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stowage: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.cmd {
            Cmd::Agent(args) => agent::run(args.resolve()?).await,
            Cmd::Dev(args) => dev::run(args).await,
            Cmd::Volume(a) => api(a.api, ApiCommand::Volume(a.cmd)).await,
            Cmd::Plugin(a) => api(a.api, ApiCommand::Plugin(a.cmd)).await,
            Cmd::Namespace(a) => api(a.api, ApiCommand::Namespace(a.cmd)).await,
            Cmd::Acl(a) => api(a.api, ApiCommand::Acl(a.cmd)).await,
            Cmd::Operator(cmd) => operator::run(cmd).await,
            Cmd::Chaos(args) => chaos_cmd::run(args).await,
            Cmd::Bench(args) => bench_cmd::run(args).await,
            Cmd::Gateway(args) => entry::run(args).await,
            Cmd::Health(args) => entry::health(args).await,
            Cmd::Secret(args) => secret_cmd::run(args),
            Cmd::Tls(cmd) => tls_cmd::run(cmd),
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("stowage: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn api(api_args: ApiArgs, cmd: ApiCommand) -> anyhow::Result<u8> {
    stowage_cli::run(&api_args, cmd).await?;
    Ok(0)
}
