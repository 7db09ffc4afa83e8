//! openraft's own storage conformance suite, run against the RocksDB log store and state machine
//! that stowage ships, plus durability checks that survive closing and reopening the database.

use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, RaftLogReader, RaftLogStorage, RaftStateMachine};
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::type_config::TypeConfigExt;
use openraft::{ErrorSubject, ErrorVerb, StorageError};
use stowage_raft::TestFaults;
use stowage_raft::store::{DataDir, LogStore, StateMachineStore};
use stowage_raft::types::{Entry, LogId, TypeConfig, Vote};
use tempfile::TempDir;

struct RocksBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for RocksBuilder {
    async fn build(
        &self,
    ) -> Result<(TempDir, LogStore, StateMachineStore), StorageError<TypeConfig>> {
        let err = |e: std::io::Error| {
            StorageError::from_io_error(ErrorSubject::Store, ErrorVerb::Read, e)
        };
        let tmp = tempfile::tempdir().map_err(err)?;
        let dir = DataDir::open(tmp.path(), 1, TestFaults::default())
            .map_err(|e| err(std::io::Error::other(e.to_string())))?;
        let sm = StateMachineStore::open(dir.clone(), TestFaults::default()).map_err(err)?;
        Ok((tmp, LogStore::new(dir), sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_suite_passes() {
    Suite::test_all(RocksBuilder)
        .await
        .expect("openraft storage suite");
}

fn log_id(term: u64, index: u64) -> LogId {
    openraft::testing::log_id::<TypeConfig>(term, 1, index)
}

/// What was acknowledged (vote saved, append flushed, purge done) is still there after the
/// database is closed and opened again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_log_state_survives_reopen() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let vote = Vote::new(3, 1);
    {
        let dir = DataDir::open(tmp.path(), 1, TestFaults::default()).expect("open");
        let mut store = LogStore::new(dir);
        store.save_vote(&vote).await.expect("vote");
        let entries: Vec<Entry> = (1..=10).map(|i| Entry::new_blank(log_id(3, i))).collect();
        let (tx, rx) = TypeConfig::oneshot();
        store
            .append(entries, IOFlushed::signal(tx))
            .await
            .expect("append");
        rx.await.expect("callback fired").expect("flushed");
        store.purge(log_id(3, 4)).await.expect("purge");
    }
    let dir = DataDir::open(tmp.path(), 1, TestFaults::default()).expect("reopen");
    let mut store = LogStore::new(dir);
    assert_eq!(store.read_vote().await.expect("read vote"), Some(vote));
    let state = store.get_log_state().await.expect("log state");
    assert_eq!(state.last_purged_log_id, Some(log_id(3, 4)));
    assert_eq!(state.last_log_id, Some(log_id(3, 10)));
    let entries = store.try_get_log_entries(0..100).await.expect("entries");
    assert_eq!(
        entries.iter().map(|e| e.index()).collect::<Vec<_>>(),
        (5..=10).collect::<Vec<_>>()
    );

    // A purge that empties the log still reports the purge point.
    store.purge(log_id(3, 10)).await.expect("purge all");
    let state = store.get_log_state().await.expect("log state");
    assert_eq!(state.last_log_id, Some(log_id(3, 10)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applied_state_survives_reopen() {
    use futures::stream;
    use stowage_proto::{Command, Request, Volume};
    let tmp = tempfile::tempdir().expect("tempdir");
    let volume = Volume {
        id: "v1".into(),
        namespace: "default".into(),
        plugin_id: "p".into(),
        ..Default::default()
    };
    {
        let dir = DataDir::open(tmp.path(), 1, TestFaults::default()).expect("open");
        let mut sm = StateMachineStore::open(dir, TestFaults::default()).expect("sm");
        let req = Request {
            command: Command::RegisterVolumes {
                volumes: vec![volume.clone()],
                cas: None,
            },
            time_ns: 42,
            caller: None,
        };
        let entries = vec![Ok((Entry::new_normal(log_id(1, 1), req), None))];
        sm.apply(stream::iter(entries)).await.expect("apply");
    }
    let dir = DataDir::open(tmp.path(), 1, TestFaults::default()).expect("reopen");
    let mut sm = StateMachineStore::open(dir, TestFaults::default()).expect("sm");
    let (applied, _) = sm.applied_state().await.expect("applied");
    assert_eq!(applied, Some(log_id(1, 1)));
    let state = sm.reader();
    let stored = state
        .read(|s| s.volumes.get(&volume.key()).cloned())
        .expect("volume persisted");
    assert_eq!(
        (stored.create_index, stored.modify_index, stored.create_time),
        (1, 1, 42)
    );
    assert_eq!(state.read(|s| s.indexes.volumes), 1);
}
