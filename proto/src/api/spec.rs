//! Turning what a caller submitted into domain values: every problem found is refused with
//! Nomad's «validation: …» text, listed in Nomad's order, before anything is written.

use super::error::CsiError;
use super::request::{CapabilitySpec, ClaimSpec, VolumeSpec};
use crate::model::{AccessMode, AttachmentMode, Capability, Secrets, TopologyRequest, Volume};
use crate::rules::{ClaimRequest, RawModes, validate, validate_claim};

/// Go's zero `time.Time` in JSON. Nomad's Go client always sends a volume's `ResourceExhausted`
/// (a `time.Time`, not a pointer), so this value means "not exhausted".
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Reads an RFC 3339 `ResourceExhausted`: `None` for Go's zero time, whatever its spelling.
fn exhausted_at(text: &str) -> Result<Option<String>, String> {
    let at = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("ResourceExhausted {text:?} is not an RFC 3339 time: {e}"))?;
    let zero = chrono::DateTime::parse_from_rfc3339(GO_ZERO_TIME)
        .map_err(|e| format!("Go's zero time does not parse: {e}"))?;
    Ok((at != zero).then(|| text.to_string()))
}

/// A topology request that names no topology says nothing: Go's client sends an empty one as
/// readily as none, and the two must not count as different on update.
fn topology_request(req: &Option<TopologyRequest>) -> Option<TopologyRequest> {
    let req = req.as_ref()?;
    let none = |l: &Option<Vec<_>>| l.as_ref().is_none_or(Vec::is_empty);
    (!none(&req.required) || !none(&req.preferred)).then(|| req.clone())
}

fn invalid(problems: Vec<String>) -> CsiError {
    CsiError::invalid(format!("validation: {}", problems.join(", ")))
}

impl VolumeSpec {
    /// The volume this spec registers, placed in `namespace` when it names none.
    /// The namespace this volume goes into: its own, or else the request's `namespace`.
    pub fn namespace_in<'a>(&'a self, namespace: &'a str) -> &'a str {
        if self.namespace.is_empty() {
            namespace
        } else {
            &self.namespace
        }
    }

    pub fn to_volume(&self, namespace: &str) -> Result<Volume, CsiError> {
        let mut requested: Vec<CapabilitySpec> = self
            .requested_capabilities
            .iter()
            .flatten()
            .cloned()
            .collect();
        if requested.is_empty() && !self.access_mode.is_empty() {
            requested.push(CapabilitySpec {
                access_mode: self.access_mode.clone(),
                attachment_mode: self.attachment_mode.clone(),
            });
        }
        let mut raw = RawModes::default();
        let capabilities = requested
            .into_iter()
            .map(|c| {
                let cap = Capability {
                    access_mode: c.access_mode.parse().unwrap_or(AccessMode::Unset),
                    attachment_mode: c.attachment_mode.parse().unwrap_or(AttachmentMode::Unset),
                };
                raw.access.push(c.access_mode);
                raw.attachment.push(c.attachment_mode);
                cap
            })
            .collect();
        let (resource_exhausted, time_problem) = match self.resource_exhausted.as_deref() {
            None => (None, None),
            Some(t) => match exhausted_at(t) {
                Ok(at) => (at, None),
                Err(problem) => (None, Some(problem)),
            },
        };
        let volume = Volume {
            id: self.id.clone(),
            name: self.name.clone(),
            external_id: self.external_id.clone(),
            namespace: self.namespace_in(namespace).to_string(),
            requested_topologies: topology_request(&self.requested_topologies),
            topologies: self.topologies.iter().flatten().cloned().collect(),
            mount_options: self.mount_options.clone().unwrap_or_default(),
            secrets: Secrets(self.secrets.0.clone()),
            parameters: self.parameters.clone(),
            context: self.context.clone(),
            capacity: self.capacity,
            requested_capacity_min: self.requested_capacity_min,
            requested_capacity_max: self.requested_capacity_max,
            requested_capabilities: capabilities,
            clone_id: self.clone_id.clone(),
            snapshot_id: self.snapshot_id.clone(),
            plugin_id: self.plugin_id.clone(),
            resource_exhausted,
            ..Default::default()
        };
        let mut problems = validate(&volume, &raw);
        problems.extend(time_problem);
        if problems.is_empty() {
            Ok(volume)
        } else {
            Err(invalid(problems))
        }
    }
}

impl ClaimSpec {
    /// The claim request this spec makes.
    pub fn to_request(&self) -> Result<ClaimRequest, CsiError> {
        let raw = RawModes {
            access: vec![self.access_mode.clone()],
            attachment: vec![self.attachment_mode.clone()],
        };
        let req = ClaimRequest {
            allocation_id: self.allocation_id.clone(),
            node_id: self.node_id.clone(),
            external_node_id: self.external_node_id.clone(),
            mode: self.mode,
            access_mode: self.access_mode.parse().unwrap_or(AccessMode::Unset),
            attachment_mode: self
                .attachment_mode
                .parse()
                .unwrap_or(AttachmentMode::Unset),
            state: self.state,
            job_id: self.job_id.clone(),
            task_group: self.task_group.clone(),
            name: self.name.clone(),
        };
        let problems = validate_claim(&req, &raw);
        if problems.is_empty() {
            Ok(req)
        } else {
            Err(invalid(problems))
        }
    }
}

/// A `next_token` is `<namespace>.<id>`; namespace names cannot contain a dot, so the first dot
/// splits them.
pub fn parse_next_token(t: &str) -> (String, String) {
    match t.split_once('.') {
        Some((ns, id)) => (ns.to_string(), id.to_string()),
        None => (t.to_string(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> VolumeSpec {
        VolumeSpec {
            id: "v".into(),
            plugin_id: "p".into(),
            requested_capabilities: vec![Some(CapabilitySpec {
                access_mode: "single-node-writer".into(),
                attachment_mode: "file-system".into(),
            })],
            ..Default::default()
        }
    }

    #[test]
    fn go_zero_values_change_nothing() {
        let mut s = spec();
        s.resource_exhausted = Some(GO_ZERO_TIME.into());
        s.requested_topologies = Some(TopologyRequest::default());
        let v = s.to_volume("default").expect("valid");
        assert_eq!(v.resource_exhausted, None, "Go's zero time is no time");
        assert_eq!(v.requested_topologies, None, "an empty request is none");
        assert_eq!(v.namespace, "default");
        s.resource_exhausted = Some("0001-01-01T01:00:00+01:00".into());
        assert_eq!(
            s.to_volume("default").expect("valid").resource_exhausted,
            None
        );
        s.resource_exhausted = Some("2026-01-01T00:00:00Z".into());
        assert_eq!(
            s.to_volume("default")
                .expect("valid")
                .resource_exhausted
                .as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
    }

    #[test]
    fn problems_are_listed_in_nomads_order() {
        let mut s = spec();
        s.plugin_id.clear();
        s.requested_capabilities = vec![Some(CapabilitySpec {
            access_mode: "rw".into(),
            attachment_mode: "file-system".into(),
        })];
        s.resource_exhausted = Some("soon".into());
        let err = s.to_volume("default").expect_err("invalid").to_string();
        assert!(
            err.starts_with("validation: missing plugin id, unknown access mode \"rw\", ResourceExhausted \"soon\" is not an RFC 3339 time"),
            "{err}"
        );
    }

    #[test]
    fn a_bare_pair_of_modes_is_the_requested_capability() {
        let mut s = spec();
        s.requested_capabilities.clear();
        s.access_mode = "multi-node-single-writer".into();
        s.attachment_mode = "file-system".into();
        let v = s.to_volume("ns").expect("valid");
        assert_eq!(
            v.requested_capabilities,
            vec![Capability {
                access_mode: AccessMode::MultiNodeSingleWriter,
                attachment_mode: AttachmentMode::FileSystem
            }]
        );
        assert_eq!(
            v.access_mode,
            AccessMode::Unset,
            "the current mode is the server's"
        );
    }
}
