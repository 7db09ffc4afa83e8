//! Reading the state machine back from disk at start-up, with the one change of record layout
//! so far: volume records written before the claim history had records of its own carry the
//! history inside the volume, and it is moved out, on disk too.

use super::db::{
    CF_ACL_POLICIES, CF_ACL_TOKENS, CF_CLAIM_HISTORY, CF_CLAIMS, CF_NAMESPACES, CF_PLUGINS,
    CF_SM_META, CF_VOLUMES, DataDir,
};
use super::records::{KEY_ACL_BOOTSTRAP, load_all, stage};
use crate::state::{AclTables, ClaimRecord, HistoryRecord, State, TableIndexes, Touched};
use crate::types::{LogId, StoredMembership};
use rocksdb::WriteBatch;
use std::io;
use stowage_proto::acl::{AclPolicy, AclToken};
use stowage_proto::{Namespace, Plugin, Volume, VolumeKey, codec};

pub(super) const KEY_APPLIED: &[u8] = b"last_applied";
pub(super) const KEY_MEMBERSHIP: &[u8] = b"membership";
pub(super) const KEY_INDEXES: &[u8] = b"table_indexes";
pub(super) const KEY_BREACHES: &[u8] = b"claim_limit_breaches";

/// What a node's disk says the state machine holds.
pub(super) struct Loaded {
    pub(super) state: State,
    pub(super) last_applied: Option<LogId>,
    pub(super) membership: StoredMembership,
    pub(super) breaches: u64,
}

fn meta<T: serde::de::DeserializeOwned>(dir: &DataDir, key: &[u8]) -> io::Result<Option<T>> {
    let bytes = dir
        .db
        .get_cf(dir.cf(CF_SM_META), key)
        .map_err(io::Error::other)?;
    Ok(bytes.map(|b| codec::decode(&b)).transpose()?)
}

/// Loads every table and the applied position of `dir`.
pub(super) fn load(dir: &DataDir) -> io::Result<Loaded> {
    let last_applied: Option<LogId> = meta::<Option<LogId>>(dir, KEY_APPLIED)?.flatten();
    let membership: StoredMembership = meta(dir, KEY_MEMBERSHIP)?.unwrap_or_default();
    let indexes: TableIndexes = meta(dir, KEY_INDEXES)?.unwrap_or_default();
    let breaches: u64 = meta(dir, KEY_BREACHES)?.unwrap_or_default();
    let mut state = State {
        indexes,
        ..State::default()
    };
    let mut moved = Vec::new();
    for v in load_all::<Volume>(dir, CF_VOLUMES)? {
        let key = v.key();
        if state.insert_whole(v) {
            moved.push(key);
        }
    }
    // Key order is index order within a volume, so each history comes back oldest first.
    for rec in load_all::<HistoryRecord>(dir, CF_CLAIM_HISTORY)? {
        state
            .history
            .entry(rec.volume)
            .or_default()
            .extend(rec.events);
    }
    for rec in load_all::<ClaimRecord>(dir, CF_CLAIMS)? {
        state
            .claims
            .entry(rec.volume)
            .or_default()
            .insert(rec.claim.allocation_id.clone(), rec.claim);
    }
    for p in load_all::<Plugin>(dir, CF_PLUGINS)? {
        state.plugins.insert(p.id.clone(), p);
    }
    for n in load_all::<Namespace>(dir, CF_NAMESPACES)? {
        state.namespaces.insert(n.name.clone(), n);
    }
    state.acl = AclTables::from_parts(
        load_all::<AclPolicy>(dir, CF_ACL_POLICIES)?,
        load_all::<AclToken>(dir, CF_ACL_TOKENS)?,
        meta(dir, KEY_ACL_BOOTSTRAP)?,
    );
    move_histories_out(dir, &state, moved)?;
    Ok(Loaded {
        state,
        last_applied,
        membership,
        breaches,
    })
}

/// Gives histories found inside volume records their own records, and rewrites those volumes
/// without them, in one batch: the next claim rewrites the volume without its history and adds
/// only its own event, so a history left inside the volume would be lost then. The batch is
/// atomic, so a crash leaves either the old layout (moved again at the next start) or the new.
fn move_histories_out(dir: &DataDir, state: &State, moved: Vec<VolumeKey>) -> io::Result<()> {
    if moved.is_empty() {
        return Ok(());
    }
    let mut touched = Vec::new();
    for key in moved {
        let indexes = state.history_of(&key).iter().map(|e| e.index);
        touched.extend(indexes.map(|index| Touched::History(key.clone(), index)));
        touched.push(Touched::Volume(key));
    }
    touched.dedup();
    let mut batch = WriteBatch::default();
    stage(dir, state, &touched, &mut batch)?;
    dir.write_unsynced(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::TestFaults;
    use crate::state::fixtures::{apply, claim, claimable, claimed_key};
    use stowage_proto::{AccessMode, ClaimEvent, ClaimMode, ClaimState, Command};

    fn open(path: &std::path::Path) -> DataDir {
        DataDir::open(path, 1, TestFaults::default()).expect("open")
    }

    /// Writes what `touched` names, as the state machine does after an apply.
    fn persist(dir: &DataDir, state: &State, touched: &[Touched]) {
        let mut batch = WriteBatch::default();
        stage(dir, state, touched, &mut batch).expect("stage");
        dir.write_unsynced(batch).expect("write");
    }

    #[test]
    fn claim_histories_come_back_from_their_own_records() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = open(tmp.path());
        let access = AccessMode::MultiNodeMultiWriter;
        let mut state = claimable(access);
        persist(&dir, &state, &state.all_records());
        // Past the bound, so records are dropped as well as added; a detach adds two at once.
        let mut index = 3;
        for round in 0..ClaimEvent::KEEP {
            for node in ["n1", "n2"] {
                let alloc = format!("{node}-{round}");
                let taken = claim(&alloc, node, ClaimMode::Write, access, ClaimState::Taken);
                let touched = apply(&mut state, taken, index);
                persist(&dir, &state, &touched);
                index += 1;
            }
            let detach = Command::DetachNode {
                namespace: "default".into(),
                volume_id: "v".into(),
                node_id: if round % 2 == 0 { "n1" } else { "n2" }.into(),
            };
            let touched = apply(&mut state, detach, index);
            persist(&dir, &state, &touched);
            index += 1;
        }
        assert_eq!(state.history_of(&claimed_key()).len(), ClaimEvent::KEEP);
        let loaded = load(&dir).expect("load");
        assert_eq!(loaded.state.history, state.history);
        assert_eq!(
            loaded.state,
            State {
                indexes: loaded.state.indexes,
                ..state
            }
        );
    }

    #[test]
    fn a_history_inside_an_old_volume_record_is_moved_to_records_of_its_own() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = open(tmp.path());
        let event = |index| ClaimEvent {
            index,
            time: 7,
            allocation_id: format!("a{index}"),
            node_id: "n".into(),
            mode: ClaimMode::Read,
            action: stowage_proto::ClaimAction::Claimed,
            state: ClaimState::Taken,
        };
        let old = Volume {
            id: "v".into(),
            namespace: "default".into(),
            plugin_id: "p".into(),
            claim_history: vec![event(3), event(4)],
            ..Default::default()
        };
        // The layout before: the history inside the volume's record.
        let record_key = b"default\0v";
        let bytes = codec::encode(&old).expect("encode");
        let cf = dir.cf(CF_VOLUMES);
        dir.db.put_cf(cf, record_key, bytes).expect("put");

        let first = load(&dir).expect("load");
        let key = old.key();
        assert_eq!(first.state.history_of(&key), old.claim_history);
        assert!(first.state.volumes[&key].claim_history.is_empty());
        // Moved on disk too: the volume's record lost it, and the next load finds it anyway.
        let stored = dir.db.get_cf(cf, record_key).expect("get").expect("record");
        let stored: Volume = codec::decode(&stored).expect("decode");
        assert!(stored.claim_history.is_empty());
        let second = load(&dir).expect("load");
        assert_eq!(second.state.history_of(&key), old.claim_history);
        assert_eq!(second.state, first.state);
    }
}
