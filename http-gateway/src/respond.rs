//! Writing successful responses as Nomad does: JSON (4-space indented with `?pretty`), and the
//! meta headers `X-Nomad-Index`, `X-Nomad-KnownLeader`, `X-Nomad-LastContact`.

use crate::backend::{Backend, Freshness};
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use stowage_proto::api::Read;

/// The meta headers of one response.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    pub index: u64,
    pub fresh: Freshness,
}

/// The meta headers for an answer at `index`, with this node's view of the leader.
pub fn meta<B: Backend>(b: &B, index: u64) -> Meta {
    Meta {
        index,
        fresh: b.freshness(),
    }
}

fn header_value(v: impl ToString) -> HeaderValue {
    HeaderValue::from_str(&v.to_string()).unwrap_or(HeaderValue::from_static("0"))
}

pub fn add_meta(resp: &mut Response, meta: Meta) {
    let h = resp.headers_mut();
    h.insert("X-Nomad-Index", header_value(meta.index));
    h.insert(
        "X-Nomad-KnownLeader",
        HeaderValue::from_static(if meta.fresh.known_leader {
            "true"
        } else {
            "false"
        }),
    );
    h.insert(
        "X-Nomad-LastContact",
        header_value(meta.fresh.last_contact_ms),
    );
}

pub fn to_json<T: Serialize>(body: &T, pretty: bool) -> Vec<u8> {
    if pretty {
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        if body.serialize(&mut ser).is_ok() {
            out.push(b'\n');
            return out;
        }
    }
    serde_json::to_vec(body).unwrap_or_else(|_| b"null".to_vec())
}

/// 200 with a JSON body and, when given, the meta headers.
pub fn json<T: Serialize>(body: &T, pretty: bool, meta: Option<Meta>) -> Response {
    let mut resp = Response::new(Body::from(to_json(body, pretty)));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(m) = meta {
        add_meta(&mut resp, m);
    }
    resp
}

/// 200 with an empty body and no content type (deregister, detach), plus the meta headers.
pub fn empty(meta: Meta) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::OK;
    add_meta(&mut resp, meta);
    resp
}

/// 200 with a read's value as JSON and its index in the meta headers.
pub fn read<B: Backend, T: Serialize>(b: &B, read: &Read<T>, pretty: bool) -> Response {
    json(&read.value, pretty, Some(meta(b, read.index)))
}

/// 200 with what a read found, or Nomad's plain-text 404 naming what is `missing`. The 404
/// carries the meta headers too, so that a client can block until the record appears.
pub fn found<B: Backend, T: Serialize>(
    b: &B,
    read: Read<Option<T>>,
    pretty: bool,
    missing: &'static str,
    code: stowage_proto::api::ErrorCode,
) -> Response {
    use axum::response::IntoResponse;
    let meta = meta(b, read.index);
    match read.value {
        Some(v) => json(&v, pretty, Some(meta)),
        None => {
            let mut resp = crate::error::ApiError::NotFound {
                text: missing,
                code,
            }
            .into_response();
            add_meta(&mut resp, meta);
            resp
        }
    }
}
