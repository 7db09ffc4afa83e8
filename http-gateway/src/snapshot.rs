//! `/v1/operator/snapshot`: GET saves a consistent archive of every table, PUT restores one onto
//! the cluster. A corrupt, truncated or impossible archive is refused and nothing changes.

use crate::backend::Backend;
use crate::caller::Caller;
use crate::error::{ApiError, invalid_method};
use crate::respond;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use stowage_proto::api::AclApi;
use stowage_proto::archive;

/// The largest archive a restore accepts: the restore travels as one Raft entry, which must fit
/// in one message between nodes (64 MiB) with room for its envelope.
pub const MAX_ARCHIVE: usize = 48 * 1024 * 1024;

pub(crate) fn routes<B: Backend>() -> Router<B> {
    Router::new().route(
        "/v1/operator/snapshot",
        get(save::<B>).put(restore::<B>).fallback(invalid_method),
    )
}

async fn save<B: Backend>(State(b): State<B>, Caller(t): Caller) -> Result<Response, ApiError> {
    b.csi().authorize_operator(&t).await?;
    let (index, bytes) = b.snapshot().await?;
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"stowage.snap\""),
    );
    respond::add_meta(&mut resp, respond::meta(&b, index));
    Ok(resp)
}

/// The caller is checked before the body is read: one without rights learns nothing about what
/// it sent.
async fn restore<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    body: Body,
) -> Result<Response, ApiError> {
    b.csi().authorize_operator(&t).await?;
    let bytes = axum::body::to_bytes(body, MAX_ARCHIVE)
        .await
        .map_err(|_| ApiError::TooLarge)?;
    let (_, tables) =
        archive::decode(&bytes).map_err(|e| ApiError::BadRequest(format!("snapshot: {e}")))?;
    let written = b.csi().restore_tables(&t, tables).await?;
    Ok(respond::empty(respond::meta(&b, written.index)))
}
