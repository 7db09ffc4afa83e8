//! CSI plugins: Nomad's list and read, plus the fingerprint feed (Part A D3) through which node
//! agents or operators report a plugin's provider, version and health.

use crate::backend::{Backend, Watch};
use crate::blocking;
use crate::error::ApiError;
use crate::params::{RawParams, ReadOptions};
use crate::respond;
use crate::views::{ApiPlugin, PluginStub};
use crate::volumes::{meta, read_body};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use stowage_proto::{Command, Outcome, Plugin, Query, QueryResult};

pub(crate) async fn list<B: Backend>(
    State(b): State<B>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    if p.get("type").is_some_and(|t| t != "csi") {
        return Err(ApiError::NoRoute);
    }
    let opts = ReadOptions::parse(&p)?;
    let (result, index) =
        blocking::read(&b, &opts, Query::Plugins, Watch::Plugins, |_, i| i).await?;
    let QueryResult::Plugins(plugins) = result else {
        return Err(ApiError::Internal("unexpected query result".into()));
    };
    let stubs: Vec<PluginStub> = plugins
        .iter()
        .filter(|pl| {
            opts.prefix
                .as_ref()
                .is_none_or(|pre| pl.id.starts_with(pre.as_str()))
        })
        .map(PluginStub::from_plugin)
        .collect();
    Ok(respond::json(&stubs, p.pretty(), Some(meta(&b, index))))
}

pub(crate) async fn read<B: Backend>(
    State(b): State<B>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    let opts = ReadOptions::parse(&p)?;
    let changed_at = |r: &QueryResult, _| match r {
        QueryResult::Plugin(Some(pl)) => pl.modify_index,
        _ => 0,
    };
    let (result, index) =
        blocking::read(&b, &opts, Query::Plugin { id }, Watch::Plugins, changed_at).await?;
    let meta = meta(&b, index);
    match result {
        QueryResult::Plugin(Some(pl)) => Ok(respond::json(
            &ApiPlugin::from_plugin(&pl),
            p.pretty(),
            Some(meta),
        )),
        _ => {
            let mut resp = ApiError::NotFound("plugin not found".into()).into_response();
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

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct FingerprintResponse {
    plugin: ApiPlugin,
    index: u64,
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
    let counts = [
        f.controllershealthy,
        f.controllersexpected,
        f.nodeshealthy,
        f.nodesexpected,
    ];
    if counts.iter().any(|c| *c < 0) {
        return Err(ApiError::BadRequest(
            "plugin health counts cannot be negative".into(),
        ));
    }
    let plugin = Plugin {
        id,
        provider: f.provider,
        version: f.version,
        controller_required: f.controllerrequired,
        controllers_healthy: f.controllershealthy,
        controllers_expected: f.controllersexpected,
        nodes_healthy: f.nodeshealthy,
        nodes_expected: f.nodesexpected,
        ..Default::default()
    };
    let resp = b.write(Command::UpsertPlugin { plugin }).await?;
    let Outcome::Plugin(stored) = resp.result? else {
        return Err(ApiError::Internal("unexpected plugin outcome".into()));
    };
    let out = FingerprintResponse {
        plugin: ApiPlugin::from_plugin(&stored),
        index: resp.table_index,
    };
    Ok(respond::json(
        &out,
        p.pretty(),
        Some(meta(&b, resp.table_index)),
    ))
}

/// `DELETE /v1/plugin/csi/:id`: forget a plugin.
pub(crate) async fn remove<B: Backend>(
    State(b): State<B>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let resp = b.write(Command::DeletePlugin { id }).await?;
    resp.result?;
    Ok(respond::empty(meta(&b, resp.table_index)))
}
