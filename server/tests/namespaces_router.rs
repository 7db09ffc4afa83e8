//! Namespaces with ACLs on, through the real router and the real apply: a caller with no right
//! to read cannot learn what exists, a list across namespaces keeps only those the token may
//! list, and a namespace cannot go while it holds volumes.

use axum::http::StatusCode;
use serde_json::json;
use stowage_proto::api::ErrorCode;
use stowage_testkit::StateBackend;
use stowage_testkit::http::{assert_error, assert_refused, call_as};
use stowage_testkit::router_acl::{
    bootstrap, client_token, denied, policy, secret_of, volume_body, volume_ids,
};

#[tokio::test]
async fn no_right_to_read_hides_whether_a_volume_exists() {
    let b = StateBackend::with_acls();
    let root = bootstrap(&b).await;
    policy(&b, &root, "prod", r#"namespace "prod" { policy = "read" }"#).await;
    let t = client_token(&b, &root, &["prod"]).await;
    let t = Some(secret_of(&t));
    denied(&call_as(&b, t, "GET", "/v1/volume/csi/missing", "").await);
    denied(&call_as(&b, t, "DELETE", "/v1/volume/csi/missing", "").await);
    let r = call_as(&b, t, "GET", "/v1/volume/csi/missing?namespace=prod", "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}

#[tokio::test]
async fn a_wildcard_list_returns_only_namespaces_the_token_may_list() {
    let b = StateBackend::with_acls();
    let root = bootstrap(&b).await;
    for ns in ["prod", "dev"] {
        let body = json!({"Name": ns}).to_string();
        let r = call_as(
            &b,
            Some(&root),
            "POST",
            &format!("/v1/namespace/{ns}"),
            &body,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    for (id, ns) in [
        ("d1", "default"),
        ("p1", "prod"),
        ("p2", "prod"),
        ("x1", "dev"),
    ] {
        let r = call_as(&b, Some(&root), "PUT", "/v1/volumes", &volume_body(id, ns)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    policy(
        &b,
        &root,
        "prod",
        r#"namespace "prod" { capabilities = ["csi-list-volume"] }"#,
    )
    .await;
    let t = client_token(&b, &root, &["prod"]).await;
    let t = secret_of(&t);
    assert_eq!(volume_ids(&b, t, "*").await, ["p1", "p2"]);
    assert_eq!(volume_ids(&b, t, "prod").await, ["p1", "p2"]);
    denied(
        &call_as(
            &b,
            Some(t),
            "GET",
            "/v1/volumes?type=csi&namespace=default",
            "",
        )
        .await,
    );
    assert_eq!(volume_ids(&b, &root, "*").await, ["d1", "p1", "p2", "x1"]);

    let r = call_as(&b, Some(t), "GET", "/v1/namespaces", "").await;
    assert_eq!(r.json().as_array().map(Vec::len), Some(1), "{}", r.body);
    assert_eq!(r.json()[0]["Name"], "prod");
    denied(&call_as(&b, Some(t), "GET", "/v1/namespace/dev", "").await);
}

#[tokio::test]
async fn namespaces_guard_their_volumes() {
    let b = StateBackend::with_acls();
    let root = bootstrap(&b).await;
    let root = Some(root.as_str());
    let r = call_as(&b, root, "PUT", "/v1/volumes", &volume_body("v1", "prod")).await;
    assert_refused(
        &r,
        StatusCode::BAD_REQUEST,
        ErrorCode::NamespaceMissing,
        "volume v1 is in nonexistent namespace prod",
    );
    let body = json!({"Name": "prod", "Description": "production", "Meta": {"team": "a"}});
    let r = call_as(&b, root, "POST", "/v1/namespace", &body.to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = call_as(&b, root, "GET", "/v1/namespace/prod", "").await;
    assert_eq!(r.json()["Description"], "production");
    assert_eq!(r.json()["Meta"], json!({"team": "a"}));
    let r = call_as(&b, root, "PUT", "/v1/volumes", &volume_body("v1", "prod")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let r = call_as(&b, root, "DELETE", "/v1/namespace/prod", "").await;
    assert_refused(
        &r,
        StatusCode::CONFLICT,
        ErrorCode::NamespaceInUse,
        "1 error occurred:\n\t* namespace \"prod\" has volumes associated with it in regions: [global]\n\n",
    );
    let r = call_as(&b, root, "DELETE", "/v1/namespace/default", "").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "can not delete default namespace",
    );
    let r = call_as(&b, root, "DELETE", "/v1/volume/csi/v1?namespace=prod", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = call_as(&b, root, "DELETE", "/v1/namespace/prod", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = call_as(&b, root, "GET", "/v1/namespaces", "").await;
    assert_eq!(r.json().as_array().map(Vec::len), Some(1), "{}", r.body);
    assert_eq!(r.json()[0]["Name"], "default");
}
