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
use stowage_proto::api::OperatorApi;
use stowage_proto::archive;

/// The largest archive a restore accepts. The restore travels as one Raft entry, which must be
/// sent to each follower in one message of at most 64 MiB alongside other entries, within the
/// append timeout (2 s); 16 MiB (some 30,000 volumes) leaves room for both.
pub const MAX_ARCHIVE: usize = 16 * 1024 * 1024;

pub(crate) const PATH: &str = "/v1/operator/snapshot";

pub(crate) fn routes<B: Backend>() -> Router<B> {
    Router::new().route(
        PATH,
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
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(crate::limits::read_failure)?;
    // Checking and decoding megabytes is work for a blocking thread, not an async worker.
    let decoded = tokio::task::spawn_blocking(move || archive::decode(&bytes))
        .await
        .map_err(|e| ApiError::BadRequest(format!("snapshot: {e}")))?;
    let (_, tables) = decoded.map_err(|e| ApiError::BadRequest(format!("snapshot: {e}")))?;
    let written = b.csi().restore_tables(&t, tables).await?;
    Ok(respond::empty(respond::meta(&b, written.index)))
}
