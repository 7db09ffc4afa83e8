//! The Raft log and vote on RocksDB. An append is reported flushed only after its fsync, the vote
//! is durable before `save_vote` returns, and the purge point is persisted before entries go.
//! Range reads and deletes run off the async workers.

use super::db::{CF_LOGS, CF_META, DataDir};
use super::log_cache::LogCache;
use super::state_machine::blocking;
use crate::types::{Entry, LogId, TypeConfig, Vote};
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{OptionalSend, entry::RaftEntry};
use rocksdb::{Direction, IteratorMode, WriteBatch};
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use stowage_proto::codec;

const KEY_VOTE: &[u8] = b"vote";
const KEY_PURGED: &[u8] = b"last_purged";
const KEY_COMMITTED: &[u8] = b"committed";

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// Log storage; cloning shares the database and the cached tail, which is how openraft gets
/// its readers.
#[derive(Clone, Debug)]
pub struct LogStore {
    dir: DataDir,
    tail: LogCache,
}

impl LogStore {
    pub fn new(dir: DataDir) -> Self {
        Self {
            dir,
            tail: LogCache::default(),
        }
    }

    fn get_meta<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> io::Result<Option<T>> {
        let bytes = self
            .dir
            .db
            .get_cf(self.dir.cf(CF_META), key)
            .map_err(io::Error::other)?;
        bytes
            .map(|b| codec::decode(&b).map_err(io::Error::from))
            .transpose()
    }

    async fn put_meta_synced<T: serde::Serialize>(&self, key: &[u8], value: &T) -> io::Result<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.dir.cf(CF_META), key, codec::encode(value)?);
        self.dir.write_synced(batch).await
    }

    fn last_entry_id(&self) -> io::Result<Option<LogId>> {
        let mut it = self
            .dir
            .db
            .iterator_cf(self.dir.cf(CF_LOGS), IteratorMode::End);
        match it.next() {
            None => Ok(None),
            Some(item) => {
                let (_, value) = item.map_err(io::Error::other)?;
                let entry: Entry = codec::decode(&value)?;
                Ok(Some(entry.log_id()))
            }
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> io::Result<Vec<Entry>> {
        let start = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&i) => Bound::Included(i),
            Bound::Excluded(&i) => Bound::Excluded(i),
            Bound::Unbounded => Bound::Unbounded,
        };
        let last = match end {
            Bound::Included(i) => Some(i),
            Bound::Excluded(i) => Some(i.saturating_sub(1)).filter(|_| i > 0),
            Bound::Unbounded => None,
        };
        if end == Bound::Excluded(0) {
            return Ok(Vec::new());
        }
        if let Some(hit) = self.tail.get(start, last) {
            return Ok(hit);
        }
        let dir = self.dir.clone();
        blocking(move || {
            let cf = dir.cf(CF_LOGS);
            let from = index_key(start);
            let mut out = Vec::new();
            for item in dir
                .db
                .iterator_cf(cf, IteratorMode::From(&from, Direction::Forward))
            {
                let (key, value) = item.map_err(io::Error::other)?;
                let bytes: [u8; 8] = key.as_ref().try_into().map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidData, "log key is not 8 bytes")
                })?;
                if !(Bound::Included(start), end).contains(&u64::from_be_bytes(bytes)) {
                    break;
                }
                out.push(codec::decode(&value)?);
            }
            Ok(out)
        })
        .await
    }

    async fn read_vote(&mut self) -> io::Result<Option<Vote>> {
        self.get_meta(KEY_VOTE)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> io::Result<LogState<TypeConfig>> {
        let last_purged_log_id: Option<LogId> = self.get_meta(KEY_PURGED)?;
        let last_log_id = self.last_entry_id()?.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> io::Result<()> {
        self.put_meta_synced(KEY_VOTE, vote).await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> io::Result<()> {
        // Not synced: it reaches the one WAL before the state machine's batch for the entries it
        // commits, so whatever applied state survives a crash, a committed id at least as far
        // survives with it, and openraft re-applies the log up to that id at start-up.
        let cf = self.dir.cf(CF_META);
        let value = codec::encode(&committed)?;
        self.dir
            .db
            .put_cf(cf, KEY_COMMITTED, value)
            .map_err(io::Error::other)
    }

    async fn read_committed(&mut self) -> io::Result<Option<LogId>> {
        Ok(self.get_meta::<Option<LogId>>(KEY_COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries_in: I, callback: IOFlushed<TypeConfig>) -> io::Result<()>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = WriteBatch::default();
        let cf = self.dir.cf(CF_LOGS);
        let mut entries: Vec<(Entry, usize)> = Vec::new();
        for entry in entries_in {
            let bytes = codec::encode(&entry)?;
            batch.put_cf(cf, index_key(entry.index()), &bytes);
            entries.push((entry, bytes.len()));
        }
        // The write returns only after the WAL fsync, so the callback below never runs early.
        let result = self.dir.write_acked(batch).await;
        match result {
            Ok(()) => {
                self.tail.appended(entries);
                callback.io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.io_completed(Err(io::Error::new(e.kind(), e.to_string())));
                Err(e)
            }
        }
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> io::Result<()> {
        let from = last_log_id.map(|l| l.index() + 1).unwrap_or(0);
        // Forgotten first: a reader must never be served an entry the log no longer has.
        match from.checked_sub(1) {
            Some(last) => self.tail.truncated_after(last),
            None => self.tail.purged(u64::MAX),
        }
        let cf = self.dir.cf(CF_LOGS);
        self.dir
            .db
            .delete_range_cf(cf, index_key(from), index_key(u64::MAX))
            .map_err(io::Error::other)?;
        // delete_range excludes its end key.
        self.dir
            .db
            .delete_cf(cf, index_key(u64::MAX))
            .map_err(io::Error::other)
    }

    async fn purge(&mut self, log_id: LogId) -> io::Result<()> {
        // The purge point goes to disk first: a crash between the two steps must never leave a
        // log that starts after a point nobody recorded.
        self.put_meta_synced(KEY_PURGED, &log_id).await?;
        self.tail.purged(log_id.index());
        let dir = self.dir.clone();
        blocking(move || {
            dir.db
                .delete_range_cf(dir.cf(CF_LOGS), index_key(0), index_key(log_id.index() + 1))
                .map_err(io::Error::other)
        })
        .await
    }
}
