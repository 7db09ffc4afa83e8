//! Nomad's status endpoints (`/v1/status/leader`, `/v1/status/peers`) and `/v1/agent/health`.

use crate::backend::Backend;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use axum::{Json, Router};
use serde_json::json;

pub(crate) fn routes<B: Backend>() -> Router<B> {
    Router::new()
        .route("/v1/status/leader", get_only(get(leader::<B>)))
        .route("/v1/status/peers", get_only(get(peers::<B>)))
        .route("/v1/agent/health", get_only(get(health::<B>)))
}

/// Any method but GET answers Nomad's 405.
pub(crate) fn get_only<B: Backend>(r: MethodRouter<B>) -> MethodRouter<B> {
    r.fallback(crate::error::invalid_method)
}

/// Like Nomad: the leader's RPC address as a JSON string, `""` while there is none.
async fn leader<B: Backend>(State(b): State<B>) -> Json<String> {
    Json(b.leader_rpc_addr().unwrap_or_default())
}

async fn peers<B: Backend>(State(b): State<B>) -> Json<Vec<String>> {
    Json(b.peer_rpc_addrs())
}

/// Nomad's body shape (`{"server":{"ok":…,"message":…}}`), with 503 when not healthy.
async fn health<B: Backend>(State(b): State<B>) -> Response {
    let report = b.health().await;
    let status = if report.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "server": { "ok": report.healthy, "message": report.message } })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HealthReport, router};
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;

    #[derive(Clone)]
    struct Fixed {
        leader: Option<String>,
        healthy: bool,
    }

    impl Backend for Fixed {
        fn leader_rpc_addr(&self) -> Option<String> {
            self.leader.clone()
        }
        fn peer_rpc_addrs(&self) -> Vec<String> {
            vec!["127.0.0.1:1".into(), "127.0.0.1:2".into()]
        }
        async fn health(&self) -> HealthReport {
            HealthReport {
                healthy: self.healthy,
                message: "why".into(),
            }
        }
        fn freshness(&self) -> crate::Freshness {
            crate::Freshness {
                known_leader: self.leader.is_some(),
                last_contact_ms: 0,
            }
        }
        async fn write(
            &self,
            _: stowage_proto::Command,
        ) -> Result<stowage_proto::CommandResponse, stowage_proto::ClusterError> {
            Err(stowage_proto::ClusterError::NoLeader)
        }
        async fn read(
            &self,
            _: stowage_proto::Query,
            _: bool,
        ) -> Result<(stowage_proto::QueryResult, u64), stowage_proto::ClusterError> {
            Err(stowage_proto::ClusterError::NoLeader)
        }
        async fn wait(&self, _: crate::Watch, after: u64, _: tokio::time::Instant) -> u64 {
            after
        }
    }

    async fn call(b: Fixed, method: &str, uri: &str) -> (StatusCode, String) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .expect("request");
        let resp = router(b).oneshot(req).await.expect("infallible");
        let status = resp.status();
        let body = to_bytes(resp.into_body(), 1 << 20).await.expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn status_endpoints_answer_like_nomad() {
        let up = Fixed {
            leader: Some("127.0.0.1:4647".into()),
            healthy: true,
        };
        assert_eq!(
            call(up.clone(), "GET", "/v1/status/leader").await,
            (StatusCode::OK, r#""127.0.0.1:4647""#.into())
        );
        assert_eq!(
            call(up.clone(), "GET", "/v1/status/peers").await,
            (StatusCode::OK, r#"["127.0.0.1:1","127.0.0.1:2"]"#.into())
        );
        assert_eq!(
            call(up.clone(), "GET", "/v1/agent/health").await,
            (
                StatusCode::OK,
                r#"{"server":{"message":"why","ok":true}}"#.into()
            )
        );
        assert_eq!(
            call(up.clone(), "PUT", "/v1/status/leader").await,
            (StatusCode::METHOD_NOT_ALLOWED, "Invalid method".into())
        );
        assert_eq!(
            call(up, "GET", "/v1/nope").await,
            (StatusCode::NOT_FOUND, "resource not found".into())
        );

        let down = Fixed {
            leader: None,
            healthy: false,
        };
        assert_eq!(
            call(down.clone(), "GET", "/v1/status/leader").await,
            (StatusCode::OK, r#""""#.into())
        );
        assert_eq!(
            call(down, "GET", "/v1/agent/health").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
