//! Reading request bodies as Nomad's Go decoder does for flat objects: field names in any case,
//! `null` for "not given", unknown fields ignored.

use crate::error::ApiError;
use axum::body::Body;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

/// Largest request body accepted unless a node is configured otherwise.
pub const MAX_BODY: usize = 8 * 1024 * 1024;

pub(crate) async fn read_body(headers: &HeaderMap, body: Body) -> Result<bytes::Bytes, ApiError> {
    // The router's `limits::bodies` bounds every body, by size and by time.
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(crate::limits::read_failure)?;
    let chunked = headers
        .get(axum::http::header::TRANSFER_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
    if bytes.is_empty() && chunked {
        // What Go's decoder says for a zero-length chunked body.
        return Err(ApiError::BadRequest("EOF".into()));
    }
    Ok(bytes)
}

/// Decodes a JSON object into `T`, whose serde field names are the lowercase Go field names.
/// Only top-level names are folded; the keys of a map value (say, `Meta`) are data.
pub(crate) fn decode_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::BadRequest("Request body is empty".into()));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))?;
    let folded = match value {
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.to_lowercase(), v))
                .collect(),
        ),
        other => other,
    };
    serde_json::from_value(folded).map_err(|e| ApiError::BadRequest(format!("json: {e}")))
}
