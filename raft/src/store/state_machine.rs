//! The persistent state machine: tables in memory for reads, written through to RocksDB in one
//! synced WriteBatch per apply batch together with last-applied and membership.

use super::db::{CF_CLAIMS, CF_NAMESPACES, CF_PLUGINS, CF_SM_META, CF_VOLUMES, DataDir};
use crate::notify::Notifier;
use crate::state::{State, StateImage, TableIndexes, Touched};
use crate::types::{LogId, Snapshot, SnapshotData, SnapshotMeta, StoredMembership, TypeConfig};
use futures::StreamExt;
use openraft::entry::RaftEntry;
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend};
use rocksdb::{IteratorMode, WriteBatch};
use serde::{Deserialize, Serialize};
use std::io;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use stowage_proto::{CommandResponse, Outcome, VolumeKey, codec};

const KEY_APPLIED: &[u8] = b"last_applied";
const KEY_MEMBERSHIP: &[u8] = b"membership";
const KEY_INDEXES: &[u8] = b"table_indexes";
const KEY_SNAPSHOT: &[u8] = b"snapshot";

/// The greatest key any record can have: keys are UTF-8, which never contains 0xff.
const KEY_END: &[u8] = b"\xff";

fn volume_key(k: &VolumeKey) -> Vec<u8> {
    [k.namespace.as_bytes(), b"\0", k.id.as_bytes()].concat()
}

fn claim_key(k: &VolumeKey, alloc: &str) -> Vec<u8> {
    [
        k.namespace.as_bytes(),
        b"\0",
        k.id.as_bytes(),
        b"\0",
        alloc.as_bytes(),
    ]
    .concat()
}

#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

#[derive(Debug)]
struct Applied {
    last: Option<LogId>,
    membership: StoredMembership,
}

/// Shared between openraft's state machine worker, snapshot builders and readers.
#[derive(Debug)]
struct Shared {
    dir: DataDir,
    state: RwLock<State>,
    applied: Mutex<Applied>,
    notifier: Notifier,
}

/// The openraft state machine. Clones share one state.
#[derive(Clone, Debug)]
pub struct StateMachineStore {
    shared: Arc<Shared>,
}

/// A read-only handle on the state machine for readers and blocking queries.
#[derive(Clone, Debug)]
pub struct StateReader {
    shared: Arc<Shared>,
}

impl StateMachineStore {
    /// Loads the persisted state of `dir`.
    pub fn open(dir: DataDir) -> io::Result<Self> {
        let get = |key: &[u8]| -> io::Result<Option<Vec<u8>>> {
            dir.db
                .get_cf(dir.cf(CF_SM_META), key)
                .map_err(io::Error::other)
        };
        let last: Option<LogId> = get(KEY_APPLIED)?
            .map(|b| codec::decode(&b))
            .transpose()?
            .flatten();
        let membership: StoredMembership = get(KEY_MEMBERSHIP)?
            .map(|b| codec::decode(&b))
            .transpose()?
            .unwrap_or_default();
        let indexes: TableIndexes = get(KEY_INDEXES)?
            .map(|b| codec::decode(&b))
            .transpose()?
            .unwrap_or_default();

        let mut state = State {
            indexes,
            ..State::default()
        };
        for v in load_all(&dir, CF_VOLUMES)? {
            let v: stowage_proto::Volume = v;
            state.volumes.insert(v.key(), v);
        }
        for rec in load_all::<crate::state::ClaimRecord>(&dir, CF_CLAIMS)? {
            state
                .claims
                .entry(rec.volume)
                .or_default()
                .insert(rec.claim.allocation_id.clone(), rec.claim);
        }
        for p in load_all::<stowage_proto::Plugin>(&dir, CF_PLUGINS)? {
            state.plugins.insert(p.id.clone(), p);
        }
        for n in load_all::<stowage_proto::Namespace>(&dir, CF_NAMESPACES)? {
            state.namespaces.insert(n.name.clone(), n);
        }
        let notifier = Notifier::new(state.indexes);
        Ok(Self {
            shared: Arc::new(Shared {
                dir,
                state: RwLock::new(state),
                applied: Mutex::new(Applied { last, membership }),
                notifier,
            }),
        })
    }

    pub fn reader(&self) -> StateReader {
        StateReader {
            shared: self.shared.clone(),
        }
    }

    fn applied(&self) -> std::sync::MutexGuard<'_, Applied> {
        self.shared
            .applied
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Puts every touched record's current value (or its absence) into `batch`.
    fn stage(&self, state: &State, touched: &[Touched], batch: &mut WriteBatch) -> io::Result<()> {
        let dir = &self.shared.dir;
        for t in touched {
            match t {
                Touched::Volume(k) => put_or_delete(
                    batch,
                    dir.cf(CF_VOLUMES),
                    volume_key(k),
                    state.volumes.get(k),
                )?,
                Touched::Claim(k, alloc) => {
                    let rec = state.claims.get(k).and_then(|m| m.get(alloc)).map(|c| {
                        crate::state::ClaimRecord {
                            volume: k.clone(),
                            claim: c.clone(),
                        }
                    });
                    put_or_delete(batch, dir.cf(CF_CLAIMS), claim_key(k, alloc), rec.as_ref())?
                }
                Touched::Plugin(id) => put_or_delete(
                    batch,
                    dir.cf(CF_PLUGINS),
                    id.as_bytes().to_vec(),
                    state.plugins.get(id),
                )?,
                Touched::Namespace(n) => put_or_delete(
                    batch,
                    dir.cf(CF_NAMESPACES),
                    n.as_bytes().to_vec(),
                    state.namespaces.get(n),
                )?,
            }
        }
        Ok(())
    }

    fn stage_meta(
        &self,
        batch: &mut WriteBatch,
        applied: &Applied,
        indexes: &TableIndexes,
    ) -> io::Result<()> {
        let cf = self.shared.dir.cf(CF_SM_META);
        batch.put_cf(cf, KEY_APPLIED, codec::encode(&applied.last)?);
        batch.put_cf(cf, KEY_MEMBERSHIP, codec::encode(&applied.membership)?);
        batch.put_cf(cf, KEY_INDEXES, codec::encode(indexes)?);
        Ok(())
    }
}

fn put_or_delete<T: Serialize>(
    batch: &mut WriteBatch,
    cf: &rocksdb::ColumnFamily,
    key: Vec<u8>,
    value: Option<&T>,
) -> io::Result<()> {
    match value {
        Some(v) => batch.put_cf(cf, key, codec::encode(v)?),
        None => batch.delete_cf(cf, key),
    }
    Ok(())
}

fn load_all<T: serde::de::DeserializeOwned>(dir: &DataDir, cf: &str) -> io::Result<Vec<T>> {
    dir.db
        .iterator_cf(dir.cf(cf), IteratorMode::Start)
        .map(|item| {
            let (_, value) = item.map_err(io::Error::other)?;
            Ok(codec::decode(&value)?)
        })
        .collect()
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> io::Result<(Option<LogId>, StoredMembership)> {
        let a = self.applied();
        Ok((a.last, a.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> io::Result<()>
    where
        Strm: futures::Stream<Item = io::Result<EntryResponder<TypeConfig>>> + Unpin + OptionalSend,
    {
        // Gather the batch first: the state lock is never held across an await.
        let mut batch_entries = Vec::new();
        while let Some(item) = entries.next().await {
            batch_entries.push(item?);
        }
        if batch_entries.is_empty() {
            return Ok(());
        }
        let mut touched = Vec::new();
        let mut replies = Vec::with_capacity(batch_entries.len());
        let mut write = WriteBatch::default();
        let (indexes, last_index) = {
            let mut state = self.shared.state.write().unwrap_or_else(|p| p.into_inner());
            let mut applied = self.applied();
            for (entry, responder) in batch_entries {
                let log_id = entry.log_id();
                let index = log_id.index();
                let response = match entry.payload {
                    EntryPayload::Normal(ref req) => state.apply(req, index, &mut touched),
                    EntryPayload::Membership(ref m) => {
                        applied.membership = StoredMembership::new(Some(log_id), m.clone());
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
                applied.last = Some(log_id);
                replies.push((responder, response));
            }
            self.stage(&state, &touched, &mut write)?;
            self.stage_meta(&mut write, &applied, &state.indexes)?;
            (
                state.indexes,
                applied.last.as_ref().map_or(0, |l| l.index()),
            )
        };
        self.shared.dir.write_acked(write).await?;
        let changed: Vec<(&VolumeKey, u64)> = touched
            .iter()
            .filter_map(|t| match t {
                Touched::Volume(k) | Touched::Claim(k, _) => Some((k, last_index)),
                _ => None,
            })
            .collect();
        self.shared.notifier.publish(indexes, changed);
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
        let image: StateImage = codec::decode(&snapshot)?;
        let new_state = State::from_image(&image);
        let dir = &self.shared.dir;
        let mut write = WriteBatch::default();
        for cf in [CF_VOLUMES, CF_CLAIMS, CF_PLUGINS, CF_NAMESPACES] {
            write.delete_range_cf(dir.cf(cf), &b""[..], KEY_END);
        }
        let everything: Vec<Touched> = new_state
            .volumes
            .keys()
            .map(|k| Touched::Volume(k.clone()))
            .chain(
                new_state
                    .claims
                    .iter()
                    .flat_map(|(k, m)| m.keys().map(|a| Touched::Claim(k.clone(), a.clone()))),
            )
            .chain(new_state.plugins.keys().map(|p| Touched::Plugin(p.clone())))
            .chain(
                new_state
                    .namespaces
                    .keys()
                    .map(|n| Touched::Namespace(n.clone())),
            )
            .collect();
        self.stage(&new_state, &everything, &mut write)?;
        let applied = Applied {
            last: meta.last_log_id,
            membership: meta.last_membership.clone(),
        };
        self.stage_meta(&mut write, &applied, &new_state.indexes)?;
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: snapshot,
        };
        write.put_cf(dir.cf(CF_SM_META), KEY_SNAPSHOT, codec::encode(&stored)?);
        dir.write_synced(write).await?;

        let indexes = new_state.indexes;
        let index = applied.last.as_ref().map_or(0, |l| l.index());
        *self.shared.state.write().unwrap_or_else(|p| p.into_inner()) = new_state;
        *self.applied() = applied;
        self.shared.notifier.publish_everything(indexes, index);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> io::Result<Option<Snapshot>> {
        let dir = &self.shared.dir;
        let Some(bytes) = dir
            .db
            .get_cf(dir.cf(CF_SM_META), KEY_SNAPSHOT)
            .map_err(io::Error::other)?
        else {
            return Ok(None);
        };
        let stored: StoredSnapshot = codec::decode(&bytes)?;
        Ok(Some(Snapshot {
            meta: stored.meta,
            snapshot: stored.data,
        }))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> io::Result<Snapshot> {
        // State and applied position are read under the state lock, so they describe one moment.
        let image = {
            let state = self.shared.state.read().unwrap_or_else(|p| p.into_inner());
            let a = self.applied();
            state.image(a.last, a.membership.clone())
        };
        let meta = SnapshotMeta {
            last_log_id: image.last_applied,
            last_membership: image.membership.clone(),
        };
        let data = codec::encode(&image)?;
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        let mut write = WriteBatch::default();
        write.put_cf(
            self.shared.dir.cf(CF_SM_META),
            KEY_SNAPSHOT,
            codec::encode(&stored)?,
        );
        self.shared.dir.write_synced(write).await?;
        Ok(Snapshot {
            meta,
            snapshot: stored.data,
        })
    }
}

impl StateReader {
    /// Reads the state under a short lock; never await while holding the guard.
    pub fn state(&self) -> RwLockReadGuard<'_, State> {
        self.shared.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// A hash of every table and the applied index it describes, taken at one moment.
    pub fn digest(&self) -> (u64, u64) {
        use std::hash::{Hash, Hasher};
        let state = self.state();
        let index = self.last_applied_index();
        let image = state.image(None, StoredMembership::default());
        let mut h = std::hash::DefaultHasher::new();
        codec::encode(&image).unwrap_or_default().hash(&mut h);
        (index, h.finish())
    }

    pub fn last_applied_index(&self) -> u64 {
        let a = self
            .shared
            .applied
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        a.last.as_ref().map_or(0, |l| l.index())
    }

    pub fn subscribe_tables(&self) -> tokio::sync::watch::Receiver<TableIndexes> {
        self.shared.notifier.subscribe_tables()
    }

    /// Subscribes to changes of one volume; the value is the index of its last change.
    pub fn subscribe_volume(&self, key: &VolumeKey) -> tokio::sync::watch::Receiver<u64> {
        self.shared.notifier.subscribe_volume(key, || {
            self.state().volumes.get(key).map_or(0, |v| v.modify_index)
        })
    }

    /// Waits until `pick(table indexes)` exceeds `above` or the deadline passes; returns the
    /// indexes seen last.
    pub async fn wait_tables(
        &self,
        pick: impl Fn(&TableIndexes) -> u64,
        above: u64,
        deadline: tokio::time::Instant,
    ) -> TableIndexes {
        let mut rx = self.subscribe_tables();
        loop {
            let now = *rx.borrow_and_update();
            if pick(&now) > above {
                return now;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return now,
            }
        }
    }

    /// Waits until what `watch` names changed after `after`, or the deadline; returns the change
    /// index seen last.
    pub async fn wait(
        &self,
        watch: &stowage_proto::Watch,
        after: u64,
        deadline: tokio::time::Instant,
    ) -> u64 {
        use stowage_proto::Watch;
        match watch {
            Watch::Volumes => {
                self.wait_tables(|t| t.volumes, after, deadline)
                    .await
                    .volumes
            }
            Watch::Plugins => {
                self.wait_tables(|t| t.plugins, after, deadline)
                    .await
                    .plugins
            }
            Watch::Volume(key) => self.wait_volume(key, after, deadline).await,
        }
    }

    /// Waits until the volume changed after `after`, or the deadline; returns its change index.
    pub async fn wait_volume(
        &self,
        key: &VolumeKey,
        after: u64,
        deadline: tokio::time::Instant,
    ) -> u64 {
        let mut rx = self.subscribe_volume(key);
        loop {
            let now = *rx.borrow_and_update();
            if now > after {
                return now;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return now,
            }
        }
    }
}
