//! Nomad's ACL endpoints: bootstrap, policies and tokens. They decode, call the endpoint, and
//! answer in Nomad's shapes; who may do what is the endpoint's to decide.

use crate::backend::Backend;
use crate::body::{decode_object, read_body};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::params::{RawParams, ReadOptions, parse_go_duration};
use crate::respond;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde::Deserialize;
use stowage_proto::acl::Token;
use stowage_proto::api::{
    AclApi, AclPolicySpec, AclTokenSpec, BootstrapRequest, CsiError, ErrorCode, NamedListQuery,
    NamedQuery,
};

/// A list of this endpoint's records: `prefix`, `stale` and blocking as on every read.
fn list_query(p: &RawParams) -> Result<NamedListQuery, ApiError> {
    let opts = ReadOptions::parse(p)?;
    Ok(NamedListQuery {
        prefix: opts.prefix,
        options: opts.query,
    })
}

fn named_query(name: String, p: &RawParams) -> Result<NamedQuery, ApiError> {
    Ok(NamedQuery {
        name,
        options: ReadOptions::parse(p)?.query,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BootstrapBody {
    bootstrapsecret: Option<String>,
}

/// `PUT`/`POST /v1/acl/bootstrap`.
pub(crate) async fn bootstrap<B: Backend>(
    State(b): State<B>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    let body = read_body(&headers, body).await?;
    let req: BootstrapBody = if body.is_empty() {
        BootstrapBody::default()
    } else {
        decode_object(&body)
            .map_err(|e| ApiError::BadRequest(format!("failed to decode request body: {e}")))?
    };
    let written = b
        .csi()
        .acl_bootstrap(BootstrapRequest {
            bootstrap_secret: req.bootstrapsecret,
        })
        .await?;
    Ok(respond::json(
        &written.token,
        p.pretty(),
        Some(respond::meta(&b, written.index)),
    ))
}

/// `GET /v1/acl/policies`.
pub(crate) async fn policies<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    let read = b.csi().acl_policies(&t, list_query(&p)?).await?;
    Ok(respond::read(&b, &read, p.pretty()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PolicyBody {
    name: String,
    description: String,
    rules: String,
}

/// `/v1/acl/policy/:name`. `self` is the caller's own policies, as in Nomad.
pub(crate) async fn policy<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    method: Method,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    match (name.as_str(), method) {
        // Nomad answers a caller with no token from workload identities, of which there are
        // none here: permission denied.
        ("self", Method::GET) if t.presented().is_none() => {
            Err(ApiError::Csi(CsiError::PermissionDenied))
        }
        ("self", Method::GET) => {
            let read = b.csi().acl_policies(&t, list_query(&p)?).await?;
            Ok(respond::read(&b, &read, p.pretty()))
        }
        ("self", _) => Err(ApiError::InvalidMethod),
        (_, Method::GET) => {
            let read = b.csi().acl_policy(&t, named_query(name, &p)?).await?;
            Ok(respond::found(
                &b,
                read,
                p.pretty(),
                "ACL policy not found",
                ErrorCode::AclPolicyNotFound,
            ))
        }
        (_, Method::PUT | Method::POST) => {
            let body: PolicyBody = decode_object(&read_body(&headers, body).await?)?;
            if body.name != name {
                return Err(ApiError::BadRequest(
                    "ACL policy name does not match request path".into(),
                ));
            }
            let spec = AclPolicySpec {
                name: body.name,
                description: body.description,
                rules: body.rules,
            };
            let written = b.csi().upsert_acl_policy(&t, spec).await?;
            Ok(respond::empty(respond::meta(&b, written.index)))
        }
        (_, Method::DELETE) => {
            let written = b.csi().delete_acl_policy(&t, name).await?;
            Ok(respond::empty(respond::meta(&b, written.index)))
        }
        _ => Err(ApiError::InvalidMethod),
    }
}

/// `/v1/acl/policy/` with no name.
pub(crate) async fn policy_without_name() -> ApiError {
    ApiError::BadRequest("Missing Policy Name".into())
}

/// `GET /v1/acl/tokens`.
pub(crate) async fn tokens<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    let read = b.csi().acl_tokens(&t, list_query(&p)?).await?;
    Ok(respond::read(&b, &read, p.pretty()))
}

/// A token body: `ExpirationTTL` as a Go duration (`"10h"`) or a number of nanoseconds.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TokenBody {
    accessorid: String,
    name: String,
    r#type: String,
    policies: Vec<String>,
    global: bool,
    expirationttl: Option<serde_json::Value>,
    expirationtime: Option<String>,
}

impl TokenBody {
    fn spec(self) -> Result<AclTokenSpec, ApiError> {
        let ttl = match self.expirationttl {
            None => 0,
            // Go decodes a Duration from an integer of nanoseconds only.
            Some(serde_json::Value::Number(n)) => n.as_i64().ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "json: cannot unmarshal number {n} into Go struct field ACLToken.ExpirationTTL of type time.Duration"
                ))
            })?,
            Some(serde_json::Value::String(s)) if s.is_empty() => 0,
            Some(serde_json::Value::String(s)) => {
                let d = parse_go_duration(&s)
                    .ok_or_else(|| ApiError::BadRequest(format!("time: invalid duration {s:?}")))?;
                i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
            }
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "json: cannot unmarshal {other} into Go struct field ACLToken.ExpirationTTL of type time.Duration"
                )));
            }
        };
        Ok(AclTokenSpec {
            accessor_id: self.accessorid,
            name: self.name,
            kind: self.r#type,
            policies: self.policies,
            global: self.global,
            expiration_ttl: ttl,
            expiration_time: self.expirationtime,
        })
    }
}

async fn write_token<B: Backend>(
    b: &B,
    t: &Token,
    spec: AclTokenSpec,
    p: &RawParams,
) -> Result<Response, ApiError> {
    let written = b.csi().upsert_acl_token(t, spec).await?;
    Ok(respond::json(
        &written.token,
        p.pretty(),
        Some(respond::meta(b, written.index)),
    ))
}

/// `PUT`/`POST /v1/acl/token`: make a token.
pub(crate) async fn create_token<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    let body: TokenBody = decode_object(&read_body(&headers, body).await?)?;
    write_token(&b, &t, body.spec()?, &p).await
}

/// `GET /v1/acl/token/self`.
pub(crate) async fn token_self<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    let read = b.csi().acl_token_self(&t).await?;
    Ok(respond::read(&b, &read, p.pretty()))
}

/// `/v1/acl/token/:accessor`.
pub(crate) async fn token<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    method: Method,
    Path(accessor): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    match method {
        Method::GET => {
            let read = b.csi().acl_token(&t, named_query(accessor, &p)?).await?;
            Ok(respond::found(
                &b,
                read,
                p.pretty(),
                "ACL token not found",
                ErrorCode::AclTokenNotFound,
            ))
        }
        Method::PUT | Method::POST => {
            let body: TokenBody = decode_object(&read_body(&headers, body).await?)?;
            if body.accessorid != accessor {
                return Err(ApiError::BadRequest(
                    "ACL token accessor does not match request path".into(),
                ));
            }
            write_token(&b, &t, body.spec()?, &p).await
        }
        Method::DELETE => {
            let written = b.csi().delete_acl_token(&t, accessor).await?;
            Ok(respond::empty(respond::meta(&b, written.index)))
        }
        _ => Err(ApiError::InvalidMethod),
    }
}

/// `/v1/acl/token/` with no accessor.
pub(crate) async fn token_without_accessor() -> ApiError {
    ApiError::BadRequest("Missing Token Accessor".into())
}
