//! The CSI volume endpoints: list, read, register, deregister, and the sub-paths of
//! `/v1/volume/csi/:id`, routed with Nomad's method and path rules.

use crate::backend::Backend;
use crate::body::read_body;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::input::decode_register;
use crate::params::{RawParams, ReadOptions, parse_go_bool};
use crate::respond::{self, Meta};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde::Serialize;
use stowage_proto::acl::Token;
use stowage_proto::api::{
    ApiVolume, CsiApi, DeregisterRequest, ErrorCode, ListQuery, Namespaces, VolumeQuery, VolumeStub,
};

/// `GET /v1/volumes`.
pub(crate) async fn list<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    match p.get("type") {
        None => return Ok(respond::json(&Vec::<VolumeStub>::new(), p.pretty(), None)),
        Some("csi") => {}
        Some(_) => return Err(ApiError::NoRoute),
    }
    let opts = ReadOptions::parse(&p)?;
    let query = ListQuery {
        namespaces: if opts.namespace == "*" {
            Namespaces::All
        } else {
            Namespaces::One(opts.namespace.clone())
        },
        prefix: opts.prefix,
        plugin_id: p.text("plugin_id"),
        node_id: p.text("node_id"),
        per_page: opts.per_page,
        next_token: opts.next_token,
        filter: opts.filter,
        options: opts.query,
    };
    let page = b.csi().volumes(&t, query).await?;
    let mut resp = respond::json(&page.items, p.pretty(), Some(respond::meta(&b, page.index)));
    if let Some(token) = page
        .next_token
        .and_then(|t| axum::http::HeaderValue::from_str(&t).ok())
    {
        resp.headers_mut().insert("X-Nomad-NextToken", token);
    }
    Ok(resp)
}

async fn read_one<B: Backend>(
    b: B,
    t: &Token,
    id: &str,
    p: &RawParams,
) -> Result<Response, ApiError> {
    let opts = ReadOptions::parse(p)?;
    let read = b
        .csi()
        .volume(
            t,
            VolumeQuery {
                namespace: opts.namespace,
                id: id.to_string(),
                options: opts.query,
            },
        )
        .await?;
    Ok(respond::found(
        &b,
        read,
        p.pretty(),
        "volume not found",
        ErrorCode::VolumeNotFound,
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RegisterResponse {
    volumes: Vec<ApiVolume>,
    warnings: String,
    index: u64,
    last_contact: u64,
    known_leader: bool,
    next_token: String,
}

async fn register<B: Backend>(
    b: B,
    t: &Token,
    path_id: Option<&str>,
    p: &RawParams,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(headers, body).await?;
    let mut request = decode_register(&body, path_id, p.text("namespace"))?;
    request.cas = p.cas()?;
    let registered = b.csi().register(t, request).await?;
    let fresh = b.freshness();
    let out = RegisterResponse {
        volumes: registered.volumes,
        warnings: registered.warnings.join("\n"),
        index: registered.index,
        // A Go `time.Duration` in the body, so nanoseconds; the header carries milliseconds.
        last_contact: fresh.last_contact_ms.saturating_mul(1_000_000),
        known_leader: fresh.known_leader,
        next_token: String::new(),
    };
    Ok(respond::json(
        &out,
        p.pretty(),
        Some(Meta {
            index: registered.index,
            fresh,
        }),
    ))
}

async fn deregister<B: Backend>(
    b: B,
    t: &Token,
    id: &str,
    p: &RawParams,
) -> Result<Response, ApiError> {
    let force = match p.get("force") {
        None | Some("") => false,
        Some(v) => {
            parse_go_bool(v).ok_or_else(|| ApiError::BadRequest("invalid force value".into()))?
        }
    };
    let written = b
        .csi()
        .deregister(
            t,
            DeregisterRequest {
                namespace: p.namespace(),
                id: id.to_string(),
                force,
                cas: p.cas()?,
            },
        )
        .await?;
    Ok(respond::empty(respond::meta(&b, written.index)))
}

/// `PUT`/`POST /v1/volumes`: register.
pub(crate) async fn register_root<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    register(b, &t, None, &RawParams::parse(q.as_deref()), &headers, body).await
}

/// `/v1/volume/csi/` with an empty ID.
pub(crate) async fn empty_id<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    method: Method,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    dispatch(b, &t, method, "", q, headers, body).await
}

/// `/v1/volume/csi/*rest`: Nomad splits the decoded rest on `/`.
pub(crate) async fn by_path<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    dispatch(b, &t, method, &rest, q, headers, body).await
}

async fn dispatch<B: Backend>(
    b: B,
    t: &Token,
    method: Method,
    rest: &str,
    q: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    let segments: Vec<&str> = rest.split('/').collect();
    // A future is as large as its largest branch, and a blocking GET is parked in it for up to
    // five minutes: the writes are boxed, so each parked GET holds 4.5 KB here instead of 7.4 KB.
    match (segments.as_slice(), &method) {
        ([id], &Method::GET) => read_one(b, t, id, &p).await,
        ([id], &Method::PUT) => Box::pin(register(b, t, Some(id), &p, &headers, body)).await,
        ([id], &Method::DELETE) => Box::pin(deregister(b, t, id, &p)).await,
        ([_], _) => Err(ApiError::InvalidMethod),
        ([_, "create"], &Method::PUT) | ([_, "delete"], &Method::DELETE) => Err(ApiError::NotImplemented(
            "creating and deleting volumes needs calls to the CSI controller plugin, which stowage does not make yet; register an existing volume instead".into(),
        )),
        ([id, "detach"], &Method::DELETE) => Box::pin(crate::claims::detach(b, t, id, &p)).await,
        ([id, "claim"], &Method::PUT) => {
            Box::pin(crate::claims::claim(b, t, id, &p, &headers, body)).await
        }
        ([_, _], &Method::PUT | &Method::DELETE) => Err(ApiError::NoRoute),
        ([_, _], _) => Err(ApiError::InvalidMethod),
        _ => Err(ApiError::NoRoute),
    }
}

/// External volume listing and snapshots pass through to a controller plugin.
pub(crate) async fn plugin_passthrough() -> ApiError {
    ApiError::NotImplemented(
        "listing external volumes and managing snapshots needs calls to the CSI controller plugin, which stowage does not make yet".into(),
    )
}
