//! A node whose RocksDB files are corrupted at the tail (a table file's footer, the WAL's last
//! record) refuses to start with one clear message and serves nothing from them; moved aside, the
//! node rejoins on an empty dir and ends with its peers' state, every acknowledged write in it.

use std::path::{Path, PathBuf};
use std::time::Duration;
use stowage_proto::pb::NodeInfoRequest;
use stowage_testkit::acl_cluster::volume_json;
use stowage_testkit::eventually;
use stowage_testkit::processes::ProcessCluster;

const BIN: &str = env!("CARGO_BIN_EXE_stowage");

/// Registers `ids` through node `i`, each acknowledged (retried while the cluster elects).
async fn register(c: &ProcessCluster, i: usize, ids: &[String]) {
    let http = reqwest::Client::new();
    for id in ids {
        let url = format!("http://{}/v1/volume/csi/{id}", c.nodes[i].http());
        eventually(
            &format!("{id} is registered"),
            Duration::from_secs(30),
            || {
                let r = http.put(&url).json(&volume_json(id)).send();
                async move { r.await.ok().filter(|r| r.status().is_success()) }
            },
        )
        .await;
    }
}

/// The volume IDs node `i` holds, read from it alone (`?stale`), or None while it cannot answer.
async fn local_ids(c: &ProcessCluster, i: usize) -> Option<Vec<String>> {
    let url = format!("http://{}/v1/volumes?type=csi&stale", c.nodes[i].http());
    let r = reqwest::get(url).await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    let list: Vec<serde_json::Value> = r.json().await.ok()?;
    let mut ids: Vec<String> = list
        .iter()
        .filter_map(|v| v["ID"].as_str().map(String::from))
        .collect();
    ids.sort();
    Some(ids)
}

/// Node `i`'s (applied index, state digest), or None while it cannot answer.
async fn digest(c: &ProcessCluster, i: usize) -> Option<(u64, u64)> {
    let info = c
        .client(c.nodes[i].rpc())
        .node_info(NodeInfoRequest {})
        .await
        .ok()?
        .into_inner();
    Some((info.digest_index, info.state_digest))
}

/// Waits until all three nodes report the same state at the same index, and node `i` lists
/// exactly `want`.
async fn converged(c: &ProcessCluster, i: usize, want: &[String]) {
    eventually(
        &format!("node {} rejoins with every volume", i + 1),
        Duration::from_secs(60),
        || async {
            let mut views = Vec::new();
            for n in 0..3 {
                views.push(digest(c, n).await?);
            }
            let same = views.windows(2).all(|w| w[0] == w[1]);
            (same && local_ids(c, i).await.as_deref() == Some(want)).then_some(())
        },
    )
    .await;
}

/// The files in node `i`'s RocksDB whose name ends in `suffix`, newest (highest number) first.
fn rocks_files(c: &ProcessCluster, i: usize, suffix: &str) -> Vec<PathBuf> {
    let db = c.nodes[i].spec.data_dir.join("db");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&db)
        .expect("the node's RocksDB dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .filter(|p| p.metadata().is_ok_and(|m| m.len() > 64))
        .collect();
    files.sort();
    files.reverse();
    files
}

/// Inverts `len` bytes that end `back` bytes before the end of `file`.
fn corrupt_tail(file: &Path, back: usize, len: usize) {
    let mut bytes = std::fs::read(file).expect("read");
    let end = bytes.len() - back;
    for b in &mut bytes[end - len..end] {
        *b ^= 0xff;
    }
    std::fs::write(file, bytes).expect("write");
}

/// Starts node `i` on its corrupted dir: it must exit with a failure, name the corruption, and
/// never answer in between.
async fn refused(c: &mut ProcessCluster, i: usize) {
    let log_before = c.log(i).len();
    c.spawn(i);
    let status = {
        let child = c.nodes[i].child.as_mut().expect("spawned");
        tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("the node exits instead of serving")
            .expect("reaped")
    };
    c.nodes[i].child = None;
    assert!(!status.success(), "exited {status}");
    let log = c.log(i);
    let said = &log[log_before.min(log.len())..];
    assert!(
        said.matches("is corrupt").count() == 1 && said.contains("will not serve"),
        "not one clear message: {said}"
    );
}

/// The operator's remedy: the corrupt dir moved aside, the node started on an empty one.
async fn rejoin_empty(c: &mut ProcessCluster, i: usize, want: &[String]) {
    let dir = c.nodes[i].spec.data_dir.clone();
    std::fs::rename(&dir, dir.with_extension("corrupt")).expect("move the dir aside");
    c.spawn(i);
    converged(c, i, want).await;
    std::fs::remove_dir_all(dir.with_extension("corrupt")).expect("remove the old dir");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_corrupt_tail_is_refused_and_the_node_rejoins_from_its_peers() {
    let mut c = ProcessCluster::start(Path::new(BIN));
    let mut ids: Vec<String> = (0..30).map(|n| format!("vol-{n:03}")).collect();
    register(&c, 0, &ids).await;
    converged(&c, 2, &ids).await;
    let victim = 2;

    // A table file's footer. A start after a crash writes what it recovers from the WAL to table
    // files, so: kill, start, kill again.
    c.kill(victim).await;
    c.spawn(victim);
    converged(&c, victim, &ids).await;
    c.kill(victim).await;
    let tables = rocks_files(&c, victim, ".sst");
    assert!(!tables.is_empty(), "recovery wrote no table file");
    corrupt_tail(&tables[0], 0, 8);
    refused(&mut c, victim).await;
    rejoin_empty(&mut c, victim, &ids).await;

    // The WAL's last record, after a SIGKILL: bytes inside its payload, so the record is whole
    // but its checksum is wrong, as a disk that returns other bytes than were written makes it.
    let more: Vec<String> = (30..40).map(|n| format!("vol-{n:03}")).collect();
    register(&c, 0, &more).await;
    ids.extend(more);
    ids.sort();
    converged(&c, victim, &ids).await;
    c.kill(victim).await;
    let wal = rocks_files(&c, victim, ".log");
    assert!(!wal.is_empty(), "no WAL to corrupt");
    corrupt_tail(&wal[0], 2, 6);
    refused(&mut c, victim).await;
    rejoin_empty(&mut c, victim, &ids).await;
}
