//! Claims over HTTP: `PUT /v1/volume/csi/:id/claim` takes Nomad's `CSIVolumeClaimRequest`
//! (codes as Nomad's numbers or their names), and `DELETE /v1/volume/csi/:id/detach?node=` frees
//! every claim of a node that no longer uses the volume.

use crate::backend::Backend;
use crate::body::read_body;
use crate::error::ApiError;
use crate::params::RawParams;
use crate::respond;
use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;
use stowage_proto::acl::Token;
use stowage_proto::api::{ClaimSpec, ClaimVolumeRequest, CsiApi, DetachRequest};
use stowage_proto::{ClaimMode, ClaimState};

fn field<'a>(obj: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_null())
        .map(|(_, v)| v)
}

fn text(obj: &serde_json::Map<String, Value>, name: &str) -> Result<String, ApiError> {
    match field(obj, name) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::BadRequest(format!(
            "json: cannot unmarshal value into Go struct field CSIVolumeClaimRequest.{name} of type string"
        ))),
    }
}

/// A code given as Nomad's number or as its name.
fn code<T: Copy>(
    obj: &serde_json::Map<String, Value>,
    name: &str,
    table: &[(u64, &str, T)],
    default: T,
) -> Result<T, ApiError> {
    let bad =
        |v: &Value| ApiError::BadRequest(format!("unknown claim {} {v}", name.to_lowercase()));
    match field(obj, name) {
        None => Ok(default),
        Some(v @ Value::Number(n)) => table
            .iter()
            .find(|(c, _, _)| Some(*c) == n.as_u64())
            .map(|(_, _, t)| *t)
            .ok_or_else(|| bad(v)),
        Some(v @ Value::String(s)) => table
            .iter()
            .find(|(_, n, _)| n == s)
            .map(|(_, _, t)| *t)
            .ok_or_else(|| bad(v)),
        Some(v) => Err(bad(v)),
    }
}

const MODES: &[(u64, &str, ClaimMode)] = &[
    (0, "read", ClaimMode::Read),
    (1, "write", ClaimMode::Write),
    (2, "gc", ClaimMode::Gc),
];
const STATES: &[(u64, &str, ClaimState)] = &[
    (0, "taken", ClaimState::Taken),
    (1, "node-detached", ClaimState::NodeDetached),
    (2, "controller-detached", ClaimState::ControllerDetached),
    (3, "ready-to-free", ClaimState::ReadyToFree),
    (4, "unpublishing", ClaimState::Unpublishing),
];

/// Decodes a claim request body; returns it with the body's Namespace, if any.
fn decode_claim(body: &[u8]) -> Result<(ClaimSpec, String), ApiError> {
    if body.is_empty() {
        return Err(ApiError::BadRequest("Request body is empty".into()));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(ApiError::BadRequest(
            "json: cannot unmarshal value into Go value of type structs.CSIVolumeClaimRequest"
                .into(),
        ));
    };
    let spec = ClaimSpec {
        allocation_id: text(&obj, "AllocationID")?,
        node_id: text(&obj, "NodeID")?,
        external_node_id: text(&obj, "ExternalNodeID")?,
        mode: code(&obj, "Claim", MODES, ClaimMode::Read)?,
        state: code(&obj, "State", STATES, ClaimState::Taken)?,
        access_mode: text(&obj, "AccessMode")?,
        attachment_mode: text(&obj, "AttachmentMode")?,
        job_id: text(&obj, "JobID")?,
        task_group: text(&obj, "TaskGroup")?,
        name: text(&obj, "Name")?,
    };
    Ok((spec, text(&obj, "Namespace")?))
}

/// `PUT /v1/volume/csi/:id/claim`.
pub(crate) async fn claim<B: Backend>(
    b: B,
    t: &Token,
    id: &str,
    p: &RawParams,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(headers, body).await?;
    let (claim, body_ns) = decode_claim(&body)?;
    let cas = p.cas()?;
    let namespace = p
        .text("namespace")
        .or((!body_ns.is_empty()).then_some(body_ns))
        .unwrap_or_else(|| "default".into());
    let claimed = b
        .csi()
        .claim(
            t,
            ClaimVolumeRequest {
                namespace,
                volume_id: id.to_string(),
                claim,
                cas,
            },
        )
        .await?;
    Ok(respond::json(
        &claimed,
        p.pretty(),
        Some(respond::meta(&b, claimed.index)),
    ))
}

/// `DELETE /v1/volume/csi/:id/detach?node=`.
pub(crate) async fn detach<B: Backend>(
    b: B,
    t: &Token,
    id: &str,
    p: &RawParams,
) -> Result<Response, ApiError> {
    let written = b
        .csi()
        .detach(
            t,
            DetachRequest {
                namespace: p.namespace(),
                volume_id: id.to_string(),
                node_id: p.text("node").unwrap_or_default(),
            },
        )
        .await?;
    Ok(respond::empty(respond::meta(&b, written.index)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_codes_and_names() {
        let (r, ns) = decode_claim(br#"{"allocationid":"a1","NodeID":"n1","Claim":1,"State":"taken","AccessMode":"single-node-writer","AttachmentMode":"file-system","Namespace":"prod"}"#).expect("ok");
        assert_eq!(
            (r.mode, r.state, r.access_mode.as_str(), ns.as_str()),
            (
                ClaimMode::Write,
                ClaimState::Taken,
                "single-node-writer",
                "prod"
            )
        );
        let (r, _) =
            decode_claim(br#"{"AllocationID":"a1","Claim":"read","State":3}"#).expect("ok");
        assert_eq!(
            (r.mode, r.state),
            (ClaimMode::Read, ClaimState::ReadyToFree)
        );
    }

    #[test]
    fn refuses_what_cannot_be_read() {
        let err = |b: &str| decode_claim(b.as_bytes()).expect_err(b).to_string();
        assert_eq!(
            err(r#"{"AllocationID":"a","Claim":7,"NodeID":"n"}"#),
            "unknown claim claim 7"
        );
        assert_eq!(
            err(r#"{"AllocationID":"a","State":"gone","NodeID":"n"}"#),
            "unknown claim state \"gone\""
        );
        assert_eq!(
            err(r#"{"AllocationID":"a","NodeID":7}"#),
            "json: cannot unmarshal value into Go struct field CSIVolumeClaimRequest.NodeID of type string"
        );
        assert_eq!(err(""), "Request body is empty");
    }
}
