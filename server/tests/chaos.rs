//! The chaos suite in `cargo test`: a short seeded run in this process that must find nothing,
//! and one run per test-only fault, with real processes, that must find something.

use std::path::PathBuf;
use std::time::Duration;
use stowage_server::chaos::faults::FaultKind;
use stowage_server::chaos::{self, Config, inprocess::InProcess, nodes::Net};

fn config(seed: u64, secs: u64, kinds: &[FaultKind], reports: &std::path::Path) -> Config {
    Config {
        seed,
        duration: Duration::from_secs(secs),
        clients: 6,
        volumes: 3,
        volume_lifetime: Duration::from_secs(10),
        kinds: kinds.to_vec(),
        report_root: reports.to_path_buf(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_process_chaos_finds_no_anomalies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (net, listeners) = Net::build(&[1, 2, 3]).await.expect("net");
    let timing = stowage_raft::RaftTiming {
        heartbeat_ms: 50,
        election_min_ms: 400,
        election_max_ms: 800,
        snapshot_every: 200,
        keep_behind_snapshot: 20,
    };
    let mut nodes = InProcess::start(&net, listeners, dir.path(), timing)
        .await
        .expect("nodes");
    let cfg = config(20261127, 30, &FaultKind::ALL, dir.path());
    let summary = chaos::run(&cfg, &net, &mut nodes).await.expect("run");
    summary.print(cfg.seed);
    nodes.shutdown().await;
    assert!(summary.anomalies.is_empty(), "{:?}", summary.anomalies);
    assert!(
        summary.ops_by_outcome.get("ok").copied().unwrap_or(0) > 50,
        "the workload did little: {:?}",
        summary.ops_by_outcome
    );
    assert!(!summary.faults_by_kind.is_empty());
}

async fn wrong(fault: &str, kinds: &[FaultKind], secs: u64) -> chaos::Summary {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(7, secs, kinds, dir.path());
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_stowage"));
    let summary = chaos::run_processes(cfg, exe, Some(fault.to_string()))
        .await
        .expect("run");
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
