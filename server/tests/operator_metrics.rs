//! What a node says about itself over HTTP, on three real nodes: `/v1/agent/self` with the
//! cluster secret redacted, and `/v1/metrics` as Nomad's JSON summary and as Prometheus text
//! (read strictly line by line and by `prometheus-parse`).

#[path = "support/operator.rs"]
mod support;

use reqwest::StatusCode;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use stowage_testkit::acl_cluster::{json_of, volume_json};
use stowage_testkit::{TestCluster, eventually, fast_timing};
use support::{get, ids};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn agent_self_shows_the_node_and_never_the_cluster_secret() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    cluster.leader().await;
    // A node that joined knows the leader before the membership naming it a voter reaches it,
    // and until then it has no member record of its own to show.
    for node in cluster.running() {
        eventually("every node a voter", Duration::from_secs(30), || async {
            let (_, body) = get(&cluster, node, None, "/v1/agent/self").await;
            (json_of(&body)["member"]["Tags"]["voter"] == "true").then_some(())
        })
        .await;
    }
    let secret = cluster.secret().expose().to_string();
    assert!(secret.len() >= 16, "a real secret to look for");
    for node in cluster.running() {
        let (status, body) = get(&cluster, node, None, "/v1/agent/self?pretty").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            !body.contains(&secret),
            "node {node} shows the cluster secret: {body}"
        );
        let me = json_of(&body);
        assert_eq!(me["config"]["ClusterSecret"], "<redacted>", "{me}");
        assert_eq!(me["config"]["NodeID"], node, "{me}");
        assert_eq!(me["config"]["ACL"]["Enabled"], false, "{me}");
        assert_eq!(me["member"]["Name"], format!("node{node}"), "{me}");
        assert_eq!(me["member"]["Addr"], cluster.rpc_addr(node), "{me}");
    }
    cluster.shutdown().await;
}

/// One sample line of a Prometheus text exposition: its name, labels and value.
#[derive(Debug)]
struct Line {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Reads one sample line strictly (label values may hold any character, escaped as the format
/// says); `None` if it is not a well-formed sample.
fn sample_line(line: &str) -> Option<Line> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let is_name = |s: &str| {
        !s.is_empty()
            && !s.starts_with(|c: char| c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    if !is_name(name) {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(mut s) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = s.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = s.split_once("=\"")?;
            if !is_name(key) {
                return None;
            }
            let mut value = String::new();
            let mut chars = after.char_indices();
            let close = loop {
                match chars.next()? {
                    (_, '\\') => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        _ => return None,
                    },
                    (i, '"') => break i,
                    (_, c) => value.push(c),
                }
            };
            labels.insert(key.to_string(), value);
            s = &after[close + 1..];
            s = s.strip_prefix(',').unwrap_or(s);
        }
    }
    let mut parts = rest.split_whitespace();
    let value: f64 = parts.next()?.parse().ok()?;
    if let Some(ts) = parts.next() {
        ts.parse::<i64>().ok()?;
    }
    parts.next().is_none().then(|| Line {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Every sample of an exposition; fails the test on any line that is neither a comment nor a
/// well-formed sample.
fn sample_lines(text: &str) -> Vec<Line> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| sample_line(l).unwrap_or_else(|| panic!("not a Prometheus sample line: {l}")))
        .collect()
}

fn scalar(v: &prometheus_parse::Value) -> Option<f64> {
    match v {
        prometheus_parse::Value::Counter(x)
        | prometheus_parse::Value::Gauge(x)
        | prometheus_parse::Value::Untyped(x) => Some(*x),
        _ => None,
    }
}

/// Node `node`'s metrics as Prometheus text: the raw text, and the text as `prometheus-parse`
/// reads it.
async fn prometheus_text(cluster: &TestCluster, node: u64) -> (String, prometheus_parse::Scrape) {
    let url = format!(
        "http://{}/v1/metrics?format=prometheus",
        cluster.http_addr(node)
    );
    let r = reqwest::get(url).await.expect("scrape");
    assert_eq!(r.status(), StatusCode::OK);
    let kind = r.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .expect("text")
        .to_string();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let text = r.text().await.expect("body");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("the exposition parses");
    (text, scrape)
}

/// The JSON metrics entries of `kind` (`Gauges`, `Counters`, `Samples`) named `name`.
fn entries<'a>(metrics: &'a Value, kind: &str, name: &str) -> Vec<&'a Value> {
    metrics[kind]
        .as_array()
        .unwrap_or_else(|| panic!("{kind} is an array: {metrics}"))
        .iter()
        .filter(|e| e["Name"] == name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_count_volumes_requests_replication_and_fsyncs() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let followers = cluster.followers(leader);
    let http = reqwest::Client::new();
    for id in ["m1", "m2", "m3"] {
        let url = format!("http://{}/v1/volume/csi/{id}", cluster.http_addr(leader));
        let r = http
            .put(url)
            .body(volume_json(id).to_string())
            .send()
            .await
            .expect("put");
        assert_eq!(r.status(), StatusCode::OK, "{id}");
    }
    let route = [
        ("method", "PUT"),
        ("route", "/v1/volume/csi/{*rest}"),
        ("status", "200"),
    ];
    let route_labels: BTreeMap<String, String> = route
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();

    // Nomad's JSON summary.
    let (status, body) = get(&cluster, leader, None, "/v1/metrics").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let metrics = json_of(&body);
    let stamp = metrics["Timestamp"].as_str().expect("Timestamp");
    assert!(
        stamp.len() >= 20 && stamp.ends_with('Z'),
        "RFC 3339 UTC: {stamp}"
    );
    for kind in ["Gauges", "Counters", "Samples"] {
        for e in metrics[kind].as_array().expect("array") {
            assert!(
                e["Name"].is_string() && e["Labels"].is_object(),
                "{kind}: {e}"
            );
        }
    }
    for g in metrics["Gauges"].as_array().expect("Gauges") {
        assert!(g["Value"].is_number(), "{g}");
    }
    let volumes = entries(&metrics, "Gauges", "stowage_volumes");
    assert_eq!(volumes.len(), 1, "{metrics}");
    assert_eq!(volumes[0]["Value"].as_f64(), Some(3.0));
    let lag: BTreeSet<String> = entries(&metrics, "Gauges", "stowage_raft_replication_lag_entries")
        .iter()
        .map(|g| {
            g["Labels"]["follower"]
                .as_str()
                .expect("follower label")
                .to_string()
        })
        .collect();
    assert_eq!(lag, ids(&followers));
    let puts: Vec<&Value> = entries(&metrics, "Counters", "stowage_http_requests_total")
        .into_iter()
        .filter(|c| {
            serde_json::from_value::<BTreeMap<String, String>>(c["Labels"].clone()).ok()
                == Some(route_labels.clone())
        })
        .collect();
    assert_eq!(puts.len(), 1, "{metrics}");
    assert_eq!(puts[0]["Count"].as_u64(), Some(3), "{}", puts[0]);
    let fsync = entries(&metrics, "Samples", "stowage_fsync_seconds");
    assert_eq!(fsync.len(), 1, "{metrics}");
    assert!(
        fsync[0]["Count"].as_u64().expect("Count") > 0,
        "{}",
        fsync[0]
    );

    // Prometheus text: read strictly line by line, and by prometheus-parse for the types.
    // prometheus-parse reads labels up to the first `}`, so it skips (silently) every series of a
    // route such as `/v1/volume/csi/{*rest}`: those are checked with the strict reader only.
    let (text, scrape) = prometheus_text(&cluster, leader).await;
    let lines = sample_lines(&text);
    let one = |name: &str| -> f64 {
        let found: Vec<f64> = scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .map(|s| scalar(&s.value).unwrap_or_else(|| panic!("{name} is a number: {s:?}")))
            .collect();
        assert_eq!(found.len(), 1, "one series of {name}: {found:?}");
        found[0]
    };
    assert_eq!(one("stowage_volumes"), 3.0);
    let volumes_sample = scrape
        .samples
        .iter()
        .find(|s| s.metric == "stowage_volumes")
        .expect("volumes");
    assert_eq!(volumes_sample.value, prometheus_parse::Value::Gauge(3.0));
    assert!(
        scrape.docs.contains_key("stowage_volumes"),
        "HELP for stowage_volumes"
    );
    assert!(one("stowage_raft_applied_index") > 0.0);
    assert!(one("stowage_fsync_seconds_count") > 0.0);
    let lag: BTreeSet<String> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "stowage_raft_replication_lag_entries")
        .map(|s| {
            s.labels
                .get("follower")
                .expect("follower label")
                .to_string()
        })
        .collect();
    assert_eq!(lag, ids(&followers));
    let puts: Vec<&Line> = lines
        .iter()
        .filter(|l| l.name == "stowage_http_requests_total" && l.labels == route_labels)
        .collect();
    assert_eq!(puts.len(), 1, "{text}");
    assert_eq!(puts[0].value, 3.0);
    assert!(
        text.lines()
            .any(|l| l == "# TYPE stowage_http_requests_total counter"),
        "{text}"
    );

    // A follower has no followers of its own to report.
    let (_, scrape) = prometheus_text(&cluster, followers[0]).await;
    assert!(
        !scrape
            .samples
            .iter()
            .any(|s| s.metric == "stowage_raft_replication_lag_entries"),
        "a follower reports no replication lag"
    );

    let (status, body) = get(&cluster, leader, None, "/v1/metrics?format=bogus").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    cluster.shutdown().await;
}
