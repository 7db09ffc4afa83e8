//! stowage-http-gateway owns Nomad's HTTP API on port 4646: routes, query and body parsing with
//! Go's quirks, meta headers, and the one error→status table. It decides nothing about volumes,
//! claims or plugins: it decodes a request, calls the CSI endpoint through the `Backend` trait,
//! and writes the answer.
//!
//! Must not depend on: rocksdb, openraft, stowage-raft.

mod acl;
mod backend;
mod body;
mod caller;
mod claims;
mod error;
mod events;
mod https;
mod input;
mod limits;
mod metrics;
mod namespaces;
mod openapi;
mod operator;
mod params;
mod plugins;
mod respond;
mod serve;
mod snapshot;
mod status;
mod volumes;

pub use backend::{Backend, Freshness, HealthReport};
pub use body::MAX_BODY;
pub use error::ApiError;
pub use https::{Https, HttpsError};
pub use input::decode_register;
pub use limits::{Limits, MIN_HEADER_BYTES};
pub use metrics::Metrics;
pub use openapi::OPENAPI_JSON;
pub use params::parse_go_duration;
pub use serve::{serve, serve_with};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use error::invalid_method;
use tower_http::compression::CompressionLayer;

/// The complete router for one node, with the default limits.
pub fn router<B: Backend>(backend: B) -> Router {
    router_with(backend, &Limits::default())
}

/// The complete router for one node, with `limits` on request bodies.
pub fn router_with<B: Backend>(backend: B, limits: &Limits) -> Router {
    let passthrough = || {
        get(volumes::plugin_passthrough)
            .put(volumes::plugin_passthrough)
            .post(volumes::plugin_passthrough)
            .delete(volumes::plugin_passthrough)
            .fallback(invalid_method)
    };
    Router::new()
        .merge(status::routes())
        .merge(openapi::routes())
        .merge(operator::routes())
        .merge(snapshot::routes())
        .merge(events::routes())
        .route(
            "/v1/metrics",
            get(metrics::scrape::<B>).fallback(invalid_method),
        )
        .route(
            "/v1/volumes",
            get(volumes::list::<B>)
                .put(volumes::register_root::<B>)
                .post(volumes::register_root::<B>)
                .fallback(invalid_method),
        )
        .route(
            "/v1/volumes/external",
            get(volumes::plugin_passthrough).fallback(invalid_method),
        )
        .route("/v1/volumes/snapshot", passthrough())
        .route(
            "/v1/volume/csi",
            any(|| async {
                (
                    StatusCode::MOVED_PERMANENTLY,
                    [(header::LOCATION, "/v1/volume/csi/")],
                )
                    .into_response()
            }),
        )
        .route("/v1/volume/csi/", any(volumes::empty_id::<B>))
        .route("/v1/volume/csi/{*rest}", any(volumes::by_path::<B>))
        .route(
            "/v1/plugins",
            get(plugins::list::<B>).fallback(invalid_method),
        )
        .route(
            "/v1/plugin/csi/{id}",
            get(plugins::read::<B>)
                .put(plugins::report::<B>)
                .delete(plugins::remove::<B>)
                .fallback(invalid_method),
        )
        .route(
            "/v1/acl/bootstrap",
            axum::routing::put(acl::bootstrap::<B>)
                .post(acl::bootstrap::<B>)
                .fallback(invalid_method),
        )
        .route(
            "/v1/acl/policies",
            get(acl::policies::<B>).fallback(invalid_method),
        )
        .route("/v1/acl/policy/", any(acl::policy_without_name))
        .route("/v1/acl/policy/{name}", any(acl::policy::<B>))
        .route(
            "/v1/acl/tokens",
            get(acl::tokens::<B>).fallback(invalid_method),
        )
        .route(
            "/v1/acl/token",
            axum::routing::put(acl::create_token::<B>)
                .post(acl::create_token::<B>)
                .fallback(invalid_method),
        )
        .route(
            "/v1/acl/token/self",
            get(acl::token_self::<B>).fallback(invalid_method),
        )
        .route("/v1/acl/token/", any(acl::token_without_accessor))
        .route("/v1/acl/token/{accessor}", any(acl::token::<B>))
        .route(
            "/v1/namespaces",
            get(namespaces::list::<B>).fallback(invalid_method),
        )
        .route(
            "/v1/namespace",
            axum::routing::put(namespaces::create::<B>)
                .post(namespaces::create::<B>)
                .fallback(invalid_method),
        )
        .route("/v1/namespace/", any(namespaces::without_name))
        .route("/v1/namespace/{name}", any(namespaces::one::<B>))
        .fallback(error::no_route)
        .layer(axum::middleware::from_fn_with_state(
            limits.clone(),
            limits::bodies,
        ))
        .layer(axum::middleware::from_fn_with_state(
            backend.clone(),
            metrics::track::<B>,
        ))
        .with_state(backend)
        .layer(CompressionLayer::new())
}
