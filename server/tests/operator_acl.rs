//! The operator endpoints with ACLs on, on three real nodes: the Raft configuration, peer
//! removal, `/v1/agent/self` and `/v1/operator/snapshot` (save and restore) answer 403 to an
//! anonymous caller and to a client token, change nothing for them, and serve the management
//! token.

#[path = "support/operator.rs"]
mod support;

use reqwest::StatusCode;
use stowage_proto::archive;
use stowage_testkit::TestCluster;
use stowage_testkit::acl_cluster::{AclCluster, json_of, volume_json};
use support::{call, call_with_body, configuration, get, ids, server_ids};

const SNAPSHOT: &str = "/v1/operator/snapshot";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_a_management_token_may_use_the_operator_endpoints() {
    let mut acls = AclCluster::start().await;
    let client = acls
        .client_token("writer", "namespace \"default\" { policy = \"write\" }")
        .await;
    let leader = acls.leader;
    let follower = acls.cluster.followers(leader)[0];
    let denied = (StatusCode::FORBIDDEN, "Permission denied".to_string());
    let remove = format!("/v1/operator/raft/peer?id={follower}");
    for token in [None, Some(client.as_str())] {
        for node in acls.cluster.running() {
            for path in ["/v1/operator/raft/configuration", "/v1/agent/self"] {
                let answer = get(&acls.cluster, node, token, path).await;
                assert_eq!(answer, denied, "node {node} {path} as {token:?}");
            }
        }
        let (status, _, body) = call(
            &acls.cluster,
            leader,
            token,
            reqwest::Method::DELETE,
            &remove,
        )
        .await;
        assert_eq!((status, body), denied.clone(), "removal as {token:?}");
    }
    // Nothing was removed, and the management token reads everything.
    for node in acls.cluster.running() {
        let config = configuration(&acls.cluster, node, Some(&acls.root), "").await;
        assert_eq!(server_ids(&config), ids(&[1, 2, 3]), "node {node}");
        let (status, body) = get(&acls.cluster, node, Some(&acls.root), "/v1/agent/self").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(json_of(&body)["config"]["ACL"]["Enabled"], true);
    }
    // The client token still works where its policy lets it: the refusals above were about the
    // endpoints, not a broken token.
    let (status, body) = get(&acls.cluster, leader, Some(&client), "/v1/volumes?type=csi").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    acls.cluster.stop(follower).await;
    let (status, _, body) = call(
        &acls.cluster,
        leader,
        Some(&acls.root),
        reqwest::Method::DELETE,
        &remove,
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    let config = configuration(&acls.cluster, leader, Some(&acls.root), "").await;
    assert_eq!(server_ids(&config), ids(&acls.cluster.running()));
    acls.cluster.shutdown().await;
}

/// `GET /v1/operator/snapshot` on node `node` as the caller holding `token`: the status and the
/// body's bytes (an archive, or an error's text).
async fn save(cluster: &TestCluster, node: u64, token: Option<&str>) -> (StatusCode, Vec<u8>) {
    let url = format!("http://{}{SNAPSHOT}", cluster.http_addr(node));
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.header("X-Nomad-Token", t);
    }
    let resp = req.send().await.expect("the node answered");
    let status = resp.status();
    (status, resp.bytes().await.expect("body").to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_a_management_token_may_save_or_restore_a_snapshot() {
    let acls = AclCluster::start().await;
    let client = acls
        .client_token("writer", "namespace \"default\" { policy = \"write\" }")
        .await;
    let volumes = || async {
        let list = acls.admin("GET", "/v1/volumes?type=csi", None).await;
        let mut ids: Vec<String> = list
            .as_array()
            .unwrap_or_else(|| panic!("a list: {list}"))
            .iter()
            .map(|v| v["ID"].as_str().expect("ID").to_string())
            .collect();
        ids.sort();
        ids
    };
    acls.admin("PUT", "/v1/volume/csi/saved", Some(volume_json("saved")))
        .await;
    // A real archive, taken before `later` existed: restoring it would remove `later`, so a
    // refused restore that went through anyway would show.
    let (status, archive) = save(&acls.cluster, acls.leader, Some(&acls.root)).await;
    assert_eq!(status, StatusCode::OK);
    let (header, _) = archive::open(&archive).expect("the management token gets an archive");
    assert_eq!(header.volumes, 1, "{header:?}");
    acls.admin("PUT", "/v1/volume/csi/later", Some(volume_json("later")))
        .await;
    let before = volumes().await;
    assert_eq!(before, ["later", "saved"]);

    let denied = (StatusCode::FORBIDDEN, "Permission denied".to_string());
    for token in [None, Some(client.as_str())] {
        for node in acls.cluster.running() {
            let (status, body) = save(&acls.cluster, node, token).await;
            let body = String::from_utf8(body).expect("an error's text");
            assert_eq!((status, body), denied, "save on node {node} as {token:?}");
            let (status, _, body) = call_with_body(
                &acls.cluster,
                node,
                token,
                reqwest::Method::PUT,
                SNAPSHOT,
                Some(archive.clone()),
            )
            .await;
            assert_eq!(
                (status, body),
                denied,
                "restore on node {node} as {token:?}"
            );
        }
    }
    assert_eq!(volumes().await, before, "a refused restore changes nothing");
    for node in acls.cluster.running() {
        let (status, bytes) = save(&acls.cluster, node, Some(&acls.root)).await;
        assert_eq!(status, StatusCode::OK, "save on node {node}");
        let (header, _) = archive::open(&bytes).expect("an archive");
        assert_eq!(header.volumes, 2, "node {node}: {header:?}");
    }
    acls.cluster.shutdown().await;
}
