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

/// Why a claim request was refused. Displays as Nomad's reason, which the caller wraps as
/// «alloc "…" failed to claim volume "…": <reason>».
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum ClaimRefusal {
    #[error("cannot change attachment mode of claimed volume")]
    AttachmentModeConflict,
    #[error("volume is currently unschedulable")]
    Unschedulable,
    #[error("volume max claims reached")]
    MaxClaimsReached,
    /// A release never moves a claim backwards through the release walk.
    #[error("claim is already {held}; a release cannot go back to {requested}")]
    ReleaseBackwards {
        held: ClaimState,
        requested: ClaimState,
    },
}

/// Whether a claim may exceed what the volume's access mode allows. A cluster always enforces
/// the limit; only the chaos suite's deliberately wrong builds skip it, to prove the checker
/// notices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClaimLimit {
    #[default]
    Enforced,
    Skipped,
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
/// volume.
pub fn apply_claim(
    v: &mut Volume,
    claims: &mut BTreeMap<String, Claim>,
    schedulable: bool,
    req: &ClaimRequest,
    now: i64,
    limit: ClaimLimit,
) -> Result<ClaimEffect, ClaimRefusal> {
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
        return Err(ClaimRefusal::AttachmentModeConflict);
    }
    match (req.state, req.mode) {
        (ClaimState::Taken, ClaimMode::Read | ClaimMode::Write) => {
            take(v, claims, schedulable, req, now, limit)
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
    limit: ClaimLimit,
) -> Result<ClaimEffect, ClaimRefusal> {
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
        return Err(ClaimRefusal::Unschedulable);
    }
    if !ok_free && limit == ClaimLimit::Enforced {
        return Err(ClaimRefusal::MaxClaimsReached);
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
) -> Result<ClaimEffect, ClaimRefusal> {
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
        return Err(ClaimRefusal::ReleaseBackwards {
            held: existing.state,
            requested: req.state,
        });
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
        Result<ClaimEffect, ClaimRefusal>,
    );

    const MAX: ClaimRefusal = ClaimRefusal::MaxClaimsReached;
    const UNSCHED: ClaimRefusal = ClaimRefusal::Unschedulable;

    fn apply(
        v: &mut Volume,
        claims: &mut BTreeMap<String, Claim>,
        schedulable: bool,
        r: &ClaimRequest,
        now: i64,
    ) -> Result<ClaimEffect, ClaimRefusal> {
        apply_claim(v, claims, schedulable, r, now, ClaimLimit::Enforced)
    }

    /// Access mode × current (readers, writers) × request mode → expected outcome, as Nomad's
    /// `CSIVolume.Claim` and its capacity predicates decide it.
    #[test]
    fn claim_matrix_follows_nomad() {
        use AccessMode::*;
        use ClaimMode::*;
        const OK: Result<ClaimEffect, ClaimRefusal> = Ok(ClaimEffect::Claimed);
        let cases: Vec<Case> = vec![
            // single-node-reader-only: one reader in total, never a writer.
            (SingleNodeReaderOnly, 0, 0, Read, OK),
            (SingleNodeReaderOnly, 1, 0, Read, Err(MAX)),
            (SingleNodeReaderOnly, 0, 0, Write, Err(UNSCHED)),
            // single-node-writer: one writer OR one reader.
            (SingleNodeWriter, 0, 0, Write, OK),
            (SingleNodeWriter, 0, 0, Read, OK),
            (SingleNodeWriter, 0, 1, Write, Err(MAX)),
            (SingleNodeWriter, 0, 1, Read, Err(MAX)),
            (SingleNodeWriter, 1, 0, Read, Err(MAX)),
            (SingleNodeWriter, 1, 0, Write, OK),
            // multi-node-reader-only: any readers, no writer.
            (MultiNodeReaderOnly, 3, 0, Read, OK),
            (MultiNodeReaderOnly, 0, 0, Write, Err(UNSCHED)),
            // multi-node-single-writer: any readers, one writer.
            (MultiNodeSingleWriter, 2, 0, Write, OK),
            (MultiNodeSingleWriter, 2, 1, Write, Err(MAX)),
            (MultiNodeSingleWriter, 2, 1, Read, OK),
            // multi-node-multi-writer: anything.
            (MultiNodeMultiWriter, 2, 2, Write, OK),
            (MultiNodeMultiWriter, 2, 2, Read, OK),
            // no current mode: judged from the requested capabilities, which allow writers.
            (Unset, 0, 0, Write, OK),
            (Unset, 0, 0, Read, OK),
        ];
        for (mode, readers, writers, claim, want) in cases {
            let (mut v, mut claims) = held(mode, readers, writers);
            let got = apply(
                &mut v,
                &mut claims,
                true,
                &req("new", claim, mode, ClaimState::Taken),
                7,
            );
            assert_eq!(got, want, "{mode:?} r{readers} w{writers} {claim:?}");
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
            apply(&mut v, &mut claims, true, &w(ClaimState::Taken), 1),
            Ok(ClaimEffect::Claimed)
        );
        assert_eq!(
            apply(&mut v, &mut claims, true, &w(ClaimState::Taken), 2),
            Ok(ClaimEffect::Unchanged),
            "re-sent claim"
        );
        for s in [
            ClaimState::Unpublishing,
            ClaimState::NodeDetached,
            ClaimState::ControllerDetached,
        ] {
            assert_eq!(
                apply(&mut v, &mut claims, true, &w(s), 3),
                Ok(ClaimEffect::Released(s))
            );
            // Still in use: a second writer is refused while the first is being released.
            let other = req(
                "o",
                ClaimMode::Write,
                AccessMode::SingleNodeWriter,
                ClaimState::Taken,
            );
            assert_eq!(apply(&mut v, &mut claims, true, &other, 4), Err(MAX));
        }
        assert_eq!(
            apply(&mut v, &mut claims, true, &w(ClaimState::Unpublishing), 5)
                .expect_err("backwards")
                .to_string(),
            "claim is already controller-detached; a release cannot go back to unpublishing"
        );
        assert_eq!(
            apply(&mut v, &mut claims, true, &w(ClaimState::ReadyToFree), 6),
            Ok(ClaimEffect::Freed)
        );
        assert!(claims.is_empty());
        assert_eq!(
            (v.access_mode, v.attachment_mode),
            (AccessMode::Unset, AttachmentMode::Unset),
            "modes reset"
        );
        assert_eq!(
            apply(&mut v, &mut claims, true, &w(ClaimState::ReadyToFree), 7),
            Ok(ClaimEffect::Unchanged)
        );
    }

    #[test]
    fn a_skipped_limit_lets_a_second_writer_in() {
        let (mut v, mut claims) = held(AccessMode::SingleNodeWriter, 0, 1);
        let r = req(
            "second",
            ClaimMode::Write,
            AccessMode::SingleNodeWriter,
            ClaimState::Taken,
        );
        let skipped = apply_claim(&mut v, &mut claims, true, &r, 1, ClaimLimit::Skipped);
        assert_eq!(skipped, Ok(ClaimEffect::Claimed));
        assert_eq!(claims.len(), 2);
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
            apply(&mut v, &mut claims, true, &r, 1),
            Err(ClaimRefusal::AttachmentModeConflict)
        );
        r.attachment_mode = AttachmentMode::FileSystem;
        assert_eq!(
            apply(&mut v, &mut claims, false, &r, 1),
            Err(UNSCHED),
            "plugin unhealthy"
        );
        v.resource_exhausted = Some("2026-01-01T00:00:00Z".into());
        assert_eq!(
            apply(&mut v, &mut claims, true, &r, 1),
            Err(UNSCHED),
            "exhausted"
        );
    }
}
