//! `stowage gateway` and `stowage health`. The gateway is a stateless entry in front of a
//! cluster's nodes, so that one address keeps answering while any node is down. It checks each
//! node's health, sends every request to a healthy node (the nodes carry writes to the leader
//! themselves), and tries another node only when the request certainly never arrived (a refused
//! connection) or is a read. A write that was sent and then lost answers "outcome unknown", never
//! a second attempt. With TLS files it serves HTTPS and speaks HTTPS to the nodes, presenting
//! its own certificate to nodes that verify clients. `stowage health` is the containers' health
//! check, over HTTPS when the same TLS variables are set.

use crate::agent::stop_signal;
use crate::tls::{FileTls, TlsArgs, TlsFileArgs, https_client};
use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use stowage_http_gateway::{ApiError, MAX_BODY, parse_go_duration};
use stowage_proto::ClusterError;
use stowage_proto::api::{CsiError, MAX_WAIT};
use tokio::net::TcpListener;

#[derive(Debug, Clone, clap::Args)]
pub struct EntryArgs {
    /// Where clients connect.
    #[arg(long, env = "STOWAGE_LISTEN", default_value = "0.0.0.0:4646")]
    pub listen: SocketAddr,
    /// Each node's HTTP address (`host:port`), repeated or comma-separated.
    #[arg(
        long = "upstream",
        env = "STOWAGE_UPSTREAMS",
        value_delimiter = ',',
        required = true
    )]
    pub upstreams: Vec<String>,
    /// How often each node's health is checked, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub check_interval_ms: u64,
    /// How long a node may take to answer, in milliseconds, beyond what a blocking query asks
    /// it to wait. A node slower than that is taken for frozen or cut off: a read moves on to
    /// another node, a write answers 504 (its outcome is unknown).
    #[arg(long, env = "STOWAGE_GATEWAY_TIMEOUT_MS", default_value_t = 30_000)]
    pub timeout_ms: u64,
    /// The cluster's CA and this gateway's certificate: HTTPS towards clients and nodes.
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// One node behind the entry, and what its last health check said.
struct Upstream {
    addr: String,
    healthy: AtomicBool,
}

struct Entry {
    upstreams: Vec<Upstream>,
    /// `http`, or `https` when the cluster speaks TLS.
    scheme: &'static str,
    /// Where the next request starts among the healthy nodes, so load spreads.
    next: AtomicUsize,
    client: reqwest::Client,
    /// How long a node may take to answer a request that does not block.
    timeout: Duration,
}

/// Headers that describe one hop's connection, not the request: never passed on.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
];

/// `headers` without the hop-by-hop ones, nor any that `Connection` names as such.
fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let mut out = headers.clone();
    for h in HOP_BY_HOP
        .iter()
        .copied()
        .chain(named.iter().map(String::as_str))
    {
        out.remove(h);
    }
    out.remove(header::UPGRADE);
    out
}

impl Entry {
    /// The nodes to try, in order: the healthy ones from the next turn on, then the others (a
    /// node that just failed its check may answer anyway, and during an election none passes).
    fn order(&self) -> Vec<&Upstream> {
        let n = self.upstreams.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let turn: Vec<&Upstream> = (0..n).map(|i| &self.upstreams[(start + i) % n]).collect();
        let (healthy, rest): (Vec<&Upstream>, Vec<&Upstream>) = turn
            .into_iter()
            .partition(|u| u.healthy.load(Ordering::Relaxed));
        healthy.into_iter().chain(rest).collect()
    }

    async fn check(&self, up: &Upstream) {
        let url = format!("{}://{}/v1/agent/health", self.scheme, up.addr);
        let ok = tokio::time::timeout(Duration::from_secs(1), self.client.get(url).send())
            .await
            .is_ok_and(|r| r.is_ok_and(|r| r.status().is_success()));
        up.healthy.store(ok, Ordering::Relaxed);
    }
}

async fn check_forever(entry: Arc<Entry>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        futures::future::join_all(entry.upstreams.iter().map(|u| entry.check(u))).await;
    }
}

/// How long a node may take to answer a request with this query: `timeout`, plus, for a blocking
/// query (an `index`), its `wait` (5 minutes at most) and the sixteenth a node may add to spread
/// its answers. A node that takes longer is frozen or cut off.
fn answer_within(query: Option<&str>, timeout: Duration) -> Duration {
    let params: Vec<(&str, &str)> = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let blocking = params
        .iter()
        .any(|(k, v)| *k == "index" && v.parse::<u64>().is_ok_and(|i| i > 0));
    if !blocking {
        return timeout;
    }
    let wait = params
        .iter()
        .find(|(k, _)| *k == "wait")
        .and_then(|(_, v)| parse_go_duration(v))
        .filter(|d| !d.is_zero())
        .map_or(MAX_WAIT, |d| d.min(MAX_WAIT));
    wait + wait / 16 + timeout
}

/// Passes one request to a node and its answer back, streaming the answer's body.
async fn forward(State(entry): State<Arc<Entry>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(e) if is_too_large(&e) => return ApiError::TooLarge.into_response(),
        Err(e) => {
            return ApiError::BadRequest(format!("cannot read the request body: {e}"))
                .into_response();
        }
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let within = answer_within(parts.uri.query(), entry.timeout);
    let headers = end_to_end(&parts.headers);
    // A read changes nothing, so it may be tried again wherever it failed.
    let read = matches!(parts.method, Method::GET | Method::HEAD);
    let mut unanswered = None;
    for up in entry.order() {
        let sent = entry
            .client
            .request(
                parts.method.clone(),
                format!("{}://{}{path}", entry.scheme, up.addr),
            )
            .headers(headers.clone())
            .body(body.clone())
            .timeout(within)
            .send()
            .await;
        match sent {
            Ok(resp) => return relay(resp),
            Err(e) if e.is_connect() => {
                up.healthy.store(false, Ordering::Relaxed);
            }
            Err(e) => {
                let unknown =
                    ClusterError::OutcomeUnknown(format!("node {} did not answer: {e}", up.addr));
                if !read {
                    return ApiError::Csi(CsiError::Cluster(unknown)).into_response();
                }
                unanswered = Some(unknown);
            }
        }
    }
    match unanswered {
        // A read reached a node that never answered: 504, as for a write, naming the last one.
        Some(unknown) => ApiError::Csi(CsiError::Cluster(unknown)).into_response(),
        // Nothing was sent anywhere: certainly not applied.
        None => ApiError::Csi(CsiError::Cluster(ClusterError::NoLeader)).into_response(),
    }
}

/// Whether reading a body failed because it passed the limit, rather than because the client
/// went away or sent something unreadable.
fn is_too_large(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

fn relay(resp: reqwest::Response) -> Response {
    let status = resp.status();
    let headers = end_to_end(resp.headers());
    let mut out = Response::new(Body::from_stream(resp.bytes_stream()));
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

pub async fn run(args: EntryArgs) -> anyhow::Result<u8> {
    let tls = args.tls.resolve(FileTls::default())?;
    let client = match &tls {
        Some(tls) => https_client(&tls.files)?,
        None => reqwest::Client::builder(),
    };
    let client = client
        .no_gzip()
        .connect_timeout(Duration::from_secs(1))
        .build()
        .context("cannot build the HTTP client")?;
    let entry = Arc::new(Entry {
        upstreams: args
            .upstreams
            .iter()
            .map(|addr| Upstream {
                addr: addr.clone(),
                healthy: AtomicBool::new(true),
            })
            .collect(),
        scheme: if tls.is_some() { "https" } else { "http" },
        next: AtomicUsize::new(0),
        client,
        timeout: Duration::from_millis(args.timeout_ms.max(1)),
    });
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(
        listen = %args.listen,
        upstreams = ?args.upstreams,
        tls = tls.is_some(),
        "gateway ready"
    );
    let checks = tokio::spawn(check_forever(
        entry.clone(),
        Duration::from_millis(args.check_interval_ms.max(50)),
    ));
    let router = Router::new().fallback(forward).with_state(entry);
    let https = tls.map(|t| t.https);
    let served = stowage_http_gateway::serve_with(
        listener,
        router,
        &Default::default(),
        https,
        stop_signal(),
    )
    .await;
    checks.abort();
    served.context("the gateway stopped")?;
    Ok(0)
}

#[derive(Debug, Clone, clap::Args)]
pub struct HealthArgs {
    /// The HTTP address to ask (a node's, or a gateway's).
    #[arg(long, default_value = "127.0.0.1:4646")]
    pub addr: String,
    /// The cluster's CA and a certificate it signed: ask over HTTPS (a container's own
    /// `STOWAGE_TLS_*` variables, so a node's health check follows its TLS set-up).
    #[command(flatten)]
    pub tls: TlsFileArgs,
}

/// `stowage health`: exits 0 when the node at `addr` reports itself healthy, else 1 with its
/// answer. For container health checks, where there is no curl.
pub async fn health(args: HealthArgs) -> anyhow::Result<u8> {
    let (client, scheme) = match args.tls.files(FileTls::default())? {
        Some(files) => (https_client(&files)?, "https"),
        None => (reqwest::Client::builder(), "http"),
    };
    let url = format!("{scheme}://{}/v1/agent/health", args.addr);
    let resp = client
        .timeout(Duration::from_secs(2))
        .build()?
        .get(&url)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status.is_success() {
        Ok(0)
    } else {
        anyhow::bail!("{status}: {}", text.trim())
    }
}
