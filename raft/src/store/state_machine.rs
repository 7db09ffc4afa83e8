//! The persistent state machine: tables in memory for reads, written through to RocksDB in one
//! WriteBatch per apply batch together with last-applied and membership (made durable by the
//! next log append, or by a reader before it answers). The tables and
//! the applied position live behind one lock, so no reader ever pairs one with the other's
//! past.

use super::db::{CF_SM_META, DataDir, TABLE_CFS};
use super::load::{KEY_APPLIED, KEY_BREACHES, KEY_INDEXES, KEY_MEMBERSHIP, Loaded, load};
use super::reader::StateReader;
use super::records::stage;
use super::snapshot_blob;
use crate::events::{EventLog, events_of};
use crate::faults::TestFaults;
use crate::notify::Notifier;
use crate::state::{Answer, Frozen, State, StateImage, Touched};
use crate::types::{LogId, Snapshot, SnapshotData, SnapshotMeta, StoredMembership, TypeConfig};
use futures::StreamExt;
use openraft::entry::RaftEntry;
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend};
use rocksdb::WriteBatch;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};
use stowage_proto::{Command, CommandResponse, Outcome, VolumeKey, codec};

const KEY_SNAPSHOT: &[u8] = b"snapshot";

/// Above every record's key: each key begins with a UTF-8 name, and UTF-8 never contains 0xff.
const KEY_END: &[u8] = b"\xff";

/// The tables and the Raft position they describe: always read and replaced together.
#[derive(Debug)]
pub(super) struct Machine {
    pub(super) state: State,
    pub(super) last_applied: Option<LogId>,
    pub(super) membership: StoredMembership,
}

impl Machine {
    pub(super) fn applied_index(&self) -> u64 {
        self.last_applied.as_ref().map_or(0, |l| l.index())
    }

    /// Tables and position at one moment, cheap to take under the lock (see `Frozen`).
    fn freeze(&self) -> Frozen {
        self.state
            .freeze(self.last_applied, self.membership.clone())
    }
}

/// Shared between openraft's state machine worker, snapshot builders and readers.
#[derive(Debug)]
pub(super) struct Shared {
    dir: DataDir,
    machine: RwLock<Machine>,
    pub(super) notifier: Notifier,
    /// What recent entries changed, for the event stream.
    pub(super) events: EventLog,
    /// Applied entries after which the claim-limit audit found a volume over its limit, on this
    /// node, ever (kept in this node's own metadata; it is not replicated state).
    pub(super) claim_limit_breaches: AtomicU64,
    faults: TestFaults,
}

impl Shared {
    pub(super) fn dir(&self) -> &DataDir {
        &self.dir
    }

    /// The machine for reading; never held across an await.
    pub(super) fn read(&self) -> RwLockReadGuard<'_, Machine> {
        self.machine.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Machine> {
        self.machine.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// The openraft state machine. Clones share one state.
#[derive(Clone, Debug)]
pub struct StateMachineStore {
    shared: Arc<Shared>,
}

impl StateMachineStore {
    /// Loads the persisted state of `dir`.
    pub fn open(dir: DataDir, faults: TestFaults) -> io::Result<Self> {
        let Loaded {
            state,
            last_applied,
            membership,
            breaches,
        } = load(&dir)?;
        let notifier = Notifier::new(state.indexes);
        Ok(Self {
            shared: Arc::new(Shared {
                dir,
                machine: RwLock::new(Machine {
                    state,
                    last_applied,
                    membership,
                }),
                notifier,
                events: EventLog::default(),
                claim_limit_breaches: AtomicU64::new(breaches),
                faults,
            }),
        })
    }

    pub fn reader(&self) -> StateReader {
        StateReader::new(self.shared.clone())
    }
}

fn stage_meta(dir: &DataDir, batch: &mut WriteBatch, m: &Machine) -> io::Result<()> {
    let cf = dir.cf(CF_SM_META);
    batch.put_cf(cf, KEY_APPLIED, codec::encode(&m.last_applied)?);
    batch.put_cf(cf, KEY_MEMBERSHIP, codec::encode(&m.membership)?);
    batch.put_cf(cf, KEY_INDEXES, codec::encode(&m.state.indexes)?);
    Ok(())
}

/// Runs blocking storage work (RocksDB reads, snapshot encoding) off the async workers, so a
/// large state never delays heartbeats.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(io::Error::other)?
}

/// A whole new machine from a snapshot's bytes, and the batch that makes the disk hold exactly it.
fn prepare_install(
    dir: &DataDir,
    meta: &SnapshotMeta,
    snapshot: &[u8],
) -> io::Result<(Machine, WriteBatch)> {
    let image: StateImage = codec::decode(snapshot)?;
    let state = State::from_image(&image);
    let mut write = WriteBatch::default();
    for cf in TABLE_CFS {
        write.delete_range_cf(dir.cf(cf), &b""[..], KEY_END);
    }
    let everything = state.all_records();
    stage(dir, &state, &everything, &mut write)?;
    let machine = Machine {
        state,
        last_applied: meta.last_log_id,
        membership: meta.last_membership.clone(),
    };
    stage_meta(dir, &mut write, &machine)?;
    write.put_cf(
        dir.cf(CF_SM_META),
        KEY_SNAPSHOT,
        snapshot_blob::encode(meta, snapshot)?,
    );
    Ok((machine, write))
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> io::Result<(Option<LogId>, StoredMembership)> {
        let m = self.shared.read();
        Ok((m.last_applied, m.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> io::Result<()>
    where
        Strm: futures::Stream<Item = io::Result<EntryResponder<TypeConfig>>> + Unpin + OptionalSend,
    {
        // Gather the batch first: the lock is never held across an await.
        let mut batch_entries = Vec::new();
        while let Some(item) = entries.next().await {
            batch_entries.push(item?);
        }
        if batch_entries.is_empty() {
            return Ok(());
        }
        let mut touched = Vec::new();
        let mut events = Vec::new();
        // A restore in this batch: events before it are moot, and readers must start again.
        let mut restored_at = None;
        let mut breaches = 0;
        let mut replies = Vec::with_capacity(batch_entries.len());
        let mut write = WriteBatch::default();
        let dir = &self.shared.dir;
        let limit = self.shared.faults.claim_limit();
        let (indexes, last_index) = {
            let mut m = self.shared.write();
            for (entry, responder) in batch_entries {
                let log_id = entry.log_id();
                let index = log_id.index();
                let response = match entry.payload {
                    EntryPayload::Normal(ref req) => {
                        let from = touched.len();
                        let answer = match responder {
                            Some(_) => Answer::Wanted,
                            None => Answer::Unwanted,
                        };
                        let response = m.state.apply_with(req, index, limit, answer, &mut touched);
                        for breach in m.state.claim_limit_breaches(&touched[from..]) {
                            tracing::error!(index, "claim-limit audit: {breach}");
                            breaches += 1;
                        }
                        if response.result.is_ok() {
                            if matches!(req.command, Command::RestoreTables { .. }) {
                                restored_at = Some(index);
                                events.clear();
                            } else {
                                events.extend(events_of(&req.command, index, &touched[from..]));
                            }
                        }
                        response
                    }
                    EntryPayload::Membership(ref mem) => {
                        m.membership = StoredMembership::new(Some(log_id), mem.clone());
                        CommandResponse {
                            index,
                            table_index: index,
                            result: Ok(Outcome::Done),
                        }
                    }
                    EntryPayload::Blank => CommandResponse {
                        index,
                        table_index: index,
                        result: Ok(Outcome::Done),
                    },
                };
                m.last_applied = Some(log_id);
                replies.push((responder, response));
            }
            // A record touched by several entries of the batch is written once, as it ends up.
            touched.sort_unstable();
            touched.dedup();
            stage(dir, &m.state, &touched, &mut write)?;
            stage_meta(dir, &mut write, &m)?;
            if breaches > 0 {
                let total = self
                    .shared
                    .claim_limit_breaches
                    .fetch_add(breaches, Ordering::SeqCst)
                    + breaches;
                write.put_cf(dir.cf(CF_SM_META), KEY_BREACHES, codec::encode(&total)?);
            }
            // Written before the lock is released, so a reader that sees this state can make it
            // durable (`make_durable`) before answering. Not synced, so a write waits for one
            // fsync (the log's), not two: every entry applied here is committed, so in the
            // synced logs of a majority, and its committed index went to this WAL before this
            // batch. A crash of the machine loses at most the unsynced tail, which openraft
            // re-applies at start-up from the log, or learns again from the leader.
            dir.write_unsynced(write)?;
            (m.state.indexes, m.applied_index())
        };
        let changed: Vec<(&VolumeKey, u64)> = touched
            .iter()
            .filter_map(|t| match t {
                Touched::Volume(k) | Touched::Claim(k, _) => Some((k, last_index)),
                _ => None,
            })
            .collect();
        self.shared.notifier.publish(indexes, changed);
        if let Some(index) = restored_at {
            self.shared.events.gap(index);
        }
        self.shared.events.record(events);
        for (responder, response) in replies {
            if let Some(r) = responder {
                r.send(response);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotData,
    ) -> io::Result<()> {
        let dir = self.shared.dir.clone();
        let meta_owned = meta.clone();
        let (machine, write) =
            blocking(move || prepare_install(&dir, &meta_owned, &snapshot)).await?;
        self.shared.dir.write_synced(write).await?;
        let (indexes, index) = (machine.state.indexes, machine.applied_index());
        *self.shared.write() = machine;
        self.shared.notifier.publish_everything(indexes, index);
        self.shared.events.gap(index);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> io::Result<Option<Snapshot>> {
        let dir = self.shared.dir.clone();
        blocking(move || {
            let Some(bytes) = dir
                .db
                .get_cf(dir.cf(CF_SM_META), KEY_SNAPSHOT)
                .map_err(io::Error::other)?
            else {
                return Ok(None);
            };
            let (meta, snapshot) = snapshot_blob::decode(&bytes)?;
            Ok(Some(Snapshot { meta, snapshot }))
        })
        .await
    }
}

/// When each phase of a snapshot build ended, counted from its start.
#[derive(Default)]
struct BuildTimes {
    locked: Duration,
    copied: Duration,
    encoded: Duration,
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> io::Result<Snapshot> {
        let shared = self.shared.clone();
        let started = Instant::now();
        let (meta, data, stored, took) = blocking(move || {
            let mut took = BuildTimes::default();
            // Tables and position are taken under one read lock, so they describe one moment;
            // the copy of every volume is made after it is released, so applies go on meanwhile.
            let frozen = shared.read().freeze();
            took.locked = started.elapsed();
            let image = frozen.image();
            took.copied = started.elapsed();
            let meta = SnapshotMeta {
                last_log_id: image.last_applied,
                last_membership: image.membership.clone(),
            };
            let data = codec::encode(&image)?;
            let stored = snapshot_blob::encode(&meta, &data)?;
            took.encoded = started.elapsed();
            Ok((meta, data, stored, took))
        })
        .await?;
        let bytes = stored.len();
        let mut write = WriteBatch::default();
        write.put_cf(self.shared.dir.cf(CF_SM_META), KEY_SNAPSHOT, stored);
        self.shared.dir.write_synced(write).await?;
        // Each phase as time since the start, so an operator sees what a snapshot cost and how
        // long it held applies up (the lock).
        tracing::info!(
            index = meta.last_log_id.map_or(0, |l| l.index()),
            bytes,
            lock_ms = took.locked.as_millis() as u64,
            copied_ms = took.copied.as_millis() as u64,
            encoded_ms = took.encoded.as_millis() as u64,
            stored_ms = started.elapsed().as_millis() as u64,
            "snapshot built"
        );
        Ok(Snapshot {
            meta,
            snapshot: data,
        })
    }
}
