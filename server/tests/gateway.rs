//! `stowage gateway` in front of real agent processes: it keeps answering while a node is dead or
//! frozen, tries another node for a write only when the write certainly never arrived (a refused
//! connection), answers 504 "outcome unknown" for a write sent to a node that then went silent,
//! 413 for a body past the API's limit, and 503 when no node could be reached at all.

use reqwest::StatusCode;
use rustix::process::Signal;
use std::time::Duration;
use stowage_testkit::eventually;
use stowage_testkit::poll::free_addr;
use stowage_testkit::processes::ProcessCluster;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_stowage");

/// A gateway process in front of `upstreams`, killed when dropped.
struct Gateway {
    addr: String,
    _child: Child,
}

impl Gateway {
    /// Starts a gateway whose nodes may take `timeout_ms` to answer, and waits until it listens.
    async fn start(upstreams: &[&str], timeout_ms: u64) -> Gateway {
        Self::start_checking(upstreams, timeout_ms, 200).await
    }

    /// `start`, checking each node's health every `check_ms`.
    async fn start_checking(upstreams: &[&str], timeout_ms: u64, check_ms: u64) -> Gateway {
        let addr = free_addr("127.0.0.1".parse().expect("ip"));
        let child = Command::new(BIN)
            .args([
                "gateway",
                "--listen",
                &addr,
                "--upstream",
                &upstreams.join(","),
            ])
            .args(["--check-interval-ms", &check_ms.to_string()])
            .args(["--timeout-ms", &timeout_ms.to_string()])
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the gateway");
        let listening = addr.clone();
        eventually("the gateway listens", Duration::from_secs(10), || {
            let addr = listening.clone();
            async move { tokio::net::TcpStream::connect(addr).await.ok() }
        })
        .await;
        Gateway {
            addr,
            _child: child,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

fn volume(id: &str) -> String {
    format!(
        r#"{{"ID":"{id}","Name":"{id}","Namespace":"default","PluginID":"plugin",
        "RequestedCapabilities":[{{"AccessMode":"multi-node-multi-writer","AttachmentMode":"file-system"}}]}}"#
    )
}

async fn register(http: &reqwest::Client, g: &Gateway, id: &str) -> reqwest::Response {
    http.put(g.url(&format!("/v1/volume/csi/{id}")))
        .body(volume(id))
        .send()
        .await
        .expect("the gateway answers")
}

async fn read(http: &reqwest::Client, g: &Gateway, id: &str) -> StatusCode {
    http.get(g.url(&format!("/v1/volume/csi/{id}")))
        .send()
        .await
        .expect("the gateway answers")
        .status()
}

/// Waits until the node at `http_addr` reports itself healthy.
async fn healthy(http: &reqwest::Client, http_addr: &str, what: &str) {
    let url = format!("http://{http_addr}/v1/agent/health");
    eventually(what, Duration::from_secs(30), || async {
        let resp = http.get(&url).send().await.ok()?;
        resp.status().is_success().then_some(())
    })
    .await;
}

/// The index of the node that every running node names as leader, once they agree.
async fn leader(http: &reqwest::Client, cluster: &ProcessCluster) -> usize {
    eventually("one leader", Duration::from_secs(30), || async {
        let mut named = Vec::new();
        for n in cluster.nodes.iter().filter(|n| n.running()) {
            let url = format!("http://{}/v1/status/leader", n.http());
            let resp = http.get(url).send().await.ok()?;
            named.push(resp.json::<String>().await.ok()?);
        }
        let first = named.first()?;
        if named.iter().any(|n| n != first) {
            return None;
        }
        cluster.nodes.iter().position(|n| n.rpc() == first)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_keeps_answering_and_never_sends_a_write_twice() {
    let mut cluster = ProcessCluster::start(BIN.as_ref());
    let http = reqwest::Client::new();
    let nodes: Vec<String> = cluster.nodes.iter().map(|n| n.http().to_string()).collect();
    let all: Vec<&str> = nodes.iter().map(String::as_str).collect();
    let gateway = Gateway::start(&all, 2_000).await;

    let lead = leader(&http, &cluster).await;
    eventually(
        "a write through the gateway",
        Duration::from_secs(30),
        || async {
            register(&http, &gateway, "v0")
                .await
                .status()
                .is_success()
                .then_some(())
        },
    )
    .await;

    // A dead follower refuses connections: every request goes to another node, reads and writes
    // alike, whichever node its turn starts at.
    let (dead, frozen) = match lead {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    cluster.kill(dead).await;
    for i in 0..6 {
        let id = format!("after-kill-{i}");
        let resp = register(&http, &gateway, &id).await;
        assert_eq!(resp.status(), StatusCode::OK, "write {i} with a node dead");
        assert_eq!(read(&http, &gateway, &id).await, StatusCode::OK);
    }

    // Back to three, so that freezing the other follower leaves a majority.
    cluster.spawn(dead);
    healthy(&http, &nodes[dead], "the restarted node is healthy").await;

    // A gateway in front of the follower about to freeze and the leader, whose nodes are checked
    // an hour apart: both count as healthy throughout, so turns alternate between them and one
    // request of every two starts at the frozen node.
    let pair = Gateway::start_checking(&[&nodes[frozen], &nodes[lead]], 1_000, 3_600_000).await;
    assert_eq!(read(&http, &pair, "v0").await, StatusCode::OK);

    // A frozen follower accepts connections and never answers. Reads move past it.
    assert!(cluster.nodes[frozen].signal(Signal::STOP), "freeze a node");
    for (i, g) in [&gateway, &gateway, &gateway, &pair, &pair]
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            read(&http, g, "v0").await,
            StatusCode::OK,
            "read {i} with a node frozen"
        );
    }
    // A write sent to the frozen node may yet be applied when it wakes: 504, never a retry.
    let mut statuses = Vec::new();
    for id in ["into-silence-1", "into-silence-2"] {
        let resp = register(&http, &pair, id).await;
        let status = resp.status();
        if status == StatusCode::GATEWAY_TIMEOUT {
            let code = resp.headers().get("X-Stowage-Error").cloned();
            assert_eq!(
                code.as_ref().and_then(|c| c.to_str().ok()),
                Some("outcome-unknown")
            );
            assert!(resp.text().await.expect("body").contains("did not answer"));
        }
        statuses.push(status);
    }
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::GATEWAY_TIMEOUT]);

    // Awake again, it answers.
    assert!(cluster.nodes[frozen].signal(Signal::CONT), "thaw the node");
    healthy(&http, &nodes[frozen], "the thawed node is healthy").await;

    // A body past the API's limit is refused with 413, and nothing is written.
    let huge = vec![b' '; stowage_http_gateway::MAX_BODY + 1];
    let resp = http
        .put(gateway.url("/v1/volume/csi/huge"))
        .body(huge)
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(read(&http, &gateway, "huge").await, StatusCode::NOT_FOUND);

    // Nothing reachable: certainly not applied, so 503 and no leader.
    let nowhere = free_addr("127.0.0.1".parse().expect("ip"));
    let no_nodes = Gateway::start(&[&nowhere], 1_000).await;
    let resp = register(&http, &no_nodes, "nowhere").await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let code = resp.headers().get("X-Stowage-Error").cloned();
    assert_eq!(
        code.as_ref().and_then(|c| c.to_str().ok()),
        Some("no-leader")
    );
}
