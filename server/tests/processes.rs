//! Real `stowage agent` processes: SIGKILL never loses an acknowledged write, the status
//! endpoints agree on one leader, a frozen leader does not hold writes past the next election,
//! the test-fault variable changes nothing, and bad start-up input fails with one clear line.

use rustix::process::Signal;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use stowage_proto::api::{CsiAnswer, CsiCall, CsiError, ListQuery, Namespaces, QueryOptions};
use stowage_proto::pb::{CsiRequest, NodeInfoRequest, WriteRequest};
use stowage_proto::{ClusterError, Command, CommandResponse, codec};
use stowage_raft::{ClusterClient, ClusterSecret};
use stowage_testkit::processes::{ProcessCluster, ProcessNode};
use stowage_testkit::{eventually, volume};
use tokio::process::Command as Process;

const BIN: &str = env!("CARGO_BIN_EXE_stowage");

fn client(secret: &ClusterSecret, rpc: &str) -> ClusterClient {
    stowage_raft::cluster_client(rpc, secret).expect("a client")
}

/// A port that was free a moment ago; the agents bind it themselves.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The leader id once every listed node answers and names the same one, which must be one of
/// them: a survivor may still name a leader that has just died.
async fn agreed_leader(secret: &ClusterSecret, nodes: &[&ProcessNode]) -> u64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut views = Vec::new();
        for n in nodes {
            let info = client(secret, n.rpc())
                .node_info(NodeInfoRequest {})
                .await
                .ok()
                .map(|r| r.into_inner());
            views.push((
                n.id(),
                info.map(|i| (i.has_leader, i.leader_id, i.term, i.state, i.last_applied)),
            ));
        }
        let leaders: BTreeSet<u64> = views
            .iter()
            .filter_map(|(_, v)| v.as_ref().filter(|v| v.0).map(|v| v.1))
            .collect();
        let all_answered = views.iter().all(|(_, v)| v.as_ref().is_some_and(|v| v.0));
        if let (true, Some(&leader)) = (all_answered && leaders.len() == 1, leaders.first())
            && nodes.iter().any(|n| n.id() == leader)
        {
            return leader;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no agreed leader among {:?}; last views (id, (has_leader, leader, term, state, applied)): {views:?}",
            nodes.iter().map(|n| n.id()).collect::<Vec<_>>()
        );
        tokio::time::sleep(stowage_testkit::POLL).await;
    }
}

#[derive(Debug)]
enum Outcome {
    Acked,
    Failed,
    Unknown,
}

/// Registers volume `id` through `rpc`: the cluster's answer, or, with none, whether the call
/// certainly failed (no connection) or may have taken effect.
async fn write_volume(
    secret: &ClusterSecret,
    rpc: &str,
    id: &str,
) -> Result<Result<CommandResponse, CsiError>, Outcome> {
    let mut c = client(secret, rpc);
    let command = codec::encode(&Command::RegisterVolumes {
        volumes: vec![volume(id)],
        cas: None,
    })
    .expect("encode");
    let call = c.write(WriteRequest {
        command,
        forwarded: false,
        token: String::new(),
        acl: false,
    });
    match tokio::time::timeout(Duration::from_secs(20), call).await {
        Ok(Ok(reply)) => {
            let reply = reply.into_inner();
            Ok(if reply.error.is_empty() {
                Ok(codec::decode(&reply.response).expect("response"))
            } else {
                Err(codec::decode(&reply.error).expect("error"))
            })
        }
        Ok(Err(status)) if stowage_raft::peers::never_sent(&status) => Err(Outcome::Failed),
        // Sent, and then the connection or the clock ran out: it may or may not have applied.
        _ => Err(Outcome::Unknown),
    }
}

async fn register(secret: &ClusterSecret, rpc: &str, id: &str) -> Outcome {
    match write_volume(secret, rpc, id).await {
        Err(outcome) => outcome,
        Ok(Ok(resp)) => {
            assert!(
                resp.result.is_ok(),
                "register {id} refused: {:?}",
                resp.result
            );
            Outcome::Acked
        }
        Ok(Err(e)) => {
            eprintln!("register {id} via {rpc}: {e}");
            match e {
                CsiError::Cluster(ClusterError::NoLeader | ClusterError::NotLeader) => {
                    Outcome::Failed
                }
                _ => Outcome::Unknown,
            }
        }
    }
}

/// Every volume ID, through the typed CSI call of `rpc`'s node.
async fn volume_ids(secret: &ClusterSecret, rpc: &str, stale: bool) -> Option<BTreeSet<String>> {
    let call = CsiCall::Volumes(ListQuery {
        namespaces: Namespaces::All,
        options: QueryOptions {
            stale,
            ..QueryOptions::default()
        },
        ..ListQuery::default()
    });
    let request = CsiRequest {
        call: codec::encode(&call).expect("encode"),
        token: String::new(),
    };
    let reply = client(secret, rpc).csi(request).await.ok()?.into_inner();
    match codec::decode::<Result<CsiAnswer, CsiError>>(&reply.answer).ok()? {
        Ok(CsiAnswer::Volumes(page)) => Some(page.items.into_iter().map(|v| v.id).collect()),
        _ => None,
    }
}

async fn status_leader(http: &str) -> Option<String> {
    let resp = reqwest::get(format!("http://{http}/v1/status/leader"))
        .await
        .ok()?;
    resp.json::<String>().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_of_the_leader_loses_no_acknowledged_write() {
    let mut procs = ProcessCluster::start(Path::new(BIN));
    let secret = procs.secret().clone();
    // The status endpoints of all three nodes name one and the same leader, one of the nodes.
    let named = eventually(
        "all three status endpoints name the same leader",
        Duration::from_secs(30),
        || async {
            let mut names = BTreeSet::new();
            for n in &procs.nodes {
                names.insert(status_leader(n.http()).await.filter(|s| !s.is_empty())?);
            }
            (names.len() == 1)
                .then(|| names.into_iter().next())
                .flatten()
        },
    )
    .await;
    assert!(
        procs.nodes.iter().any(|n| n.rpc() == named),
        "{named} is not a node's RPC address"
    );
    let all: Vec<&ProcessNode> = procs.nodes.iter().collect();
    let first_leader = agreed_leader(&secret, &all).await;
    let leader_rpc = procs.nodes[procs.index_of(first_leader)].rpc().to_string();

    let rpcs: Vec<String> = procs.nodes.iter().map(|n| n.rpc().to_string()).collect();
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let rpcs = rpcs.clone();
            let secret = secret.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                let mut unknown = 0;
                for i in 0..40 {
                    let id = format!("w{w}-{i:02}");
                    match register(&secret, &rpcs[(w + i) % rpcs.len()], &id).await {
                        Outcome::Acked => acked.push(id),
                        Outcome::Unknown => unknown += 1,
                        Outcome::Failed => {}
                    }
                }
                (acked, unknown)
            })
        })
        .collect();

    // Kill the leader while the writers are busy, then bring it back on the same data dir.
    let victim = procs.index_of(first_leader);
    eventually(
        "some writes were acknowledged",
        Duration::from_secs(30),
        || async {
            let n = volume_ids(&secret, &leader_rpc, true).await?.len();
            (n >= 15).then_some(())
        },
    )
    .await;
    procs.kill(victim).await;
    let survivors: Vec<&ProcessNode> = procs.nodes.iter().filter(|n| n.running()).collect();
    let second_leader = agreed_leader(&secret, &survivors).await;
    assert_ne!(second_leader, first_leader);
    procs.spawn(victim);

    let mut acked = BTreeSet::new();
    let mut unknown = 0;
    for w in writers {
        let (a, u) = w.await.expect("writer");
        acked.extend(a);
        unknown += u;
    }
    assert!(
        acked.len() >= 60,
        "too few writes acknowledged: {} (unknown {unknown})",
        acked.len()
    );

    let all: Vec<&ProcessNode> = procs.nodes.iter().collect();
    agreed_leader(&secret, &all).await;
    for n in &procs.nodes {
        let ids = eventually(
            "a linearizable read answers",
            Duration::from_secs(20),
            || volume_ids(&secret, n.rpc(), false),
        )
        .await;
        let missing: Vec<_> = acked.difference(&ids).collect();
        assert!(
            missing.is_empty(),
            "node {} lost acknowledged writes: {missing:?}",
            n.id()
        );
        // Nothing appears that nobody wrote.
        assert!(ids.iter().all(|id| id.starts_with('w')));
    }
    // After convergence every node's own state is the same set.
    let reference = volume_ids(&secret, procs.nodes[0].rpc(), false)
        .await
        .expect("read");
    for n in &procs.nodes {
        eventually("stale reads converge", Duration::from_secs(20), || async {
            (volume_ids(&secret, n.rpc(), true).await? == reference).then_some(())
        })
        .await;
    }
    for i in 0..3 {
        procs.kill(i).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_held_by_a_frozen_leader_ends_unknown_once_another_leads() {
    let mut procs = ProcessCluster::start(Path::new(BIN));
    let secret = procs.secret().clone();
    let all: Vec<&ProcessNode> = procs.nodes.iter().collect();
    let leader = agreed_leader(&secret, &all).await;
    let frozen = procs.index_of(leader);
    let follower = procs.nodes[(frozen + 1) % 3].rpc().to_string();
    write_volume(&secret, &follower, "before")
        .await
        .expect("an answer")
        .expect("a healthy write");

    assert!(procs.nodes[frozen].signal(Signal::STOP), "frozen");
    // The follower still believes in the frozen leader and forwards there; the write must not
    // wait out the commit timeout once the others have elected someone else. Sent, it may
    // still take effect, so the answer is "unknown", never "failed".
    let stuck = write_volume(&secret, &follower, "during")
        .await
        .expect("an answer");
    procs.nodes[frozen].signal(Signal::CONT);
    match stuck {
        Err(CsiError::Cluster(ClusterError::OutcomeUnknown(why))) => {
            assert!(why.contains("leader changed"), "{why}")
        }
        other => panic!("expected an unknown outcome, got {other:?}"),
    }
    write_volume(&secret, &follower, "after")
        .await
        .expect("an answer")
        .expect("the new leader takes writes");
    for i in 0..3 {
        procs.kill(i).await;
    }
}

/// `stowage` never reads the variable that turns the chaos self-checks' faults on: two write
/// claims on a single-writer volume still get one winner.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stowage_ignores_the_test_fault_variable() {
    let mut procs = ProcessCluster::start_with_env(
        Path::new(BIN),
        &[("STOWAGE_UNSAFE_TEST_FAULT", "no-claim-limit")],
    );
    let http = procs.nodes[0].http().to_string();
    let client = reqwest::Client::new();
    let put = |path: String, body: serde_json::Value| {
        let client = client.clone();
        let url = format!("http://{http}{path}");
        async move {
            let r = client.put(url).json(&body).send().await.ok()?;
            Some((r.status().as_u16(), r.text().await.ok()?))
        }
    };
    let plugin = serde_json::json!({"NodesHealthy": 1, "NodesExpected": 1});
    eventually("the cluster takes writes", Duration::from_secs(30), || {
        let plugin = plugin.clone();
        let put = &put;
        async move {
            put("/v1/plugin/csi/p".into(), plugin)
                .await
                .filter(|r| r.0 == 200)
        }
    })
    .await;
    let volume = serde_json::json!({"ID": "v", "PluginID": "p", "RequestedCapabilities":
        [{"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}]});
    assert_eq!(
        put("/v1/volume/csi/v".into(), volume).await.map(|r| r.0),
        Some(200)
    );
    let claim = |alloc: &str| {
        serde_json::json!({"AllocationID": alloc, "NodeID": "n", "Claim": "write",
            "AccessMode": "single-node-writer", "AttachmentMode": "file-system"})
    };
    let first = put("/v1/volume/csi/v/claim".into(), claim("a")).await;
    assert_eq!(first.map(|r| r.0), Some(200));
    let second = put("/v1/volume/csi/v/claim".into(), claim("b")).await;
    assert_eq!(
        second,
        Some((
            409,
            r#"alloc "b" failed to claim volume "v": volume max claims reached"#.to_string()
        ))
    );
    for i in 0..3 {
        assert!(!procs.log(i).contains("TEST-ONLY"), "{}", procs.log(i));
        procs.kill(i).await;
    }
}

/// Runs `stowage agent` with `args`, expecting it to fail fast; returns its stderr.
async fn failing_agent(args: &[&str], data_dir: &Path) -> String {
    let out = Process::new(BIN)
        .arg("agent")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "off")
        .env("STOWAGE_CLUSTER_SECRET", "a-secret-for-start-up-tests")
        .output();
    let out = tokio::time::timeout(Duration::from_secs(20), out)
        .await
        .expect("exits promptly")
        .expect("runs");
    assert!(!out.status.success(), "agent {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn bad_start_up_input_fails_with_one_clear_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_addr = taken.local_addr().expect("addr").to_string();
    let rpc = format!("127.0.0.1:{}", free_port());
    let peers = format!("1={rpc},2=127.0.0.1:1,3=127.0.0.1:2");

    let foreign = tmp.path().join("foreign");
    std::fs::create_dir_all(&foreign).expect("mkdir");
    std::fs::write(foreign.join("passwords.txt"), "x").expect("write");
    let http = format!("127.0.0.1:{}", free_port());
    let port_in_use = format!("cannot listen on HTTP address {taken_addr}");
    let cases: [(Vec<&str>, PathBuf, &str); 3] = [
        (
            vec![
                "--node-id",
                "1",
                "--rpc-addr",
                &rpc,
                "--http-addr",
                &taken_addr,
                "--peer",
                &peers,
            ],
            tmp.path().join("a"),
            &port_in_use,
        ),
        (
            vec!["--node-id", "4", "--peer", &peers],
            tmp.path().join("b"),
            "does not include this node (id 4)",
        ),
        (
            vec![
                "--node-id",
                "1",
                "--rpc-addr",
                &rpc,
                "--http-addr",
                &http,
                "--peer",
                &peers,
            ],
            foreign,
            "not a stowage node's data",
        ),
    ];
    for (args, dir, expected) in cases {
        let err = failing_agent(&args, &dir).await;
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(expected), "{err}");
    }
}
