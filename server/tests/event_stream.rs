//! The event stream on three real nodes: a scripted sequence of volume, claim and plugin changes
//! made through one node arrives, in index order and complete, on a stream opened on another;
//! a stream resumed from an index starts right after it; topic filters hold.

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use stowage_testkit::{TestCluster, fast_timing};

/// The frames of an open stream, one JSON value per line, heartbeats (`{}`) left out.
struct Frames {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    pending: Vec<u8>,
}

impl Frames {
    async fn open(cluster: &TestCluster, node: u64, query: &str) -> Frames {
        let resp = reqwest::get(format!(
            "http://{}/v1/event/stream?{query}",
            cluster.http_addr(node)
        ))
        .await
        .expect("open the stream");
        assert_eq!(resp.status(), StatusCode::OK);
        Frames {
            body: resp.bytes_stream().boxed(),
            pending: Vec::new(),
        }
    }

    /// The next frame, within a deadline.
    async fn next(&mut self) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                let frame: Value = serde_json::from_slice(&line).expect("a JSON frame");
                if frame.as_object().is_some_and(|o| o.is_empty()) {
                    continue;
                }
                return frame;
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .expect("a frame in time")
                .expect("the stream is open")
                .expect("a chunk");
            self.pending.extend_from_slice(&chunk);
        }
    }

    /// `(index, topic, type, key)` of each event, until `count` events have come.
    async fn events(&mut self, count: usize) -> Vec<(u64, String, String, String)> {
        let mut out = Vec::new();
        while out.len() < count {
            let frame = self.next().await;
            let index = frame["Index"].as_u64().expect("Index");
            for e in frame["Events"].as_array().expect("Events") {
                assert_eq!(
                    e["Index"].as_u64(),
                    Some(index),
                    "an event carries its frame's index"
                );
                let text = |k: &str| e[k].as_str().expect(k).to_string();
                out.push((index, text("Topic"), text("Type"), text("Key")));
            }
        }
        out
    }
}

async fn send(cluster: &TestCluster, method: Method, path: &str, body: Value) {
    let resp = reqwest::Client::new()
        .request(method, format!("http://{}{path}", cluster.http_addr(1)))
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = resp.status();
    assert_eq!(
        status,
        StatusCode::OK,
        "{path}: {}",
        resp.text().await.unwrap_or_default()
    );
}

fn volume(id: &str) -> Value {
    json!({"Volumes": [{"ID": id, "PluginID": "p", "RequestedCapabilities": [
        {"AccessMode": "multi-node-multi-writer", "AttachmentMode": "file-system"}]}]})
}

/// The scripted sequence, and the `(topic, type, key)` each step must produce.
async fn script(cluster: &TestCluster) -> Vec<(&'static str, &'static str, &'static str)> {
    let plugin = json!({"Provider": "ebs", "Version": "1", "NodesHealthy": 1, "NodesExpected": 1,
        "ControllersHealthy": 1, "ControllersExpected": 1});
    send(cluster, Method::PUT, "/v1/plugin/csi/p", plugin).await;
    send(cluster, Method::PUT, "/v1/volume/csi/v1", volume("v1")).await;
    send(cluster, Method::PUT, "/v1/volume/csi/v2", volume("v2")).await;
    let claim = json!({"AllocationID": "A", "NodeID": "N", "Claim": "write", "State": "taken",
        "AccessMode": "multi-node-multi-writer", "AttachmentMode": "file-system"});
    send(cluster, Method::PUT, "/v1/volume/csi/v1/claim", claim).await;
    let release = json!({"AllocationID": "A", "NodeID": "N", "Claim": "write",
        "State": "ready-to-free"});
    send(cluster, Method::PUT, "/v1/volume/csi/v1/claim", release).await;
    send(cluster, Method::DELETE, "/v1/volume/csi/v2", json!(null)).await;
    send(cluster, Method::DELETE, "/v1/plugin/csi/p", json!(null)).await;
    vec![
        ("CSIPlugin", "CSIPluginUpdated", "p"),
        ("CSIVolume", "CSIVolumeRegistered", "v1"),
        ("CSIVolume", "CSIVolumeRegistered", "v2"),
        ("CSIVolume", "CSIVolumeClaim", "v1"),
        ("CSIVolume", "CSIVolumeClaim", "v1"),
        ("CSIVolume", "CSIVolumeDeregistered", "v2"),
        ("CSIPlugin", "CSIPluginDeleted", "p"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_change_arrives_in_order_and_a_stream_resumes_after_an_index() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let watcher = cluster.followers(leader)[0];
    let mut live = Frames::open(&cluster, watcher, "index=0").await;
    let mut plugins_only = Frames::open(&cluster, watcher, "topic=CSIPlugin:*").await;
    let expected = script(&cluster).await;

    let got = live.events(expected.len()).await;
    let kinds: Vec<(&str, &str, &str)> = got
        .iter()
        .map(|(_, t, k, key)| (t.as_str(), k.as_str(), key.as_str()))
        .collect();
    assert_eq!(kinds, expected);
    assert!(
        got.windows(2).all(|w| w[0].0 < w[1].0),
        "one event per write, in index order: {got:?}"
    );

    let plugin_events = plugins_only.events(2).await;
    assert_eq!(
        plugin_events
            .iter()
            .map(|e| e.2.as_str())
            .collect::<Vec<_>>(),
        ["CSIPluginUpdated", "CSIPluginDeleted"]
    );

    let from = got[2].0;
    let mut resumed = Frames::open(&cluster, leader, &format!("index={from}")).await;
    let after = resumed.events(expected.len() - 3).await;
    assert_eq!(
        after,
        got[3..].to_vec(),
        "a resumed stream starts right after the index"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_topic_or_index_is_refused() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    cluster.leader().await;
    for query in ["index=x", "topic=:v1", "topic=CSIVolume:"] {
        let resp = reqwest::get(format!(
            "http://{}/v1/event/stream?{query}",
            cluster.http_addr(1)
        ))
        .await
        .expect("send");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    cluster.shutdown().await;
}
