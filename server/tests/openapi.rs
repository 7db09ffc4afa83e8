//! The committed OpenAPI document and the router cannot drift apart: every path the router
//! declares is documented, every documented operation is routed, and every method a path
//! accepts is documented for it. (That answers conform to the document is schemathesis's part,
//! against a running cluster: `deploy/api-fuzz.sh`.)

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;
use stowage_http_gateway::OPENAPI_JSON;
use stowage_proto::api::{ERROR_HEADER, ErrorCode};
use stowage_testkit::StateBackend;
use stowage_testkit::http::call;
use tower::ServiceExt;

const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "PATCH"];

fn document() -> Value {
    serde_json::from_str(OPENAPI_JSON).expect("openapi.json is JSON")
}

/// A path with every `{parameter}` (whatever its name) written as `{}`.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for ch in path.chars() {
        match ch {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

/// The documented path with each parameter filled in.
fn concrete(path: &str) -> String {
    shape(path).replace("{}", "sample")
}

/// The error code a call names, reading only the head: an event stream never ends.
async fn code_of(method: &str, uri: &str) -> (StatusCode, Option<ErrorCode>) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from("{}"))
        .expect("request");
    let resp = stowage_http_gateway::router(StateBackend::new())
        .oneshot(req)
        .await
        .expect("infallible");
    let code = resp
        .headers()
        .get(ERROR_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (resp.status(), code)
}

/// Every path literal given to `.route(` in the gateway's sources.
fn routed_paths() -> BTreeSet<String> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../http-gateway/src");
    let mut paths = BTreeSet::new();
    for entry in std::fs::read_dir(&src).expect("the gateway's sources") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = rest[at + ".route(".len()..].trim_start();
            // Only a literal first argument: a path built at run time would need its own check.
            let Some(after) = rest.strip_prefix('"') else {
                continue;
            };
            let Some(close) = after.find('"') else { break };
            paths.insert(after[..close].to_string());
            rest = &after[close..];
        }
    }
    paths
}

#[test]
fn every_path_the_router_declares_is_documented() {
    let doc = document();
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(|p| shape(p))
        .collect();
    let routed = routed_paths();
    assert!(routed.len() > 20, "found only {routed:?}");
    for path in routed {
        match path.split_once("{*") {
            // A catch-all dispatches on what follows: some documented path must lie under it.
            Some((prefix, _)) => assert!(
                documented
                    .iter()
                    .any(|d| d.starts_with(prefix) && d.len() > prefix.len()),
                "nothing documented under {path}"
            ),
            // A path ending in `/` answers Nomad's error for a missing name: it is no operation.
            None if path.ends_with('/') => {}
            None => assert!(
                documented.contains(&shape(&path)),
                "{path} is routed but not documented"
            ),
        }
    }
}

#[tokio::test]
async fn documented_operations_are_exactly_the_routed_methods() {
    let doc = document();
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "not an OpenAPI 3 document"
    );
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let uri = concrete(path);
        let mut answers = Vec::new();
        for method in METHODS {
            let documented = item.get(method.to_lowercase()).is_some();
            let (status, code) = code_of(method, &uri).await;
            let routed = !matches!(code, Some(ErrorCode::NoRoute | ErrorCode::InvalidMethod))
                && status != StatusCode::METHOD_NOT_ALLOWED;
            answers.push((method, documented, routed, status));
            assert!(
                routed || !documented,
                "{method} {path} is documented but not routed ({status}, {code:?})"
            );
        }
        // A path that gives every method one fixed answer, as Nomad does (the redirect of
        // `/v1/volume/csi`, the missing-name 400 of a path ending in `/`), documents the methods
        // clients use; any other routed method must be documented.
        let fixed =
            |s: StatusCode| s == StatusCode::MOVED_PERMANENTLY || s == StatusCode::BAD_REQUEST;
        let statuses: BTreeSet<u16> = answers.iter().map(|a| a.3.as_u16()).collect();
        for (method, documented, routed, status) in answers {
            assert!(
                !routed || documented || (fixed(status) && statuses.len() == 1),
                "{method} {path} is routed ({status}) but not documented"
            );
        }
    }
}

#[tokio::test]
async fn the_document_is_served_as_committed() {
    let r = call(&StateBackend::new(), "GET", "/v1/openapi.json", "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), document());
}
