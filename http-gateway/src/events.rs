//! `GET /v1/event/stream`: newline-delimited JSON frames in Nomad's framing, for as long as the
//! client reads. `topic=Topic:Key` (repeatable; `*` matches any), `index=` to resume after an
//! index, `namespace=` (`*` for all) for volume events.

use crate::backend::Backend;
use crate::caller::Caller;
use crate::error::{ApiError, invalid_method};
use crate::params::RawParams;
use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use futures::StreamExt;
use stowage_proto::api::EventQuery;

pub(crate) fn routes<B: Backend>() -> Router<B> {
    Router::new().route(
        "/v1/event/stream",
        get(stream::<B>).fallback(invalid_method),
    )
}

/// `Topic:Key` pairs; a bare `Topic` means every key, as in Nomad.
fn topics(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "topic")
        .map(|(_, v)| {
            let (topic, key) = v.split_once(':').unwrap_or((&v, "*"));
            if topic.is_empty() || key.is_empty() {
                return Err(ApiError::BadRequest(format!(
                    "Invalid topic query parameter {v:?}: expected Topic:Key"
                )));
            }
            Ok((topic.to_string(), key.to_string()))
        })
        .collect()
}

async fn stream<B: Backend>(
    State(b): State<B>,
    Caller(t): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    let index = match p.get("index") {
        None | Some("") => 0,
        Some(v) => v.parse::<u64>().map_err(|_| {
            ApiError::BadRequest(format!("Unable to parse index: {v:?} is not an index"))
        })?,
    };
    let query = EventQuery {
        index,
        topics: topics(q.as_deref())?,
        namespace: p.namespace(),
    };
    let frames = b.event_stream(t, query).await?;
    let body = Body::from_stream(frames.map(Ok::<_, std::convert::Infallible>));
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
