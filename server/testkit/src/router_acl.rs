//! ACL set-up over the real router with no Raft (a `StateBackend` with ACLs on): bootstrap,
//! policies, client tokens, and the one refusal every denied call gets.

use crate::http::{Reply, assert_refused, call, call_as};
use crate::memory::StateBackend;
use axum::http::StatusCode;
use serde_json::{Value, json};
use stowage_proto::api::ErrorCode;

/// A register body for one volume `id` in `namespace`, for plugin `p`.
pub fn volume_body(id: &str, namespace: &str) -> String {
    json!({"Volumes": [{"ID": id, "Namespace": namespace, "PluginID": "p",
        "RequestedCapabilities": [{"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}]}]})
    .to_string()
}

/// Bootstraps ACLs and returns the management secret.
pub async fn bootstrap(b: &StateBackend) -> String {
    let r = call(b, "POST", "/v1/acl/bootstrap", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["SecretID"].as_str().expect("SecretID").to_string()
}

/// Writes policy `name` with `rules` as the management token `root`.
pub async fn policy(b: &StateBackend, root: &str, name: &str, rules: &str) {
    let body = json!({"Name": name, "Rules": rules}).to_string();
    let r = call_as(
        b,
        Some(root),
        "POST",
        &format!("/v1/acl/policy/{name}"),
        &body,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// Makes a client token holding `policies` and returns its whole answer.
pub async fn client_token(b: &StateBackend, root: &str, policies: &[&str]) -> Value {
    let body = json!({"Name": "t", "Type": "client", "Policies": policies}).to_string();
    let r = call_as(b, Some(root), "POST", "/v1/acl/token", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

/// The secret in a token-creating answer.
pub fn secret_of(token: &Value) -> &str {
    token["SecretID"].as_str().expect("SecretID")
}

/// `403 Permission denied`, with its code.
pub fn denied(r: &Reply) {
    assert_refused(
        r,
        StatusCode::FORBIDDEN,
        ErrorCode::PermissionDenied,
        "Permission denied",
    );
}

/// The IDs of the volumes `token` lists in `namespace` (`*`: all), sorted.
pub async fn volume_ids(b: &StateBackend, token: &str, namespace: &str) -> Vec<String> {
    let uri = format!("/v1/volumes?type=csi&namespace={namespace}");
    let r = call_as(b, Some(token), "GET", &uri, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut ids: Vec<String> = r
        .json()
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v["ID"].as_str().expect("ID").to_string())
        .collect();
    ids.sort();
    ids
}
