//! Nomad's HTTP API through real sockets on three nodes: writes on any node, reads on any other,
//! blocking queries woken by replication, and stale reads on a node cut off from the others.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use stowage_testkit::{TestCluster, fast_timing};

const SAMPLE: &str = r#"{ "ID": "volume-id1", "Name": "volume id1", "Namespace": "default", "ExternalID": "volume-id1",
  "Topologies": [{ "foo": "bar" }], "AccessMode": "multi-node-single-writer", "AttachmentMode": "file-system",
  "PluginID": "plugin-id1"}"#;

fn url(cluster: &TestCluster, node: u64, path: &str) -> String {
    format!("http://{}{path}", cluster.http_addr(node))
}

fn index_of(resp: &reqwest::Response) -> u64 {
    resp.headers()
        .get("x-nomad-index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("X-Nomad-Index")
}

fn volume_body(id: &str) -> String {
    json!({"Volumes": [{"ID": id, "PluginID": "p",
        "RequestedCapabilities": [{"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}]}]})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn register_on_a_follower_read_on_the_other() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let f = cluster.followers(leader);
    let http = reqwest::Client::new();

    let r = http
        .put(url(&cluster, f[0], "/v1/volume/csi/volume-id1"))
        .body(SAMPLE)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), StatusCode::OK);
    let written = index_of(&r);

    let r = http
        .get(url(&cluster, f[1], "/v1/volume/csi/volume-id1"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(index_of(&r) >= written);
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        (v["ID"].as_str(), v["CreateIndex"].as_u64()),
        (Some("volume-id1"), Some(written))
    );

    let r = http
        .get(url(
            &cluster,
            leader,
            "/v1/volumes?type=csi&plugin_id=plugin",
        ))
        .send()
        .await
        .expect("list");
    let list: Vec<Value> = r.json().await.expect("json");
    assert_eq!(list.len(), 1);

    let r = http
        .delete(url(&cluster, f[1], "/v1/volume/csi/volume-id1"))
        .send()
        .await
        .expect("delete");
    assert_eq!(
        (r.status(), r.text().await.expect("body")),
        (StatusCode::OK, String::new())
    );
    let r = http
        .get(url(&cluster, f[0], "/v1/volume/csi/volume-id1"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blocking_queries_wake_on_replicated_changes_only() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    cluster.leader().await;
    let http = reqwest::Client::new();
    for id in ["a", "b"] {
        let r = http
            .put(url(&cluster, 1, "/v1/volumes"))
            .body(volume_body(id))
            .send()
            .await
            .expect("put");
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = http
        .get(url(&cluster, 3, "/v1/volumes?type=csi"))
        .send()
        .await
        .expect("list");
    let table = index_of(&r);
    let r = http
        .get(url(&cluster, 3, "/v1/volume/csi/a"))
        .send()
        .await
        .expect("get a");
    let a_index = index_of(&r);

    let list = tokio::spawn({
        let (http, u) = (
            http.clone(),
            url(
                &cluster,
                3,
                &format!("/v1/volumes?type=csi&index={table}&wait=60s"),
            ),
        );
        async move { http.get(u).send().await.expect("blocking list") }
    });
    let read_a = tokio::spawn({
        let (http, u) = (
            http.clone(),
            url(
                &cluster,
                3,
                &format!("/v1/volume/csi/a?index={a_index}&wait=60s"),
            ),
        );
        async move { http.get(u).send().await.expect("blocking get") }
    });
    // A write to b through node 1 wakes the list on node 3, but not the read of a.
    let r = http
        .put(url(&cluster, 1, "/v1/volumes"))
        .body(volume_body("b"))
        .send()
        .await
        .expect("put b");
    let b_index = index_of(&r);
    let woke = tokio::time::timeout(Duration::from_secs(10), list)
        .await
        .expect("list woke")
        .expect("join");
    assert_eq!(woke.status(), StatusCode::OK);
    assert!(index_of(&woke) >= b_index);
    assert!(
        !read_a.is_finished(),
        "a write to b must not wake a blocking read of a"
    );

    let r = http
        .put(url(&cluster, 2, "/v1/volumes"))
        .body(volume_body("a"))
        .send()
        .await
        .expect("put a");
    let a_write = index_of(&r);
    let woke = tokio::time::timeout(Duration::from_secs(10), read_a)
        .await
        .expect("read woke")
        .expect("join");
    let v: Value = woke.json().await.expect("json");
    assert_eq!(v["ModifyIndex"].as_u64(), Some(a_write));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_isolated_follower_serves_stale_reads_and_refuses_default_ones() {
    let mut cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let http = reqwest::Client::new();
    let r = http
        .put(url(&cluster, leader, "/v1/volumes"))
        .body(volume_body("kept"))
        .send()
        .await
        .expect("put");
    let written = index_of(&r);
    let node = cluster.followers(leader)[0];
    stowage_testkit::eventually(
        "the follower applied the write",
        Duration::from_secs(10),
        || async { (cluster.applied(node) >= written).then_some(()) },
    )
    .await;
    for other in cluster.followers(node) {
        cluster.stop(other).await;
    }

    let r = http
        .get(url(&cluster, node, "/v1/volume/csi/kept?stale"))
        .send()
        .await
        .expect("stale");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("x-nomad-lastcontact").is_some());
    let r = http
        .get(url(&cluster, node, "/v1/volume/csi/kept"))
        .send()
        .await
        .expect("default");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().get("retry-after").is_some());
    let r = http
        .put(url(&cluster, node, "/v1/volumes"))
        .body(volume_body("lost"))
        .send()
        .await
        .expect("put");
    assert_eq!(
        (r.status(), r.text().await.expect("body")),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "No cluster leader".to_string()
        )
    );
    let r = http
        .get(url(&cluster, node, "/v1/agent/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    cluster.shutdown().await;
}
