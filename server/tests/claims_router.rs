//! The claims walkthrough of the README, step by step through the real router and apply logic:
//! register, report the plugin healthy, claim, be refused, read-claim, fail to deregister, detach,
//! release, deregister.

use axum::http::StatusCode;
use serde_json::{Value, json};
use stowage_testkit::StateBackend;
use stowage_testkit::http::call;

/// A call with a JSON body (`Value::Null` for none), answered as (status, body).
async fn send(b: &StateBackend, method: &str, uri: &str, body: Value) -> (StatusCode, String) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let r = call(b, method, uri, &body).await;
    (r.status, r.body)
}

/// Sends a call and asserts its whole answer: status and body text.
async fn expect(
    b: &StateBackend,
    method: &str,
    uri: &str,
    body: Value,
    answer: (StatusCode, &str),
) {
    let (status, text) = send(b, method, uri, body).await;
    assert_eq!((status, text.as_str()), answer, "{method} {uri}");
}

fn claim(alloc: &str, node: &str, mode: &str, state: &str) -> Value {
    json!({"AllocationID": alloc, "NodeID": node, "Claim": mode, "State": state,
        "AccessMode": "multi-node-single-writer", "AttachmentMode": "file-system", "JobID": "web", "TaskGroup": "cache"})
}

async fn volume(b: &StateBackend) -> Value {
    let (status, body) = send(b, "GET", "/v1/volume/csi/volume-id1", Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).expect("json")
}

#[tokio::test]
async fn the_readme_claims_walkthrough() {
    let b = StateBackend::new();
    // 1. register the sample volume from the user's API page.
    let sample = json!({"ID": "volume-id1", "Name": "volume id1", "Namespace": "default", "ExternalID": "volume-id1",
        "Topologies": [{"foo": "bar"}], "AccessMode": "multi-node-single-writer", "AttachmentMode": "file-system",
        "PluginID": "plugin-id1"});
    assert_eq!(
        send(&b, "PUT", "/v1/volume/csi/volume-id1", sample).await.0,
        StatusCode::OK
    );
    // Not schedulable until the plugin is healthy.
    expect(
        &b,
        "PUT",
        "/v1/volume/csi/volume-id1/claim",
        claim("A", "N1", "write", "taken"),
        (
            StatusCode::CONFLICT,
            r#"alloc "A" failed to claim volume "volume-id1": volume is currently unschedulable"#,
        ),
    )
    .await;
    // 2. report its plugin healthy.
    let plugin =
        json!({"Provider": "ebs", "Version": "1.0.1", "NodesHealthy": 3, "NodesExpected": 3});
    assert_eq!(
        send(&b, "PUT", "/v1/plugin/csi/plugin-id1", plugin).await.0,
        StatusCode::OK
    );
    // 3. claim it for writing from allocation A on node N1.
    let (status, body) = send(
        &b,
        "PUT",
        "/v1/volume/csi/volume-id1/claim",
        claim("A", "N1", "write", "taken"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Re-sending it is a no-op success.
    let (status, body) = send(
        &b,
        "PUT",
        "/v1/volume/csi/volume-id1/claim",
        claim("A", "N1", 1.to_string().as_str(), "taken"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a numeric code in a string is not a code: {body}"
    );
    let (status, body) = send(&b, "PUT", "/v1/volume/csi/volume-id1/claim", json!({"AllocationID": "A", "NodeID": "N1",
        "Claim": 1, "State": 0, "AccessMode": "multi-node-single-writer", "AttachmentMode": "file-system"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json")["Changed"],
        false
    );
    let v = volume(&b).await;
    assert_eq!(v["WriteAllocs"], json!({"A": null}));
    assert_eq!(
        (v["AccessMode"].as_str(), v["AttachmentMode"].as_str()),
        (Some("multi-node-single-writer"), Some("file-system"))
    );
    assert_eq!(v["Allocations"][0]["JobID"], "web");
    // 4. be refused a second writer.
    expect(
        &b,
        "PUT",
        "/v1/volume/csi/volume-id1/claim",
        claim("B", "N2", "write", "taken"),
        (
            StatusCode::CONFLICT,
            r#"alloc "B" failed to claim volume "volume-id1": volume max claims reached"#,
        ),
    )
    .await;
    // 5. take a reader claim.
    assert_eq!(
        send(
            &b,
            "PUT",
            "/v1/volume/csi/volume-id1/claim",
            claim("R", "N2", "read", "taken")
        )
        .await
        .0,
        StatusCode::OK
    );
    let (_, list) = send(&b, "GET", "/v1/volumes?type=csi", Value::Null).await;
    let stub = &serde_json::from_str::<Value>(&list).expect("json")[0];
    assert_eq!(
        (
            stub["CurrentReaders"].as_u64(),
            stub["CurrentWriters"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let (_, by_node) = send(&b, "GET", "/v1/volumes?type=csi&node_id=n1", Value::Null).await;
    assert_eq!(
        serde_json::from_str::<Value>(&by_node)
            .expect("json")
            .as_array()
            .map(Vec::len),
        Some(1),
        "node_id matches claims, case-insensitively"
    );
    // 6. fail to deregister it, even with force while a claim is taken.
    for q in ["", "?force=true"] {
        expect(
            &b,
            "DELETE",
            &format!("/v1/volume/csi/volume-id1{q}"),
            Value::Null,
            (StatusCode::CONFLICT, "volume in use: volume-id1"),
        )
        .await;
    }
    // 7. detach N1: its writer claim is freed in one write, and recorded.
    expect(
        &b,
        "DELETE",
        "/v1/volume/csi/volume-id1/detach",
        Value::Null,
        (StatusCode::BAD_REQUEST, "detach requires node ID"),
    )
    .await;
    expect(
        &b,
        "DELETE",
        "/v1/volume/csi/nope/detach?node=N1",
        Value::Null,
        (StatusCode::NOT_FOUND, "no such volume"),
    )
    .await;
    expect(
        &b,
        "DELETE",
        "/v1/volume/csi/volume-id1/detach?node=N1",
        Value::Null,
        (StatusCode::OK, ""),
    )
    .await;
    let v = volume(&b).await;
    assert_eq!(
        (v["WriteAllocs"].clone(), v["ReadAllocs"].clone()),
        (json!({}), json!({"R": null}))
    );
    let history = v["StowageClaimHistory"].as_array().expect("history");
    assert_eq!(
        history
            .last()
            .map(|e| (e["AllocationID"].clone(), e["Action"].clone())),
        Some((json!("A"), json!("detached")))
    );
    // 8. release the reader: walk the release states, still in use until freed.
    for state in ["unpublishing", "node-detached", "controller-detached"] {
        assert_eq!(
            send(
                &b,
                "PUT",
                "/v1/volume/csi/volume-id1/claim",
                claim("R", "N2", "read", state)
            )
            .await
            .0,
            StatusCode::OK
        );
        let (status, _) = send(&b, "DELETE", "/v1/volume/csi/volume-id1", Value::Null).await;
        assert_eq!(status, StatusCode::CONFLICT, "still in use while {state}");
    }
    assert_eq!(
        send(
            &b,
            "PUT",
            "/v1/volume/csi/volume-id1/claim",
            claim("R", "N2", "read", "ready-to-free")
        )
        .await
        .0,
        StatusCode::OK
    );
    let v = volume(&b).await;
    assert_eq!(
        (v["AccessMode"].as_str(), v["ReadAllocs"].clone()),
        (Some(""), json!({})),
        "modes reset with the last claim"
    );
    // 9. deregister it.
    expect(
        &b,
        "DELETE",
        "/v1/volume/csi/volume-id1",
        Value::Null,
        (StatusCode::OK, ""),
    )
    .await;
}

#[tokio::test]
async fn force_deregisters_when_every_claim_is_being_released() {
    let b = StateBackend::new();
    let vol = json!({"Volumes": [{"ID": "v", "PluginID": "p",
        "RequestedCapabilities": [{"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}]}]});
    send(&b, "PUT", "/v1/volumes", vol).await;
    send(&b, "PUT", "/v1/plugin/csi/p", json!({"NodesHealthy": 1})).await;
    let c = |state: &str| {
        json!({"AllocationID": "A", "NodeID": "N", "Claim": "write", "State": state,
        "AccessMode": "single-node-writer", "AttachmentMode": "file-system"})
    };
    assert_eq!(
        send(&b, "PUT", "/v1/volume/csi/v/claim", c("taken"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        send(&b, "PUT", "/v1/volume/csi/v/claim", c("node-detached"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        send(&b, "DELETE", "/v1/volume/csi/v", Value::Null).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        send(&b, "DELETE", "/v1/volume/csi/v?force=true", Value::Null)
            .await
            .0,
        StatusCode::OK
    );
    expect(
        &b,
        "PUT",
        "/v1/volume/csi/v/claim",
        c("taken"),
        (StatusCode::NOT_FOUND, "volume not found: v"),
    )
    .await;
}
