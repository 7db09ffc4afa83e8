//! Each deliberately wrong agent, run as three real processes under the chaos suite, must be
//! caught: a checker that passes a wrong build proves nothing about a right one.

use std::path::PathBuf;
use std::time::Duration;
use stowage_chaos::faults::{FaultKind, Pace};
use stowage_chaos::{self as chaos, Config};
use stowage_raft::ClusterSecret;
use stowage_server::chaos_cmd::agent_launch;

const UNSAFE_AGENT: &str = env!("CARGO_BIN_EXE_stowage-unsafe-agent");

async fn wrong(fault: &'static str, kinds: &[FaultKind], secs: u64) -> chaos::Summary {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = Config {
        seed: 7,
        duration: Duration::from_secs(secs),
        clients: 6,
        volumes: 3,
        volume_lifetime: Duration::from_secs(10),
        kinds: kinds.to_vec(),
        pace: Pace::Steady,
        report_root: dir.path().to_path_buf(),
        secret: ClusterSecret::generate(),
        acl_enabled: false,
    };
    let agents = agent_launch(PathBuf::from(UNSAFE_AGENT), &cfg.secret, false);
    let launch = move |net: &chaos::nodes::Net, dir: &std::path::Path| {
        let agents = agents(net, dir)?;
        let with_fault: chaos::nodes::Launch = Box::new(move |slot| {
            let mut cmd = agents(slot)?;
            cmd.env("STOWAGE_UNSAFE_TEST_FAULT", fault);
            Ok(cmd)
        });
        Ok(with_fault)
    };
    let summary = chaos::run_processes(cfg, launch).await.expect("run");
    summary.print(7);
    summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_checker_notices_follower_reads_posing_as_linearizable() {
    let s = wrong(
        "stale-reads",
        &[FaultKind::IsolateFollower, FaultKind::DelayLinks],
        30,
    )
    .await;
    assert!(!s.anomalies.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_checker_notices_writes_acknowledged_before_they_are_durable() {
    let s = wrong("early-ack", &[FaultKind::KillAll], 30).await;
    assert!(!s.anomalies.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_checker_notices_a_skipped_claim_limit() {
    let s = wrong("no-claim-limit", &[FaultKind::DelayLinks], 20).await;
    // Every node's audit of its own applied history must see it, whatever the reads caught.
    let audits = s
        .anomalies
        .iter()
        .filter(|a| a.contains("over its claim limit"))
        .count();
    assert_eq!(audits, 3, "{:?}", s.anomalies);
}
