//! Applying volume registration and deregistration: Nomad's rules re-checked against the state
//! the command actually applies to, all-or-nothing for a multi-volume register.

use super::apply::{Answer, Touched};
use super::tables::State;
use stowage_proto::rules::merge_update;
use stowage_proto::{ClaimState, DomainError, Outcome, Topology, Volume, VolumeKey};

impl State {
    pub(super) fn register_volumes(
        &mut self,
        submitted: &[Volume],
        cas: Option<u64>,
        (index, now): (u64, i64),
        answer: Answer,
        touched: &mut Vec<Touched>,
    ) -> Result<Outcome, DomainError> {
        // Decide every volume before changing any, so a refusal leaves the state untouched.
        let mut decided = Vec::with_capacity(submitted.len());
        let mut warnings = Vec::new();
        for v in submitted {
            let (volume, warning) = self.decide_register(v, cas, index, now)?;
            decided.push(volume);
            warnings.extend(warning);
        }
        // A register changes no claim, plugin or history, which is all a detail reads besides
        // the volume itself.
        let volumes = match answer {
            Answer::Wanted => Some(decided.iter().map(|v| self.detail(v)).collect()),
            Answer::Unwanted => None,
        };
        for v in decided {
            touched.push(Touched::Volume(v.key()));
            self.volumes.insert(v);
        }
        self.indexes.volumes = index;
        Ok(
            volumes.map_or(Outcome::Done, |volumes| Outcome::Registered {
                volumes,
                warnings,
            }),
        )
    }

    fn decide_register(
        &self,
        submitted: &Volume,
        cas: Option<u64>,
        index: u64,
        now: i64,
    ) -> Result<(Volume, Option<String>), DomainError> {
        let key = submitted.key();
        if !self.namespaces.contains_key(&key.namespace) {
            return Err(DomainError::NamespaceMissing {
                id: key.id,
                namespace: key.namespace,
            });
        }
        let existing = self.volumes.get(&key);
        match (cas, existing) {
            (Some(0), Some(_)) => return Err(DomainError::AlreadyExists { id: key.id }),
            (Some(expected), Some(v)) if expected != v.modify_index => {
                return Err(DomainError::IndexMismatch {
                    id: key.id,
                    expected,
                    current: v.modify_index,
                });
            }
            (Some(expected), None) if expected != 0 => {
                return Err(DomainError::IndexMismatch {
                    id: key.id,
                    expected,
                    current: 0,
                });
            }
            _ => {}
        }
        let mut volume = match existing {
            Some(stored) => {
                let in_use = self.claims_of(&key).next().is_some();
                let mut merged = merge_update(stored, submitted, in_use).map_err(|e| {
                    DomainError::UpdateRefused {
                        id: key.id.clone(),
                        detail: e.to_string(),
                    }
                })?;
                merged.modify_time = now;
                merged
            }
            None => {
                let mut v = submitted.clone();
                // The history is written by claims alone.
                v.claim_history.clear();
                if v.topologies.is_empty()
                    && let Some(required) = v
                        .requested_topologies
                        .as_ref()
                        .and_then(|r| r.required.as_ref())
                {
                    v.topologies = required
                        .iter()
                        .flatten()
                        .cloned()
                        .collect::<Vec<Topology>>();
                }
                v.create_index = index;
                v.create_time = now;
                v.modify_time = now;
                v
            }
        };
        volume.modify_index = index;
        let warning = match self.plugins.get(&volume.plugin_id) {
            Some(p) => {
                volume.provider = p.provider.clone();
                volume.provider_version = p.version.clone();
                volume.controller_required = p.controller_required;
                (p.controller_required && p.controllers_healthy < 1).then(|| {
                    format!(
                        "no healthy controllers for CSI plugin: {}; volume {} is registered but not schedulable yet",
                        volume.plugin_id, volume.id
                    )
                })
            }
            None => Some(format!(
                "no CSI plugin named: {} could be found; volume {} is registered but not schedulable until the plugin reports healthy nodes",
                volume.plugin_id, volume.id
            )),
        };
        Ok((volume, warning))
    }

    pub(super) fn deregister_volume(
        &mut self,
        key: &VolumeKey,
        force: bool,
        cas: Option<u64>,
        index: u64,
        touched: &mut Vec<Touched>,
    ) -> Result<Outcome, DomainError> {
        let Some(current) = self.volumes.get(key).map(|v| v.modify_index) else {
            return Err(DomainError::VolumeNotFound { id: key.id.clone() });
        };
        if let Some(expected) = cas
            && expected != current
        {
            return Err(DomainError::IndexMismatch {
                id: key.id.clone(),
                expected,
                current,
            });
        }
        let in_use = self.claims_of(key).next().is_some();
        // Force may drop claims that are already being released, never a taken one.
        let blocked = if force {
            self.claims_of(key).any(|c| c.state == ClaimState::Taken)
        } else {
            in_use
        };
        if blocked {
            return Err(DomainError::VolumeInUse { id: key.id.clone() });
        }
        self.volumes.remove(key);
        self.drop_history(key, touched);
        if let Some(claims) = self.claims.remove(key) {
            touched.extend(
                claims
                    .into_keys()
                    .map(|alloc| Touched::Claim(key.clone(), alloc)),
            );
        }
        self.indexes.volumes = index;
        touched.push(Touched::Volume(key.clone()));
        Ok(Outcome::Done)
    }
}
