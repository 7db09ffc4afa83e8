//! `/v1/openapi.json`: the OpenAPI 3 document of every public endpoint, kept beside the code in
//! `openapi.json` and held to the router by `server/tests/openapi.rs`.

use crate::backend::Backend;
use crate::status::get_only;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// The document, as committed.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

pub(crate) fn routes<B: Backend>() -> Router<B> {
    Router::new().route("/v1/openapi.json", get_only(get(document)))
}

async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}
