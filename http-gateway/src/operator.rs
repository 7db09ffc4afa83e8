//! The operator's endpoints: `/v1/operator/raft/configuration` and `/v1/operator/raft/peer` in
//! Nomad's shapes, and `/v1/agent/self`. While ACLs are on, each needs a management token; the
//! endpoint decides that, as it decides every other permission.

use crate::backend::Backend;
use crate::caller::Caller;
use crate::error::{ApiError, invalid_method};
use crate::params::RawParams;
use crate::respond;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::{delete, get};
use stowage_proto::api::{ApiRaftConfiguration, OperatorApi};

pub(crate) fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route(
            "/v1/operator/raft/configuration",
            get(configuration::<B>).fallback(invalid_method),
        )
        .route(
            "/v1/operator/raft/peer",
            delete(remove_peer::<B>).fallback(invalid_method),
        )
        .route(
            "/v1/agent/self",
            get(agent_self::<B>).fallback(invalid_method),
        )
}

/// `GET /v1/operator/raft/configuration`: answered after confirming with the leader, unless
/// `?stale`.
async fn configuration<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    b.csi().authorize_operator(&t).await?;
    let p = RawParams::parse(q.as_deref());
    let stale = p.flag("stale", || {
        "Expect `true` or `false` for `stale` query string parameter".into()
    })?;
    let config = b.raft_configuration(stale).await?;
    let index = config.index;
    let body = ApiRaftConfiguration::from(config);
    Ok(respond::json(
        &body,
        p.pretty(),
        Some(respond::meta(&b, index)),
    ))
}

/// `DELETE /v1/operator/raft/peer?id=<node id>`: takes a voter or learner out of the cluster.
/// Nomad's `?address=` form is accepted too.
async fn remove_peer<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    b.csi().authorize_operator(&t).await?;
    let p = RawParams::parse(q.as_deref());
    let id = match (p.text("id"), p.text("address")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "Must specify only one of ?id or ?address".into(),
            ));
        }
        (None, None) => {
            return Err(ApiError::BadRequest(
                "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove"
                    .into(),
            ));
        }
        (Some(id), None) => id.parse::<u64>().map_err(|_| {
            ApiError::BadRequest(format!("id {id:?} is not a node id (a positive integer)"))
        })?,
        (None, Some(addr)) => {
            let config = b.raft_configuration(false).await?;
            config
                .servers
                .iter()
                .find(|s| s.rpc_addr == addr)
                .map(|s| s.id)
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "address \"{addr}\" was not found in the Raft configuration"
                    ))
                })?
        }
    };
    let index = b.remove_raft_peer(id).await?;
    Ok(respond::empty(respond::meta(&b, index)))
}

/// `GET /v1/agent/self`: this node's configuration (secrets redacted), membership and version.
async fn agent_self<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    b.csi().authorize_operator(&t).await?;
    Ok(respond::json(&b.agent_self(), p.pretty(), None))
}
