//! The HTTP API through the real router and the real apply logic, with no sockets: golden JSON
//! for each endpoint, Nomad's error texts and codes, and every response decoded with mirrors of
//! Nomad's Go `api` structs.

use axum::http::StatusCode;
use serde_json::json;
use stowage_http_gateway::HealthReport;
use stowage_testkit::StateBackend;
use stowage_testkit::http::{assert_error, call, report_plugin};

const SAMPLE: &str = r#"{ "ID": "volume-id1", "Name": "volume id1", "Namespace": "default", "ExternalID": "volume-id1",
  "Topologies": [{ "foo": "bar" }], "AccessMode": "multi-node-single-writer", "AttachmentMode": "file-system",
  "PluginID": "plugin-id1"}"#;

#[tokio::test]
async fn register_read_list_deregister_golden() {
    let b = StateBackend::new();
    // A bare body (the user's page), with an unknown plugin: success plus a warning.
    let r = call(&b, "PUT", "/v1/volume/csi/volume-id1", SAMPLE).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("x-nomad-index"), Some("1"));
    assert_eq!(r.header("x-nomad-knownleader"), Some("true"));
    assert_eq!(r.header("x-nomad-lastcontact"), Some("0"));
    let reg: stowage_testkit::nomad_api::CSIVolumeRegisterResponse =
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
    let _: stowage_testkit::nomad_api::CSIVolume = serde_json::from_str(&r.body).expect("Go shape");
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
    let stubs: Vec<stowage_testkit::nomad_api::CSIVolumeListStub> =
        serde_json::from_str(&r.body).expect("Go shape");
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

#[tokio::test]
async fn status_endpoints_answer_like_nomad() {
    let b = StateBackend::new();
    assert_eq!(
        call(&b, "GET", "/v1/status/leader", "").await.pair(),
        (StatusCode::OK, r#""127.0.0.1:4647""#)
    );
    assert_eq!(
        call(&b, "GET", "/v1/status/peers", "").await.pair(),
        (StatusCode::OK, r#"["127.0.0.1:4647"]"#)
    );
    assert_eq!(
        call(&b, "GET", "/v1/agent/health", "").await.pair(),
        (StatusCode::OK, r#"{"server":{"message":"ok","ok":true}}"#)
    );
    assert_error(
        &call(&b, "PUT", "/v1/status/leader", "").await,
        StatusCode::METHOD_NOT_ALLOWED,
        "Invalid method",
    );
    assert_error(
        &call(&b, "GET", "/v1/nope", "").await,
        StatusCode::NOT_FOUND,
        "resource not found",
    );
    b.set_health(Some(HealthReport {
        healthy: false,
        message: "no cluster leader".into(),
    }));
    assert_eq!(
        call(&b, "GET", "/v1/status/leader", "").await.pair(),
        (StatusCode::OK, r#""""#)
    );
    assert_eq!(
        call(&b, "GET", "/v1/agent/health", "").await.pair(),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"server":{"message":"no cluster leader","ok":false}}"#
        )
    );
}

/// What Nomad's Go `api` package sends for `CSIVolumes().Register(&vol)` with only a few fields
/// set: every other field at its Go zero value, `ResourceExhausted` (a `time.Time`) included.
const GO_CLIENT_REGISTER: &str = r#"{"Volumes":[{"ID":"go-vol","Name":"go-vol","ExternalID":"ext-1",
  "Namespace":"","RequestedTopologies":null,"Topologies":null,"AccessMode":"","AttachmentMode":"",
  "MountOptions":null,"Secrets":null,"Parameters":null,"Context":null,"Capacity":0,
  "RequestedCapacityMin":0,"RequestedCapacityMax":0,
  "RequestedCapabilities":[{"AccessMode":"single-node-writer","AttachmentMode":"file-system"}],
  "CloneID":"","SnapshotID":"","ReadAllocs":null,"WriteAllocs":null,"Allocations":null,
  "Schedulable":false,"PluginID":"ebs","Provider":"","ProviderVersion":"","ControllerRequired":false,
  "ControllersHealthy":0,"ControllersExpected":0,"NodesHealthy":0,"NodesExpected":0,
  "ResourceExhausted":"0001-01-01T00:00:00Z","CreateIndex":0,"ModifyIndex":0,"CreateTime":0,
  "ModifyTime":0}],"Region":"","Namespace":"","SecretID":"","IdempotencyToken":""}"#;

#[tokio::test]
async fn a_volume_registered_by_nomads_go_client_can_be_claimed() {
    let b = StateBackend::new();
    assert_eq!(report_plugin(&b, "ebs", 1).await.status, StatusCode::OK);
    let r = call(&b, "PUT", "/v1/volume/csi/go-vol", GO_CLIENT_REGISTER).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Registering it again, as a client that re-applies its spec does, changes nothing it may not.
    let r = call(&b, "PUT", "/v1/volume/csi/go-vol", GO_CLIENT_REGISTER).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = call(&b, "GET", "/v1/volume/csi/go-vol", "").await.json();
    assert_eq!(
        (&v["Schedulable"], &v["ResourceExhausted"]),
        (&json!(true), &json!(null))
    );
    let claim = json!({"AllocationID": "a1", "NodeID": "n1", "Claim": "write",
        "AccessMode": "single-node-writer", "AttachmentMode": "file-system"});
    let r = call(&b, "PUT", "/v1/volume/csi/go-vol/claim", &claim.to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A real exhaustion time still makes the volume unschedulable.
    let exhausted = GO_CLIENT_REGISTER
        .replace("go-vol", "tired")
        .replace("0001-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
    assert_eq!(
        call(&b, "PUT", "/v1/volume/csi/tired", &exhausted)
            .await
            .status,
        StatusCode::OK
    );
    let r = call(&b, "PUT", "/v1/volume/csi/tired/claim", &claim.to_string()).await;
    assert_error(
        &r,
        StatusCode::CONFLICT,
        r#"alloc "a1" failed to claim volume "tired": volume is currently unschedulable"#,
    );
}
