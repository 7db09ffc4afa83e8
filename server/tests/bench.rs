//! `stowage bench` still works end to end: a seconds-long run of the real binary against the
//! three agent processes it starts, stowage alone (etcd is not installed for the tests). It
//! asserts that every scenario ran and got answers, never how fast: figures belong in
//! BENCHMARKS.md, not in assertions.

use serde_json::Value;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_stowage");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_measures_every_scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("report.json");
    let chart = dir.path().join("chart.png");
    let out = Command::new(BIN)
        .args(["bench", "--no-etcd", "--rounds", "1", "--seconds", "0.5"])
        .args([
            "--write-clients",
            "1,4",
            "--clients",
            "4",
            "--volumes",
            "300",
        ])
        .args(["--watchers", "50", "--kills", "1", "--idle-minutes", "0.02"])
        .arg("--dir")
        .arg(dir.path().join("run"))
        .arg("--json")
        .arg(&json)
        .arg("--chart")
        .arg(&chart)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run stowage bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stowage bench failed: {stderr}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("| register (etcd: put) | 4 |"), "{table}");

    let report: Value =
        serde_json::from_slice(&std::fs::read(&json).expect("report written")).expect("JSON");
    let rows = report["rows"].as_array().expect("rows");
    // Writes at 1 and 4 clients, claim cycles, linearizable, stale and list reads.
    assert_eq!(rows.len(), 6, "{report:#}");
    for row in rows {
        let stowage = &row["stowage"][0];
        assert!(stowage["ok"].as_u64() > Some(0), "no answers: {row:#}");
        assert_eq!(stowage["errors"].as_u64(), Some(0), "errors: {row:#}");
        assert_eq!(row["etcd"].as_array().map(Vec::len), Some(0), "{row:#}");
    }
    assert_eq!(
        report["failover"]["times_ms"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(report["watchers"]["missed"].as_u64(), Some(0), "{report:#}");
    assert!(report["recovery"]["wiped_ms"].as_f64().is_some());
    assert!(report["idle"]["polls"].as_u64() > Some(0));
    let memory = report["memory"][0][1].as_array().expect("RSS per member");
    assert!(memory.iter().all(|m| m.as_f64() > Some(0.0)), "{memory:?}");
    let png = std::fs::read(&chart).expect("chart written");
    assert!(png.starts_with(b"\x89PNG"), "the chart is a PNG");
}
