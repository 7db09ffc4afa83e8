//! The Raft configuration over HTTP on three real nodes: Nomad's shape from every node (and
//! `?stale`), the leader it names matching `/v1/status/leader`, and removing a stopped member by
//! id or by address through any node, with the refusals of ids and addresses it does not hold.

#[path = "support/operator.rs"]
mod support;

use reqwest::StatusCode;
use serde_json::Value;
use std::collections::BTreeSet;
use stowage_testkit::acl_cluster::{json_of, volume_json};
use stowage_testkit::{TestCluster, fast_timing};
use support::{call, configuration, get, ids, server_ids};

/// Checks every server of `config` against the cluster's own record of that node, and returns
/// the ID of the one server marked leader (there must be exactly one).
fn check_servers(cluster: &TestCluster, config: &Value) -> String {
    let servers = config["Servers"].as_array().expect("Servers");
    for s in servers {
        let id: u64 = s["ID"].as_str().expect("ID").parse().expect("a numeric ID");
        assert_eq!(s["Node"], format!("node{id}"), "{s}");
        assert_eq!(s["Address"], cluster.rpc_addr(id), "{s}");
        assert_eq!(s["Voter"], true, "{s}");
        assert_eq!(s["RaftProtocol"], "3", "{s}");
        assert!(s["Leader"].is_boolean(), "{s}");
        let keys: BTreeSet<&str> = s
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["ID", "Node", "Address", "Leader", "Voter", "RaftProtocol"]),
            "Nomad's RaftServer fields, and no others"
        );
    }
    let leaders: Vec<&str> = servers
        .iter()
        .filter(|s| s["Leader"] == true)
        .map(|s| s["ID"].as_str().expect("ID"))
        .collect();
    assert_eq!(leaders.len(), 1, "exactly one leader: {config}");
    leaders[0].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_node_reports_three_voters_and_the_leader_it_names_in_status() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let mut indexes = BTreeSet::new();
    for node in cluster.running() {
        for query in ["", "?stale"] {
            let config = configuration(&cluster, node, None, query).await;
            let keys: BTreeSet<&str> = config
                .as_object()
                .expect("object")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, BTreeSet::from(["Index", "Servers"]), "{config}");
            assert_eq!(server_ids(&config), ids(&[1, 2, 3]), "node {node}{query}");
            assert_eq!(
                check_servers(&cluster, &config),
                leader.to_string(),
                "node {node}{query}"
            );
            indexes.insert(config["Index"].as_u64().expect("Index is a number"));
        }
        let (status, body) = get(&cluster, node, None, "/v1/status/leader").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json_of(&body), cluster.rpc_addr(leader), "node {node}");
    }
    assert_eq!(
        indexes.len(),
        1,
        "every node holds the same configuration: {indexes:?}"
    );
    let (status, _) = get(
        &cluster,
        leader,
        None,
        "/v1/operator/raft/configuration?stale=maybe",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_follower_is_removed_through_the_other_follower() {
    let mut cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let [gone, via] = <[u64; 2]>::try_from(cluster.followers(leader)).expect("two followers");
    let before = configuration(&cluster, leader, None, "").await["Index"]
        .as_u64()
        .expect("Index");
    cluster.stop(gone).await;

    let path = format!("/v1/operator/raft/peer?id={gone}");
    let (status, index, body) = call(&cluster, via, None, reqwest::Method::DELETE, &path).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    let index = index.expect("X-Nomad-Index on the removal");
    assert!(
        index > before,
        "the removal is a new entry: {index} after {before}"
    );
    for node in [leader, via] {
        let config = configuration(&cluster, node, None, "").await;
        assert_eq!(
            server_ids(&config),
            ids(&[leader, via]),
            "node {node}: {config}"
        );
        assert_eq!(check_servers(&cluster, &config), leader.to_string());
        assert_eq!(
            config["Index"].as_u64(),
            Some(index),
            "node {node}: {config}"
        );
    }
    // Two voters left, both running: writes still commit.
    let url = format!(
        "http://{}/v1/volume/csi/after-removal",
        cluster.http_addr(via)
    );
    let r = reqwest::Client::new()
        .put(url)
        .body(volume_json("after-removal").to_string())
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        cluster
            .local_volume_ids(leader)
            .contains(&"after-removal".to_string())
    );

    let delete = |path: &'static str| call(&cluster, via, None, reqwest::Method::DELETE, path);
    let (status, _, body) = delete("/v1/operator/raft/peer?id=9").await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "id \"9\" was not found in the Raft configuration"
        )
    );
    let (status, _, body) = delete("/v1/operator/raft/peer").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("?id"), "{body}");
    let (status, _, body) = delete("/v1/operator/raft/peer?id=two").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // The removed member is no longer there to remove.
    let (status, _, body) = call(&cluster, leader, None, reqwest::Method::DELETE, &path).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            format!("id \"{gone}\" was not found in the Raft configuration")
        )
    );
    assert_eq!(
        server_ids(&configuration(&cluster, leader, None, "").await),
        ids(&[leader, via])
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_follower_is_removed_by_its_address() {
    let mut cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let [gone, kept] = <[u64; 2]>::try_from(cluster.followers(leader)).expect("two followers");
    cluster.stop(gone).await;

    let delete = |path: String, node: u64| {
        let cluster = &cluster;
        async move { call(cluster, node, None, reqwest::Method::DELETE, &path).await }
    };
    let (status, _, body) =
        delete("/v1/operator/raft/peer?address=127.0.0.1:1".into(), leader).await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "address \"127.0.0.1:1\" was not found in the Raft configuration"
        )
    );
    let both = format!(
        "/v1/operator/raft/peer?id={gone}&address={}",
        cluster.rpc_addr(gone)
    );
    let (status, _, body) = delete(both, leader).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        server_ids(&configuration(&cluster, leader, None, "").await),
        ids(&[1, 2, 3])
    );

    let by_address = format!("/v1/operator/raft/peer?address={}", cluster.rpc_addr(gone));
    let (status, index, body) = delete(by_address, kept).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    let config = configuration(&cluster, kept, None, "").await;
    assert_eq!(server_ids(&config), ids(&[leader, kept]), "{config}");
    assert_eq!(config["Index"].as_u64(), index, "{config}");
    cluster.shutdown().await;
}
