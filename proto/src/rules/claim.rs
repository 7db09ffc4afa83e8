//! Nomad's claim rules (`CSIVolume.Claim`): claimRead, claimWrite and claimRelease with the exact
//! capacity predicates, over a volume and its claims keyed by allocation ID.
//!
//! One deliberate difference: a release never moves a claim backwards in the release walk (taken
//! → unpublishing → node-detached → controller-detached → ready-to-free); Nomad overwrites it.

use crate::model::{AccessMode, AttachmentMode, Capability, Claim, ClaimMode, ClaimState, Volume};
use std::collections::BTreeMap;

/// One claim or release as a claimant sends it (Nomad's `CSIVolumeClaimRequest`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClaimRequest {
    pub allocation_id: String,
    pub node_id: String,
    pub external_node_id: String,
    pub mode: ClaimMode,
    pub access_mode: AccessMode,
    pub attachment_mode: AttachmentMode,
    pub state: ClaimState,
    pub job_id: String,
    pub task_group: String,
    pub name: String,
}

impl ClaimRequest {
    /// The claim this request takes at `now`, recording what is needed to undo it.
    pub fn to_claim(&self, now: i64) -> Claim {
        Claim {
            allocation_id: self.allocation_id.clone(),
            node_id: self.node_id.clone(),
            external_node_id: self.external_node_id.clone(),
            mode: self.mode,
            access_mode: self.access_mode,
            attachment_mode: self.attachment_mode,
            state: ClaimState::Taken,
            claimed_at: now,
            updated_at: now,
            job_id: self.job_id.clone(),
            task_group: self.task_group.clone(),
            name: self.name.clone(),
        }
    }
}

/// What a successful claim request did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimEffect {
    /// Already so: nothing changed.
    Unchanged,
    Claimed,
    /// A release advanced to this state; the claim still counts as in use.
    Released(ClaimState),
    /// The claim was removed (ready-to-free).
    Freed,
}

fn count(claims: &BTreeMap<String, Claim>, mode: ClaimMode) -> usize {
    claims.values().filter(|c| c.mode == mode).count()
}

/// `ReadSchedulable`: the plugin is healthy and the volume is not exhausted.
pub fn read_schedulable(v: &Volume, schedulable: bool) -> bool {
    schedulable && v.resource_exhausted.is_none()
}

/// `WriteSchedulable`: as read, and the current (or, with none, a requested) mode allows writers.
pub fn write_schedulable(v: &Volume, schedulable: bool) -> bool {
    if !schedulable || v.resource_exhausted.is_some() {
        return false;
    }
    match v.access_mode {
        AccessMode::Unset => v
            .requested_capabilities
            .iter()
            .any(|c| c.access_mode.allows_writers()),
        m => m.allows_writers(),
    }
}

/// `HasFreeReadClaims`. "single-node" means one claim in total, and single-node-writer allows
/// one writer or one reader, as in Nomad.
pub fn has_free_read_claims(v: &Volume, claims: &BTreeMap<String, Claim>) -> bool {
    match v.access_mode {
        AccessMode::SingleNodeReaderOnly => count(claims, ClaimMode::Read) == 0,
        AccessMode::SingleNodeWriter => {
            count(claims, ClaimMode::Read) == 0 && count(claims, ClaimMode::Write) == 0
        }
        AccessMode::Unset
        | AccessMode::MultiNodeReaderOnly
        | AccessMode::MultiNodeSingleWriter
        | AccessMode::MultiNodeMultiWriter => true,
    }
}

/// `HasFreeWriteClaims`.
pub fn has_free_write_claims(v: &Volume, claims: &BTreeMap<String, Claim>) -> bool {
    match v.access_mode {
        AccessMode::SingleNodeWriter | AccessMode::MultiNodeSingleWriter => {
            count(claims, ClaimMode::Write) == 0
        }
        AccessMode::MultiNodeMultiWriter | AccessMode::Unset => true,
        AccessMode::SingleNodeReaderOnly | AccessMode::MultiNodeReaderOnly => false,
    }
}

/// Applies one claim request. `schedulable` is the plugin's health as denormalized onto the
/// volume. Errors are Nomad's reasons, unwrapped.
pub fn apply_claim(
    v: &mut Volume,
    claims: &mut BTreeMap<String, Claim>,
    schedulable: bool,
    req: &ClaimRequest,
    now: i64,
) -> Result<ClaimEffect, String> {
    if v.requested_capabilities.is_empty()
        && (v.access_mode != AccessMode::Unset || v.attachment_mode != AttachmentMode::Unset)
    {
        v.requested_capabilities = vec![Capability {
            access_mode: v.access_mode,
            attachment_mode: v.attachment_mode,
        }];
    }
    if v.attachment_mode != AttachmentMode::Unset
        && req.attachment_mode != AttachmentMode::Unset
        && v.attachment_mode != req.attachment_mode
    {
        return Err("cannot change attachment mode of claimed volume".into());
    }
    match (req.state, req.mode) {
        (ClaimState::Taken, ClaimMode::Read | ClaimMode::Write) => {
            take(v, claims, schedulable, req, now)
        }
        _ => release(v, claims, req, now),
    }
}

fn take(
    v: &mut Volume,
    claims: &mut BTreeMap<String, Claim>,
    schedulable: bool,
    req: &ClaimRequest,
    now: i64,
) -> Result<ClaimEffect, String> {
    if claims
        .get(&req.allocation_id)
        .is_some_and(|c| c.mode == req.mode)
    {
        return Ok(ClaimEffect::Unchanged);
    }
    let (ok_sched, ok_free) = match req.mode {
        ClaimMode::Read => (
            read_schedulable(v, schedulable),
            has_free_read_claims(v, claims),
        ),
        _ => (
            write_schedulable(v, schedulable),
            has_free_write_claims(v, claims),
        ),
    };
    if !ok_sched {
        return Err("volume is currently unschedulable".into());
    }
    if !ok_free && !crate::unsafe_faults::enabled(crate::unsafe_faults::UnsafeFault::NoClaimLimit) {
        return Err("volume max claims reached".into());
    }
    // A writer that becomes a reader (or the reverse) moves over: one claim per allocation.
    claims.insert(req.allocation_id.clone(), req.to_claim(now));
    if v.attachment_mode == AttachmentMode::Unset {
        v.attachment_mode = req.attachment_mode;
    }
    if v.access_mode == AccessMode::Unset {
        v.access_mode = req.access_mode;
    }
    Ok(ClaimEffect::Claimed)
}

fn release(
    v: &mut Volume,
    claims: &mut BTreeMap<String, Claim>,
    req: &ClaimRequest,
    now: i64,
) -> Result<ClaimEffect, String> {
    let Some(existing) = claims.get_mut(&req.allocation_id) else {
        // Nothing held: releasing it again is already done.
        return Ok(ClaimEffect::Unchanged);
    };
    if req.state == ClaimState::ReadyToFree {
        claims.remove(&req.allocation_id);
        if claims.is_empty() {
            v.access_mode = AccessMode::Unset;
            v.attachment_mode = AttachmentMode::Unset;
        }
        return Ok(ClaimEffect::Freed);
    }
    if req.state.rank() < existing.state.rank() {
        return Err(format!(
            "claim is already {}; a release cannot go back to {}",
            existing.state.as_str(),
            req.state.as_str()
        ));
    }
    if req.state == existing.state {
        return Ok(ClaimEffect::Unchanged);
    }
    existing.state = req.state;
    existing.updated_at = now;
    Ok(ClaimEffect::Released(req.state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(mode: AccessMode) -> Volume {
        Volume {
            id: "v".into(),
            namespace: "default".into(),
            plugin_id: "p".into(),
            access_mode: mode,
            attachment_mode: if mode == AccessMode::Unset {
                AttachmentMode::Unset
            } else {
                AttachmentMode::FileSystem
            },
            requested_capabilities: AccessMode::ALL
                .iter()
                .map(|m| Capability {
                    access_mode: *m,
                    attachment_mode: AttachmentMode::FileSystem,
                })
                .collect(),
            ..Default::default()
        }
    }

    fn req(alloc: &str, mode: ClaimMode, access: AccessMode, state: ClaimState) -> ClaimRequest {
        ClaimRequest {
            allocation_id: alloc.into(),
            node_id: "node".into(),
            external_node_id: "ext".into(),
            mode,
            access_mode: access,
            attachment_mode: AttachmentMode::FileSystem,
            state,
            job_id: String::new(),
            task_group: String::new(),
            name: String::new(),
        }
    }

    /// Current claims on a volume before the request: (readers, writers).
    fn held(mode: AccessMode, readers: usize, writers: usize) -> (Volume, BTreeMap<String, Claim>) {
        let mut v = volume(mode);
        let mut claims = BTreeMap::new();
        for (i, m) in std::iter::repeat_n(ClaimMode::Read, readers)
            .chain(std::iter::repeat_n(ClaimMode::Write, writers))
            .enumerate()
        {
            let alloc = format!("held{i}");
            // Seeded directly: the table is about what the next request may do.
            claims.insert(
                alloc.clone(),
                req(&alloc, m, mode, ClaimState::Taken).to_claim(0),
            );
        }
        if mode == AccessMode::Unset {
            v.attachment_mode = AttachmentMode::Unset;
        }
        (v, claims)
    }

    /// (current mode, readers held, writers held, requested claim, expected outcome)
    type Case = (
        AccessMode,
        usize,
        usize,
        ClaimMode,
        Result<ClaimEffect, &'static str>,
    );

    const MAX: &str = "volume max claims reached";
    const UNSCHED: &str = "volume is currently unschedulable";

    /// Access mode × current (readers, writers) × request mode → expected outcome, from B.3.3–B.3.4.
    #[test]
    fn claim_matrix_follows_nomad() {
        use AccessMode::*;
        use ClaimMode::*;
        let ok = Ok(ClaimEffect::Claimed);
        let cases: Vec<Case> = vec![
            // single-node-reader-only: one reader in total, never a writer.
            (SingleNodeReaderOnly, 0, 0, Read, ok),
            (SingleNodeReaderOnly, 1, 0, Read, Err(MAX)),
            (SingleNodeReaderOnly, 0, 0, Write, Err(UNSCHED)),
            // single-node-writer: one writer OR one reader.
            (SingleNodeWriter, 0, 0, Write, ok),
            (SingleNodeWriter, 0, 0, Read, ok),
            (SingleNodeWriter, 0, 1, Write, Err(MAX)),
            (SingleNodeWriter, 0, 1, Read, Err(MAX)),
            (SingleNodeWriter, 1, 0, Read, Err(MAX)),
            (SingleNodeWriter, 1, 0, Write, ok),
            // multi-node-reader-only: any readers, no writer.
            (MultiNodeReaderOnly, 3, 0, Read, ok),
            (MultiNodeReaderOnly, 0, 0, Write, Err(UNSCHED)),
            // multi-node-single-writer: any readers, one writer.
            (MultiNodeSingleWriter, 2, 0, Write, ok),
            (MultiNodeSingleWriter, 2, 1, Write, Err(MAX)),
            (MultiNodeSingleWriter, 2, 1, Read, ok),
            // multi-node-multi-writer: anything.
            (MultiNodeMultiWriter, 2, 2, Write, ok),
            (MultiNodeMultiWriter, 2, 2, Read, ok),
            // no current mode: judged from the requested capabilities, which allow writers.
            (Unset, 0, 0, Write, ok),
            (Unset, 0, 0, Read, ok),
        ];
        for (mode, readers, writers, claim, want) in cases {
            let (mut v, mut claims) = held(mode, readers, writers);
            let got = apply_claim(
                &mut v,
                &mut claims,
                true,
                &req("new", claim, mode, ClaimState::Taken),
                7,
            );
            assert_eq!(
                got.as_ref().map_err(String::as_str),
                want.as_ref().map_err(|e| *e),
                "{mode:?} r{readers} w{writers} {claim:?}"
            );
            if got.is_ok() {
                assert_eq!(claims["new"].mode, claim);
                assert_eq!(
                    v.access_mode, mode,
                    "the first claim fixes the mode; later ones keep it"
                );
            }
        }
    }

    #[test]
    fn release_walks_forward_keeps_counting_then_frees() {
        let (mut v, mut claims) = held(AccessMode::SingleNodeWriter, 0, 0);
        let w = |state| req("w", ClaimMode::Write, AccessMode::SingleNodeWriter, state);
        assert_eq!(
            apply_claim(&mut v, &mut claims, true, &w(ClaimState::Taken), 1),
            Ok(ClaimEffect::Claimed)
        );
        assert_eq!(
            apply_claim(&mut v, &mut claims, true, &w(ClaimState::Taken), 2),
            Ok(ClaimEffect::Unchanged),
            "re-sent claim"
        );
        for s in [
            ClaimState::Unpublishing,
            ClaimState::NodeDetached,
            ClaimState::ControllerDetached,
        ] {
            assert_eq!(
                apply_claim(&mut v, &mut claims, true, &w(s), 3),
                Ok(ClaimEffect::Released(s))
            );
            // Still in use: a second writer is refused while the first is being released.
            let other = req(
                "o",
                ClaimMode::Write,
                AccessMode::SingleNodeWriter,
                ClaimState::Taken,
            );
            assert_eq!(
                apply_claim(&mut v, &mut claims, true, &other, 4),
                Err(MAX.to_string())
            );
        }
        assert!(
            apply_claim(&mut v, &mut claims, true, &w(ClaimState::Unpublishing), 5)
                .expect_err("backwards")
                .contains("cannot go back")
        );
        assert_eq!(
            apply_claim(&mut v, &mut claims, true, &w(ClaimState::ReadyToFree), 6),
            Ok(ClaimEffect::Freed)
        );
        assert!(claims.is_empty());
        assert_eq!(
            (v.access_mode, v.attachment_mode),
            (AccessMode::Unset, AttachmentMode::Unset),
            "modes reset"
        );
        assert_eq!(
            apply_claim(&mut v, &mut claims, true, &w(ClaimState::ReadyToFree), 7),
            Ok(ClaimEffect::Unchanged)
        );
    }

    #[test]
    fn attachment_mode_and_schedulability_gate_claims() {
        let (mut v, mut claims) = held(AccessMode::MultiNodeMultiWriter, 1, 0);
        let mut r = req(
            "b",
            ClaimMode::Read,
            AccessMode::MultiNodeMultiWriter,
            ClaimState::Taken,
        );
        r.attachment_mode = AttachmentMode::BlockDevice;
        assert_eq!(
            apply_claim(&mut v, &mut claims, true, &r, 1),
            Err("cannot change attachment mode of claimed volume".into())
        );
        r.attachment_mode = AttachmentMode::FileSystem;
        assert_eq!(
            apply_claim(&mut v, &mut claims, false, &r, 1),
            Err(UNSCHED.into()),
            "plugin unhealthy"
        );
        v.resource_exhausted = Some("2026-01-01T00:00:00Z".into());
        assert_eq!(
            apply_claim(&mut v, &mut claims, true, &r, 1),
            Err(UNSCHED.into()),
            "exhausted"
        );
    }
}
