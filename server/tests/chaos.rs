//! The chaos suite in `cargo test`: a short seeded run against three nodes in this process, and a
//! crash loop of real agent processes, must find nothing. (That the checker does notice a wrong build is proven by the chaos self-check
//! package, with real processes.)

use std::path::PathBuf;
use std::time::Duration;
use stowage_chaos::faults::{FaultKind, Pace};
use stowage_chaos::{self as chaos, Config, nodes::Net};
use stowage_raft::ClusterSecret;
use stowage_server::chaos_cmd::agent_launch;
use stowage_testkit::TestCluster;

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
        token_reap_ms: 1000,
    };
    let cfg = Config {
        seed: 20261127,
        duration: Duration::from_secs(30),
        clients: 6,
        volumes: 3,
        volume_lifetime: Duration::from_secs(10),
        kinds: FaultKind::ALL.to_vec(),
        pace: Pace::Steady,
        report_root: dir.path().to_path_buf(),
        secret: ClusterSecret::generate(),
        // ACLs on: every client call is admitted by the leader, under the same faults.
        acl_enabled: true,
    };
    let mut nodes =
        TestCluster::start_on(&net, listeners, timing, &cfg.secret, cfg.acl_enabled).await;
    let summary = chaos::run(&cfg, &net, &mut nodes).await.expect("run");
    summary.print(cfg.seed);
    // Every stop is bounded, so this returns; a hang here is a failure of its own.
    tokio::time::timeout(Duration::from_secs(60), nodes.shutdown())
        .await
        .expect("the nodes stop within a minute");
    assert!(summary.anomalies.is_empty(), "{:?}", summary.anomalies);
    assert!(
        summary.ops_by_outcome.get("ok").copied().unwrap_or(0) > 50,
        "the workload did little: {:?}",
        summary.ops_by_outcome
    );
    assert!(!summary.faults_by_kind.is_empty());
}

/// Real agent processes SIGKILLed in quick succession while clients write: every acknowledged
/// write must survive, and the three state machines must end identical (the run checks both).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_loop_of_real_processes_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = Config {
        seed: 20261130,
        duration: Duration::from_secs(40),
        clients: 6,
        volumes: 3,
        volume_lifetime: Duration::from_secs(10),
        kinds: vec![
            FaultKind::KillLeader,
            FaultKind::KillFollower,
            FaultKind::KillAll,
        ],
        pace: Pace::CrashLoop,
        report_root: dir.path().to_path_buf(),
        secret: ClusterSecret::generate(),
        acl_enabled: false,
    };
    let launch = agent_launch(
        PathBuf::from(env!("CARGO_BIN_EXE_stowage")),
        &cfg.secret,
        false,
    );
    let summary = chaos::run_processes(cfg, launch).await.expect("run");
    summary.print(20261130);
    assert!(summary.anomalies.is_empty(), "{:?}", summary.anomalies);
    assert!(
        summary.acknowledged_writes > 20,
        "the workload acknowledged little: {:?}",
        summary.ops_by_outcome
    );
    let kills: usize = summary.faults_by_kind.values().sum();
    assert!(
        kills >= 10,
        "only {kills} kills: {:?}",
        summary.faults_by_kind
    );
}
