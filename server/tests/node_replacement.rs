//! Replacing a dead server without downtime, as the README's steps do it: remove the dead
//! member over the HTTP API, start an empty node, add it as a learner and make it a voter, while
//! a client keeps writing through a surviving node; every write succeeds, and the new node ends
//! with every volume.

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use stowage_proto::pb::{AddLearnerRequest, ChangeMembershipRequest};
use stowage_testkit::{TestCluster, eventually, fast_timing};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_node_is_replaced_while_every_write_succeeds() {
    let mut cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let [entry, dead] = cluster.followers(leader)[..] else {
        panic!("two followers");
    };
    let entry_http = cluster.http_addr(entry);
    let http = reqwest::Client::new();

    let stop = Arc::new(AtomicBool::new(false));
    let (written, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let writer = tokio::spawn({
        let (stop, written, failed, http) =
            (stop.clone(), written.clone(), failed.clone(), http.clone());
        async move {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let body = json!({"Volumes": [{"ID": format!("v{n}"), "PluginID": "p",
                    "RequestedCapabilities": [{"AccessMode": "single-node-writer",
                        "AttachmentMode": "file-system"}]}]});
                let sent = http
                    .put(format!("http://{entry_http}/v1/volume/csi/v{n}"))
                    .json(&body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => written.fetch_add(1, Ordering::SeqCst),
                    _ => failed.fetch_add(1, Ordering::SeqCst),
                };
            }
        }
    });
    let wrote_more = |since: u64| {
        let written = written.clone();
        move || {
            let now = written.load(Ordering::SeqCst);
            async move { (now >= since + 20).then_some(now) }
        }
    };
    let mark = eventually("writes flow", Duration::from_secs(20), wrote_more(0)).await;

    cluster.stop(dead).await;
    let removed = http
        .delete(format!(
            "http://{entry_http}/v1/operator/raft/peer?id={dead}"
        ))
        .send()
        .await
        .expect("remove the dead peer");
    assert_eq!(removed.status(), reqwest::StatusCode::OK);
    let mark = eventually(
        "writes flow with two voters",
        Duration::from_secs(20),
        wrote_more(mark),
    )
    .await;

    cluster.add_node(4).await;
    let mut leader_rpc =
        stowage_raft::cluster_client(&cluster.rpc_addr(leader), cluster.secret()).expect("client");
    let added = leader_rpc
        .add_learner(AddLearnerRequest {
            id: 4,
            rpc_addr: cluster.rpc_addr(4),
            http_addr: cluster.http_addr(4).to_string(),
        })
        .await
        .expect("add learner")
        .into_inner();
    assert!(added.error.is_empty(), "add learner refused");
    let promoted = leader_rpc
        .change_membership(ChangeMembershipRequest {
            voters: vec![leader, entry, 4],
            retain: false,
        })
        .await
        .expect("change membership")
        .into_inner();
    assert!(promoted.error.is_empty(), "promotion refused");
    eventually(
        "writes flow with the new voter",
        Duration::from_secs(20),
        wrote_more(mark),
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    writer.await.expect("writer");
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "a write failed during the replacement"
    );

    let config: Value = http
        .get(format!(
            "http://{}/v1/operator/raft/configuration",
            cluster.http_addr(4)
        ))
        .send()
        .await
        .expect("configuration")
        .json()
        .await
        .expect("json");
    let mut voters: Vec<String> = config["Servers"]
        .as_array()
        .expect("servers")
        .iter()
        .filter(|s| s["Voter"] == true)
        .map(|s| s["ID"].as_str().expect("id").to_string())
        .collect();
    voters.sort();
    let mut expected: Vec<String> = [leader, entry, 4].iter().map(u64::to_string).collect();
    expected.sort();
    assert_eq!(voters, expected);

    let all = cluster.local_volume_ids(leader);
    assert_eq!(all.len() as u64, written.load(Ordering::SeqCst));
    eventually(
        "the new node holds every volume",
        Duration::from_secs(20),
        || {
            let (on_new, all) = (cluster.local_volume_ids(4), all.clone());
            async move { (on_new == all).then_some(()) }
        },
    )
    .await;
    cluster.shutdown().await;
}
