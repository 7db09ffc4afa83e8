//! Nomad's namespace endpoints. `default` always exists; a namespace that still holds volumes
//! cannot be deleted.

use crate::backend::Backend;
use crate::body::{decode_object, read_body};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::params::{RawParams, ReadOptions};
use crate::respond;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde::Deserialize;
use std::collections::BTreeMap;
use stowage_proto::acl::Token;
use stowage_proto::api::{AclApi, ErrorCode, NamedListQuery, NamedQuery, NamespaceSpec};

/// `GET /v1/namespaces`.
pub(crate) async fn list<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    let opts = ReadOptions::parse(&p)?;
    let query = NamedListQuery {
        prefix: opts.prefix,
        options: opts.query,
    };
    let read = b.csi().namespaces(&t, query).await?;
    Ok(respond::read(&b, &read, p.pretty()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NamespaceBody {
    name: String,
    description: String,
    quota: String,
    meta: Option<BTreeMap<String, String>>,
}

async fn write<B: Backend>(
    b: &B,
    t: &Token,
    path_name: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body: NamespaceBody = decode_object(&read_body(headers, body).await?)?;
    if path_name.is_some_and(|name| body.name != name) {
        return Err(ApiError::BadRequest(
            "Namespace name does not match request path".into(),
        ));
    }
    let spec = NamespaceSpec {
        name: body.name,
        description: body.description,
        quota: body.quota,
        meta: body.meta,
    };
    let written = b.csi().upsert_namespace(t, spec).await?;
    Ok(respond::empty(respond::meta(b, written.index)))
}

/// `PUT`/`POST /v1/namespace`: the name comes from the body.
pub(crate) async fn create<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    write(&b, &t, None, &headers, body).await
}

/// `/v1/namespace/:name`.
pub(crate) async fn one<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    method: Method,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    match method {
        Method::GET => {
            let query = NamedQuery {
                name,
                options: ReadOptions::parse(&p)?.query,
            };
            let read = b.csi().namespace(&t, query).await?;
            Ok(respond::found(
                &b,
                read,
                p.pretty(),
                "Namespace not found",
                ErrorCode::NamespaceNotFound,
            ))
        }
        Method::PUT | Method::POST => write(&b, &t, Some(&name), &headers, body).await,
        Method::DELETE => {
            let written = b.csi().delete_namespace(&t, name).await?;
            Ok(respond::empty(respond::meta(&b, written.index)))
        }
        _ => Err(ApiError::InvalidMethod),
    }
}

/// `/v1/namespace/` with no name.
pub(crate) async fn without_name() -> ApiError {
    ApiError::BadRequest("Missing Namespace Name".into())
}
