//! The CSI volume endpoints: list, read, register, deregister, and the sub-paths of
//! `/v1/volume/csi/:id`, routed with Nomad's method and path rules.

use crate::backend::{Backend, Watch};
use crate::blocking;
use crate::error::ApiError;
use crate::filter::Filter;
use crate::input::decode_register;
use crate::params::{RawParams, ReadOptions, parse_go_bool};
use crate::respond::{self, Meta};
use crate::views::{ApiVolume, VolumeStub};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use stowage_proto::rules::validate;
use stowage_proto::{Command, Outcome, Query, QueryResult, VolumeKey};

/// Largest request body accepted.
pub const MAX_BODY: usize = 8 * 1024 * 1024;

pub(crate) async fn read_body(headers: &HeaderMap, body: Body) -> Result<bytes::Bytes, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::TooLarge)?;
    let chunked = headers
        .get(axum::http::header::TRANSFER_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
    if bytes.is_empty() && chunked {
        // What Go's decoder says for a zero-length chunked body.
        return Err(ApiError::BadRequest("EOF".into()));
    }
    Ok(bytes)
}

pub(crate) fn meta<B: Backend>(b: &B, index: u64) -> Meta {
    Meta {
        index,
        fresh: b.freshness(),
    }
}

/// `GET /v1/volumes`.
pub(crate) async fn list<B: Backend>(
    State(b): State<B>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    match p.get("type") {
        None => return Ok(respond::json(&Vec::<VolumeStub>::new(), p.pretty(), None)),
        Some("csi") => {}
        Some(_) => return Err(ApiError::NoRoute),
    }
    let opts = ReadOptions::parse(&p)?;
    let filter = opts
        .filter
        .as_deref()
        .map(Filter::parse)
        .transpose()
        .map_err(|e| {
            ApiError::BadRequest(format!(
                "failed to create result paginator: failed to read filter expression: {e}"
            ))
        })?;
    let plugin_prefix = p.text("plugin_id");
    let node_prefix = p.text("node_id").map(|n| n.to_lowercase());
    let namespace = (opts.namespace != "*").then(|| opts.namespace.clone());
    let after = opts.next_token.as_deref().map(parse_token);
    let (result, index) = blocking::read(
        &b,
        &opts,
        Query::Volumes { namespace },
        Watch::Volumes,
        |_, index| index,
    )
    .await?;
    let QueryResult::Volumes(details) = result else {
        return Err(ApiError::Internal("unexpected query result".into()));
    };
    let mut stubs = Vec::new();
    let mut next_token = None;
    for d in &details {
        let v = &d.volume;
        if opts
            .prefix
            .as_ref()
            .is_some_and(|pre| !v.id.starts_with(pre.as_str()))
            || plugin_prefix
                .as_ref()
                .is_some_and(|pre| !v.plugin_id.starts_with(pre.as_str()))
            || node_prefix.as_ref().is_some_and(|pre| {
                !d.claims
                    .iter()
                    .any(|c| c.node_id.to_lowercase().starts_with(pre.as_str()))
            })
            || after.as_ref().is_some_and(|(ns, id)| {
                (v.namespace.as_str(), v.id.as_str()) < (ns.as_str(), id.as_str())
            })
        {
            continue;
        }
        let api = ApiVolume::from_detail(d);
        if let Some(f) = &filter {
            let keep = f
                .matches(&api.to_value())
                .map_err(|e| ApiError::BadRequest(format!("failed to read result page: {e}")))?;
            if !keep {
                continue;
            }
        }
        if opts.per_page > 0 && stubs.len() == opts.per_page as usize {
            next_token = Some(format!("{}.{}", v.namespace, v.id));
            break;
        }
        stubs.push(api.stub());
    }
    let mut resp = respond::json(&stubs, p.pretty(), Some(meta(&b, index)));
    if let Some(token) = next_token.and_then(|t| axum::http::HeaderValue::from_str(&t).ok()) {
        resp.headers_mut().insert("X-Nomad-NextToken", token);
    }
    Ok(resp)
}

/// A `next_token` is `<namespace>.<id>`; namespace names cannot contain a dot, so the first dot
/// splits them (Nomad compares the joined strings, which misorders `a`/`a-b`; we do not).
fn parse_token(t: &str) -> (String, String) {
    match t.split_once('.') {
        Some((ns, id)) => (ns.to_string(), id.to_string()),
        None => (t.to_string(), String::new()),
    }
}

async fn read_one<B: Backend>(b: B, id: &str, p: &RawParams) -> Result<Response, ApiError> {
    let opts = ReadOptions::parse(p)?;
    if id.is_empty() {
        return Err(ApiError::BadRequest("missing volume ID".into()));
    }
    let key = VolumeKey::new(opts.namespace.clone(), id);
    let query = Query::Volume {
        namespace: key.namespace.clone(),
        id: key.id.clone(),
    };
    let changed_at = |r: &QueryResult, _| match r {
        QueryResult::Volume(Some(d)) => d.volume.modify_index,
        _ => 0,
    };
    let (result, index) = blocking::read(&b, &opts, query, Watch::Volume(key), changed_at).await?;
    let meta = meta(&b, index);
    match result {
        QueryResult::Volume(Some(d)) => Ok(respond::json(
            &ApiVolume::from_detail(&d),
            p.pretty(),
            Some(meta),
        )),
        _ => {
            // Nomad's GET 404 carries the meta headers, so a client can block until it appears.
            let mut resp = ApiError::NotFound("volume not found".into()).into_response();
            respond::add_meta(&mut resp, meta);
            Ok(resp)
        }
    }
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
    path_id: Option<&str>,
    p: &RawParams,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(headers, body).await?;
    let decoded = decode_register(&body, path_id, p.text("namespace"))?;
    let cas = p.cas()?;
    let mut seen = std::collections::BTreeSet::new();
    let mut volumes = Vec::with_capacity(decoded.volumes.len());
    for (v, raw) in decoded.volumes {
        let problems = validate(&v, &raw);
        if !problems.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "validation: {}",
                problems.join(", ")
            )));
        }
        if !seen.insert(v.key()) {
            return Err(ApiError::BadRequest(format!(
                "volume {} is listed twice in one request",
                v.id
            )));
        }
        volumes.push(v);
    }
    let resp = b.write(Command::RegisterVolumes { volumes, cas }).await?;
    let Outcome::Registered { volumes, warnings } = resp.result? else {
        return Err(ApiError::Internal("unexpected register outcome".into()));
    };
    let fresh = b.freshness();
    let out = RegisterResponse {
        volumes: volumes.iter().map(ApiVolume::from_detail).collect(),
        warnings: warnings.join("\n"),
        index: resp.table_index,
        last_contact: fresh.last_contact_ms,
        known_leader: fresh.known_leader,
        next_token: String::new(),
    };
    Ok(respond::json(
        &out,
        p.pretty(),
        Some(Meta {
            index: resp.table_index,
            fresh,
        }),
    ))
}

async fn deregister<B: Backend>(b: B, id: &str, p: &RawParams) -> Result<Response, ApiError> {
    let force = match p.get("force") {
        None | Some("") => false,
        Some(v) => {
            parse_go_bool(v).ok_or_else(|| ApiError::BadRequest("invalid force value".into()))?
        }
    };
    let cas = p.cas()?;
    let command = Command::DeregisterVolume {
        namespace: p.namespace(),
        id: id.to_string(),
        force,
        cas,
    };
    let resp = b.write(command).await?;
    resp.result?;
    Ok(respond::empty(meta(&b, resp.table_index)))
}

/// `PUT`/`POST /v1/volumes`: register.
pub(crate) async fn register_root<B: Backend>(
    State(b): State<B>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    register(b, None, &RawParams::parse(q.as_deref()), &headers, body).await
}

/// `/v1/volume/csi/` with an empty ID.
pub(crate) async fn empty_id<B: Backend>(
    State(b): State<B>,
    method: Method,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    dispatch(b, method, "", q, headers, body).await
}

/// `/v1/volume/csi/*rest`: Nomad splits the decoded rest on `/`.
pub(crate) async fn by_path<B: Backend>(
    State(b): State<B>,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    dispatch(b, method, &rest, q, headers, body).await
}

async fn dispatch<B: Backend>(
    b: B,
    method: Method,
    rest: &str,
    q: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    let segments: Vec<&str> = rest.split('/').collect();
    match (segments.as_slice(), &method) {
        ([id], &Method::GET) => read_one(b, id, &p).await,
        ([id], &Method::PUT) => register(b, Some(id), &p, &headers, body).await,
        ([id], &Method::DELETE) => deregister(b, id, &p).await,
        ([_], _) => Err(ApiError::InvalidMethod),
        ([_, "create"], &Method::PUT) | ([_, "delete"], &Method::DELETE) => Err(ApiError::NotImplemented(
            "creating and deleting volumes needs calls to the CSI controller plugin, which stowage does not make yet; register an existing volume instead".into(),
        )),
        ([id, "detach"], &Method::DELETE) => crate::claims::detach(b, id, &p).await,
        ([id, "claim"], &Method::PUT) => crate::claims::claim(b, id, &p, &headers, body).await,
        ([_, _], &Method::PUT | &Method::DELETE) => Err(ApiError::NoRoute),
        ([_, _], _) => Err(ApiError::InvalidMethod),
        _ => Err(ApiError::NoRoute),
    }
}

/// External volume listing and snapshots pass through to a controller plugin (D14).
pub(crate) async fn plugin_passthrough() -> ApiError {
    ApiError::NotImplemented(
        "listing external volumes and managing snapshots needs calls to the CSI controller plugin, which stowage does not make yet".into(),
    )
}
