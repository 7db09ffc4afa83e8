//! A full disk, on real filesystems: each node keeps its data on a small tmpfs of its own. A
//! follower whose disk is full takes no entries but stays up and serves reads, and catches up
//! once space returns; a leader whose disk is full answers writes 507 with a clear message and
//! writes nothing, reads go on everywhere, and writes succeed again once space returns.
//! Mounting needs root: as any other user the test says it cannot run, and passes nothing off
//! as checked.

use reqwest::StatusCode;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use stowage_server::limits::NodeLimits;
use stowage_testkit::acl_cluster::volume_json;
use stowage_testkit::{Shape, TestCluster, eventually, fast_timing};

/// Each node's filesystem, in MiB (RocksDB preallocates about 70 MiB for each WAL file); the
/// reserve below which a node takes no entries.
const FS_MIB: u64 = 256;
const RESERVE_MIB: u64 = 32;

/// A tmpfs mounted for the test, unmounted when dropped (even when the test fails).
struct Tmpfs {
    at: tempfile::TempDir,
}

impl Tmpfs {
    fn mount() -> Tmpfs {
        let at = tempfile::tempdir().expect("tempdir");
        let done = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={FS_MIB}m"), "tmpfs"])
            .arg(at.path())
            .status()
            .expect("run mount");
        assert!(done.success(), "mount a tmpfs at {}", at.path().display());
        Tmpfs { at }
    }

    fn path(&self) -> &Path {
        self.at.path()
    }

    /// Fills the filesystem until `leave_mib` MiB remain free; returns the filler to remove.
    fn fill(&self, leave_mib: u64) -> PathBuf {
        let fs = rustix::fs::statvfs(self.path()).expect("statvfs");
        let free = fs.f_bavail * fs.f_frsize;
        let filler = self.path().join("filler");
        let bytes = free.saturating_sub(leave_mib * 1024 * 1024);
        std::fs::write(&filler, vec![0x5a; bytes as usize]).expect("write the filler");
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: a node that has not quite closed its files must not keep the mount behind.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.at.path())
            .status();
    }
}

async fn put(http: &reqwest::Client, c: &TestCluster, via: u64, id: &str) -> reqwest::Response {
    http.put(format!("http://{}/v1/volume/csi/{id}", c.http_addr(via)))
        .json(&volume_json(id))
        .send()
        .await
        .expect("an answer")
}

async fn get_status(http: &reqwest::Client, c: &TestCluster, via: u64, path: &str) -> StatusCode {
    http.get(format!("http://{}{path}", c.http_addr(via)))
        .send()
        .await
        .expect("an answer")
        .status()
}

/// Waits until node `id`, read alone, holds volume `vol`.
async fn holds(http: &reqwest::Client, c: &TestCluster, id: u64, vol: &str) {
    let path = format!("/v1/volume/csi/{vol}?stale");
    eventually(
        &format!("node {id} holds {vol}"),
        Duration::from_secs(30),
        || {
            let path = path.clone();
            async move { (get_status(http, c, id, &path).await == StatusCode::OK).then_some(()) }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_refuses_writes_keeps_reads_and_recovers() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: mounting the test's tmpfs needs root; this run checked nothing");
        return;
    }
    let disks = [Tmpfs::mount(), Tmpfs::mount(), Tmpfs::mount()];
    let shape = Shape {
        limits: NodeLimits {
            min_free_disk_mb: RESERVE_MIB,
            ..NodeLimits::default()
        },
        parents: Some(disks.each_ref().map(|d| d.path().to_path_buf())),
        ..Shape::default()
    };
    let c = TestCluster::start_shaped(fast_timing(1000), shape).await;
    let http = reqwest::Client::new();
    let leader = c.leader().await;
    let follower = c.followers(leader)[0];
    assert_eq!(
        put(&http, &c, leader, "before").await.status(),
        StatusCode::OK
    );

    // A follower's disk full: the other two still commit, and it stays up, serving what it has.
    // (A write sent to the full follower itself may find no leader there, 503, nothing written:
    // refusing the leader's entries, it can miss heartbeats long enough to start electing.)
    let filler = disks[follower as usize - 1].fill(RESERVE_MIB / 2);
    assert_eq!(
        put(&http, &c, leader, "while-follower-full").await.status(),
        StatusCode::OK
    );
    let other = c
        .followers(leader)
        .into_iter()
        .find(|n| *n != follower)
        .expect("a third node");
    holds(&http, &c, other, "while-follower-full").await;
    let stale_before = get_status(&http, &c, follower, "/v1/volume/csi/before?stale").await;
    assert_eq!(
        stale_before,
        StatusCode::OK,
        "the full follower still serves reads"
    );
    std::fs::remove_file(filler).expect("free the follower's disk");
    holds(&http, &c, follower, "while-follower-full").await;

    // The leader's disk full: every node answers a write 507, and nothing is written.
    let filler = disks[leader as usize - 1].fill(RESERVE_MIB / 2);
    for via in [leader, follower, other] {
        let r = put(&http, &c, via, "while-leader-full").await;
        assert_eq!(
            r.status(),
            StatusCode::INSUFFICIENT_STORAGE,
            "via node {via}"
        );
        assert_eq!(
            r.headers()
                .get("X-Stowage-Error")
                .and_then(|v| v.to_str().ok()),
            Some("disk-full")
        );
        let text = r.text().await.expect("body");
        assert!(
            text.starts_with("disk full: the leader's data dir has"),
            "{text}"
        );
    }
    for via in [leader, follower, other] {
        let read = get_status(&http, &c, via, "/v1/volume/csi/before").await;
        assert_eq!(read, StatusCode::OK, "a linearizable read via node {via}");
        let missing = get_status(&http, &c, via, "/v1/volume/csi/while-leader-full").await;
        assert_eq!(missing, StatusCode::NOT_FOUND, "nothing was written");
    }

    // Space returns: writes succeed again, without a restart.
    std::fs::remove_file(filler).expect("free the leader's disk");
    assert_eq!(
        put(&http, &c, follower, "after").await.status(),
        StatusCode::OK
    );
    for id in [leader, follower, other] {
        holds(&http, &c, id, "after").await;
    }
    c.shutdown().await;
    drop(disks);
}
