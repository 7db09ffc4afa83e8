//! `/v1/metrics` and what feeds it from here: each request counted and timed per route, method
//! and status, and logged with the node that served it. The registry is the node's, so the Raft
//! and storage collectors the node adds are scraped with the same call.

use crate::backend::Backend;
use crate::error::ApiError;
use crate::params::RawParams;
use crate::respond;
use axum::body::Body;
use axum::extract::{MatchedPath, RawQuery, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::proto::{MetricFamily, MetricType};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;
use stowage_proto::ClusterError;
use stowage_proto::api::CsiError;

/// One node's metrics: its registry, and the request metrics the gateway keeps in it.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    node: String,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    /// A registry for the node called `node` (its name in request logs), with the request
    /// metrics already in it.
    pub fn new(node: impl Into<String>) -> prometheus::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("stowage_http_requests_total", "HTTP requests answered."),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "stowage_http_request_duration_seconds",
                "How long HTTP requests took to answer, blocking queries included.",
            )
            .buckets(prometheus::exponential_buckets(0.000_25, 2.0, 18)?),
            &["route", "method", "status"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Metrics {
            registry,
            node: node.into(),
            requests,
            latency,
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// Middleware: counts, times and logs every request under the route it matched (not its path,
/// which would make one series per volume).
pub(crate) async fn track<B: Backend>(State(b): State<B>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // The matched path is shared, so keeping it costs no copy.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let resp = next.run(req).await;
    let elapsed = started.elapsed();
    let status = resp.status();
    let m = b.metrics();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let labels = [route, method_label(&method), status.as_str()];
    m.requests.with_label_values(&labels).inc();
    m.latency
        .with_label_values(&labels)
        .observe(elapsed.as_secs_f64());
    // At debug, as Nomad logs requests: a busy node would otherwise spend its time logging.
    tracing::debug!(
        target: "stowage::http",
        node = %m.node,
        method = %method,
        path = %uri.path(),
        status = status.as_u16(),
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    resp
}

/// The method as a label: HTTP allows any token as a method, and a label per made-up method
/// would let any client grow the registry without bound.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// `GET /v1/metrics`: JSON in Nomad's shape by default, Prometheus text with
/// `?format=prometheus`.
pub(crate) async fn scrape<B: Backend>(
    State(b): State<B>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = RawParams::parse(q.as_deref());
    let families = b.metrics().registry.gather();
    match p.get("format") {
        None | Some("") | Some("json") => Ok(respond::json(
            &NomadMetrics::from_families(&families),
            p.pretty(),
            None,
        )),
        Some("prometheus") => {
            let mut text = Vec::new();
            TextEncoder::new()
                .encode(&families, &mut text)
                .map_err(|e| {
                    ApiError::Csi(CsiError::Cluster(ClusterError::Internal(format!(
                        "encoding metrics: {e}"
                    ))))
                })?;
            let mut resp = Response::new(Body::from(text));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            Ok(resp)
        }
        Some(other) => Err(ApiError::BadRequest(format!(
            "unsupported metrics format {other:?}: use \"prometheus\" or leave it out for JSON"
        ))),
    }
}

/// Nomad's `MetricsSummary`: gauges, counters and samples (here: histograms), each with its
/// labels.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct NomadMetrics {
    timestamp: String,
    gauges: Vec<Gauge>,
    counters: Vec<Summary>,
    samples: Vec<Summary>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Gauge {
    name: String,
    value: f64,
    labels: BTreeMap<String, String>,
}

/// A counter (`Count` = `Sum` = its value) or a histogram (`Count` observations adding up to
/// `Sum`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Summary {
    name: String,
    count: u64,
    sum: f64,
    mean: f64,
    labels: BTreeMap<String, String>,
}

impl NomadMetrics {
    fn from_families(families: &[MetricFamily]) -> Self {
        let mut out = NomadMetrics {
            timestamp: now_rfc3339(),
            gauges: vec![],
            counters: vec![],
            samples: vec![],
        };
        for f in families {
            for m in f.get_metric() {
                let labels: BTreeMap<String, String> = m
                    .get_label()
                    .iter()
                    .map(|l| (l.name().to_string(), l.value().to_string()))
                    .collect();
                let name = f.name().to_string();
                match f.get_field_type() {
                    MetricType::GAUGE => out.gauges.push(Gauge {
                        name,
                        value: m.get_gauge().value(),
                        labels,
                    }),
                    MetricType::COUNTER => {
                        let v = m.get_counter().value();
                        // Each count is one event of weight one.
                        out.counters.push(Summary {
                            name,
                            count: v as u64,
                            sum: v,
                            mean: if v > 0.0 { 1.0 } else { 0.0 },
                            labels,
                        });
                    }
                    MetricType::HISTOGRAM => {
                        let h = m.get_histogram();
                        let count = h.get_sample_count();
                        out.samples.push(Summary {
                            name,
                            count,
                            sum: h.get_sample_sum(),
                            mean: if count == 0 {
                                0.0
                            } else {
                                h.get_sample_sum() / count as f64
                            },
                            labels,
                        });
                    }
                    // Nothing here registers summaries or untyped metrics.
                    _ => {}
                }
            }
        }
        out
    }
}

/// The time now as RFC 3339 UTC with seconds, as Nomad's summary stamps it.
fn now_rfc3339() -> String {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    stowage_proto::api::rfc3339(ns)
}
