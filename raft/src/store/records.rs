//! How each table's records are keyed on disk, and how the records an apply touched are put
//! into (or deleted from) a write batch.

use super::db::{
    CF_ACL_POLICIES, CF_ACL_TOKENS, CF_CLAIM_HISTORY, CF_CLAIMS, CF_NAMESPACES, CF_PLUGINS,
    CF_SM_META, CF_VOLUMES, DataDir,
};
use crate::state::{ClaimRecord, State, Touched};
use rocksdb::{IteratorMode, WriteBatch};
use serde::Serialize;
use std::io;
use stowage_proto::{VolumeKey, codec};

pub(super) const KEY_ACL_BOOTSTRAP: &[u8] = b"acl_bootstrap";

fn volume_key(k: &VolumeKey) -> Vec<u8> {
    [k.namespace.as_bytes(), b"\0", k.id.as_bytes()].concat()
}

fn claim_key(k: &VolumeKey, alloc: &str) -> Vec<u8> {
    [volume_key(k).as_slice(), b"\0", alloc.as_bytes()].concat()
}

/// Big-endian, so that a volume's history records sort by index, oldest first.
fn history_key(k: &VolumeKey, index: u64) -> Vec<u8> {
    [volume_key(k).as_slice(), b"\0", &index.to_be_bytes()].concat()
}

/// Puts every touched record's current value (or its absence) into `batch`.
pub(super) fn stage(
    dir: &DataDir,
    state: &State,
    touched: &[Touched],
    batch: &mut WriteBatch,
) -> io::Result<()> {
    for t in touched {
        match t {
            Touched::Volume(k) => put_or_delete(
                batch,
                dir.cf(CF_VOLUMES),
                volume_key(k),
                state.volumes.get(k),
            )?,
            Touched::Claim(k, alloc) => {
                let rec = state
                    .claims
                    .get(k)
                    .and_then(|m| m.get(alloc))
                    .map(|c| ClaimRecord {
                        volume: k.clone(),
                        claim: c.clone(),
                    });
                put_or_delete(batch, dir.cf(CF_CLAIMS), claim_key(k, alloc), rec.as_ref())?
            }
            Touched::History(k, index) => put_or_delete(
                batch,
                dir.cf(CF_CLAIM_HISTORY),
                history_key(k, *index),
                state.history_record(k, *index).as_ref(),
            )?,
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
            Touched::AclPolicy(name) => put_or_delete(
                batch,
                dir.cf(CF_ACL_POLICIES),
                name.as_bytes().to_vec(),
                state.acl.policies.get(name),
            )?,
            Touched::AclToken(accessor) => put_or_delete(
                batch,
                dir.cf(CF_ACL_TOKENS),
                accessor.as_bytes().to_vec(),
                state.acl.token(accessor),
            )?,
            Touched::AclBootstrap => put_or_delete(
                batch,
                dir.cf(CF_SM_META),
                KEY_ACL_BOOTSTRAP.to_vec(),
                state.acl.bootstrap_index.as_ref(),
            )?,
        }
    }
    Ok(())
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

/// Every record of one column family, decoded, in key order.
pub(super) fn load_all<T: serde::de::DeserializeOwned>(
    dir: &DataDir,
    cf: &str,
) -> io::Result<Vec<T>> {
    dir.db
        .iterator_cf(dir.cf(cf), IteratorMode::Start)
        .map(|item| {
            let (_, value) = item.map_err(io::Error::other)?;
            Ok(codec::decode(&value)?)
        })
        .collect()
}
