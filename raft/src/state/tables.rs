//! The in-memory tables of the state machine and their snapshot image.

use super::acl::AclTables;
use super::volume_table::VolumeTable;
use crate::types::{LogId, StoredMembership};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
pub use stowage_proto::ClaimRecord;
use stowage_proto::acl::{AclPolicy, AclToken};
use stowage_proto::api::VolumeRef;
use stowage_proto::{Claim, ClaimEvent, Namespace, Plugin, Volume, VolumeKey};

/// The highest log index that changed each table; Nomad's `X-Nomad-Index` for reads. Claim
/// writes count as volume-table writes, as in Nomad.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TableIndexes {
    pub volumes: u64,
    pub plugins: u64,
    pub namespaces: u64,
    pub acl_policies: u64,
    pub acl_tokens: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub volumes: VolumeTable,
    /// Claims per volume, keyed by allocation ID.
    pub claims: BTreeMap<VolumeKey, BTreeMap<String, Claim>>,
    /// Each volume's claim history, oldest first (see `history`).
    pub history: BTreeMap<VolumeKey, Vec<ClaimEvent>>,
    pub plugins: BTreeMap<String, Plugin>,
    pub namespaces: BTreeMap<String, Namespace>,
    pub acl: AclTables,
    pub indexes: TableIndexes,
}

impl Default for State {
    /// An empty cluster, which already has the `default` namespace.
    fn default() -> Self {
        let default_ns = Namespace {
            name: Namespace::DEFAULT.to_string(),
            description: "Default shared namespace".to_string(),
            meta: None,
            create_index: 0,
            modify_index: 0,
        };
        State {
            volumes: VolumeTable::default(),
            claims: BTreeMap::new(),
            history: BTreeMap::new(),
            plugins: BTreeMap::new(),
            namespaces: BTreeMap::from([(default_ns.name.clone(), default_ns)]),
            acl: AclTables::default(),
            indexes: TableIndexes::default(),
        }
    }
}

/// Everything a snapshot holds: the tables plus the Raft position they correspond to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateImage {
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
    pub indexes: TableIndexes,
    pub volumes: Vec<Volume>,
    pub claims: Vec<ClaimRecord>,
    pub plugins: Vec<Plugin>,
    pub namespaces: Vec<Namespace>,
    #[serde(default)]
    pub acl_policies: Vec<AclPolicy>,
    #[serde(default)]
    pub acl_tokens: Vec<AclToken>,
    #[serde(default)]
    pub acl_bootstrap: Option<u64>,
}

/// The tables at one moment, taken under the state lock: volumes shared (a pointer each), the
/// rest copied. The snapshot image, which copies every volume with its history, is built from it
/// once the lock is released.
pub struct Frozen {
    volumes: Vec<Arc<Volume>>,
    history: BTreeMap<VolumeKey, Vec<ClaimEvent>>,
    /// Everything but the volumes, already as the image holds it.
    rest: StateImage,
}

impl Frozen {
    pub fn image(self) -> StateImage {
        let history = self.history;
        let volumes = self
            .volumes
            .iter()
            .map(|v| whole(v, history.get(&v.key()).map_or(&[], Vec::as_slice)))
            .collect();
        StateImage {
            volumes,
            ..self.rest
        }
    }
}

/// A copy of the stored volume `v` with its claim history in it, as it leaves the tables.
fn whole(v: &Volume, history: &[ClaimEvent]) -> Volume {
    Volume {
        claim_history: history.to_vec(),
        ..v.clone()
    }
}

impl State {
    pub fn image(&self, last_applied: Option<LogId>, membership: StoredMembership) -> StateImage {
        self.freeze(last_applied, membership).image()
    }

    /// The tables as they are now, cheap enough to take under the state lock (see `Frozen`).
    pub fn freeze(&self, last_applied: Option<LogId>, membership: StoredMembership) -> Frozen {
        Frozen {
            volumes: self.volumes.shared(),
            history: self.history.clone(),
            rest: StateImage {
                last_applied,
                membership,
                indexes: self.indexes,
                volumes: Vec::new(),
                claims: self
                    .claims
                    .iter()
                    .flat_map(|(key, claims)| {
                        claims.values().map(|c| ClaimRecord {
                            volume: key.clone(),
                            claim: c.clone(),
                        })
                    })
                    .collect(),
                plugins: self.plugins.values().cloned().collect(),
                namespaces: self.namespaces.values().cloned().collect(),
                acl_policies: self.acl.policies.values().cloned().collect(),
                acl_tokens: self.acl.tokens().cloned().collect(),
                acl_bootstrap: self.acl.bootstrap_index,
            },
        }
    }

    pub fn from_image(image: &StateImage) -> State {
        let mut claims: BTreeMap<VolumeKey, BTreeMap<String, Claim>> = BTreeMap::new();
        for rec in &image.claims {
            claims
                .entry(rec.volume.clone())
                .or_default()
                .insert(rec.claim.allocation_id.clone(), rec.claim.clone());
        }
        let mut state = State {
            volumes: VolumeTable::default(),
            claims,
            history: BTreeMap::new(),
            plugins: image
                .plugins
                .iter()
                .map(|p| (p.id.clone(), p.clone()))
                .collect(),
            namespaces: image
                .namespaces
                .iter()
                .map(|n| (n.name.clone(), n.clone()))
                .collect(),
            acl: AclTables::from_parts(
                image.acl_policies.iter().cloned(),
                image.acl_tokens.iter().cloned(),
                image.acl_bootstrap,
            ),
            indexes: image.indexes,
        };
        for v in &image.volumes {
            state.insert_whole(v.clone());
        }
        state
    }

    /// Puts a volume that carries its claim history (from an image, or a record written before
    /// the history had its own) into the tables, its history into the history table. Returns
    /// whether it carried any.
    pub(crate) fn insert_whole(&mut self, mut volume: Volume) -> bool {
        let mut events = std::mem::take(&mut volume.claim_history);
        let carried = !events.is_empty();
        if carried {
            // Index order, whatever order an archive listed them in, so that every node and
            // every reload (which reads them back by index) holds the same history.
            events.sort_by_key(|e| e.index);
            self.history.insert(volume.key(), events);
        }
        self.volumes.insert(volume);
        carried
    }

    pub fn detail(&self, v: &Volume) -> stowage_proto::VolumeDetail {
        stowage_proto::VolumeDetail {
            volume: whole(v, self.history_of(&v.key())),
            claims: self.claims.get(&v.key()).cloned().unwrap_or_default(),
            plugin: self.plugins.get(&v.plugin_id).cloned(),
        }
    }

    pub fn claims_of(&self, key: &VolumeKey) -> impl Iterator<Item = &Claim> {
        self.claims.get(key).into_iter().flat_map(|m| m.values())
    }

    /// The volume stored under `key`, with its claims and plugin, borrowed.
    pub fn volume_ref(&self, key: &VolumeKey) -> Option<VolumeRef<'_>> {
        let (key, volume) = self.volumes.get_key_value(key)?;
        Some(self.volume_ref_at(key, volume))
    }

    pub(super) fn volume_ref_at<'a>(
        &'a self,
        key: &VolumeKey,
        volume: &'a Volume,
    ) -> VolumeRef<'a> {
        VolumeRef {
            volume,
            claims: self.claims.get(key),
            plugin: self.plugins.get(&volume.plugin_id),
            history: self.history_of(key),
        }
    }
}
