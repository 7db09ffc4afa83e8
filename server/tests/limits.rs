//! The limits a node puts on clients, through real sockets: oversized bodies (413) and heads
//! (431), a stalled body (408), connections past the per-address limit (429), a slow-loris
//! client cut off by the header timeout, blocking queries past the node's bound (429); and
//! volume fields past their limits, or IDs no path could address, refused with the field named.

use std::time::Duration;
use stowage_http_gateway::Limits;
use stowage_server::limits::NodeLimits;
use stowage_testkit::http::call;
use stowage_testkit::{StateBackend, TestCluster, fast_timing};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A node's gateway over the in-memory backend, served on a loopback port with `limits`;
/// stopped when the returned sender is dropped.
async fn served(limits: Limits) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = stowage_http_gateway::router_with(StateBackend::new(), &limits);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        let _ = stowage_http_gateway::serve(listener, router, &limits, shutdown).await;
    });
    (addr, stop)
}

/// Sends `request` raw and reads the answer until the server closes or `within` passes.
async fn raw(addr: std::net::SocketAddr, request: &[u8], within: Duration) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(within, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or_default()
}

fn small() -> Limits {
    Limits {
        max_body: 1024,
        max_header_bytes: 8 * 1024,
        max_conns_per_ip: 2,
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
    }
}

#[tokio::test]
async fn bodies_and_heads_past_the_limits_are_refused() {
    let (addr, _stop) = served(small()).await;
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/v1/volume/csi/v");
    let r = http
        .put(&url)
        .body(vec![b' '; 2048])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), reqwest::StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        r.headers()
            .get("X-Stowage-Error")
            .and_then(|v| v.to_str().ok()),
        Some("body-too-large")
    );

    // Chunked, so no length is declared: refused as it is read.
    let chunked = format!(
        "PUT /v1/volume/csi/v HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n800\r\n{}\r\n0\r\n\r\n",
        " ".repeat(2048)
    );
    let answer = raw(addr, chunked.as_bytes(), Duration::from_secs(10)).await;
    assert!(status_line(&answer).contains("413"), "{answer}");

    let head = format!(
        "GET /v1/volumes HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(16 * 1024)
    );
    let answer = raw(addr, head.as_bytes(), Duration::from_secs(10)).await;
    assert!(status_line(&answer).contains("431"), "{answer}");
}

#[tokio::test]
async fn a_stalled_body_is_answered_408_and_a_slow_head_is_cut_off() {
    let (addr, _stop) = served(small()).await;
    let stalled =
        b"PUT /v1/volume/csi/v HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"ID\":";
    let answer = raw(addr, stalled, Duration::from_secs(10)).await;
    assert!(status_line(&answer).contains("408"), "{answer}");
    assert!(answer.contains("request-timeout"), "{answer}");

    // Half a request line, then nothing: the connection is closed, not held.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /v1/volumes HTTP/1.1\r\nHost:")
        .await
        .expect("write");
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a slow-loris connection was held open");
}

#[tokio::test]
async fn connections_past_the_per_address_limit_are_answered_429() {
    // Idle connections are closed after the header timeout: long enough here to hold two.
    let limits = Limits {
        header_timeout: Duration::from_secs(30),
        ..small()
    };
    let (addr, _stop) = served(limits).await;
    let a = TcpStream::connect(addr).await.expect("first");
    let b = TcpStream::connect(addr).await.expect("second");
    // Both are admitted by the time one of them is answered.
    let mut probe = TcpStream::connect(addr).await.expect("third");
    probe
        .write_all(b"GET /v1/volumes?type=csi HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), probe.read_to_end(&mut out)).await;
    let answer = String::from_utf8_lossy(&out);
    assert!(status_line(&answer).contains("429"), "{answer}");
    assert!(answer.contains("too-many-connections"), "{answer}");
    assert!(
        answer.contains("Too many connections from 127.0.0.1"),
        "{answer}"
    );

    drop((a, b));
    stowage_testkit::eventually(
        "a freed place is given to the next connection",
        Duration::from_secs(10),
        || async {
            let answer = raw(
                addr,
                b"GET /v1/volumes?type=csi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                Duration::from_secs(5),
            )
            .await;
            status_line(&answer).contains("200").then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn ids_no_path_can_address_and_oversized_fields_are_refused_by_name() {
    let b = StateBackend::new();
    for (id, words) in [
        ("a/b", "contains \"/\""),
        ("a\\u0000b", "control character"),
    ] {
        let body = format!(
            r#"{{"ID":"{id}","PluginID":"p","AccessMode":"single-node-writer","AttachmentMode":"file-system"}}"#
        );
        let r = call(&b, "PUT", "/v1/volumes", &body).await;
        assert_eq!(
            r.status,
            reqwest::StatusCode::BAD_REQUEST,
            "{id}: {}",
            r.body
        );
        assert!(r.body.contains("validation: ID "), "{}", r.body);
        assert!(r.body.contains(words), "{id}: {}", r.body);
    }
    let params: serde_json::Map<String, serde_json::Value> = (0..100)
        .map(|i| (format!("k{i}"), serde_json::Value::from("v")))
        .collect();
    let body = serde_json::json!({"ID": "v", "PluginID": "p", "Parameters": params,
        "Name": "n".repeat(2000),
        "RequestedCapabilities": [{"AccessMode": "single-node-writer",
            "AttachmentMode": "file-system"}]});
    let r = call(&b, "PUT", "/v1/volume/csi/v", &body.to_string()).await;
    assert_eq!(r.status, reqwest::StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("Parameters has 100 entries"), "{}", r.body);
    assert!(r.body.contains("Name is 2000 bytes"), "{}", r.body);
    let listed = call(&b, "GET", "/v1/volumes?type=csi", "").await;
    assert_eq!(listed.body, "[]", "nothing was registered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blocking_queries_past_the_nodes_bound_are_answered_429() {
    let limits = NodeLimits {
        max_blocking_queries: 3,
        ..NodeLimits::default()
    };
    let cluster = TestCluster::start_limited(fast_timing(5000), limits).await;
    let leader = cluster.leader().await;
    let node = cluster.followers(leader)[0];
    cluster.register(node, "watched").await;
    let url = format!(
        "http://{}/v1/volumes?type=csi&index=1000000&wait=30s",
        cluster.http_addr(node)
    );
    let http = reqwest::Client::new();
    let waiting: Vec<_> = (0..3)
        .map(|_| tokio::spawn(http.get(&url).send()))
        .collect();
    let reader = cluster.agent(node).node.forwarder.reader().clone();
    stowage_testkit::eventually("three queries wait", Duration::from_secs(20), || {
        let waiting = reader.blocked_watchers();
        async move { (waiting >= 3).then_some(()) }
    })
    .await;
    let refused = http.get(&url).send().await.expect("the fourth");
    assert_eq!(refused.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refused
            .headers()
            .get("X-Stowage-Error")
            .and_then(|v| v.to_str().ok()),
        Some("too-many-watchers")
    );
    let text = refused.text().await.expect("body");
    assert!(text.contains("3 blocking queries"), "{text}");
    let plain = http
        .get(format!(
            "http://{}/v1/volumes?type=csi",
            cluster.http_addr(node)
        ))
        .send()
        .await
        .expect("a read without an index");
    assert_eq!(
        plain.status(),
        reqwest::StatusCode::OK,
        "reads that do not wait still work"
    );
    for w in waiting {
        w.abort();
    }
    cluster.shutdown().await;
}
