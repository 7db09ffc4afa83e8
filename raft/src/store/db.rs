//! Opening a node's data dir: one RocksDB with fixed column families, refusing a dir that belongs
//! to another node or to something else entirely.

use crate::faults::TestFaults;
use rocksdb::{ColumnFamilyDescriptor, DB, Options, WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use stowage_proto::codec;

/// Column families. Names are append-only: never rename or reuse one.
pub(crate) const CF_META: &str = "meta";
pub(crate) const CF_LOGS: &str = "logs";
pub(crate) const CF_SM_META: &str = "sm_meta";
pub(crate) const CF_VOLUMES: &str = "sm_volumes";
pub(crate) const CF_CLAIMS: &str = "sm_claims";
pub(crate) const CF_CLAIM_HISTORY: &str = "sm_claim_history";
pub(crate) const CF_PLUGINS: &str = "sm_plugins";
pub(crate) const CF_NAMESPACES: &str = "sm_namespaces";
pub(crate) const CF_ACL_POLICIES: &str = "sm_acl_policies";
pub(crate) const CF_ACL_TOKENS: &str = "sm_acl_tokens";
/// The column families holding the state machine's tables: a snapshot install replaces all of
/// them.
pub(crate) const TABLE_CFS: [&str; 7] = [
    CF_VOLUMES,
    CF_CLAIMS,
    CF_CLAIM_HISTORY,
    CF_PLUGINS,
    CF_NAMESPACES,
    CF_ACL_POLICIES,
    CF_ACL_TOKENS,
];
const OWN_CFS: [&str; 3] = [CF_META, CF_LOGS, CF_SM_META];

const KEY_IDENTITY: &[u8] = b"identity";

/// The most WAL a node keeps before flushing memtables, and so the most a restart replays.
const MAX_WAL_BYTES: u64 = 64 << 20;

/// Written once when a data dir is created, and checked at every open.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Identity {
    product: String,
    node_id: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("data dir {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "data dir {path} holds files that are not a stowage node's data; choose an empty or stowage dir"
    )]
    Foreign { path: PathBuf },
    #[error("data dir {path} belongs to node {found}, not node {expected}")]
    OtherNode {
        path: PathBuf,
        found: u64,
        expected: u64,
    },
    #[error("data dir {path}: {source}")]
    Rocks {
        path: PathBuf,
        source: rocksdb::Error,
    },
    /// RocksDB found a record or table whose checksum does not match: the disk returned other
    /// bytes than were written. The node must not serve from such a copy.
    #[error(
        "data dir {path} is corrupt ({detail}); this node will not serve from it. The other \
         nodes hold the data: move the dir aside and start this node on an empty one to rejoin by \
         snapshot, or replace it under a new id"
    )]
    Corrupt {
        path: PathBuf,
        /// Named in the message itself, which is the whole story: not a `source` to repeat.
        detail: rocksdb::Error,
    },
    #[error("data dir {path}: unreadable identity: {source}")]
    Identity {
        path: PathBuf,
        source: codec::CodecError,
    },
}

impl OpenError {
    /// Sorts a RocksDB failure met while opening or loading `path`: corruption apart.
    pub(crate) fn from_rocks(path: &Path, source: rocksdb::Error) -> OpenError {
        let path = path.to_path_buf();
        match source.kind() {
            rocksdb::ErrorKind::Corruption => OpenError::Corrupt {
                path,
                detail: source,
            },
            _ => OpenError::Rocks { path, source },
        }
    }

    /// Sorts a failure to load the state machine from `path`: a RocksDB corruption carried in
    /// `e` is told apart from every other failure.
    pub(crate) fn from_load(path: &Path, e: std::io::Error) -> OpenError {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rocksdb::Error>())
        {
            Some(rocks) => OpenError::from_rocks(path, rocks.clone()),
            None => OpenError::Io {
                path: path.to_path_buf(),
                source: e,
            },
        }
    }
}

/// An open data dir. Cloning shares the one RocksDB handle.
#[derive(Clone)]
pub struct DataDir {
    pub(crate) db: Arc<DB>,
    path: PathBuf,
    faults: TestFaults,
    /// Every write with a RocksDB sequence number up to this one is on disk: a synced write
    /// flushes the one WAL through its own record, so through every record before it.
    synced_seq: Arc<AtomicU64>,
    /// Held while syncing the WAL for readers, so concurrent readers share one fsync.
    sync_lock: Arc<tokio::sync::Mutex<()>>,
    /// How long each WAL fsync took, for `/v1/metrics`.
    fsync: prometheus::Histogram,
}

impl std::fmt::Debug for DataDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataDir({})", self.path.display())
    }
}

impl DataDir {
    /// Opens (creating if empty) the data dir of node `node_id`.
    pub fn open(path: &Path, node_id: u64, faults: TestFaults) -> Result<Self, OpenError> {
        let io = |source| OpenError::Io {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(path).map_err(io)?;
        let db_path = path.join("db");
        let fresh = !db_path.join("CURRENT").exists();
        if fresh {
            let mut entries = std::fs::read_dir(path).map_err(io)?;
            if entries.next().is_some() && !db_path.exists() {
                return Err(OpenError::Foreign {
                    path: path.to_path_buf(),
                });
            }
        }
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // A crash can leave the WAL's last record incomplete, and an incomplete record was never
        // synced, so never acknowledged: it is dropped. A complete record whose checksum is wrong
        // is another matter: it may be a synced log entry or vote that this node acknowledged,
        // and recovering to the point before it (RocksDB's default) would silently forget both,
        // which a Raft peer must never do. Such a dir is refused (`OpenError::Corrupt`).
        opts.set_wal_recovery_mode(rocksdb::DBRecoveryMode::TolerateCorruptedTailRecords);
        opts.set_paranoid_checks(true);
        // A WAL file is deleted only once every column family with writes in it has flushed
        // them, and the small ones (the vote, plugins, ACLs) rarely fill a memtable. Left to
        // RocksDB's default (four times all write buffers, gigabytes here) the WAL grew by about
        // 300 MiB per minute of load, and a restarted node spent seconds replaying it before it
        // could serve. Past this size the families holding the oldest WAL file are flushed, so
        // a restart replays at most this much.
        opts.set_max_total_wal_size(MAX_WAL_BYTES);
        let cfs = OWN_CFS
            .iter()
            .chain(&TABLE_CFS)
            .map(|n| ColumnFamilyDescriptor::new(*n, Options::default()));
        let db = DB::open_cf_descriptors(&opts, &db_path, cfs)
            .map_err(|source| OpenError::from_rocks(path, source))?;
        let fsync = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new(
                "stowage_fsync_seconds",
                "How long each fsync of the write-ahead log took.",
            )
            // 50 µs to 1.6 s: an idle SSD is at the bottom, a disk under a build near 4 ms.
            .buckets(prometheus::exponential_buckets(0.000_05, 2.0, 16).unwrap_or_default()),
        )
        .map_err(|e| io(std::io::Error::other(e)))?;
        let dir = DataDir {
            db: Arc::new(db),
            path: path.to_path_buf(),
            faults,
            synced_seq: Arc::new(AtomicU64::new(0)),
            sync_lock: Arc::new(tokio::sync::Mutex::new(())),
            fsync,
        };
        dir.check_identity(node_id)?;
        Ok(dir)
    }

    fn check_identity(&self, node_id: u64) -> Result<(), OpenError> {
        let rocks = |source| OpenError::Rocks {
            path: self.path.clone(),
            source,
        };
        let meta = self.cf(CF_META);
        match self.db.get_cf(meta, KEY_IDENTITY).map_err(rocks)? {
            Some(bytes) => {
                let found: Identity =
                    codec::decode(&bytes).map_err(|source| OpenError::Identity {
                        path: self.path.clone(),
                        source,
                    })?;
                if found.product != "stowage" {
                    return Err(OpenError::Foreign {
                        path: self.path.clone(),
                    });
                }
                if found.node_id != node_id {
                    return Err(OpenError::OtherNode {
                        path: self.path.clone(),
                        found: found.node_id,
                        expected: node_id,
                    });
                }
                Ok(())
            }
            None => {
                let id = Identity {
                    product: "stowage".into(),
                    node_id,
                };
                let bytes = codec::encode(&id).map_err(|source| OpenError::Identity {
                    path: self.path.clone(),
                    source,
                })?;
                let mut batch = WriteBatch::default();
                batch.put_cf(meta, KEY_IDENTITY, bytes);
                self.db.write_opt(batch, &sync_write()).map_err(rocks)
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn fsync_histogram(&self) -> &prometheus::Histogram {
        &self.fsync
    }

    /// The bytes the log and the stored snapshot take, in files and in memtables, as RocksDB
    /// estimates them.
    pub(crate) fn sizes(&self) -> (u64, u64) {
        let bytes = |cf: &str| {
            [
                "rocksdb.total-sst-files-size",
                "rocksdb.size-all-mem-tables",
            ]
            .iter()
            .filter_map(|p| {
                self.db
                    .property_int_value_cf(self.cf(cf), *p)
                    .ok()
                    .flatten()
            })
            .sum::<u64>()
        };
        (bytes(CF_LOGS), bytes(CF_SM_META))
    }

    /// A column family handle. The families are fixed at open, so a missing one is a bug.
    pub(crate) fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        #[allow(clippy::expect_used)]
        self.db
            .cf_handle(name)
            .expect("column family created at open")
    }

    /// Writes a batch and fsyncs the WAL before returning, off the async workers.
    pub(crate) async fn write_synced(&self, batch: WriteBatch) -> Result<(), std::io::Error> {
        let db = self.db.clone();
        let before = self.db.latest_sequence_number();
        let timer = self.fsync.clone();
        tokio::task::spawn_blocking(move || {
            let _t = timer.start_timer();
            db.write_opt(batch, &sync_write())
        })
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)?;
        self.synced_seq.fetch_max(before, Ordering::SeqCst);
        Ok(())
    }

    /// Writes a batch to the WAL and the memtables without waiting for the disk: on the disk
    /// within the next synced write or `make_durable`, and never lost to a crash of this process
    /// (the WAL record is already in the kernel's hands), only to one of the machine.
    pub(crate) fn write_unsynced(&self, batch: WriteBatch) -> Result<(), std::io::Error> {
        let mut w = WriteOptions::default();
        // The test-only early-ack fault keeps the state in memory only, as a buggy store would.
        w.disable_wal(self.faults.early_ack());
        self.db.write_opt(batch, &w).map_err(std::io::Error::other)
    }

    /// Returns once every write made before the call is on disk: at once when a synced write
    /// (usually the next log append) already took them there, else after one WAL fsync shared
    /// with every reader waiting at the same time.
    pub(crate) async fn make_durable(&self) -> Result<(), std::io::Error> {
        let now = self.db.latest_sequence_number();
        if self.faults.early_ack() || self.synced_seq.load(Ordering::SeqCst) >= now {
            return Ok(());
        }
        let _turn = self.sync_lock.lock().await;
        if self.synced_seq.load(Ordering::SeqCst) >= now {
            return Ok(());
        }
        let db = self.db.clone();
        let timer = self.fsync.clone();
        tokio::task::spawn_blocking(move || {
            let _t = timer.start_timer();
            db.flush_wal(true)
        })
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)?;
        self.synced_seq.fetch_max(now, Ordering::SeqCst);
        Ok(())
    }
}

impl DataDir {
    /// Writes what an acknowledgement depends on (log appends, applied state): synced, unless the
    /// test-only early-ack fault is on, which keeps it in memory only, as a buggy store would.
    pub(crate) async fn write_acked(&self, batch: WriteBatch) -> Result<(), std::io::Error> {
        if !self.faults.early_ack() {
            return self.write_synced(batch).await;
        }
        let mut w = WriteOptions::default();
        w.disable_wal(true);
        self.db.write_opt(batch, &w).map_err(std::io::Error::other)
    }
}

pub(crate) fn sync_write() -> WriteOptions {
    let mut w = WriteOptions::default();
    w.set_sync(true);
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_foreign_and_other_nodes_dirs() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp.path().join("notes.txt"), "not ours").expect("write");
        assert!(matches!(
            DataDir::open(tmp.path(), 1, TestFaults::default()),
            Err(OpenError::Foreign { .. })
        ));

        let tmp = tempfile::tempdir().expect("tempdir");
        drop(DataDir::open(tmp.path(), 1, TestFaults::default()).expect("open fresh"));
        drop(DataDir::open(tmp.path(), 1, TestFaults::default()).expect("reopen same node"));
        match DataDir::open(tmp.path(), 2, TestFaults::default()) {
            Err(OpenError::OtherNode {
                found: 1,
                expected: 2,
                ..
            }) => {}
            other => panic!("expected OtherNode, got {other:?}"),
        }
    }
}
