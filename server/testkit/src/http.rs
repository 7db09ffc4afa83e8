//! One HTTP call through the gateway's router, with no sockets, and its reply.

use crate::memory::StateBackend;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use stowage_proto::api::ErrorCode;
use tower::ServiceExt;

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The error code the answer names, if any.
    pub fn code(&self) -> Option<ErrorCode> {
        self.header(stowage_proto::api::ERROR_HEADER)?.parse().ok()
    }

    /// Status and body, for comparing with an expected pair.
    pub fn pair(&self) -> (StatusCode, &str) {
        (self.status, self.body.as_str())
    }
}

pub async fn call(b: &StateBackend, method: &str, uri: &str, body: &str) -> Reply {
    call_as(b, None, method, uri, body).await
}

/// One call carrying `token` in `X-Nomad-Token`, when there is one.
pub async fn call_as(
    b: &StateBackend,
    token: Option<&str>,
    method: &str,
    uri: &str,
    body: &str,
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("X-Nomad-Token", t);
    }
    let req = req.body(Body::from(body.to_string())).expect("request");
    let resp = stowage_http_gateway::router(b.clone())
        .oneshot(req)
        .await
        .expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = to_bytes(resp.into_body(), 1 << 24).await.expect("body");
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Reports plugin `id` with `healthy` healthy nodes through the fingerprint endpoint.
pub async fn report_plugin(b: &StateBackend, id: &str, healthy: i64) -> Reply {
    let body =
        serde_json::json!({"Provider": "ebs", "Version": "1.0.1", "ControllerRequired": false,
        "NodesHealthy": healthy, "NodesExpected": 3})
        .to_string();
    call(b, "PUT", &format!("/v1/plugin/csi/{id}"), &body).await
}

/// A plain-text error with exactly this status and body, and a stable code.
pub fn assert_error(r: &Reply, status: StatusCode, text: &str) {
    assert_eq!((r.status, r.body.as_str()), (status, text));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(
        r.code().is_some(),
        "an error names its code in {}",
        stowage_proto::api::ERROR_HEADER
    );
}

/// A plain-text error with exactly this status, body and code.
pub fn assert_refused(r: &Reply, status: StatusCode, code: ErrorCode, text: &str) {
    assert_error(r, status, text);
    assert_eq!(r.code(), Some(code), "{}", r.body);
}
