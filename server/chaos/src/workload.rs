//! The workload: concurrent clients register, update, claim, release, detach, deregister and read
//! volumes over HTTP, each through a different node every time, with unique values so that every
//! write can be traced. Every call is recorded with when it started, when it ended, and how.

use super::model::{Input, Mode, Observed, Output};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use stowage_proto::api::{ERROR_HEADER, ErrorCode};
use tokio::sync::watch;
use tokio::time::Instant;

pub const PLUGIN: &str = "chaos";
const ACCESS: &str = "multi-node-single-writer";
const ALLOCS_PER_VOLUME: usize = 4;

/// How a call ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// A definite answer.
    Done(Output),
    /// Certainly not applied (no leader, connection refused); it says nothing about the data.
    Failed(String),
    /// Sent, then no definite answer: it may or may not have been applied.
    Unknown(String),
    /// An answer the workload never expects; reported as an anomaly.
    Unexpected(String),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub client: usize,
    pub volume: String,
    pub input: Input,
    /// A `?stale` read: checked for invariants, not for linearizability.
    pub stale: bool,
    pub node: u64,
    pub outcome: Outcome,
    /// Nanoseconds since the run started.
    pub invoked: u64,
    pub completed: u64,
    /// `X-Nomad-Index` of a definite answer.
    pub index: Option<u64>,
}

/// Where the workload sends requests: the nodes' HTTP addresses by id, and which volumes.
#[derive(Clone, Debug)]
pub struct Targets {
    pub http: Vec<(u64, SocketAddr)>,
    /// How many volumes are in use at any one time.
    pub volumes: usize,
    /// How long clients keep using one set of volumes before moving to fresh ones.
    pub volume_lifetime: Duration,
    pub start: Instant,
    /// The ACL token every call carries, when the cluster has ACLs on.
    pub token: Option<String>,
}

impl Targets {
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Volume `slot` of the set in use now. A call whose outcome is unknown stays pending to the
    /// end of its volume's history, and every pending call doubles what the checker may have to
    /// search; fresh volumes every few seconds keep each history short (as Jepsen's independent
    /// keys do) without making the check any less exact.
    pub fn volume(&self, slot: usize) -> String {
        let lifetime = self.volume_lifetime.as_nanos().max(1) as u64;
        format!("chaos-{}-{slot}", self.now() / lifetime)
    }
}

fn alloc(i: usize) -> (String, String) {
    (format!("alloc-{i}"), format!("node-{}", i % 2))
}

fn claim_body(alloc: &str, node: &str, mode: &str, state: &str) -> Value {
    json!({"AllocationID": alloc, "NodeID": node, "Claim": mode, "State": state,
        "AccessMode": ACCESS, "AttachmentMode": "file-system"})
}

pub fn register_body(volume: &str, value: &str) -> Value {
    json!({"Volumes": [{"ID": volume, "PluginID": PLUGIN, "Context": {"v": value},
        "RequestedCapabilities": [{"AccessMode": ACCESS, "AttachmentMode": "file-system"}]}]})
}

/// Reads a volume's JSON into what the model compares.
pub fn observe(v: &Value) -> Observed {
    let mut claims = BTreeMap::new();
    for (key, mode) in [("ReadAllocs", Mode::Read), ("WriteAllocs", Mode::Write)] {
        if let Some(m) = v[key].as_object() {
            for a in m.keys() {
                claims.insert(a.clone(), mode);
            }
        }
    }
    Observed {
        value: v["Context"]["v"].as_str().unwrap_or_default().to_string(),
        claims,
    }
}

/// Sends one call, with `token` if there is one, and classifies its answer.
pub async fn perform(
    http: &reqwest::Client,
    addr: SocketAddr,
    volume: &str,
    input: &Input,
    stale: bool,
    token: Option<&str>,
) -> (Outcome, Option<u64>) {
    let base = format!("http://{addr}");
    let req = match input {
        Input::Register { value } => http
            .put(format!("{base}/v1/volumes"))
            .json(&register_body(volume, value)),
        Input::Claim { alloc, node, mode } => {
            let m = if *mode == Mode::Write {
                "write"
            } else {
                "read"
            };
            http.put(format!("{base}/v1/volume/csi/{volume}/claim"))
                .json(&claim_body(alloc, node, m, "taken"))
        }
        Input::Release { alloc } => http
            .put(format!("{base}/v1/volume/csi/{volume}/claim"))
            .json(&claim_body(alloc, "", "read", "ready-to-free")),
        Input::Detach { node } => {
            http.delete(format!("{base}/v1/volume/csi/{volume}/detach?node={node}"))
        }
        Input::Deregister => http.delete(format!("{base}/v1/volume/csi/{volume}")),
        Input::Read => http.get(format!(
            "{base}/v1/volume/csi/{volume}{}",
            if stale { "?stale" } else { "" }
        )),
    };
    let req = match token {
        Some(t) => req.header("X-Nomad-Token", t),
        None => req,
    };
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) if e.is_connect() => return (Outcome::Failed(format!("connect: {e}")), None),
        Err(e) => return (Outcome::Unknown(e.to_string()), None),
    };
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let index = header("x-nomad-index").and_then(|v| v.parse().ok());
    // Refusals are told apart by their stable code, never by their text.
    let code = header(ERROR_HEADER).and_then(|c| c.parse::<ErrorCode>().ok());
    let body = match resp.text().await {
        Ok(b) => b,
        Err(e) => return (Outcome::Unknown(format!("body lost: {e}")), None),
    };
    let outcome = match (status, code, input) {
        (200, _, Input::Read) => match serde_json::from_str::<Value>(&body) {
            Ok(v) => Outcome::Done(Output::Read(Some(observe(&v)))),
            Err(e) => Outcome::Unexpected(format!("unreadable volume: {e}")),
        },
        (200, _, _) => Outcome::Done(Output::Ok),
        (404, Some(ErrorCode::VolumeNotFound), Input::Read) => Outcome::Done(Output::Read(None)),
        (404, Some(ErrorCode::VolumeNotFound | ErrorCode::NoSuchVolume), i)
            if !matches!(i, Input::Register { .. }) =>
        {
            Outcome::Done(Output::NotFound)
        }
        (409, Some(ErrorCode::MaxClaimsReached), Input::Claim { .. }) => {
            Outcome::Done(Output::MaxClaims)
        }
        (409, Some(ErrorCode::VolumeInUse), Input::Deregister) => Outcome::Done(Output::InUse),
        (503, _, _) => Outcome::Failed(format!("503 {body}")),
        (504, _, _) => Outcome::Unknown(format!("504 {body}")),
        _ => Outcome::Unexpected(format!("{status} {code:?} {body}")),
    };
    let index = matches!(outcome, Outcome::Done(_))
        .then_some(index)
        .flatten();
    (outcome, index)
}

fn next_input(rng: &mut StdRng, client: usize, n: usize) -> (Input, bool) {
    let (a, node) = alloc(rng.random_range(0..ALLOCS_PER_VOLUME));
    match rng.random_range(0..100) {
        0..20 => (
            Input::Register {
                value: format!("c{client}-{n}"),
            },
            false,
        ),
        20..35 => (
            Input::Claim {
                alloc: a,
                node,
                mode: Mode::Write,
            },
            false,
        ),
        35..45 => (
            Input::Claim {
                alloc: a,
                node,
                mode: Mode::Read,
            },
            false,
        ),
        45..60 => (Input::Release { alloc: a }, false),
        60..64 => (Input::Detach { node }, false),
        64..68 => (Input::Deregister, false),
        68..88 => (Input::Read, false),
        _ => (Input::Read, true),
    }
}

/// An HTTP client that gives up on a call after `timeout`, and on connecting after `connect`.
pub fn http_client(timeout: Duration, connect: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect)
        .build()
        .unwrap_or_default()
}

/// Makes one call through the node at `target` (an index into `targets.http`, taken modulo
/// their number) and records it for `client`.
pub async fn traced(
    http: &reqwest::Client,
    targets: &Targets,
    client: usize,
    target: usize,
    volume: String,
    input: Input,
    stale: bool,
) -> Record {
    let (node, addr) = targets.http[target % targets.http.len()];
    let invoked = targets.now();
    let token = targets.token.as_deref();
    let (outcome, index) = perform(http, addr, &volume, &input, stale, token).await;
    Record {
        client,
        volume,
        input,
        stale,
        node,
        outcome,
        invoked,
        completed: targets.now(),
        index,
    }
}

/// One client: calls one after another, each through the next node, until `stop` turns true.
pub async fn client(
    id: usize,
    seed: u64,
    targets: Arc<Targets>,
    mut stop: watch::Receiver<bool>,
) -> Vec<Record> {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(id as u64));
    let http = http_client(Duration::from_secs(15), Duration::from_secs(1));
    let mut records = Vec::new();
    let mut n = 0;
    while !*stop.borrow_and_update() {
        let volume = targets.volume(rng.random_range(0..targets.volumes));
        let (input, stale) = next_input(&mut rng, id, n);
        let record = traced(&http, &targets, id, id + n, volume, input, stale).await;
        // A refused request returns at once; pause so a down cluster is not hammered.
        if matches!(record.outcome, Outcome::Failed(_)) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        records.push(record);
        n += 1;
    }
    records
}

/// The volume the failover probe writes.
pub const PROBE_VOLUME: &str = "chaos-probe";

/// The failover probe: a small write every 100 ms, each through the next node, given up on
/// after 1 s. Workload clients wait up to 15 s on a frozen node, so the first acknowledged
/// write after a fault among theirs measures how long they were stuck; the probe's measures the
/// cluster. Its calls are recorded and checked like every other.
pub async fn probe(
    id: usize,
    targets: Arc<Targets>,
    mut stop: watch::Receiver<bool>,
) -> Vec<Record> {
    let http = http_client(Duration::from_secs(1), Duration::from_millis(500));
    let mut records = Vec::new();
    let mut n = 0;
    while !*stop.borrow_and_update() {
        let input = Input::Register {
            value: format!("probe-{n}"),
        };
        let volume = PROBE_VOLUME.to_string();
        records.push(traced(&http, &targets, id, n, volume, input, false).await);
        n += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    records
}
