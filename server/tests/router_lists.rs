//! List, plugin, compression and blocking behaviour of the HTTP API through the real router and
//! the real apply logic, with no sockets.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use stowage_testkit::StateBackend;
use stowage_testkit::http::{Reply, assert_error, call, report_plugin};
use tower::ServiceExt;

async fn register_many(b: &StateBackend) {
    for (ns, id, plugin) in [
        ("default", "a1", "aws"),
        ("default", "a2", "gcp"),
        ("default", "b1", "aws"),
    ] {
        let body = json!({"Volumes": [{"ID": id, "Namespace": ns, "PluginID": plugin, "Parameters": {"tier": id},
            "RequestedCapabilities": [{"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}]}]});
        assert_eq!(
            call(b, "PUT", "/v1/volumes", &body.to_string())
                .await
                .status,
            StatusCode::OK
        );
    }
}

fn ids(r: &Reply) -> Vec<String> {
    r.json()
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v["ID"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn list_filters_compose_and_paginate() {
    let b = StateBackend::new();
    register_many(&b).await;
    let list = |q: &'static str| {
        let b = b.clone();
        async move { call(&b, "GET", &format!("/v1/volumes?type=csi{q}"), "").await }
    };
    assert_eq!(ids(&list("").await), ["a1", "a2", "b1"]);
    assert_eq!(ids(&list("&prefix=a").await), ["a1", "a2"]);
    assert_eq!(ids(&list("&plugin_id=aw").await), ["a1", "b1"]);
    assert_eq!(
        ids(&list("&plugin_id=aw&prefix=b&namespace=*").await),
        ["b1"],
        "composes, unlike Nomad"
    );
    assert_eq!(
        ids(&list("&node_id=anything").await),
        Vec::<String>::new(),
        "no claims, no nodes"
    );
    assert_eq!(
        ids(&list(r#"&filter=Parameters.tier%20%3D%3D%20%22a2%22"#).await),
        ["a2"]
    );
    assert_eq!(
        ids(
            &list("&filter=PluginID%20matches%20%22%5Ea%22%20and%20not%20ID%20contains%20%22b%22")
                .await
        ),
        ["a1"]
    );

    let page = list("&per_page=2").await;
    assert_eq!(ids(&page), ["a1", "a2"]);
    assert_eq!(page.header("x-nomad-nexttoken"), Some("default.b1"));
    let next = list("&per_page=2&next_token=default.b1").await;
    assert_eq!(ids(&next), ["b1"]);
    assert_eq!(next.header("x-nomad-nexttoken"), None);

    let bad = list("&filter=ID%20%3D%3D").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.body,
        "failed to create result paginator: failed to read filter expression: 1:6 (5): expected a value, found end of input"
    );
    let unknown = list("&filter=Nope%20%3D%3D%20x").await;
    assert_eq!(
        (unknown.status, unknown.body.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "failed to read result page: error finding value in datum: /Nope: couldn't find key \"Nope\""
        )
    );
    let secret = list("&filter=Secrets%20is%20empty").await;
    assert_eq!(
        ids(&secret).len(),
        3,
        "secrets are invisible to filters (always null)"
    );
}

#[tokio::test]
async fn plugins_read_like_nomad() {
    let b = StateBackend::new();
    assert_eq!(report_plugin(&b, "aws", 1).await.status, StatusCode::OK);
    let r = call(&b, "GET", "/v1/plugins?type=csi", "").await;
    let stubs: Vec<stowage_testkit::nomad_api::CSIPluginListStub> =
        serde_json::from_str(&r.body).expect("Go shape");
    assert_eq!(
        (stubs.len(), stubs[0].ID.as_str(), stubs[0].NodesHealthy),
        (1, "aws", 1)
    );
    let r = call(&b, "GET", "/v1/plugin/csi/aws", "").await;
    let p: stowage_testkit::nomad_api::CSIPlugin = serde_json::from_str(&r.body).expect("Go shape");
    assert_eq!((p.Provider.as_str(), p.Version.as_str()), ("ebs", "1.0.1"));
    assert_error(
        &call(&b, "GET", "/v1/plugin/csi/nope", "").await,
        StatusCode::NOT_FOUND,
        "plugin not found",
    );
    assert_eq!(
        call(&b, "DELETE", "/v1/plugin/csi/aws", "").await.status,
        StatusCode::OK
    );
    assert_error(
        &call(&b, "DELETE", "/v1/plugin/csi/aws", "").await,
        StatusCode::NOT_FOUND,
        "plugin not found: aws",
    );
}

#[tokio::test]
async fn gzip_when_asked() {
    let b = StateBackend::new();
    register_many(&b).await;
    let req = Request::builder()
        .uri("/v1/volumes?type=csi")
        .header("accept-encoding", "gzip")
        .body(Body::empty())
        .expect("request");
    let resp = stowage_http_gateway::router(b)
        .oneshot(req)
        .await
        .expect("infallible");
    assert_eq!(
        resp.headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
}

#[tokio::test]
async fn blocking_list_returns_on_change_or_timeout() {
    let b = StateBackend::new();
    register_many(&b).await;
    // index below the current one: answers at once.
    let r = call(&b, "GET", "/v1/volumes?type=csi&index=1", "").await;
    assert_eq!(r.header("x-nomad-index"), Some("3"));
    // index at the current one with a short wait: times out with 200 and the current data.
    let r = call(&b, "GET", "/v1/volumes?type=csi&index=3&wait=50ms", "").await;
    assert_eq!(
        (r.status, r.header("x-nomad-index")),
        (StatusCode::OK, Some("3"))
    );
    // A write while blocked wakes it.
    let waiter = tokio::spawn({
        let b = b.clone();
        async move { call(&b, "GET", "/v1/volumes?type=csi&index=3&wait=30s", "").await }
    });
    report_plugin(&b, "late", 1).await;
    let r = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
        .await
        .expect("woke")
        .expect("join");
    assert_eq!(r.header("x-nomad-index"), Some("4"));
}
