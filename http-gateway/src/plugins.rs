//! CSI plugins: Nomad's list and read, plus the fingerprint feed through which node agents or
//! operators report a plugin's provider, version and health (Nomad learns these from its
//! clients; stowage has none, so they are reported to it).

use crate::backend::Backend;
use crate::error::ApiError;
use crate::params::{RawParams, ReadOptions};
use crate::respond;
use crate::volumes::{meta, read_body};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use stowage_proto::api::{
    CsiApi, DeletePluginRequest, ErrorCode, PluginQuery, PluginReport, PluginsQuery,
};

pub(crate) async fn list<B: Backend>(
    State(b): State<B>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    if p.get("type").is_some_and(|t| t != "csi") {
        return Err(ApiError::NoRoute);
    }
    let opts = ReadOptions::parse(&p)?;
    let read = b
        .csi()
        .plugins(PluginsQuery {
            prefix: opts.prefix,
            options: opts.query,
        })
        .await?;
    Ok(respond::json(
        &read.value,
        p.pretty(),
        Some(meta(&b, read.index)),
    ))
}

pub(crate) async fn read<B: Backend>(
    State(b): State<B>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    let opts = ReadOptions::parse(&p)?;
    let read = b
        .csi()
        .plugin(PluginQuery {
            id,
            options: opts.query,
        })
        .await?;
    let meta = meta(&b, read.index);
    match read.value {
        Some(plugin) => Ok(respond::json(&plugin, p.pretty(), Some(meta))),
        None => {
            let mut resp = ApiError::NotFound {
                text: "plugin not found",
                code: ErrorCode::PluginNotFound,
            }
            .into_response();
            respond::add_meta(&mut resp, meta);
            Ok(resp)
        }
    }
}

/// The body of a fingerprint report. Keys are matched case-insensitively, like every body.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Fingerprint {
    provider: String,
    version: String,
    controllerrequired: bool,
    controllershealthy: i64,
    controllersexpected: i64,
    nodeshealthy: i64,
    nodesexpected: i64,
}

fn lowercase_keys(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.to_lowercase(), v))
                .collect(),
        ),
        other => other,
    }
}

/// `PUT /v1/plugin/csi/:id`: record a plugin's fingerprint.
pub(crate) async fn report<B: Backend>(
    State(b): State<B>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    let body = read_body(&headers, body).await?;
    if body.is_empty() {
        return Err(ApiError::BadRequest("Request body is empty".into()));
    }
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))?;
    let f: Fingerprint = serde_json::from_value(lowercase_keys(value))
        .map_err(|e| ApiError::BadRequest(format!("json: {e}")))?;
    let written = b
        .csi()
        .upsert_plugin(PluginReport {
            id,
            provider: f.provider,
            version: f.version,
            controller_required: f.controllerrequired,
            controllers_healthy: f.controllershealthy,
            controllers_expected: f.controllersexpected,
            nodes_healthy: f.nodeshealthy,
            nodes_expected: f.nodesexpected,
        })
        .await?;
    Ok(respond::json(
        &written,
        p.pretty(),
        Some(meta(&b, written.index)),
    ))
}

/// `DELETE /v1/plugin/csi/:id`: forget a plugin.
pub(crate) async fn remove<B: Backend>(
    State(b): State<B>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let written = b.csi().delete_plugin(DeletePluginRequest { id }).await?;
    Ok(respond::empty(meta(&b, written.index)))
}
