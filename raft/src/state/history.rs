//! The claim history table: each volume's newest `ClaimEvent::KEEP` claim events, kept apart
//! from the volume record so that a claim writes only the events it adds and drops, never the
//! whole history again (with a full history that was most of what a claim wrote and encoded).

use super::apply::Touched;
use super::tables::State;
use serde::{Deserialize, Serialize};
use stowage_proto::{ClaimEvent, VolumeKey};

/// The events of one volume's history at one log index, as a record on disk: one claim adds one
/// event, but a detach frees every claim of a node at the same index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    pub volume: VolumeKey,
    pub index: u64,
    pub events: Vec<ClaimEvent>,
}

impl State {
    /// The volume's claim history, oldest first (empty when it has none).
    pub fn history_of(&self, key: &VolumeKey) -> &[ClaimEvent] {
        self.history.get(key).map_or(&[], Vec::as_slice)
    }

    /// The events of `key`'s history at `index`, as stored on disk; `None` when it holds none
    /// there any more, so the record is deleted.
    pub fn history_record(&self, key: &VolumeKey, index: u64) -> Option<HistoryRecord> {
        let events: Vec<ClaimEvent> = self
            .history_of(key)
            .iter()
            .filter(|e| e.index == index)
            .cloned()
            .collect();
        (!events.is_empty()).then(|| HistoryRecord {
            volume: key.clone(),
            index,
            events,
        })
    }

    /// Appends `event` to the volume's history and drops the oldest events past the bound. The
    /// index it adds, and every index it drops an event of, are touched.
    pub(super) fn record_claim_event(
        &mut self,
        key: &VolumeKey,
        event: ClaimEvent,
        touched: &mut Vec<Touched>,
    ) {
        let history = self.history.entry(key.clone()).or_default();
        touched.push(Touched::History(key.clone(), event.index));
        history.push(event);
        let excess = history.len().saturating_sub(ClaimEvent::KEEP);
        for dropped in history.drain(..excess) {
            touched.push(Touched::History(key.clone(), dropped.index));
        }
    }

    /// Forgets a deregistered volume's history, touching every index it held.
    pub(super) fn drop_history(&mut self, key: &VolumeKey, touched: &mut Vec<Touched>) {
        if let Some(events) = self.history.remove(key) {
            touched.extend(
                events
                    .into_iter()
                    .map(|e| Touched::History(key.clone(), e.index)),
            );
        }
    }

    /// Every history record this state holds, as `Touched` entries.
    pub(super) fn history_records(&self) -> impl Iterator<Item = Touched> + '_ {
        self.history.iter().flat_map(|(key, events)| {
            let mut indexes: Vec<u64> = events.iter().map(|e| e.index).collect();
            indexes.dedup();
            indexes
                .into_iter()
                .map(|index| Touched::History(key.clone(), index))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures::{apply, claimable, claimed_key as key};
    use stowage_proto::{AccessMode, ClaimMode, ClaimState, Command};

    fn claim(alloc: &str, node: &str, state: ClaimState) -> Command {
        let access = AccessMode::MultiNodeReaderOnly;
        crate::state::fixtures::claim(alloc, node, ClaimMode::Read, access, state)
    }

    fn claimable_by_readers() -> State {
        claimable(AccessMode::MultiNodeReaderOnly)
    }
    #[test]
    fn a_claim_touches_its_own_event_and_the_one_it_pushes_out() {
        let mut s = claimable_by_readers();
        let first = 3;
        let last = first + ClaimEvent::KEEP as u64;
        for index in first..last {
            let touched = apply(
                &mut s,
                claim(&format!("a{index}"), "n", ClaimState::Taken),
                index,
            );
            assert!(touched.contains(&Touched::History(key(), index)));
            assert_eq!(
                s.history_record(&key(), index).map(|r| r.events.len()),
                Some(1)
            );
        }
        assert_eq!(s.history_of(&key()).len(), ClaimEvent::KEEP);
        // One more pushes the oldest out, and that record is touched so it is deleted.
        let touched = apply(&mut s, claim("late", "n", ClaimState::Taken), last);
        assert!(touched.contains(&Touched::History(key(), first)));
        assert_eq!(s.history_record(&key(), first), None);
        let history = s.history_of(&key());
        assert_eq!(history.len(), ClaimEvent::KEEP);
        assert_eq!(history.first().map(|e| e.index), Some(first + 1));
        assert_eq!(history.last().map(|e| e.index), Some(last));
        // The stored volume never carries it; what leaves the tables always does.
        assert!(s.volumes[&key()].claim_history.is_empty());
        assert_eq!(s.detail(&s.volumes[&key()]).volume.claim_history, history);
    }

    #[test]
    fn a_detach_records_every_freed_claim_at_one_index() {
        let mut s = claimable_by_readers();
        apply(&mut s, claim("a", "n1", ClaimState::Taken), 3);
        apply(&mut s, claim("b", "n1", ClaimState::Taken), 4);
        apply(&mut s, claim("c", "n2", ClaimState::Taken), 5);
        let detach = Command::DetachNode {
            namespace: "default".into(),
            volume_id: "v".into(),
            node_id: "n1".into(),
        };
        let touched = apply(&mut s, detach, 6);
        assert!(touched.contains(&Touched::History(key(), 6)));
        let record = s.history_record(&key(), 6).expect("the detach's record");
        let freed: Vec<&str> = record
            .events
            .iter()
            .map(|e| e.allocation_id.as_str())
            .collect();
        assert_eq!(freed, ["a", "b"]);
        assert_eq!(s.history_records().count(), 4, "indexes 3, 4, 5 and 6");
    }

    #[test]
    fn a_snapshot_image_carries_the_history_and_a_deregister_forgets_it() {
        let mut s = claimable_by_readers();
        apply(&mut s, claim("a", "n", ClaimState::Taken), 3);
        apply(&mut s, claim("a", "n", ClaimState::ReadyToFree), 4);
        let image = s.image(None, Default::default());
        assert_eq!(image.volumes[0].claim_history.len(), 2);
        assert_eq!(State::from_image(&image), s);

        let deregister = Command::DeregisterVolume {
            namespace: "default".into(),
            id: "v".into(),
            force: false,
            cas: None,
        };
        let touched = apply(&mut s, deregister, 5);
        assert!(touched.contains(&Touched::History(key(), 3)));
        assert!(touched.contains(&Touched::History(key(), 4)));
        assert!(s.history.is_empty());
    }
}
