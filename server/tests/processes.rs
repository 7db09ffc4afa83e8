//! Real `stowage agent` processes: SIGKILL never loses an acknowledged write, the status
//! endpoints agree on one leader, a frozen leader does not hold writes past the next election,
//! and bad start-up input fails with one clear line.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use stowage_proto::pb::cluster_service_client::ClusterServiceClient;
use stowage_proto::pb::{NodeInfoRequest, ReadRequest, WriteRequest};
use stowage_proto::{ClusterError, Command, CommandResponse, Query, QueryResult, codec};
use support::{eventually, volume};
use tokio::process::{Child, Command as Process};

const BIN: &str = env!("CARGO_BIN_EXE_stowage");

/// An address that was free a moment ago on `ip`; the agents bind it themselves.
fn free_addr(ip: std::net::IpAddr) -> String {
    std::net::TcpListener::bind((ip, 0))
        .expect("bind")
        .local_addr()
        .expect("addr")
        .to_string()
}

/// A port that was free a moment ago; the agents bind it themselves.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

struct Node {
    id: u64,
    http: String,
    rpc: String,
    child: Option<Child>,
}

struct Processes {
    dir: tempfile::TempDir,
    nodes: Vec<Node>,
}

impl Processes {
    fn start() -> Processes {
        let dir = tempfile::tempdir().expect("tempdir");
        let ips = support::loopback_ips();
        let nodes: Vec<Node> = (1..=3u64)
            .map(|id| {
                let ip = ips[id as usize - 1];
                Node {
                    id,
                    http: free_addr(ip),
                    rpc: free_addr(ip),
                    child: None,
                }
            })
            .collect();
        let mut p = Processes { dir, nodes };
        for i in 0..3 {
            p.spawn(i);
        }
        p
    }

    fn peers(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("{}={}", n.id, n.rpc))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn spawn(&mut self, i: usize) {
        let peers = self.peers();
        let n = &self.nodes[i];
        let log =
            std::fs::File::create(self.dir.path().join(format!("node{}.log", n.id))).expect("log");
        let child = Process::new(BIN)
            .args([
                "agent",
                "--node-id",
                &n.id.to_string(),
                "--http-addr",
                &n.http,
                "--rpc-addr",
                &n.rpc,
            ])
            .arg("--data-dir")
            .arg(self.dir.path().join(format!("node{}", n.id)))
            .args(["--peer", &peers])
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn agent");
        self.nodes[i].child = Some(child);
    }

    async fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            child.start_kill().expect("SIGKILL");
            child.wait().await.expect("reaped");
        }
    }

    fn index_of(&self, id: u64) -> usize {
        self.nodes
            .iter()
            .position(|n| n.id == id)
            .expect("known id")
    }
}

async fn client(rpc: &str) -> Option<ClusterServiceClient<tonic::transport::Channel>> {
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{rpc}"))
        .ok()?
        .connect_timeout(Duration::from_millis(500))
        .connect()
        .await
        .ok()?;
    Some(ClusterServiceClient::new(ch))
}

/// The leader id once every listed node answers and names the same one, which must be one of
/// them: a survivor may still name a leader that has just died.
async fn agreed_leader(nodes: &[&Node]) -> u64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut views = Vec::new();
        for n in nodes {
            let info = match client(&n.rpc).await {
                Some(mut c) => c
                    .node_info(NodeInfoRequest {})
                    .await
                    .ok()
                    .map(|r| r.into_inner()),
                None => None,
            };
            views.push((
                n.id,
                info.map(|i| (i.has_leader, i.leader_id, i.term, i.state, i.last_applied)),
            ));
        }
        let leaders: BTreeSet<u64> = views
            .iter()
            .filter_map(|(_, v)| v.as_ref().filter(|v| v.0).map(|v| v.1))
            .collect();
        let all_answered = views.iter().all(|(_, v)| v.as_ref().is_some_and(|v| v.0));
        if let (true, Some(&leader)) = (all_answered && leaders.len() == 1, leaders.first())
            && nodes.iter().any(|n| n.id == leader)
        {
            return leader;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no agreed leader among {:?}; last views (id, (has_leader, leader, term, state, applied)): {views:?}",
            nodes.iter().map(|n| n.id).collect::<Vec<_>>()
        );
        tokio::time::sleep(support::POLL).await;
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
    rpc: &str,
    id: &str,
) -> Result<Result<CommandResponse, ClusterError>, Outcome> {
    let Some(mut c) = client(rpc).await else {
        eprintln!("register {id} via {rpc}: cannot connect");
        return Err(Outcome::Failed);
    };
    let command = codec::encode(&Command::RegisterVolumes {
        volumes: vec![volume(id)],
        cas: None,
    })
    .expect("encode");
    let call = c.write(WriteRequest {
        command,
        forwarded: false,
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
        // Sent, and then the connection or the clock ran out: it may or may not have applied.
        _ => Err(Outcome::Unknown),
    }
}

async fn register(rpc: &str, id: &str) -> Outcome {
    match write_volume(rpc, id).await {
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
                ClusterError::NoLeader | ClusterError::NotLeader => Outcome::Failed,
                _ => Outcome::Unknown,
            }
        }
    }
}

async fn volume_ids(rpc: &str, stale: bool) -> Option<BTreeSet<String>> {
    let query = codec::encode(&Query::Volumes { namespace: None }).expect("encode");
    let reply = client(rpc)
        .await?
        .read(ReadRequest { query, stale })
        .await
        .ok()?
        .into_inner();
    if !reply.error.is_empty() {
        return None;
    }
    match codec::decode(&reply.result).ok()? {
        QueryResult::Volumes(v) => Some(v.into_iter().map(|v| v.volume.id).collect()),
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
    let mut procs = Processes::start();
    let all: Vec<&Node> = procs.nodes.iter().collect();
    // The status endpoints of all three nodes name one and the same leader, one of the nodes.
    let named = eventually(
        "all three status endpoints name the same leader",
        Duration::from_secs(30),
        || async {
            let mut names = BTreeSet::new();
            for n in &procs.nodes {
                names.insert(status_leader(&n.http).await.filter(|s| !s.is_empty())?);
            }
            (names.len() == 1)
                .then(|| names.into_iter().next())
                .flatten()
        },
    )
    .await;
    assert!(
        procs.nodes.iter().any(|n| n.rpc == named),
        "{named} is not a node's RPC address"
    );
    let first_leader = agreed_leader(&all).await;
    let leader_rpc = procs.nodes[procs.index_of(first_leader)].rpc.clone();

    let rpcs: Vec<String> = procs.nodes.iter().map(|n| n.rpc.clone()).collect();
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let rpcs = rpcs.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                let mut unknown = 0;
                for i in 0..40 {
                    let id = format!("w{w}-{i:02}");
                    match register(&rpcs[(w + i) % rpcs.len()], &id).await {
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
            let n = volume_ids(&leader_rpc, true).await?.len();
            (n >= 15).then_some(())
        },
    )
    .await;
    procs.kill(victim).await;
    let survivors: Vec<&Node> = procs.nodes.iter().filter(|n| n.child.is_some()).collect();
    let second_leader = agreed_leader(&survivors).await;
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

    let all: Vec<&Node> = procs.nodes.iter().collect();
    agreed_leader(&all).await;
    for n in &procs.nodes {
        let ids = eventually(
            "a linearizable read answers",
            Duration::from_secs(20),
            || volume_ids(&n.rpc, false),
        )
        .await;
        let missing: Vec<_> = acked.difference(&ids).collect();
        assert!(
            missing.is_empty(),
            "node {} lost acknowledged writes: {missing:?}",
            n.id
        );
        // Nothing appears that nobody wrote.
        assert!(ids.iter().all(|id| id.starts_with('w')));
    }
    // After convergence every node's own state is the same set.
    let reference = volume_ids(&procs.nodes[0].rpc, false).await.expect("read");
    for n in &procs.nodes {
        eventually("stale reads converge", Duration::from_secs(20), || async {
            (volume_ids(&n.rpc, true).await? == reference).then_some(())
        })
        .await;
    }
    for i in 0..3 {
        procs.kill(i).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_held_by_a_frozen_leader_ends_unknown_once_another_leads() {
    let mut procs = Processes::start();
    let all: Vec<&Node> = procs.nodes.iter().collect();
    let leader = agreed_leader(&all).await;
    let frozen = procs.index_of(leader);
    let follower = procs.nodes[(frozen + 1) % 3].rpc.clone();
    write_volume(&follower, "before")
        .await
        .expect("an answer")
        .expect("a healthy write");

    let pid = procs.nodes[frozen]
        .child
        .as_ref()
        .and_then(|c| c.id())
        .expect("running") as i32;
    stowage_server::signal::send(pid, libc::SIGSTOP);
    // The follower still believes in the frozen leader and forwards there; the write must not
    // wait out the commit timeout once the others have elected someone else. Sent, it may
    // still take effect, so the answer is "unknown", never "failed".
    let stuck = write_volume(&follower, "during").await.expect("an answer");
    stowage_server::signal::send(pid, libc::SIGCONT);
    match stuck {
        Err(ClusterError::OutcomeUnknown(why)) => {
            assert!(why.contains("leader changed"), "{why}")
        }
        other => panic!("expected an unknown outcome, got {other:?}"),
    }
    write_volume(&follower, "after")
        .await
        .expect("an answer")
        .expect("the new leader takes writes");
    for i in 0..3 {
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
