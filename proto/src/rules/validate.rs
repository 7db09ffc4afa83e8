//! `CSIVolume.Validate()` with Nomad's messages, in Nomad's order, plus this project's checks:
//! modes must be real CSI modes, and capacity min may not exceed max, on new volumes too. The
//! same for a claim request.

use super::ClaimRequest;
use crate::model::{AccessMode, AttachmentMode, ClaimMode, ClaimState, Volume};

/// What the user wrote for modes, kept as text so that an unknown one can be named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawModes {
    pub access: Vec<String>,
    pub attachment: Vec<String>,
}

fn missing_segments(list: &Option<Vec<Option<crate::model::Topology>>>) -> usize {
    list.iter()
        .flatten()
        .filter(|t| t.as_ref().is_some_and(|t| t.segments.is_empty()))
        .count()
}

/// Every problem with a submitted volume, in Nomad's order; empty when it is valid.
pub fn validate(v: &Volume, raw: &RawModes) -> Vec<String> {
    let mut errs = Vec::new();
    if v.id.is_empty() {
        errs.push("missing volume id".to_string());
    }
    if v.plugin_id.is_empty() {
        errs.push("missing plugin id".to_string());
    }
    if v.namespace.is_empty() {
        errs.push("missing namespace".to_string());
    }
    if !v.snapshot_id.is_empty() && !v.clone_id.is_empty() {
        errs.push("only one of snapshot_id and clone_id is allowed".to_string());
    }
    if v.requested_capabilities.is_empty() {
        errs.push("must include at least one capability block".to_string());
    }
    let req = v.requested_topologies.clone().unwrap_or_default();
    for _ in 0..missing_segments(&req.required) {
        errs.push("required topology is missing segments field".to_string());
    }
    for _ in 0..missing_segments(&req.preferred) {
        errs.push("preferred topology is missing segments field".to_string());
    }
    errs.extend(unknown_modes(raw));
    if v.requested_capacity_max > 0 && v.requested_capacity_max < v.requested_capacity_min {
        errs.push(format!(
            "max requested capacity ({}) less than or equal to min ({})",
            super::bytes_si(v.requested_capacity_max),
            super::bytes_si(v.requested_capacity_min)
        ));
    }
    errs.extend(super::limits::volume_limits(v));
    errs
}

fn unknown_modes(raw: &RawModes) -> impl Iterator<Item = String> + '_ {
    let access = raw
        .access
        .iter()
        .filter(|m| m.parse::<AccessMode>().is_err())
        .map(|m| format!("unknown access mode {m:?}"));
    let attachment = raw
        .attachment
        .iter()
        .filter(|m| m.parse::<AttachmentMode>().is_err())
        .map(|m| format!("unknown attachment mode {m:?}"));
    access.chain(attachment)
}

/// Every problem with a claim request, in order; empty when it is valid.
pub fn validate_claim(req: &ClaimRequest, raw: &RawModes) -> Vec<String> {
    let mut errs = Vec::new();
    if req.allocation_id.is_empty() {
        errs.push("missing allocation ID".to_string());
    }
    errs.extend(unknown_modes(raw));
    if req.state == ClaimState::Taken && req.mode != ClaimMode::Gc && req.node_id.is_empty() {
        errs.push("missing node ID".to_string());
    }
    errs.extend(super::limits::claim_limits(req));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Capability, Topology, TopologyRequest};

    #[test]
    fn empty_volume_gets_nomads_three_messages_in_order() {
        let v = Volume {
            namespace: "default".into(),
            ..Default::default()
        };
        assert_eq!(
            validate(&v, &RawModes::default()).join(", "),
            "missing volume id, missing plugin id, must include at least one capability block"
        );
    }

    #[test]
    fn names_unknown_modes_topologies_and_capacity() {
        let v = Volume {
            id: "v".into(),
            namespace: "default".into(),
            plugin_id: "p".into(),
            requested_capabilities: vec![Capability::default()],
            requested_topologies: Some(TopologyRequest {
                required: Some(vec![Some(Topology::default()), None]),
                preferred: None,
            }),
            requested_capacity_min: 2000,
            requested_capacity_max: 1000,
            snapshot_id: "s".into(),
            clone_id: "c".into(),
            ..Default::default()
        };
        let raw = RawModes {
            access: vec!["single-node-writer".into(), "rw".into()],
            attachment: vec!["nfs".into()],
        };
        assert_eq!(
            validate(&v, &raw),
            vec![
                "only one of snapshot_id and clone_id is allowed",
                "required topology is missing segments field",
                "unknown access mode \"rw\"",
                "unknown attachment mode \"nfs\"",
                "max requested capacity (1.0 kB) less than or equal to min (2.0 kB)",
            ]
        );
    }
}
