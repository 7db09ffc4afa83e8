//! ACLs on three real nodes: a policy change seen by every node at once, a blocking query
//! refused when it wakes after its token was deleted, bootstrap (and its reset file) whichever
//! node is asked, the leader removing expired tokens, and a lagging node catching up before it
//! refuses a token it does not know yet.

use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use stowage_proto::Command;
use stowage_proto::acl::AclToken;
use stowage_proto::api::CsiError;
use stowage_testkit::acl_cluster::{AclCluster, RawWrite, raw_write, volume_json};
use stowage_testkit::{TestCluster, eventually, fast_timing, management_token};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_policy_change_takes_effect_on_every_node_at_once() {
    let acls = AclCluster::start().await;
    let secret = acls
        .client_token("ops", "namespace \"default\" { policy = \"read\" }")
        .await;
    let list = "/v1/volumes?type=csi";
    for node in acls.cluster.running() {
        let (status, text) = acls.send(node, Some(&secret), "GET", list, None).await;
        assert_eq!(status, StatusCode::OK, "node {node}: {text}");
    }
    let narrowed = json!({"Name": "ops", "Rules": "namespace \"prod\" { policy = \"read\" }"});
    acls.admin("POST", "/v1/acl/policy/ops", Some(narrowed))
        .await;
    // Reads are linearizable: each node answers after the change, with no waiting.
    for node in acls.cluster.running() {
        let (status, text) = acls.send(node, Some(&secret), "GET", list, None).await;
        assert_eq!(
            (status, text.as_str()),
            (StatusCode::FORBIDDEN, "Permission denied"),
            "node {node}"
        );
    }
    let widened = json!({"Name": "ops", "Rules":
        "namespace \"default\" { policy = \"write\" }\nplugin { policy = \"read\" }"});
    acls.admin("POST", "/v1/acl/policy/ops", Some(widened))
        .await;
    for (n, node) in acls.cluster.running().into_iter().enumerate() {
        let path = format!("/v1/volume/csi/after-{n}");
        let body = Some(volume_json(&format!("after-{n}")));
        let (status, text) = acls.send(node, Some(&secret), "PUT", &path, body).await;
        assert_eq!(status, StatusCode::OK, "node {node}: {text}");
    }
    acls.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_blocking_query_whose_token_is_deleted_answers_403_when_it_wakes() {
    let acls = AclCluster::start().await;
    let follower = acls.cluster.followers(acls.leader)[0];
    let rules = "namespace \"default\" { policy = \"read\" }";
    let list = "/v1/volumes?type=csi";
    acls.admin("PUT", "/v1/volume/csi/first", Some(volume_json("first")))
        .await;
    let head = acls
        .http
        .get(format!("http://{}{list}", acls.cluster.http_addr(follower)))
        .header("X-Nomad-Token", &acls.root)
        .send()
        .await
        .expect("answered");
    let index: u64 = head.headers()["x-nomad-index"]
        .to_str()
        .expect("text")
        .parse()
        .expect("u64");
    let denied = (StatusCode::FORBIDDEN, "Permission denied".to_string());

    // Woken by a change, after its token went.
    let secret = acls.client_token("reader", rules).await;
    let query = acls.blocked_list(follower, &secret, index, "60s").await;
    let accessor = acls.accessor_of(&secret).await;
    acls.admin("DELETE", &format!("/v1/acl/token/{accessor}"), None)
        .await;
    acls.admin("PUT", "/v1/volume/csi/wake", Some(volume_json("wake")))
        .await;
    let answer = tokio::time::timeout(Duration::from_secs(30), query)
        .await
        .expect("the query woke on the write")
        .expect("joined");
    assert_eq!(answer, denied);

    // Woken by its deadline, with nothing changed but its token gone.
    let secret = acls.client_token("reader2", rules).await;
    let far = index + 1_000_000;
    let query = acls.blocked_list(follower, &secret, far, "5s").await;
    let accessor = acls.accessor_of(&secret).await;
    acls.admin("DELETE", &format!("/v1/acl/token/{accessor}"), None)
        .await;
    let answer = query.await.expect("joined");
    assert_eq!(answer, denied);
    acls.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bootstrap_works_once_whichever_node_is_asked() {
    let cluster = TestCluster::start_with_acls(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let followers = cluster.followers(leader);
    let http = reqwest::Client::new();
    let bootstrap = |node: u64| {
        let url = format!("http://{}/v1/acl/bootstrap", cluster.http_addr(node));
        let http = http.clone();
        async move {
            let r = http.post(url).send().await.expect("answered");
            let index = r
                .headers()
                .get("x-nomad-index")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            (r.status(), index, r.text().await.expect("body"))
        }
    };
    let (status, index, body) = bootstrap(followers[0]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let index = index.expect("X-Nomad-Index");
    for node in [followers[1], leader] {
        let (status, _, body) = bootstrap(node).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                format!("ACL bootstrap already done (reset index: {index})")
            )
        );
    }
    // The operator's reset file on the leader allows one more, naming the bootstrap it redoes,
    // whichever node is asked; a stale index is refused.
    let reset = cluster.data_dir(leader).join("acl-bootstrap-reset");
    std::fs::write(&reset, "999999").expect("write the reset file");
    let (status, _, body) = bootstrap(followers[1]).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            format!("Invalid bootstrap reset index (specified 999999, reset index: {index})")
        )
    );
    std::fs::write(&reset, &index).expect("write the reset file");
    let (status, again, body) = bootstrap(followers[0]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let again = again.expect("X-Nomad-Index");
    // The file now names the bootstrap before last: nothing more until it names `again`.
    let (status, _, body) = bootstrap(followers[1]).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            format!("Invalid bootstrap reset index (specified {index}, reset index: {again})")
        )
    );
    std::fs::remove_file(&reset).expect("remove the reset file");
    let (status, _, body) = bootstrap(leader).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            format!("ACL bootstrap already done (reset index: {again})")
        )
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leader_removes_expired_tokens() {
    let acls = AclCluster::start().await;
    // A token that expires two seconds from now, written as the node itself: the API would
    // not make one that short-lived.
    let secret = stowage_proto::acl::new_uuid();
    let accessor = stowage_proto::acl::new_uuid();
    let now = stowage_raft::now_ns();
    let token = AclToken {
        accessor_id: accessor.clone(),
        create_time: now,
        expiration_time: Some(now + 2_000_000_000),
        expiration_ttl: 2_000_000_000,
        ..management_token(&secret, "brief")
    };
    let written = acls
        .cluster
        .agent(acls.leader)
        .node
        .forwarder
        .write_as_node(Command::UpsertAclTokens {
            tokens: vec![token],
            create: true,
        })
        .await
        .expect("written");
    assert!(written.result.is_ok(), "{:?}", written.result);
    let path = format!("/v1/acl/token/{accessor}");
    let (status, text) = acls
        .send(
            acls.leader,
            Some(&secret),
            "GET",
            "/v1/acl/token/self",
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the token works before it expires: {text}"
    );

    let gone = eventually(
        "the expired token is removed on every node",
        Duration::from_secs(30),
        || async {
            let mut seen = BTreeMap::new();
            for node in acls.cluster.running() {
                let (status, _) = acls.send(node, Some(&acls.root), "GET", &path, None).await;
                seen.insert(node, status);
            }
            seen.values()
                .all(|s| *s == StatusCode::NOT_FOUND)
                .then_some(seen)
        },
    )
    .await;
    assert_eq!(gone.len(), 3);
    let (status, text) = acls
        .send(
            acls.leader,
            Some(&secret),
            "GET",
            "/v1/acl/token/self",
            None,
        )
        .await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::FORBIDDEN, "Permission denied")
    );
    acls.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_read_on_a_node_that_lags_catches_up_before_refusing() {
    let mut acls = AclCluster::start().await;
    let late = acls.cluster.followers(acls.leader)[0];
    acls.cluster.stop(late).await;
    // A token the stopped node has never seen.
    let secret = acls
        .client_token("reader", "namespace \"default\" { policy = \"read\" }")
        .await;
    let list = "/v1/volumes?type=csi&stale";
    for node in acls.cluster.running() {
        acls.cluster.stop(node).await;
    }
    acls.cluster.restart(late).await;
    // Alone, it cannot tell whether the token exists: no leader, not "Permission denied".
    let (status, text) = acls.send(late, Some(&secret), "GET", list, None).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "No cluster leader")
    );
    for node in [1, 2, 3].into_iter().filter(|n| *n != late) {
        acls.cluster.restart(node).await;
    }
    acls.cluster.leader().await;
    let (status, text) = acls.send(late, Some(&secret), "GET", list, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    acls.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_rpc_port_can_neither_bootstrap_again_nor_skip_the_check() {
    let acls = AclCluster::start().await;
    let index: u64 = acls
        .send(acls.leader, None, "POST", "/v1/acl/bootstrap", None)
        .await
        .1
        .rsplit(": ")
        .next()
        .and_then(|n| n.trim_end_matches(')').parse().ok())
        .expect("the answer names the reset index");
    // A caller naming that index itself is ignored: only the leader's reset file counts.
    let secret = stowage_proto::acl::new_uuid();
    let token = AclToken {
        global: true,
        ..management_token(&secret, "Bootstrap Token")
    };
    let again = Command::BootstrapAcl {
        token,
        reset_index: Some(index),
    };
    for node in acls.cluster.running() {
        let outcome = raw_write(&acls.cluster, node, None, &again, RawWrite::Direct).await;
        let refused = outcome.expect("answered").result;
        assert_eq!(
            refused,
            Err(stowage_proto::DomainError::AclBootstrapped { reset_index: index })
        );
    }
    let (status, _) = acls
        .send(
            acls.leader,
            Some(&secret),
            "GET",
            "/v1/acl/token/self",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    acls.cluster.shutdown().await;

    // A leader with ACLs off still holds a forwarded write to them when the node the caller
    // reached does.
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let register = Command::RegisterVolumes {
        volumes: vec![stowage_testkit::volume("forwarded")],
        cas: None,
    };
    let held = RawWrite::Forwarded { acl: true };
    let outcome = raw_write(&cluster, leader, None, &register, held).await;
    assert_eq!(outcome.map(|_| ()), Err(CsiError::PermissionDenied));
    assert!(cluster.local_volume_ids(leader).is_empty());
    let free = RawWrite::Forwarded { acl: false };
    let outcome = raw_write(&cluster, leader, None, &register, free).await;
    assert!(outcome.expect("answered").result.is_ok());
    cluster.shutdown().await;
}
