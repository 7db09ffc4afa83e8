//! CSI plugins: Nomad's list and read, plus the fingerprint feed through which node agents or
//! operators report a plugin's provider, version and health (Nomad learns these from its
//! clients; stowage has none, so they are reported to it).

use crate::backend::Backend;
use crate::body::{decode_object, read_body};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::params::{RawParams, ReadOptions};
use crate::respond;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use stowage_proto::api::{
    CsiApi, DeletePluginRequest, ErrorCode, PluginQuery, PluginReport, PluginsQuery,
};

pub(crate) async fn list<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    if p.get("type").is_some_and(|t| t != "csi") {
        return Err(ApiError::NoRoute);
    }
    let opts = ReadOptions::parse(&p)?;
    let read = b
        .csi()
        .plugins(
            &t,
            PluginsQuery {
                prefix: opts.prefix,
                options: opts.query,
            },
        )
        .await?;
    Ok(respond::read(&b, &read, p.pretty()))
}

pub(crate) async fn read<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    let opts = ReadOptions::parse(&p)?;
    let read = b
        .csi()
        .plugin(
            &t,
            PluginQuery {
                id,
                options: opts.query,
            },
        )
        .await?;
    Ok(respond::found(
        &b,
        read,
        p.pretty(),
        "plugin not found",
        ErrorCode::PluginNotFound,
    ))
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

/// `PUT /v1/plugin/csi/:id`: record a plugin's fingerprint.
pub(crate) async fn report<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    let f: Fingerprint = decode_object(&read_body(&headers, body).await?)?;
    let written = b
        .csi()
        .upsert_plugin(
            &t,
            PluginReport {
                id,
                provider: f.provider,
                version: f.version,
                controller_required: f.controllerrequired,
                controllers_healthy: f.controllershealthy,
                controllers_expected: f.controllersexpected,
                nodes_healthy: f.nodeshealthy,
                nodes_expected: f.nodesexpected,
            },
        )
        .await?;
    Ok(respond::json(
        &written,
        p.pretty(),
        Some(respond::meta(&b, written.index)),
    ))
}

/// `DELETE /v1/plugin/csi/:id`: forget a plugin.
pub(crate) async fn remove<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let written = b
        .csi()
        .delete_plugin(&t, DeletePluginRequest { id })
        .await?;
    Ok(respond::empty(respond::meta(&b, written.index)))
}
