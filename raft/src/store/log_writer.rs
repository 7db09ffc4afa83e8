//! The log's one writer thread. An append hands its entries over and returns at once (openraft's
//! core goes on replicating and accepting writes meanwhile); the thread writes every append
//! waiting at that moment in one synced batch, then reports each flushed, in order. Log writes
//! that must not overtake a queued append (the committed id) go through the same queue, and
//! anything that needs the log on disk as it stands (truncation, purge, a read the cached tail
//! cannot serve) first waits for the queue to drain.

use super::db::{CF_LOGS, CF_META, DataDir};
use crate::types::TypeConfig;
use openraft::storage::IOFlushed;
use rocksdb::WriteBatch;
use std::io;
use std::sync::{Arc, mpsc};

/// How many queued appends go into one synced batch at most, so that a flood of small appends
/// never delays the first one's acknowledgement without bound.
const MAX_GROUP: usize = 256;

/// One encoded log record: its key and value.
pub(super) type Record = ([u8; 8], Vec<u8>);

enum Op {
    /// Entries to write, synced, and the callback that reports them flushed.
    Append {
        records: Vec<Record>,
        callback: IOFlushed<TypeConfig>,
    },
    /// A meta value to write unsynced, after every append queued before it: the committed id,
    /// which must never reach the disk ahead of the entries it commits (a restart re-applies up
    /// to it from the log, and would find them missing).
    Meta { key: &'static [u8], value: Vec<u8> },
    /// Answered once every operation queued before it is written.
    Drained(tokio::sync::oneshot::Sender<()>),
}

/// The queue into the writer thread. Cloning shares it; dropping the last clone writes what is
/// queued and waits for the thread to end, so the database is released when the store is (a
/// node restarted in the same process opens it again at once).
#[derive(Clone, Debug)]
pub(super) struct LogWriter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    queue: Option<mpsc::Sender<Op>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has written what is queued.
        self.queue.take();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the log writer thread panicked");
        }
    }
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Append { records, .. } => write!(f, "Append({} records)", records.len()),
            Op::Meta { key, .. } => write!(f, "Meta({})", String::from_utf8_lossy(key)),
            Op::Drained(_) => write!(f, "Drained"),
        }
    }
}

fn gone() -> io::Error {
    io::Error::other("the log writer thread has stopped")
}

impl LogWriter {
    pub(super) fn start(dir: DataDir) -> io::Result<LogWriter> {
        let (queue, ops) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("stowage-log-writer".into())
            .spawn(move || run(&dir, &ops))?;
        Ok(LogWriter {
            inner: Arc::new(Inner {
                queue: Some(queue),
                thread: Some(thread),
            }),
        })
    }

    fn send(&self, op: Op) -> io::Result<()> {
        let queue = self.inner.queue.as_ref().ok_or_else(gone)?;
        queue.send(op).map_err(|_| gone())
    }

    /// Queues `records`; `callback` hears once they are on disk (or that the write failed).
    pub(super) fn append(
        &self,
        records: Vec<Record>,
        callback: IOFlushed<TypeConfig>,
    ) -> io::Result<()> {
        self.send(Op::Append { records, callback })
    }

    /// Queues an unsynced meta write behind every queued append.
    pub(super) fn meta(&self, key: &'static [u8], value: Vec<u8>) -> io::Result<()> {
        self.send(Op::Meta { key, value })
    }

    /// Returns once everything queued before the call is written.
    pub(super) async fn drained(&self) -> io::Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Op::Drained(tx))?;
        rx.await.map_err(|_| gone())
    }
}

fn run(dir: &DataDir, ops: &mpsc::Receiver<Op>) {
    let mut next = None;
    loop {
        let op = match next.take() {
            Some(op) => op,
            None => match ops.recv() {
                Ok(op) => op,
                // Every sender is gone: nothing more can be queued.
                Err(mpsc::RecvError) => return,
            },
        };
        match op {
            Op::Append { records, callback } => {
                // Every append already waiting joins this one's fsync.
                let mut group = vec![(records, callback)];
                while group.len() < MAX_GROUP {
                    match ops.try_recv() {
                        Ok(Op::Append { records, callback }) => group.push((records, callback)),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                write_group(dir, group);
            }
            Op::Meta { key, value } => {
                if let Err(e) = dir.db.put_cf(dir.cf(CF_META), key, value) {
                    // openraft's core cannot hear of this failure from here; the next synced
                    // append fails the same way (RocksDB turns read-only), and that stops it.
                    tracing::error!(
                        "cannot write the log's {}: {e}",
                        String::from_utf8_lossy(key)
                    );
                }
            }
            Op::Drained(tx) => {
                let _ = tx.send(());
            }
        }
    }
}

/// Writes a group of appends in one synced batch, then reports each, in order.
fn write_group(dir: &DataDir, group: Vec<(Vec<Record>, IOFlushed<TypeConfig>)>) {
    let mut batch = WriteBatch::default();
    let cf = dir.cf(CF_LOGS);
    for (records, _) in &group {
        for (key, value) in records {
            batch.put_cf(cf, key, value);
        }
    }
    let result = dir.write_acked_blocking(batch);
    for (_, callback) in group {
        let outcome = match &result {
            Ok(()) => Ok(()),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        };
        callback.io_completed(outcome);
    }
}
