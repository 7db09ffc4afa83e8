//! `stowage-unsafe-agent`: `stowage agent`, made wrong on purpose by the fault that
//! `STOWAGE_UNSAFE_TEST_FAULT` names (`stale-reads`, `early-ack` or `no-claim-limit`), so that the
//! chaos suite can prove its checker notices. Only this test binary reads that variable; `stowage`
//! itself never does.

use clap::Parser;
use std::process::ExitCode;
use stowage_raft::TestFaults;
use stowage_server::config::AgentArgs;

/// The variable naming the fault.
const FAULT_ENV: &str = "STOWAGE_UNSAFE_TEST_FAULT";

#[derive(Parser)]
#[command(name = "stowage-unsafe-agent")]
enum Cli {
    /// Run one deliberately wrong node, with `stowage agent`'s arguments.
    Agent(AgentArgs),
}

fn main() -> ExitCode {
    let Cli::Agent(args) = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter("info,openraft=warn")
        .init();
    let run = || -> anyhow::Result<u8> {
        let name = std::env::var(FAULT_ENV)
            .map_err(|_| anyhow::anyhow!("{FAULT_ENV} must name the fault to inject"))?;
        let faults = TestFaults::named(&name)
            .ok_or_else(|| anyhow::anyhow!("{FAULT_ENV}={name:?} is not a known test fault"))?;
        let mut config = args.resolve()?;
        config.faults = faults;
        tokio::runtime::Runtime::new()?.block_on(stowage_server::agent::run(config))
    };
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("stowage-unsafe-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}
