//! The `stowage` binary: parses the command line and reports start-up errors in one line.

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use stowage_server::config::AgentArgs;
use stowage_server::dev::DevArgs;
use stowage_server::operator::OperatorArgs;
use stowage_server::{agent, bench_cmd, chaos_cmd, dev, entry, operator, secret_cmd};

/// A replicated store for CSI volumes and their claims that speaks Nomad's HTTP API.
#[derive(Parser)]
#[command(name = "stowage", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one node of a cluster.
    Agent(AgentArgs),
    /// Run a three-node cluster on this machine (no config needed).
    Dev(DevArgs),
    /// Inspect or change cluster membership.
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,openraft=warn,h2=warn,tower=warn,hyper=warn")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
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
            Cmd::Operator(cmd) => operator::run(cmd).await,
            Cmd::Chaos(args) => chaos_cmd::run(args).await,
            Cmd::Bench(args) => bench_cmd::run(args).await,
            Cmd::Gateway(args) => entry::run(args).await,
            Cmd::Health(args) => entry::health(args).await,
            Cmd::Secret(args) => secret_cmd::run(args),
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
