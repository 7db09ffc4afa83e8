//! The HTTP API through the real router and the real apply logic, with no sockets: golden JSON
//! for each endpoint, Nomad's error texts and codes, and every response decoded with mirrors of
//! Nomad's Go `api` structs.

#[path = "support/http.rs"]
mod http;
#[path = "support/nomad_api.rs"]
mod nomad_api;
#[path = "support/state_backend.rs"]
mod state_backend;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http::{Reply, call};
use serde_json::json;
use state_backend::StateBackend;
use tower::ServiceExt;

const SAMPLE: &str = r#"{ "ID": "volume-id1", "Name": "volume id1", "Namespace": "default", "ExternalID": "volume-id1",
  "Topologies": [{ "foo": "bar" }], "AccessMode": "multi-node-single-writer", "AttachmentMode": "file-system",
  "PluginID": "plugin-id1"}"#;

fn assert_error(r: &Reply, status: StatusCode, text: &str) {
    assert_eq!((r.status, r.body.as_str()), (status, text));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
}

async fn report_plugin(b: &StateBackend, id: &str, healthy: i64) -> Reply {
    let body = json!({"Provider": "ebs", "Version": "1.0.1", "ControllerRequired": false,
        "NodesHealthy": healthy, "NodesExpected": 3})
    .to_string();
    call(b, "PUT", &format!("/v1/plugin/csi/{id}"), &body).await
}

#[tokio::test]
async fn register_read_list_deregister_golden() {
    let b = StateBackend::new();
    // A bare body (the user's page), with an unknown plugin: success plus a warning.
    let r = call(&b, "PUT", "/v1/volume/csi/volume-id1", SAMPLE).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("x-nomad-index"), Some("1"));
    assert_eq!(r.header("x-nomad-knownleader"), Some("true"));
    assert_eq!(r.header("x-nomad-lastcontact"), Some("0"));
    let reg: nomad_api::CSIVolumeRegisterResponse =
        serde_json::from_str(&r.body).expect("Go shape");
    assert_eq!(reg.Index, 1);
    assert!(
        reg.Warnings
            .starts_with("no CSI plugin named: plugin-id1 could be found"),
        "{}",
        reg.Warnings
    );

    report_plugin(&b, "plugin-id1", 2).await;
    let r = call(&b, "GET", "/v1/volume/csi/volume-id1", "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("x-nomad-index"),
        Some("2"),
        "the table index, bumped by plugin health"
    );
    let _: nomad_api::CSIVolume = serde_json::from_str(&r.body).expect("Go shape");
    assert_eq!(
        r.json(),
        json!({
            "ID": "volume-id1", "Name": "volume id1", "ExternalID": "volume-id1", "Namespace": "default",
            "Topologies": [{"Segments": {"foo": "bar"}}], "RequestedTopologies": null,
            "AccessMode": "", "AttachmentMode": "",
            "MountOptions": {"FSType": "", "MountFlags": null}, "Secrets": null,
            "Parameters": {}, "Context": {}, "Capacity": 0, "RequestedCapacityMin": 0, "RequestedCapacityMax": 0,
            "RequestedCapabilities": [{"AccessMode": "multi-node-single-writer", "AttachmentMode": "file-system"}],
            "CloneID": "", "SnapshotID": "", "ReadAllocs": {}, "WriteAllocs": {}, "Allocations": [],
            "Schedulable": true, "PluginID": "plugin-id1", "Provider": "ebs", "ProviderVersion": "1.0.1",
            "ControllerRequired": false, "ControllersHealthy": 0, "ControllersExpected": 0,
            "NodesHealthy": 2, "NodesExpected": 3, "ResourceExhausted": null,
            "CreateIndex": 1, "ModifyIndex": 1, "CreateTime": 1_000_000_000i64, "ModifyTime": 1_000_000_000i64,
            "StowageClaimHistory": []
        })
    );

    let r = call(&b, "GET", "/v1/volumes?type=csi&plugin_id=plugin", "").await;
    let stubs: Vec<nomad_api::CSIVolumeListStub> = serde_json::from_str(&r.body).expect("Go shape");
    assert_eq!(stubs.len(), 1);
    assert_eq!(
        r.json()[0],
        json!({"ID": "volume-id1", "Namespace": "default", "Name": "volume id1", "ExternalID": "volume-id1",
            "Topologies": [{"Segments": {"foo": "bar"}}], "AccessMode": "", "AttachmentMode": "", "CurrentReaders": 0,
            "CurrentWriters": 0, "Schedulable": true, "PluginID": "plugin-id1", "Provider": "ebs",
            "ControllerRequired": false, "ControllersHealthy": 0, "ControllersExpected": 0, "NodesHealthy": 2,
            "NodesExpected": 3, "ResourceExhausted": null, "CreateIndex": 1, "ModifyIndex": 1,
            "CreateTime": 1_000_000_000i64, "ModifyTime": 1_000_000_000i64})
    );

    let r = call(&b, "DELETE", "/v1/volume/csi/volume-id1", "").await;
    assert_eq!(
        (r.status, r.body.as_str(), r.header("x-nomad-index")),
        (StatusCode::OK, "", Some("3"))
    );
    assert_eq!(r.header("content-type"), None);
    let r = call(&b, "GET", "/v1/volume/csi/volume-id1", "").await;
    assert_error(&r, StatusCode::NOT_FOUND, "volume not found");
    assert_eq!(
        r.header("x-nomad-index"),
        Some("3"),
        "the GET 404 carries meta headers"
    );
    assert_error(
        &call(&b, "DELETE", "/v1/volume/csi/volume-id1", "").await,
        StatusCode::NOT_FOUND,
        "volume not found: volume-id1",
    );
}

#[tokio::test]
async fn wrapper_bodies_update_under_nomads_merge_rules() {
    let b = StateBackend::new();
    let vol = |name: &str, secret: Option<&str>| {
        json!({"Volumes": [{"ID": "db", "Name": name, "PluginID": "p", "Secrets": secret.map(|s| json!({"pw": s})),
            "MountOptions": {"FSType": "ext4", "MountFlags": ["noatime"]},
            "RequestedCapabilities": [{"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}]}]})
        .to_string()
    };
    let r = call(
        &b,
        "PUT",
        "/v1/volume/csi/ignored",
        &vol("db", Some("hunter2")),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        !r.body.contains("hunter2"),
        "secrets never leave: {}",
        r.body
    );
    assert_eq!(
        r.json()["Volumes"][0]["MountOptions"]["MountFlags"],
        json!(["[REDACTED]"])
    );
    let r = call(&b, "POST", "/v1/volumes", &vol("renamed", None)).await;
    assert_error(
        &r,
        StatusCode::CONFLICT,
        "unable to update volume: 1 error occurred:\n\t* volume name cannot be updated\n\n",
    );
    let r = call(&b, "PUT", "/v1/volumes", &vol("", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(&b, "GET", "/v1/volume/csi/db?pretty", "").await;
    assert!(
        r.body.starts_with("{\n    \"ID\": \"db\""),
        "4-space pretty JSON: {}",
        r.body
    );
    assert!(r.body.ends_with("}\n"));
    assert_eq!(r.json()["ModifyIndex"], 3);
    assert_eq!(r.json()["CreateIndex"], 1);

    // Optimistic concurrency: create-only and compare-and-set.
    assert_error(
        &call(&b, "PUT", "/v1/volumes?cas=0", &vol("", None)).await,
        StatusCode::CONFLICT,
        "volume already exists: db",
    );
    assert_error(
        &call(&b, "PUT", "/v1/volumes?cas=1", &vol("", None)).await,
        StatusCode::CONFLICT,
        "volume db has ModifyIndex 3, not 1",
    );
    assert_eq!(
        call(&b, "PUT", "/v1/volumes?cas=3", &vol("", None))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_input_gets_nomads_texts_and_writes_nothing() {
    let b = StateBackend::new();
    let cases: &[(&str, &str, &str, StatusCode, &str)] = &[
        (
            "PUT",
            "/v1/volumes",
            "",
            StatusCode::BAD_REQUEST,
            "Request body is empty",
        ),
        (
            "PUT",
            "/v1/volumes",
            "{",
            StatusCode::BAD_REQUEST,
            "unexpected EOF",
        ),
        (
            "PUT",
            "/v1/volumes",
            "xyz",
            StatusCode::BAD_REQUEST,
            "invalid character 'x' looking for beginning of value",
        ),
        (
            "PUT",
            "/v1/volumes",
            r#"{"Volumes":[]}"#,
            StatusCode::BAD_REQUEST,
            "missing volume definition",
        ),
        (
            "PUT",
            "/v1/volumes",
            r#"{"Volumes":[{}]}"#,
            StatusCode::BAD_REQUEST,
            "validation: missing volume id, missing plugin id, must include at least one capability block",
        ),
        (
            "PUT",
            "/v1/volume/csi/x",
            r#"{"PluginID":"p","RequestedCapabilities":[{"AccessMode":"rw","AttachmentMode":"file-system"}]}"#,
            StatusCode::BAD_REQUEST,
            "validation: unknown access mode \"rw\"",
        ),
        (
            "PUT",
            "/v1/volume/csi/x",
            r#"{"Capacity":"big"}"#,
            StatusCode::BAD_REQUEST,
            "json: cannot unmarshal string into Go struct field CSIVolume.Capacity of type int64",
        ),
        (
            "PUT",
            "/v1/volume/csi/x?namespace=prod",
            r#"{"PluginID":"p","RequestedCapabilities":[{"AccessMode":"single-node-writer","AttachmentMode":"file-system"}]}"#,
            StatusCode::BAD_REQUEST,
            "volume x is in nonexistent namespace prod",
        ),
        (
            "DELETE",
            "/v1/volume/csi/x?force=maybe",
            "",
            StatusCode::BAD_REQUEST,
            "invalid force value",
        ),
        (
            "GET",
            "/v1/volumes?type=csi&stale=maybe",
            "",
            StatusCode::BAD_REQUEST,
            "Expect `true` or `false` for `stale` query string parameter",
        ),
        (
            "GET",
            "/v1/volumes?type=csi&per_page=x",
            "",
            StatusCode::BAD_REQUEST,
            "Expect a number for `per_page` query string parameter",
        ),
        (
            "GET",
            "/v1/volumes?type=csi&wait=10",
            "",
            StatusCode::BAD_REQUEST,
            "Invalid wait time",
        ),
        (
            "GET",
            "/v1/volume/csi/x?index=-1",
            "",
            StatusCode::BAD_REQUEST,
            "Invalid index",
        ),
        (
            "GET",
            "/v1/volume/csi/",
            "",
            StatusCode::BAD_REQUEST,
            "missing volume ID",
        ),
        (
            "GET",
            "/v1/volumes?type=host",
            "",
            StatusCode::NOT_FOUND,
            "resource not found",
        ),
        (
            "GET",
            "/v1/volumes?type=",
            "",
            StatusCode::NOT_FOUND,
            "resource not found",
        ),
        (
            "POST",
            "/v1/volume/csi/x",
            "",
            StatusCode::METHOD_NOT_ALLOWED,
            "Invalid method",
        ),
        (
            "PATCH",
            "/v1/volumes",
            "",
            StatusCode::METHOD_NOT_ALLOWED,
            "Invalid method",
        ),
        (
            "GET",
            "/v1/volume/csi/x/create",
            "",
            StatusCode::METHOD_NOT_ALLOWED,
            "Invalid method",
        ),
        (
            "PUT",
            "/v1/volume/csi/x/bogus",
            "",
            StatusCode::NOT_FOUND,
            "resource not found",
        ),
        (
            "GET",
            "/v1/volume/csi/x/y/z",
            "",
            StatusCode::NOT_FOUND,
            "resource not found",
        ),
        (
            "GET",
            "/v1/nothing",
            "",
            StatusCode::NOT_FOUND,
            "resource not found",
        ),
    ];
    for (method, uri, body, status, text) in cases {
        let r = call(&b, method, uri, body).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (*status, *text),
            "{method} {uri}"
        );
    }
    let r = call(&b, "GET", "/v1/volumes?type=csi&namespace=*", "").await;
    assert_eq!(
        (r.status, r.body.as_str(), r.header("x-nomad-index")),
        (StatusCode::OK, "[]", Some("0")),
        "nothing was written"
    );
    let big = "x".repeat(9 * 1024 * 1024);
    assert_eq!(
        call(&b, "PUT", "/v1/volumes", &big).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn not_yet_implemented_endpoints_say_so() {
    let b = StateBackend::new();
    for (method, uri) in [
        ("PUT", "/v1/volume/csi/x/create"),
        ("DELETE", "/v1/volume/csi/x/delete"),
        ("GET", "/v1/volumes/external?plugin_id=p"),
        ("GET", "/v1/volumes/snapshot?plugin_id=p"),
        ("PUT", "/v1/volumes/snapshot"),
        ("DELETE", "/v1/volumes/snapshot?plugin_id=p&snapshot_id=s"),
    ] {
        let r = call(&b, method, uri, "").await;
        assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{method} {uri}");
        assert!(r.body.contains("CSI controller plugin"), "{}", r.body);
    }
    assert_eq!(
        call(&b, "GET", "/v1/volumes", "").await.body,
        "[]",
        "no type → empty list"
    );
    assert_eq!(
        call(&b, "POST", "/v1/volumes/external", "").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

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
    let stubs: Vec<nomad_api::CSIPluginListStub> = serde_json::from_str(&r.body).expect("Go shape");
    assert_eq!(
        (stubs.len(), stubs[0].ID.as_str(), stubs[0].NodesHealthy),
        (1, "aws", 1)
    );
    let r = call(&b, "GET", "/v1/plugin/csi/aws", "").await;
    let p: nomad_api::CSIPlugin = serde_json::from_str(&r.body).expect("Go shape");
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
