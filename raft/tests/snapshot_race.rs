//! Building a snapshot, or taking the state digest, while another snapshot is being installed
//! must see the tables and the applied index of one moment, never new tables with an old index.

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use std::collections::BTreeSet;
use stowage_raft::state::StateImage;
use stowage_raft::types::Snapshot;

mod support;
use support::{applied, open};

/// A store that applied one register of `ids` at each of `indexes`, and its snapshot.
async fn snapshot_of(dir: &std::path::Path, indexes: &[(u64, &str)]) -> Snapshot {
    applied(dir, indexes)
        .await
        .build_snapshot()
        .await
        .expect("snapshot")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn snapshots_and_digests_never_mix_two_moments() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let one = snapshot_of(&tmp.path().join("one"), &[(10, "a")]).await;
    let two = snapshot_of(&tmp.path().join("two"), &[(19, "a"), (20, "b")]).await;
    let mut target = open(&tmp.path().join("target"));
    target
        .install_snapshot(&one.meta, one.snapshot.clone())
        .await
        .expect("install");
    // Each moment's digest, as the target reports it right after installing that snapshot.
    let digest_one = target.reader().digest();
    target
        .install_snapshot(&two.meta, two.snapshot.clone())
        .await
        .expect("install");
    let digest_two = target.reader().digest();
    let moments: BTreeSet<(u64, u64)> = [digest_one, digest_two].into();
    assert_eq!(moments.len(), 2, "the two moments differ");

    let installer = {
        let mut sm = target.clone();
        tokio::spawn(async move {
            for round in 0..200 {
                let s = if round % 2 == 0 { &one } else { &two };
                sm.install_snapshot(&s.meta, s.snapshot.clone())
                    .await
                    .expect("install");
            }
        })
    };
    let mut seen = 0;
    while !installer.is_finished() {
        let digest = target.reader().digest();
        assert!(
            moments.contains(&digest),
            "a digest mixed two moments: {digest:?}"
        );
        let built = target.build_snapshot().await.expect("build");
        let image: StateImage = stowage_proto::codec::decode(&built.snapshot).expect("image");
        let index = built.meta.last_log_id.map(|l| l.index);
        let ids: Vec<&str> = image.volumes.iter().map(|v| v.id.as_str()).collect();
        match (index, ids.as_slice()) {
            (Some(10), ["a"]) | (Some(20), ["a", "b"]) => {}
            other => panic!("a snapshot mixed two moments: {other:?}"),
        }
        seen += 1;
    }
    installer.await.expect("installer");
    assert!(seen > 0, "nothing was checked while installing");
}
