//! The claim-limit audit: after every applied entry, a recount of each touched volume's claims
//! against its access mode. It is written apart from the claim rules on purpose, so that a rule
//! that lets too much through is caught at the point of the applied history where it happened,
//! on every node that applies it.

use super::apply::Touched;
use super::tables::State;
use std::collections::BTreeSet;
use stowage_proto::{AccessMode, ClaimMode, VolumeKey};

/// The most claims of each mode a volume may hold at once; `None` is no limit. Nomad lets a
/// single-node-writer volume take a writer after its one reader, so each mode is counted alone.
fn limits(mode: AccessMode) -> (Option<usize>, Option<usize>) {
    match mode {
        AccessMode::SingleNodeReaderOnly => (Some(1), Some(0)),
        AccessMode::SingleNodeWriter => (Some(1), Some(1)),
        AccessMode::MultiNodeReaderOnly => (None, Some(0)),
        AccessMode::MultiNodeSingleWriter => (None, Some(1)),
        AccessMode::MultiNodeMultiWriter | AccessMode::Unset => (None, None),
    }
}

impl State {
    /// Describes each volume in `touched` that now holds more claims than its access mode
    /// allows.
    pub fn claim_limit_breaches(&self, touched: &[Touched]) -> Vec<String> {
        let keys: BTreeSet<&VolumeKey> = touched
            .iter()
            .filter_map(|t| match t {
                Touched::Volume(k) | Touched::Claim(k, _) => Some(k),
                Touched::History(..)
                | Touched::Plugin(_)
                | Touched::Namespace(_)
                | Touched::AclPolicy(_)
                | Touched::AclToken(_)
                | Touched::AclBootstrap => None,
            })
            .collect();
        keys.into_iter()
            .filter_map(|k| {
                let volume = self.volumes.get(k)?;
                let claims = self.claims.get(k)?;
                let held = |m: ClaimMode| claims.values().filter(|c| c.mode == m).count();
                let (readers, writers) = (held(ClaimMode::Read), held(ClaimMode::Write));
                let (max_readers, max_writers) = limits(volume.access_mode);
                let over = |n: usize, max: Option<usize>| max.is_some_and(|m| n > m);
                (over(readers, max_readers) || over(writers, max_writers)).then(|| {
                    format!(
                        "volume {:?} in namespace {:?} ({}) holds {readers} read and {writers} write claims",
                        k.id, k.namespace, volume.access_mode
                    )
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures::{apply, claimable};
    use stowage_proto::{ClaimState, Command};

    fn claim(alloc: &str, mode: ClaimMode, access: AccessMode) -> Command {
        crate::state::fixtures::claim(alloc, "n", mode, access, ClaimState::Taken)
    }

    #[test]
    fn what_the_rules_allow_passes_the_audit() {
        use AccessMode::*;
        // Nomad's single-node-writer quirk: one reader, then one writer.
        let mut s = claimable(SingleNodeWriter);
        for (i, mode) in [ClaimMode::Read, ClaimMode::Write].into_iter().enumerate() {
            let t = apply(
                &mut s,
                claim(&format!("a{i}"), mode, SingleNodeWriter),
                3 + i as u64,
            );
            assert_eq!(s.claim_limit_breaches(&t), Vec::<String>::new());
        }
        assert_eq!(s.claims.values().map(|c| c.len()).sum::<usize>(), 2);
        let mut s = claimable(MultiNodeMultiWriter);
        for i in 0..3 {
            let t = apply(
                &mut s,
                claim(&format!("w{i}"), ClaimMode::Write, MultiNodeMultiWriter),
                3 + i,
            );
            assert!(s.claim_limit_breaches(&t).is_empty());
        }
    }

    #[test]
    fn a_second_writer_that_got_past_the_rules_is_reported() {
        let mode = AccessMode::MultiNodeSingleWriter;
        let mut s = claimable(mode);
        let t = apply(&mut s, claim("w1", ClaimMode::Write, mode), 3);
        assert!(s.claim_limit_breaches(&t).is_empty());
        // Broken rules would have let this in; the audit must not rely on them.
        let key = VolumeKey::new("default", "v");
        let mut second = s.claims[&key]["w1"].clone();
        second.allocation_id = "w2".into();
        s.claims
            .entry(key.clone())
            .or_default()
            .insert("w2".into(), second);
        let breaches = s.claim_limit_breaches(&[Touched::Claim(key, "w2".into())]);
        assert_eq!(breaches.len(), 1, "{breaches:?}");
        assert!(
            breaches[0].contains("0 read and 2 write claims"),
            "{breaches:?}"
        );
    }
}
