//! A node always stops: shut down while writes, blocking queries and a snapshot transfer are in
//! flight, it returns within a bound, and the nodes left keep serving.

use serde_json::json;
use std::time::Duration;
use stowage_chaos::nodes::{Net, Nodes};
use stowage_chaos::proxy::Link;
use stowage_raft::{ClusterSecret, RaftTiming};
use stowage_testkit::{TestCluster, eventually};

/// What the design allows a stop (HTTP drain, Raft stop, gRPC drain), with room for a loaded
/// machine. A stop that takes longer is hung, not slow.
const STOP_BOUND: Duration = Duration::from_secs(20);

fn applied(nodes: &TestCluster, id: u64) -> u64 {
    nodes
        .try_agent(id)
        .map_or(0, |a| a.node.forwarder.reader().last_applied_index())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_stops_within_a_bound_whatever_is_in_flight() {
    let secret = ClusterSecret::generate();
    let (net, listeners) = Net::build(&[1, 2, 3]).await.expect("net");
    let timing = RaftTiming {
        heartbeat_ms: 50,
        election_min_ms: 400,
        election_max_ms: 800,
        snapshot_every: 20,
        keep_behind_snapshot: 5,
        token_reap_ms: 1000,
    };
    let mut nodes = TestCluster::start_on(&net, listeners, timing, &secret, false).await;
    let leader = eventually("a leader", Duration::from_secs(30), || async {
        let ids: Vec<u64> = net.nodes.iter().map(|n| n.id).collect();
        ids.into_iter().find(|id| {
            nodes
                .try_agent(*id)
                .is_some_and(|a| a.node.status.metrics().current_leader == Some(*id))
        })
    })
    .await;
    // Every call gives up in time: a call that hangs must fail this test, not stall it.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let leader_http = net.node(leader).http;

    // A state of about 20 MB, so that its snapshot travels in many chunks.
    let padding = "x".repeat(50_000);
    for batch in 0..40 {
        let volumes: Vec<_> = (0..10)
            .map(|i| json!({"ID": format!("v{batch}-{i}"), "PluginID": "p",
                "Context": {"padding": padding},
                "RequestedCapabilities": [{"AccessMode": "multi-node-multi-writer", "AttachmentMode": "file-system"}]}))
            .collect();
        let r = http
            .put(format!("http://{leader_http}/v1/volumes"))
            .json(&json!({"Volumes": volumes}))
            .send()
            .await
            .expect("register");
        assert!(r.status().is_success(), "{}", r.status());
    }

    // A follower loses its data and must come back by snapshot, slowly: every 64 KiB on the
    // leader's link to it is held back a little (not so much that heartbeats time out).
    let follower = net
        .nodes
        .iter()
        .map(|n| n.id)
        .find(|id| *id != leader)
        .expect("a follower");
    let before = applied(&nodes, leader);
    nodes.kill(follower).await;
    nodes.wipe(follower);
    net.links
        .set(leader, follower, Link::Delay(Duration::from_millis(5)));
    let carried_before = net.links.carried(leader, follower);
    nodes.start(follower).await.expect("restart");
    eventually(
        "the snapshot is on its way",
        Duration::from_secs(30),
        || async {
            let moving = net.links.carried(leader, follower) > carried_before + 2_000_000;
            (moving && applied(&nodes, follower) < before).then_some(())
        },
    )
    .await;

    // Writes and blocking queries in flight at the leader.
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let http = http.clone();
            let acked = acked.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let body = json!({"ID": format!("late-{w}-{i}"), "PluginID": "p",
                        "RequestedCapabilities": [{"AccessMode": "multi-node-multi-writer", "AttachmentMode": "file-system"}]});
                    let sent = http
                        .put(format!("http://{leader_http}/v1/volumes"))
                        .json(&json!({"Volumes": [body]}))
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status().is_success() => {
                            acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        Ok(_) => {}
                        Err(_) => return i,
                    }
                }
                0
            })
        })
        .collect();
    let waiters: Vec<_> = (0..8)
        .map(|_| {
            let http = http.clone();
            tokio::spawn(async move {
                let index = before + 1_000_000;
                http.get(format!(
                    "http://{leader_http}/v1/volumes?type=csi&index={index}&wait=5m"
                ))
                .send()
                .await
                .map(|r| r.status())
            })
        })
        .collect();

    let watched = |n: usize| {
        nodes.try_agent(leader).is_some_and(|a| {
            a.node.forwarder.reader().blocked_watchers() >= n
                && acked.load(std::sync::atomic::Ordering::SeqCst) >= 10
        })
    };
    eventually(
        "writes and waits are in flight",
        Duration::from_secs(30),
        || async { watched(8).then_some(()) },
    )
    .await;
    assert!(
        applied(&nodes, follower) < before,
        "the snapshot is still on its way"
    );
    let started = tokio::time::Instant::now();
    let stop = tokio::time::timeout(STOP_BOUND, nodes.kill(leader)).await;
    assert!(
        stop.is_ok(),
        "the leader did not stop within {STOP_BOUND:?}"
    );
    eprintln!("the leader stopped in {:?}", started.elapsed());
    for w in writers {
        w.await.expect("a writer ends once its node is gone");
    }
    for q in waiters {
        // A stopping node answers its blocking queries with what it has, at once.
        let answer = q.await.expect("joined");
        assert!(
            answer.as_ref().is_ok_and(|s| s.is_success()),
            "a blocking query is answered when its node stops: {answer:?}"
        );
    }

    // The other two elect a leader and take writes; then every node stops within the bound.
    net.links.heal();
    let survivor = net
        .nodes
        .iter()
        .map(|n| n.id)
        .find(|id| *id != leader && *id != follower)
        .expect("a survivor");
    let survivor_http = net.node(survivor).http;
    eventually("the survivors take writes", Duration::from_secs(60), || async {
        let body = json!({"Volumes": [{"ID": "after", "PluginID": "p",
            "RequestedCapabilities": [{"AccessMode": "multi-node-multi-writer", "AttachmentMode": "file-system"}]}]});
        let r = http
            .put(format!("http://{survivor_http}/v1/volumes"))
            .json(&body)
            .send()
            .await
            .ok()?;
        r.status().is_success().then_some(())
    })
    .await;
    tokio::time::timeout(STOP_BOUND * 2, nodes.shutdown())
        .await
        .expect("the rest stop within the bound");
}
