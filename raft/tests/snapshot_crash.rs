//! A built snapshot is on disk when `build_snapshot` returns: a process killed right after must
//! find it at its next start. (openraft purges the log behind a snapshot once it is built; a
//! snapshot lost to a crash would leave a gap.)

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use stowage_raft::state::StateImage;

mod support;
use support::{applied, open};

/// Set in the child process: the dir it builds a snapshot in before it aborts.
const CHILD_DIR: &str = "STOWAGE_TEST_SNAPSHOT_CRASH_DIR";
const NAME: &str = "a_snapshot_survives_a_crash_right_after_it_is_built";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_survives_a_crash_right_after_it_is_built() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        let mut sm = applied(std::path::Path::new(&dir), &[(9, "a"), (10, "b")]).await;
        sm.build_snapshot().await.expect("snapshot");
        // No destructor runs: RocksDB gets no chance to flush on close.
        std::process::abort();
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let status = std::process::Command::new(exe)
        .args(["--exact", NAME, "--nocapture"])
        .env(CHILD_DIR, tmp.path())
        .status()
        .expect("child");
    assert!(!status.success(), "the child aborts after building");

    let mut sm = open(tmp.path());
    let snapshot = sm
        .get_current_snapshot()
        .await
        .expect("read")
        .expect("the snapshot built before the crash is there");
    assert_eq!(snapshot.meta.last_log_id.map(|l| l.index), Some(10));
    let image: StateImage = stowage_proto::codec::decode(&snapshot.snapshot).expect("image");
    let ids: Vec<&str> = image.volumes.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
}
