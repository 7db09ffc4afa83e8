//! ACLs through the real router and the real apply, with no Raft: bootstrap, policies in HCL
//! and JSON, tokens whose secrets show once, where a token is read from, what an unusable token
//! gets, and the anonymous policy.

use axum::http::StatusCode;
use serde_json::{Value, json};
use stowage_http_gateway::Backend;
use stowage_proto::Command;
use stowage_proto::acl::{AclToken, hash_secret, new_uuid};
use stowage_proto::api::ErrorCode;
use stowage_raft::Store;
use stowage_testkit::http::{Reply, assert_error, assert_refused, call, call_as};
use stowage_testkit::router_acl::{
    bootstrap, client_token, denied, policy, secret_of, volume_body, volume_ids,
};
use stowage_testkit::{StateBackend, management_token};

#[tokio::test]
async fn with_acls_off_acl_endpoints_say_so_and_everyone_may_do_everything() {
    let b = StateBackend::new();
    for (method, uri) in [
        ("POST", "/v1/acl/bootstrap"),
        ("GET", "/v1/acl/policies"),
        ("GET", "/v1/acl/tokens"),
        ("GET", "/v1/acl/policy/anonymous"),
    ] {
        let r = call(&b, method, uri, "").await;
        assert_refused(
            &r,
            StatusCode::BAD_REQUEST,
            ErrorCode::AclDisabled,
            "ACL support disabled",
        );
    }
    let me = call_as(&b, Some("whatever"), "GET", "/v1/acl/token/self", "").await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json()["AccessorID"], "acls-disabled");
    let r = call(&b, "POST", "/v1/namespace/prod", r#"{"Name":"prod"}"#).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = call_as(
        &b,
        Some("not-a-token"),
        "PUT",
        "/v1/volumes",
        &volume_body("v", "prod"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn bootstrap_works_once_and_then_names_its_index() {
    let b = StateBackend::with_acls();
    let r = call(&b, "POST", "/v1/acl/bootstrap", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let token = r.json();
    assert_eq!(token["Type"], "management");
    assert_eq!(token["Name"], "Bootstrap Token");
    assert_eq!(token["Global"], true);
    assert_eq!(token["Policies"], Value::Null);
    let index: u64 = r
        .header("x-nomad-index")
        .expect("index")
        .parse()
        .expect("u64");
    assert_eq!(token["CreateIndex"], index);

    let again = call(&b, "PUT", "/v1/acl/bootstrap", "").await;
    assert_refused(
        &again,
        StatusCode::BAD_REQUEST,
        ErrorCode::AclBootstrapped,
        &format!("ACL bootstrap already done (reset index: {index})"),
    );
    // The first token still works, and is the only one.
    let root = secret_of(&token);
    let list = call_as(&b, Some(root), "GET", "/v1/acl/tokens", "").await;
    assert_eq!(list.json().as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn bootstrap_may_be_given_its_secret_which_must_be_a_uuid() {
    let b = StateBackend::with_acls();
    let r = call(
        &b,
        "POST",
        "/v1/acl/bootstrap",
        r#"{"BootstrapSecret":"not-a-uuid"}"#,
    )
    .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid acl token");
    let chosen = new_uuid();
    let body = json!({"BootstrapSecret": chosen}).to_string();
    let r = call(&b, "POST", "/v1/acl/bootstrap", &body).await;
    assert_eq!(r.json()["SecretID"], chosen.as_str());
    let me = call_as(&b, Some(&chosen), "GET", "/v1/acl/token/self", "").await;
    assert_eq!(me.json()["Type"], "management");
}

#[tokio::test]
async fn policies_read_in_hcl_and_json_and_are_validated() {
    let b = StateBackend::with_acls();
    let root = bootstrap(&b).await;
    let hcl = r#"
        namespace "prod" { policy = "read" }
        namespace "dev-*" { capabilities = ["csi-list-volume", "csi-mount-volume"] }
        plugin { policy = "read" }
    "#;
    policy(&b, &root, "ops", hcl).await;
    let r = call_as(&b, Some(&root), "GET", "/v1/acl/policy/ops", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = r.json();
    assert_eq!(p["Rules"], hcl);
    let namespaces = p["RulesJSON"]["Namespaces"].as_array().expect("namespaces");
    let prod = namespaces
        .iter()
        .find(|n| n["Name"] == "prod")
        .expect("prod's rules");
    let caps: Vec<&str> = prod["Capabilities"]
        .as_array()
        .expect("capabilities")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(caps.contains(&"csi-list-volume") && caps.contains(&"csi-read-volume"));
    assert!(!caps.contains(&"csi-write-volume"), "{caps:?}");
    assert_eq!(p["RulesJSON"]["Plugin"]["Policy"], "read");

    // The JSON form of the same rules.
    let as_json = json!({"namespace": {"prod": {"policy": "read"}}, "plugin": {"policy": "read"}});
    policy(&b, &root, "ops-json", &as_json.to_string()).await;

    let bad = [
        (
            r#"namespace "x" { policy = "nope" }"#,
            "policy 0 invalid: 1 error occurred:\n\t* failed to parse rules: Invalid namespace policy: \"nope\" for namespace \"x\"\n\n",
        ),
        (
            r#"namespace "x" { capabilities = ["fly"] }"#,
            "policy 0 invalid: 1 error occurred:\n\t* failed to parse rules: Invalid namespace capability 'fly' for namespace \"x\"\n\n",
        ),
    ];
    for (rules, text) in bad {
        let body = json!({"Name": "bad", "Rules": rules}).to_string();
        let r = call_as(&b, Some(&root), "POST", "/v1/acl/policy/bad", &body).await;
        assert_error(&r, StatusCode::BAD_REQUEST, text);
    }
    let r = call_as(&b, Some(&root), "GET", "/v1/acl/policy/bad", "").await;
    assert_error(&r, StatusCode::NOT_FOUND, "ACL policy not found");
    let body = json!({"Name": "other", "Rules": ""}).to_string();
    let r = call_as(&b, Some(&root), "POST", "/v1/acl/policy/ops", &body).await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "ACL policy name does not match request path",
    );

    let names = |r: &Reply| -> Vec<String> {
        r.json()
            .as_array()
            .expect("array")
            .iter()
            .map(|p| p["Name"].as_str().expect("Name").to_string())
            .collect()
    };
    let all = call_as(&b, Some(&root), "GET", "/v1/acl/policies", "").await;
    assert_eq!(names(&all), ["ops", "ops-json"]);
    // A client token lists and reads only the policies it holds.
    let client = client_token(&b, &root, &["ops-json"]).await;
    let mine = call_as(&b, Some(secret_of(&client)), "GET", "/v1/acl/policies", "").await;
    assert_eq!(names(&mine), ["ops-json"]);
    let other = call_as(
        &b,
        Some(secret_of(&client)),
        "GET",
        "/v1/acl/policy/ops",
        "",
    )
    .await;
    denied(&other);
    let nothing = call_as(&b, Some(secret_of(&client)), "GET", "/v1/acl/policy/zz", "").await;
    denied(&nothing);

    let r = call_as(&b, Some(&root), "DELETE", "/v1/acl/policy/ops", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let all = call_as(&b, Some(&root), "GET", "/v1/acl/policies", "").await;
    assert_eq!(names(&all), ["ops-json"]);
}

#[tokio::test]
async fn a_token_shows_its_secret_once_and_only_a_hash_is_kept() {
    let b = StateBackend::with_acls();
    let root = bootstrap(&b).await;
    policy(&b, &root, "r", r#"namespace "default" { policy = "read" }"#).await;
    let made = client_token(&b, &root, &["r"]).await;
    let accessor = made["AccessorID"].as_str().expect("AccessorID");
    let secret = secret_of(&made);
    assert_ne!(accessor, secret);

    let read = call_as(
        &b,
        Some(&root),
        "GET",
        &format!("/v1/acl/token/{accessor}"),
        "",
    )
    .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert!(!read.body.contains(secret), "{}", read.body);
    assert_eq!(read.json()["Policies"], json!(["r"]));
    let list = call_as(&b, Some(&root), "GET", "/v1/acl/tokens", "").await;
    assert!(!list.body.contains(secret), "{}", list.body);
    assert_eq!(list.json().as_array().map(Vec::len), Some(2));
    b.csi().store().read(|s| {
        let stored = s.acl.token(accessor).expect("stored");
        assert_eq!(stored.secret_hash, hash_secret(secret));
    });

    // A caller reads its own token, and no other.
    let me = call_as(&b, Some(secret), "GET", "/v1/acl/token/self", "").await;
    assert_eq!(me.json()["AccessorID"], accessor);
    let own = call_as(
        &b,
        Some(secret),
        "GET",
        &format!("/v1/acl/token/{accessor}"),
        "",
    )
    .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    let uri = "/v1/acl/token/00000000-0000-0000-0000-000000000000";
    denied(&call_as(&b, Some(secret), "GET", uri, "").await);
    let missing = call_as(&b, Some(&root), "GET", uri, "").await;
    assert_error(&missing, StatusCode::NOT_FOUND, "ACL token not found");

    // Updates change policies and keep the secret.
    policy(
        &b,
        &root,
        "w",
        "namespace \"default\" { policy = \"write\" }\nplugin { policy = \"read\" }",
    )
    .await;
    let body = json!({"AccessorID": accessor, "Name": "t2", "Type": "client", "Policies": ["w"]});
    let uri = format!("/v1/acl/token/{accessor}");
    let r = call_as(&b, Some(&root), "POST", &uri, &body.to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["Policies"], json!(["w"]));
    let r = call_as(
        &b,
        Some(secret),
        "PUT",
        "/v1/volumes",
        &volume_body("v", "default"),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the updated token writes: {}",
        r.body
    );
    let r = call_as(
        &b,
        Some(&root),
        "POST",
        "/v1/acl/token/other",
        &body.to_string(),
    )
    .await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "ACL token accessor does not match request path",
    );

    let bad = [
        (
            json!({"Type": "client"}),
            "token 0 invalid: 1 error occurred:\n\t* client token missing policies or roles\n\n",
        ),
        (
            json!({"Type": "root"}),
            "token 0 invalid: 1 error occurred:\n\t* token type must be client or management\n\n",
        ),
        (
            json!({"Type": "management", "ExpirationTTL": "10s"}),
            "token 0 invalid: 1 error occurred:\n\t* expiration time cannot be less than 1m0s in the future (was 10s)\n\n",
        ),
        (
            json!({"Type": "management", "ExpirationTTL": "25h"}),
            "token 0 invalid: 1 error occurred:\n\t* expiration time cannot be more than 24h0m0s in the future (was 25h0m0s)\n\n",
        ),
    ];
    for (body, text) in bad {
        let r = call_as(&b, Some(&root), "POST", "/v1/acl/token", &body.to_string()).await;
        assert_error(&r, StatusCode::BAD_REQUEST, text);
    }
    let ttl = json!({"Type": "management", "ExpirationTTL": "1h"});
    let r = call_as(&b, Some(&root), "POST", "/v1/acl/token", &ttl.to_string()).await;
    assert_eq!(r.json()["ExpirationTTL"], "1h0m0s");
    assert!(r.json()["ExpirationTime"].is_string(), "{}", r.body);

    let r = call_as(&b, Some(&root), "DELETE", &uri, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    denied(&call_as(&b, Some(secret), "GET", "/v1/acl/token/self", "").await);
    let r = call_as(&b, Some(&root), "DELETE", &uri, "").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        &format!("Cannot delete nonexistent tokens: {accessor}"),
    );
}

#[tokio::test]
async fn malformed_unknown_and_expired_tokens_get_403_and_change_nothing() {
    let b = StateBackend::with_acls();
    let root = bootstrap(&b).await;
    // A management token that expired a second after the epoch, written as the node would.
    let expired = new_uuid();
    b.write(Command::UpsertAclTokens {
        tokens: vec![AclToken {
            expiration_time: Some(1_000_000_000),
            expiration_ttl: 60_000_000_000,
            ..management_token(&expired, "old")
        }],
        create: true,
    })
    .await
    .result
    .expect("written");
    let unknown = new_uuid();
    for bad in ["not-a-uuid", unknown.as_str(), expired.as_str()] {
        let t = Some(bad);
        denied(&call_as(&b, t, "GET", "/v1/volumes?type=csi&namespace=*", "").await);
        denied(&call_as(&b, t, "GET", "/v1/volume/csi/v", "").await);
        denied(&call_as(&b, t, "PUT", "/v1/volumes", &volume_body("v", "default")).await);
        denied(&call_as(&b, t, "GET", "/v1/acl/token/self", "").await);
        denied(&call_as(&b, t, "GET", "/v1/acl/policies", "").await);
        denied(&call_as(&b, t, "GET", "/v1/namespaces", "").await);
        denied(&call_as(&b, t, "POST", "/v1/namespace/x", r#"{"Name":"x"}"#).await);
    }
    // Nothing was written: the namespace does not exist and no volume does.
    assert_eq!(volume_ids(&b, &root, "*").await, Vec::<String>::new());
    let r = call_as(&b, Some(&root), "GET", "/v1/namespace/x", "").await;
    assert_error(&r, StatusCode::NOT_FOUND, "Namespace not found");
}

#[tokio::test]
async fn tokens_come_from_x_nomad_token_first_then_a_bearer() {
    let b = StateBackend::with_acls();
    let root = bootstrap(&b).await;
    let get = |headers: Vec<(&'static str, String)>| {
        let b = b.clone();
        async move {
            let mut req = axum::http::Request::builder().uri("/v1/acl/token/self");
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let req = req.body(axum::body::Body::empty()).expect("request");
            let resp = tower::ServiceExt::oneshot(stowage_http_gateway::router(b), req)
                .await
                .expect("infallible");
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .expect("body");
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            (status, v["AccessorID"].as_str().map(str::to_string))
        }
    };
    let mgmt = get(vec![("Authorization", format!("bearer {root} trailing"))]).await;
    assert_eq!(mgmt.0, StatusCode::OK);
    assert_ne!(mgmt.1.as_deref(), Some("anonymous"));
    let anon = get(vec![("Authorization", format!("Basic {root}"))]).await;
    assert_eq!(anon, (StatusCode::OK, Some("anonymous".to_string())));
    let header_wins = get(vec![
        ("X-Nomad-Token", format!("  {root} ")),
        ("Authorization", "Bearer nonsense".into()),
    ])
    .await;
    assert_eq!(header_wins, mgmt);
    let bad_bearer = get(vec![("Authorization", "Bearer nonsense".into())]).await;
    assert_eq!(bad_bearer.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_anonymous_policy_governs_callers_without_a_token() {
    let b = StateBackend::with_acls();
    let root = bootstrap(&b).await;
    denied(&call(&b, "GET", "/v1/volumes?type=csi", "").await);
    policy(
        &b,
        &root,
        "anonymous",
        r#"namespace "default" { policy = "read" }"#,
    )
    .await;
    let r = call(&b, "GET", "/v1/volumes?type=csi", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = call(&b, "GET", "/v1/acl/policy/anonymous", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    denied(&call(&b, "PUT", "/v1/volumes", &volume_body("v", "default")).await);
    let me = call(&b, "GET", "/v1/acl/token/self", "").await;
    assert_eq!(me.json()["AccessorID"], "anonymous");
    assert_eq!(me.json()["Policies"], json!(["anonymous"]));
}

#[tokio::test]
async fn a_caller_without_rights_hears_403_before_what_is_wrong_with_its_request() {
    let b = StateBackend::with_acls();
    let root = bootstrap(&b).await;
    policy(&b, &root, "r", r#"namespace "default" { policy = "read" }"#).await;
    let reader = client_token(&b, &root, &["r"]).await;
    for t in [None, Some(secret_of(&reader))] {
        let bad_token = json!({"Type": "root", "ExpirationTTL": "1s"}).to_string();
        denied(&call_as(&b, t, "POST", "/v1/acl/token", &bad_token).await);
        let bad_rules = json!({"Name": "x", "Rules": "namespace {"}).to_string();
        denied(&call_as(&b, t, "POST", "/v1/acl/policy/x", &bad_rules).await);
        let bad_ns = json!({"Name": "x", "Quota": "q"}).to_string();
        denied(&call_as(&b, t, "POST", "/v1/namespace/x", &bad_ns).await);
        let no_caps = json!({"Volumes": [{"ID": "v", "PluginID": "p"}]}).to_string();
        denied(&call_as(&b, t, "PUT", "/v1/volumes", &no_caps).await);
        // A body that decodes but breaks a claim rule (an unknown access mode).
        let bad_claim = json!({"AllocationID": "a", "NodeID": "n", "Claim": "write",
            "State": "taken", "AccessMode": "bogus", "AttachmentMode": "file-system"})
        .to_string();
        denied(&call_as(&b, t, "PUT", "/v1/volume/csi/v/claim", &bad_claim).await);
    }
    // With rights, the same requests hear what is wrong.
    let r = call_as(
        &b,
        Some(&root),
        "PUT",
        "/v1/volumes",
        r#"{"Volumes": [{"ID": "v", "PluginID": "p"}]}"#,
    )
    .await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "validation: must include at least one capability block",
    );
}

#[tokio::test]
async fn token_lifetimes_are_read_strictly() {
    let b = StateBackend::with_acls();
    let root = bootstrap(&b).await;
    let root = Some(root.as_str());
    let float = json!({"Type": "management", "ExpirationTTL": 3.6e12}).to_string();
    let r = call_as(&b, root, "POST", "/v1/acl/token", &float).await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "json: cannot unmarshal number 3600000000000.0 into Go struct field ACLToken.ExpirationTTL of type time.Duration",
    );
    let ancient =
        json!({"Type": "management", "ExpirationTime": "1678-01-01T00:00:00Z"}).to_string();
    let r = call_as(&b, root, "POST", "/v1/acl/token", &ancient).await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "token 0 invalid: 1 error occurred:\n\t* expiration time cannot be before create time\n\n",
    );
    let hour = json!({"Type": "management", "ExpirationTTL": 3_600_000_000_000i64}).to_string();
    let r = call_as(&b, root, "POST", "/v1/acl/token", &hour).await;
    assert_eq!(r.json()["ExpirationTTL"], "1h0m0s", "{}", r.body);
}

#[tokio::test]
async fn policy_self_lists_the_callers_policies_and_needs_a_token() {
    let b = StateBackend::with_acls();
    let root = bootstrap(&b).await;
    policy(&b, &root, "r", r#"namespace "default" { policy = "read" }"#).await;
    policy(&b, &root, "other", "").await;
    let reader = client_token(&b, &root, &["r"]).await;
    let r = call_as(
        &b,
        Some(secret_of(&reader)),
        "GET",
        "/v1/acl/policy/self",
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json().as_array().map(Vec::len), Some(1));
    assert_eq!(r.json()[0]["Name"], "r");
    denied(&call(&b, "GET", "/v1/acl/policy/self", "").await);
}
