//! Applying claims and detaches: Nomad's claim rules run here, inside apply, against the state the
//! command applies to, so two racing claims can never both win a single-writer volume.

use super::apply::{Answer, Touched};
use super::tables::State;
use std::collections::BTreeMap;
use stowage_proto::rules::{ClaimEffect, ClaimLimit, ClaimRequest, apply_claim};
use stowage_proto::{
    AccessMode, AttachmentMode, Claim, ClaimAction, ClaimEvent, ClaimState, DomainError, Outcome,
    Volume, VolumeKey,
};

fn touched_claims(
    key: &VolumeKey,
    before: &BTreeMap<String, Claim>,
    after: &BTreeMap<String, Claim>,
) -> Vec<Touched> {
    before
        .keys()
        .chain(after.keys())
        .filter(|alloc| before.get(*alloc) != after.get(*alloc))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|alloc| Touched::Claim(key.clone(), alloc.clone()))
        .collect()
}

impl State {
    fn put_claims(&mut self, key: &VolumeKey, claims: BTreeMap<String, Claim>) {
        if claims.is_empty() {
            self.claims.remove(key);
        } else {
            self.claims.insert(key.clone(), claims);
        }
    }

    /// Takes, advances or releases one claim at log position `(index, now)`.
    pub(super) fn claim(
        &mut self,
        key: &VolumeKey,
        req: &ClaimRequest,
        cas: Option<u64>,
        (index, now): (u64, i64),
        (limit, answer): (ClaimLimit, Answer),
        touched: &mut Vec<Touched>,
    ) -> Result<Outcome, DomainError> {
        let Some(stored) = self.volumes.get(key) else {
            return Err(DomainError::VolumeNotFound { id: key.id.clone() });
        };
        if let Some(expected) = cas
            && expected != stored.modify_index
        {
            return Err(DomainError::IndexMismatch {
                id: key.id.clone(),
                expected,
                current: stored.modify_index,
            });
        }
        let schedulable = self
            .plugins
            .get(&stored.plugin_id)
            .is_some_and(|p| p.schedulable());
        let mut volume = Volume::clone(stored);
        let before = self.claims.get(key).cloned().unwrap_or_default();
        let mut claims = before.clone();
        let effect = apply_claim(&mut volume, &mut claims, schedulable, req, now, limit).map_err(
            |reason| DomainError::ClaimRefused {
                alloc: req.allocation_id.clone(),
                id: key.id.clone(),
                reason,
            },
        )?;
        let (action, state) = match effect {
            ClaimEffect::Unchanged => {
                return Ok(self.claim_answer(&volume, false, answer));
            }
            ClaimEffect::Claimed => (ClaimAction::Claimed, ClaimState::Taken),
            ClaimEffect::Released(s) => (ClaimAction::Released, s),
            ClaimEffect::Freed => (ClaimAction::Freed, ClaimState::ReadyToFree),
        };
        let event = ClaimEvent {
            index,
            time: now,
            allocation_id: req.allocation_id.clone(),
            node_id: req.node_id.clone(),
            mode: req.mode,
            action,
            state,
        };
        self.record_claim_event(key, event, touched);
        volume.modify_index = index;
        volume.modify_time = now;
        touched.extend(touched_claims(key, &before, &claims));
        touched.push(Touched::Volume(key.clone()));
        self.put_claims(key, claims);
        let outcome = self.claim_answer(&volume, true, answer);
        self.volumes.insert(volume);
        self.indexes.volumes = index;
        Ok(outcome)
    }

    /// The answer to a claim that leaves `volume` as it is now stored (its claims and history
    /// already written), if anyone wants it.
    fn claim_answer(&self, volume: &Volume, changed: bool, answer: Answer) -> Outcome {
        match answer {
            Answer::Wanted => Outcome::Claimed {
                volume: Box::new(self.detail(volume)),
                changed,
            },
            Answer::Unwanted => Outcome::Done,
        }
    }

    /// Frees every claim `node` holds on the volume, in this one write: the operator's word that
    /// the node no longer uses it.
    pub(super) fn detach(
        &mut self,
        key: &VolumeKey,
        node: &str,
        index: u64,
        now: i64,
        touched: &mut Vec<Touched>,
    ) -> Result<Outcome, DomainError> {
        let Some(stored) = self.volumes.get(key) else {
            return Err(DomainError::NoSuchVolume { id: key.id.clone() });
        };
        let mut volume = Volume::clone(stored);
        let before = self.claims.get(key).cloned().unwrap_or_default();
        let (gone, kept): (BTreeMap<_, _>, BTreeMap<_, _>) = before
            .clone()
            .into_iter()
            .partition(|(_, c)| c.node_id == node);
        if gone.is_empty() {
            return Ok(Outcome::Done);
        }
        for c in gone.values() {
            let event = ClaimEvent {
                index,
                time: now,
                allocation_id: c.allocation_id.clone(),
                node_id: c.node_id.clone(),
                mode: c.mode,
                action: ClaimAction::Detached,
                state: c.state,
            };
            self.record_claim_event(key, event, touched);
        }
        if kept.is_empty() {
            volume.access_mode = AccessMode::Unset;
            volume.attachment_mode = AttachmentMode::Unset;
        }
        volume.modify_index = index;
        volume.modify_time = now;
        touched.extend(touched_claims(key, &before, &kept));
        touched.push(Touched::Volume(key.clone()));
        self.put_claims(key, kept);
        self.volumes.insert(volume);
        self.indexes.volumes = index;
        Ok(Outcome::Done)
    }
}
