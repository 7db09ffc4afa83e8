//! stowage-chaos owns the chaos suite behind `stowage chaos`: a workload, a seeded fault
//! schedule, a recorded history, a checker, and a report, in the manner of etcd's robustness
//! tests. It runs against real agent processes, against the docker-compose cluster, or (in tests)
//! against nodes in one process: each through the `Nodes` and `Network` traits.
//!
//! Must not depend on: stowage-server (which runs it), rocksdb.

pub mod checker;
pub mod compose;
pub mod faults;
pub mod model;
pub mod network;
pub mod nodes;
pub mod proxy;
mod report;
mod summary;
pub mod workload;

use faults::{FaultKind, Injected, Pace};
use model::{Input, Mode, Output};
use network::Network;
use nodes::{Net, Nodes};
use report::Report;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use stowage_raft::ClusterSecret;
pub use summary::Summary;
use tokio::time::Instant;
use workload::{Outcome, Record, Targets};

/// The client id of the reads made after the last heal, which every acknowledged write must
/// survive.
const FINAL_READER: usize = usize::MAX;

/// One chaos run's settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    pub duration: Duration,
    pub clients: usize,
    /// Volumes in use at once.
    pub volumes: usize,
    /// How long a set of volumes is used before the clients move to fresh ones.
    pub volume_lifetime: Duration,
    pub kinds: Vec<FaultKind>,
    pub pace: Pace,
    /// Where failure reports go.
    pub report_root: PathBuf,
    /// The cluster's secret, for asking each node about itself over its RPC port.
    pub secret: ClusterSecret,
    /// The agents hold callers to ACLs: the run bootstraps them and every call carries the
    /// management token.
    pub acl_enabled: bool,
}

async fn http_get(http: &reqwest::Client, url: String) -> Option<(u16, String)> {
    let r = http.get(url).send().await.ok()?;
    let status = r.status().as_u16();
    Some((status, r.text().await.ok()?))
}

/// The leader most running nodes name, by id.
async fn current_leader<N: Nodes, W: Network>(
    http: &reqwest::Client,
    net: &W,
    nodes: &N,
) -> Option<u64> {
    let mut votes: BTreeMap<u64, usize> = BTreeMap::new();
    for n in net.nodes().iter().filter(|n| nodes.running(n.id)) {
        if let Some((200, body)) =
            http_get(http, format!("http://{}/v1/status/leader", n.http)).await
            && let Some(id) = serde_json::from_str::<String>(&body)
                .ok()
                .and_then(|a| net.id_of(&a))
        {
            *votes.entry(id).or_default() += 1;
        }
    }
    votes.into_iter().max_by_key(|(_, c)| *c).map(|(id, _)| id)
}

/// Polls until `check` holds or `within` passes; returns how long it took.
async fn wait_until<F, Fut>(within: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < within {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

async fn node_info(
    rpc: std::net::SocketAddr,
    secret: &ClusterSecret,
) -> Option<stowage_proto::pb::NodeInfoReply> {
    let mut c = stowage_raft::cluster_client(&rpc.to_string(), secret).ok()?;
    let info = tokio::time::timeout(
        Duration::from_secs(5),
        c.node_info(stowage_proto::pb::NodeInfoRequest {}),
    )
    .await
    .ok()?
    .ok()?;
    Some(info.into_inner())
}

/// Every node healthy, one leader, and identical state at the same applied index.
async fn converged<W: Network>(http: &reqwest::Client, net: &W, secret: &ClusterSecret) -> bool {
    let mut digests = Vec::new();
    for n in net.nodes() {
        if !matches!(
            http_get(http, format!("http://{}/v1/agent/health", n.http)).await,
            Some((200, _))
        ) {
            return false;
        }
        let Some(info) = node_info(n.rpc, secret).await else {
            return false;
        };
        digests.push((info.leader_id, info.digest_index, info.state_digest));
    }
    digests.windows(2).all(|w| w[0] == w[1])
}

/// What each node's claim-limit audit found: it rechecks every entry it applied, so this covers
/// every point of every node's applied history, not just the moments a read looked.
async fn audit_claim_limits<W: Network>(net: &W, secret: &ClusterSecret, summary: &mut Summary) {
    for n in net.nodes() {
        match node_info(n.rpc, secret).await {
            Some(info) if info.claim_limit_breaches == 0 => {}
            Some(info) => summary.anomalies.push(format!(
                "node {} applied {} entries that left a volume over its claim limit (see its log)",
                n.id, info.claim_limit_breaches
            )),
            None => summary.anomalies.push(format!(
                "node {} did not answer for its claim-limit audit",
                n.id
            )),
        }
    }
}

/// Bootstraps the cluster's ACLs through `addr` with a management secret chosen here, and
/// returns it. A bootstrap whose answer was lost may have happened, so a retry that finds the
/// cluster already bootstrapped is settled by asking whether the chosen secret is the token.
async fn bootstrap(http: &reqwest::Client, addr: std::net::SocketAddr) -> anyhow::Result<String> {
    let secret = stowage_proto::acl::new_uuid();
    let body = serde_json::json!({ "BootstrapSecret": secret });
    let ours = wait_until(Duration::from_secs(60), || async {
        if let Ok(r) = http
            .post(format!("http://{addr}/v1/acl/bootstrap"))
            .json(&body)
            .send()
            .await
            && r.status().is_success()
        {
            return true;
        }
        http.get(format!("http://{addr}/v1/acl/token/self"))
            .header("X-Nomad-Token", &secret)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    });
    match ours.await {
        Some(_) => Ok(secret),
        None => anyhow::bail!("could not bootstrap ACLs through {addr} within 60 s"),
    }
}

/// Runs the workload and the fault schedule against `nodes`, then heals, checks and reports.
pub async fn run<N: Nodes, W: Network>(
    cfg: &Config,
    net: &W,
    nodes: &mut N,
) -> anyhow::Result<Summary> {
    let start = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let ids: Vec<u64> = net.nodes().iter().map(|n| n.id).collect();
    let mut summary = Summary::default();
    if wait_until(Duration::from_secs(60), || async {
        current_leader(&http, net, nodes).await.is_some()
    })
    .await
    .is_none()
    {
        anyhow::bail!("the cluster elected no leader within 60 s");
    }
    let addr = net.nodes()[0].http;
    let token = if cfg.acl_enabled {
        Some(bootstrap(&http, addr).await?)
    } else {
        None
    };
    let plugin = serde_json::json!({"Provider": "chaos", "Version": "1", "NodesHealthy": 3, "NodesExpected": 3});
    let registered = wait_until(Duration::from_secs(30), || async {
        let mut r = http
            .put(format!("http://{addr}/v1/plugin/csi/{}", workload::PLUGIN))
            .json(&plugin);
        if let Some(t) = &token {
            r = r.header("X-Nomad-Token", t);
        }
        r.send().await.is_ok_and(|r| r.status().is_success())
    });
    if registered.await.is_none() {
        anyhow::bail!("could not register the chaos plugin");
    }

    let targets = Arc::new(Targets {
        http: net.nodes().iter().map(|n| (n.id, n.http)).collect(),
        volumes: cfg.volumes,
        volume_lifetime: cfg.volume_lifetime,
        start,
        token,
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let clients: Vec<_> = (0..cfg.clients)
        .map(|c| {
            tokio::spawn(workload::client(
                c,
                cfg.seed,
                targets.clone(),
                stop_rx.clone(),
            ))
        })
        .collect();
    let probe = tokio::spawn(workload::probe(
        cfg.clients,
        targets.clone(),
        stop_rx.clone(),
    ));

    let mut injected: Vec<Injected> = Vec::new();
    for planned in faults::plan(cfg.seed, &cfg.kinds, cfg.pace, 10_000) {
        if start.elapsed() + planned.gap + planned.hold >= cfg.duration {
            break;
        }
        tokio::time::sleep(planned.gap).await;
        let leader = current_leader(&http, net, nodes).await;
        let touched = faults::inject(&planned, leader, &ids, net, nodes).await;
        if touched.is_empty() {
            // Not made (no node to pick, or Docker or iptables refused): counted apart, so a
            // run never passes on faults that did not happen.
            *summary
                .faults_not_made
                .entry(format!("{:?}", planned.kind))
                .or_default() += 1;
            faults::heal(&ids, net, nodes).await?;
            continue;
        }
        // From the moment the fault is in place: a container fault takes Docker a while, and a
        // write acknowledged meanwhile is no failover.
        let at = targets.now();
        tokio::time::sleep(planned.hold).await;
        faults::heal(&ids, net, nodes).await?;
        injected.push(Injected {
            kind: planned.kind,
            nodes: touched,
            injected_at: at,
            healed_at: targets.now(),
            leader_before: leader,
        });
    }
    let _ = stop_tx.send(true);
    let mut records: Vec<Record> = Vec::new();
    for c in clients.into_iter().chain([probe]) {
        records.extend(c.await.unwrap_or_default());
    }

    faults::heal(&ids, net, nodes).await?;
    match wait_until(Duration::from_secs(60), || converged(&http, net, &cfg.secret)).await {
        Some(d) => summary.convergence_ms = Some(d.as_millis() as u64),
        None => summary.anomalies.push("the cluster did not converge (one leader, identical state) within 60 s of the last heal".into()),
    }
    audit_claim_limits(net, &cfg.secret, &mut summary).await;
    // A final linearizable read of every volume: what was acknowledged must still be there.
    let final_http = workload::http_client(Duration::from_secs(15), Duration::from_secs(1));
    let used: std::collections::BTreeSet<String> =
        records.iter().map(|r| r.volume.clone()).collect();
    for (v, volume) in used.into_iter().enumerate() {
        let read = workload::traced(
            &final_http,
            &targets,
            FINAL_READER,
            v,
            volume,
            Input::Read,
            false,
        );
        records.push(read.await);
    }

    check(&records, &injected, &mut summary);
    for f in &injected {
        *summary
            .faults_by_kind
            .entry(format!("{:?}", f.kind))
            .or_default() += 1;
    }
    let report = Report {
        seed: cfg.seed,
        records: &records,
        faults: &injected,
    };
    if !summary.anomalies.is_empty() {
        summary.report = Some(report.save(&cfg.report_root, &summary, &nodes.logs())?);
    }
    Ok(summary)
}

/// Every check over a finished history.
fn check(records: &[Record], injected: &[Injected], summary: &mut Summary) {
    for r in records {
        let key = match &r.outcome {
            Outcome::Done(_) => "ok",
            Outcome::Failed(_) => "failed",
            Outcome::Unknown(_) => "unknown",
            Outcome::Unexpected(_) => "unexpected",
        };
        *summary.ops_by_outcome.entry(key.to_string()).or_default() += 1;
        if key == "ok" && r.input != Input::Read {
            summary.acknowledged_writes += 1;
        }
        if r.client == FINAL_READER && !matches!(r.outcome, Outcome::Done(_)) {
            summary.anomalies.push(format!(
                "the final read of {} after healing got no answer: {:?}",
                r.volume, r.outcome
            ));
        }
        if let Outcome::Unexpected(why) = &r.outcome {
            summary.anomalies.push(format!(
                "unexpected answer to {:?} on {} via node {}: {why}",
                r.input, r.volume, r.node
            ));
        }
        // The claim limit holds in every answer, stale or not.
        if let Outcome::Done(Output::Read(Some(o))) = &r.outcome {
            let writers = o.claims.values().filter(|m| **m == Mode::Write).count();
            if writers > 1 {
                summary.anomalies.push(format!(
                    "{} had {writers} write claims (stale read: {}) via node {}",
                    r.volume, r.stale, r.node
                ));
            }
        }
    }
    // X-Nomad-Index never goes backwards for a client across its linearizable calls.
    let mut last: BTreeMap<usize, u64> = BTreeMap::new();
    for r in records.iter().filter(|r| !r.stale) {
        if let Some(i) = r.index {
            let prev = last.entry(r.client).or_default();
            if i < *prev {
                summary.anomalies.push(format!(
                    "client {} saw X-Nomad-Index go from {prev} to {i}",
                    r.client
                ));
            }
            *prev = i;
        }
    }
    // Linearizability per volume, over every call that may have taken effect.
    let mut per_volume: BTreeMap<&str, Vec<checker::Call>> = BTreeMap::new();
    for r in records.iter().filter(|r| !r.stale) {
        let output = match &r.outcome {
            Outcome::Done(o) => Some(o.clone()),
            Outcome::Unknown(_) if r.input != Input::Read => None,
            _ => continue,
        };
        let completed = if output.is_some() {
            r.completed
        } else {
            u64::MAX
        };
        per_volume
            .entry(&r.volume)
            .or_default()
            .push(checker::Call {
                input: r.input.clone(),
                output,
                invoked: r.invoked,
                completed,
            });
    }
    for (volume, calls) in per_volume {
        match checker::check(&calls) {
            Ok(true) => {}
            Ok(false) => summary.anomalies.push(format!("{volume}: the linearizability search gave up ({} calls)", calls.len())),
            Err(v) => summary.anomalies.push(format!(
                "{volume}: not linearizable: only {} of {} calls could be ordered; stuck before {:?}",
                v.linearized,
                v.total,
                v.stuck_at.first().map(|c| (&c.input, &c.output))
            )),
        }
    }
    // Failover: from the loss of the leader to the next acknowledged write invoked after it.
    for f in injected.iter().filter(|f| f.kind.hits_leader()) {
        let next = records
            .iter()
            .filter(|r| {
                r.input != Input::Read
                    && r.invoked >= f.injected_at
                    && r.outcome == Outcome::Done(Output::Ok)
            })
            .map(|r| r.completed)
            .min();
        if let Some(t) = next {
            summary
                .failover_ms
                .push((f.kind, (t - f.injected_at) / 1_000_000));
        }
    }
}

/// Runs the history checks again over a saved report's `history.jsonl`.
pub fn recheck(history: &std::path::Path) -> anyhow::Result<Summary> {
    let text = std::fs::read_to_string(history)?;
    let records = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str::<Record>)
        .collect::<Result<Vec<_>, _>>()?;
    let mut summary = Summary::default();
    check(&records, &[], &mut summary);
    Ok(summary)
}

/// Three real agent processes, each started by the command `launch` gives for it. `launch` is
/// made once the run's folder and addresses exist: it is handed the network and the folder.
pub async fn run_processes(
    cfg: Config,
    launch: impl FnOnce(&Net, &Path) -> anyhow::Result<nodes::Launch>,
) -> anyhow::Result<Summary> {
    let dir = tempfile::Builder::new()
        .prefix("stowage-chaos-")
        .tempdir()?;
    let (net, listeners) = Net::build(&[1, 2, 3]).await?;
    drop(listeners);
    let launch = launch(&net, dir.path())?;
    let mut nodes = nodes::Processes::new(dir.path(), &net, launch);
    for id in [1, 2, 3] {
        nodes.start(id).await?;
    }
    run(&cfg, &net, &mut nodes).await
}

/// The repository's docker-compose cluster, in a project of the run's own, with container faults.
pub async fn run_compose(cfg: Config, spec: compose::ComposeSpec) -> anyhow::Result<Summary> {
    let (net, mut nodes) = compose::start(&spec).await?;
    run(&cfg, &net, &mut nodes).await
}
