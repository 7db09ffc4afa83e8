//! Nomad's status endpoints (`/v1/status/leader`, `/v1/status/peers`) and `/v1/agent/health`.

use crate::backend::Backend;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use axum::{Json, Router};
use serde_json::json;

pub(crate) fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route("/v1/status/leader", get_only(get(leader::<B>)))
        .route("/v1/status/peers", get_only(get(peers::<B>)))
        .route("/v1/agent/health", get_only(get(health::<B>)))
}

/// Any method but GET answers Nomad's 405.
pub(crate) fn get_only<B: Backend>(r: MethodRouter<B>) -> MethodRouter<B> {
    r.fallback(crate::error::invalid_method)
}

/// Like Nomad: the leader's RPC address as a JSON string, `""` while there is none.
async fn leader<B: Backend>(State(b): State<B>) -> Json<String> {
    Json(b.leader_rpc_addr().unwrap_or_default())
}

async fn peers<B: Backend>(State(b): State<B>) -> Json<Vec<String>> {
    Json(b.peer_rpc_addrs())
}

/// Nomad's body shape (`{"server":{"ok":…,"message":…}}`), with 503 when not healthy.
async fn health<B: Backend>(State(b): State<B>) -> Response {
    let report = b.health().await;
    let status = if report.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "server": { "ok": report.healthy, "message": report.message } })),
    )
        .into_response()
}
