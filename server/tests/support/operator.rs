//! Helpers shared by the `operator_*` tests: HTTP calls to one node as any caller, and reading
//! the Raft configuration in Nomad's shape.

// Each `operator_*` test binary compiles this whole module and uses only part of it.
#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::Value;
use std::collections::BTreeSet;
use stowage_testkit::TestCluster;
use stowage_testkit::acl_cluster::json_of;

/// One call to node `node` as the caller holding `token` (none: anonymous): status, the
/// `X-Nomad-Index` header if any, and the body.
pub async fn call(
    cluster: &TestCluster,
    node: u64,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
) -> (StatusCode, Option<u64>, String) {
    call_with_body(cluster, node, token, method, path, None).await
}

/// `call`, sending `body` (if any) as the request's bytes.
pub async fn call_with_body(
    cluster: &TestCluster,
    node: u64,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> (StatusCode, Option<u64>, String) {
    let url = format!("http://{}{path}", cluster.http_addr(node));
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(bytes) = body {
        req = req.body(bytes);
    }
    if let Some(t) = token {
        req = req.header("X-Nomad-Token", t);
    }
    let resp = req.send().await.expect("the node answered");
    let index = resp
        .headers()
        .get("x-nomad-index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (resp.status(), index, resp.text().await.expect("body"))
}

pub async fn get(
    cluster: &TestCluster,
    node: u64,
    token: Option<&str>,
    path: &str,
) -> (StatusCode, String) {
    let (status, _, body) = call(cluster, node, token, reqwest::Method::GET, path).await;
    (status, body)
}

/// Node `node`'s answer to `GET /v1/operator/raft/configuration` (with `query`), which must be 200.
pub async fn configuration(
    cluster: &TestCluster,
    node: u64,
    token: Option<&str>,
    query: &str,
) -> Value {
    let path = format!("/v1/operator/raft/configuration{query}");
    let (status, body) = get(cluster, node, token, &path).await;
    assert_eq!(status, StatusCode::OK, "node {node}: {body}");
    json_of(&body)
}

/// The `ID`s of a configuration's servers.
pub fn server_ids(config: &Value) -> BTreeSet<String> {
    config["Servers"]
        .as_array()
        .expect("Servers is an array")
        .iter()
        .map(|s| s["ID"].as_str().expect("ID is a string").to_string())
        .collect()
}

pub fn ids(nodes: &[u64]) -> BTreeSet<String> {
    nodes.iter().map(u64::to_string).collect()
}
