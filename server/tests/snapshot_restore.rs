//! Operator snapshots on three real nodes: an archive saved from one cluster and restored onto a
//! fresh one gives every node the same volumes, claims, plugins and namespaces (compared by a
//! digest of every table); a corrupt or truncated archive is refused and changes nothing.

use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::Duration;
use stowage_testkit::{TestCluster, eventually, fast_timing};

/// A digest of every table on node `id`, as it holds them now, with modify indexes left out: a
/// restore moves them (and the tables' own indexes) forward on purpose.
fn tables_digest(cluster: &TestCluster, id: u64) -> String {
    let (_, mut tables) = cluster.agent(id).node.forwarder.reader().tables();
    tables.volumes.iter_mut().for_each(|v| v.modify_index = 0);
    tables.plugins.iter_mut().for_each(|p| p.modify_index = 0);
    tables
        .namespaces
        .iter_mut()
        .for_each(|n| n.modify_index = 0);
    tables
        .acl_policies
        .iter_mut()
        .for_each(|p| p.modify_index = 0);
    tables
        .acl_tokens
        .iter_mut()
        .for_each(|t| t.modify_index = 0);
    let bytes = serde_json::to_vec(&tables).expect("encode");
    format!("{:x}", Sha256::digest(bytes))
}

async fn call(
    http: &reqwest::Client,
    cluster: &TestCluster,
    node: u64,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, String) {
    let mut req = http.request(method, format!("http://{}{path}", cluster.http_addr(node)));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("send");
    (resp.status(), resp.text().await.expect("body"))
}

/// Volumes, a plugin, a namespace and claims in several states, written through node 1.
async fn populate(http: &reqwest::Client, cluster: &TestCluster) {
    use reqwest::Method;
    let ok = |(status, text): (StatusCode, String)| assert_eq!(status, StatusCode::OK, "{text}");
    ok(call(
        http,
        cluster,
        1,
        Method::PUT,
        "/v1/namespace/team",
        Some(json!({"Name": "team", "Description": "d"})),
    )
    .await);
    ok(call(
        http,
        cluster,
        1,
        Method::PUT,
        "/v1/plugin/csi/p",
        Some(
            json!({"Provider": "ebs", "Version": "1", "NodesHealthy": 2, "NodesExpected": 2,
            "ControllersHealthy": 1, "ControllersExpected": 1}),
        ),
    )
    .await);
    for (ns, id) in [("default", "a"), ("default", "b"), ("team", "c")] {
        let body = json!({"Volumes": [{"ID": id, "Namespace": ns, "PluginID": "p",
            "RequestedCapabilities": [{"AccessMode": "multi-node-multi-writer",
                "AttachmentMode": "file-system"}]}]});
        ok(call(
            http,
            cluster,
            1,
            Method::PUT,
            &format!("/v1/volume/csi/{id}?namespace={ns}"),
            Some(body),
        )
        .await);
    }
    for (alloc, state) in [("A1", "taken"), ("A2", "taken")] {
        let claim = json!({"AllocationID": alloc, "NodeID": "N1", "Claim": "write",
            "State": state, "AccessMode": "multi-node-multi-writer",
            "AttachmentMode": "file-system"});
        ok(call(
            http,
            cluster,
            1,
            Method::PUT,
            "/v1/volume/csi/a/claim",
            Some(claim),
        )
        .await);
    }
    let release = json!({"AllocationID": "A2", "NodeID": "N1", "Claim": "write",
        "State": "ready-to-free"});
    ok(call(
        http,
        cluster,
        1,
        Method::PUT,
        "/v1/volume/csi/a/claim",
        Some(release),
    )
    .await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_saved_cluster_restores_onto_a_fresh_one_identically() {
    let http = reqwest::Client::new();
    let source = TestCluster::start(fast_timing(5000)).await;
    source.leader().await;
    populate(&http, &source).await;
    let follower = source.followers(source.leader().await)[0];
    let saved = http
        .get(format!(
            "http://{}/v1/operator/snapshot",
            source.http_addr(follower)
        ))
        .send()
        .await
        .expect("save");
    assert_eq!(saved.status(), StatusCode::OK);
    let archive = saved.bytes().await.expect("archive").to_vec();
    let leader = source.leader().await;
    let expected = tables_digest(&source, leader);
    assert_eq!(
        source.local_volume_ids(leader).len(),
        3,
        "three volumes, two namespaces"
    );
    source.shutdown().await;

    let target = TestCluster::start(fast_timing(5000)).await;
    target.leader().await;
    let (status, text) = call(
        &http,
        &target,
        2,
        reqwest::Method::PUT,
        "/v1/volume/csi/stray",
        Some(json!({"Volumes": [{"ID": "stray", "PluginID": "q",
            "RequestedCapabilities": [{"AccessMode": "single-node-writer",
                "AttachmentMode": "file-system"}]}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let restored = http
        .put(format!(
            "http://{}/v1/operator/snapshot",
            target.http_addr(3)
        ))
        .body(archive)
        .send()
        .await
        .expect("restore");
    assert_eq!(
        restored.status(),
        StatusCode::OK,
        "{:?}",
        restored.text().await
    );
    for node in target.running() {
        eventually(
            &format!("node {node} holds the restored tables"),
            Duration::from_secs(20),
            || {
                let digest = tables_digest(&target, node);
                let expected = expected.clone();
                async move { (digest == expected).then_some(()) }
            },
        )
        .await;
    }
    let (status, text) = call(
        &http,
        &target,
        1,
        reqwest::Method::GET,
        "/v1/volume/csi/stray",
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the volume made after the save is gone: {text}"
    );
    target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_damaged_archive_is_refused_and_changes_nothing() {
    let http = reqwest::Client::new();
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    populate(&http, &cluster).await;
    let archive = http
        .get(format!(
            "http://{}/v1/operator/snapshot",
            cluster.http_addr(leader)
        ))
        .send()
        .await
        .expect("save")
        .bytes()
        .await
        .expect("archive")
        .to_vec();
    let (status, text) = call(
        &http,
        &cluster,
        1,
        reqwest::Method::DELETE,
        "/v1/volume/csi/b",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let before = tables_digest(&cluster, leader);

    let mut flipped = archive.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x20;
    let damaged = [
        archive[..archive.len() - 1].to_vec(),
        archive[..archive.len() / 3].to_vec(),
        flipped,
        b"not an archive".to_vec(),
        Vec::new(),
    ];
    for bytes in damaged {
        let resp = http
            .put(format!(
                "http://{}/v1/operator/snapshot",
                cluster.http_addr(leader)
            ))
            .body(bytes)
            .send()
            .await
            .expect("restore");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert!(text.starts_with("snapshot: "), "{text}");
    }
    assert_eq!(tables_digest(&cluster, leader), before);
    cluster.shutdown().await;
}
