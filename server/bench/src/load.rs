//! The closed loop: N clients, each sending its next operation as soon as the last one was
//! answered, for a fixed time, with every operation's latency in an HDR histogram.

use crate::http::{Conn, Req};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one client does next: the requests of one operation, sent in order. An operation is
/// one request for most scenarios, two for a claim and release cycle.
pub trait Script: Send + Sync + 'static {
    fn operation(&self, client: usize, seq: u64) -> Vec<Req>;
}

impl<F> Script for F
where
    F: Fn(usize, u64) -> Vec<Req> + Send + Sync + 'static,
{
    fn operation(&self, client: usize, seq: u64) -> Vec<Req> {
        self(client, seq)
    }
}

/// How hard and how long.
#[derive(Clone, Debug)]
pub struct Shape {
    pub clients: usize,
    pub duration: Duration,
    /// Each client's requests go to these in turn, starting at a different one per client, so
    /// every system sees the same mix of leader and followers.
    pub targets: Vec<SocketAddr>,
}

/// Latency limit of one request: far above any p99.9 seen, so only a stuck request hits it.
const REQUEST_LIMIT: Duration = Duration::from_secs(10);

/// One scenario's figures for one system in one round.
#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    /// Operations answered with 2xx, per second.
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub ok: u64,
    /// Operations with a non-2xx answer or none; their latency is not recorded.
    pub errors: u64,
    /// The first error seen, to say what went wrong.
    pub first_error: Option<String>,
}

impl Figures {
    pub fn from_histogram(h: &Histogram<u64>, elapsed: Duration, errors: u64) -> Figures {
        Figures {
            per_sec: h.len() as f64 / elapsed.as_secs_f64(),
            p50_ms: ms_at(h, 0.5),
            p99_ms: ms_at(h, 0.99),
            p999_ms: ms_at(h, 0.999),
            ok: h.len(),
            errors,
            first_error: None,
        }
    }
}

/// A histogram of microseconds from 1 µs to 100 s at three significant digits.
pub fn histogram() -> Histogram<u64> {
    // Fails only for bounds below 1 or a precision above 5; these are constants.
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("constant histogram bounds")
}

/// Records `took` in a `histogram()`, in microseconds (at least 1, its lowest value; a value
/// past its 100 s bound is left out, as no latency here comes near it).
pub fn record(h: &mut Histogram<u64>, took: Duration) {
    let us = u64::try_from(took.as_micros().max(1)).unwrap_or(u64::MAX);
    let _ = h.record(us);
}

/// The latency at quantile `q` (1.0: the largest) of a `histogram()`, in milliseconds.
pub fn ms_at(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

struct ClientResult {
    hist: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
}

/// Runs `script` with `shape` and returns what was measured.
pub async fn drive(script: Arc<dyn Script>, shape: &Shape) -> Figures {
    let start = Instant::now();
    let end = start + shape.duration;
    let mut tasks = Vec::with_capacity(shape.clients);
    for client in 0..shape.clients {
        let script = script.clone();
        let targets = shape.targets.clone();
        tasks.push(tokio::spawn(async move {
            run_client(script.as_ref(), client, &targets, end).await
        }));
    }
    let mut hist = histogram();
    let mut errors = 0;
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok(r) => {
                let _ = hist.add(&r.hist);
                errors += r.errors;
                first_error = first_error.or(r.first_error);
            }
            Err(e) => {
                errors += 1;
                first_error = first_error.or(Some(format!("client task failed: {e}")));
            }
        }
    }
    let mut f = Figures::from_histogram(&hist, start.elapsed(), errors);
    f.first_error = first_error;
    f
}

async fn run_client(
    script: &dyn Script,
    client: usize,
    targets: &[SocketAddr],
    end: Instant,
) -> ClientResult {
    let mut conns: Vec<Conn> = targets.iter().map(|a| Conn::new(*a)).collect();
    let mut result = ClientResult {
        hist: histogram(),
        errors: 0,
        first_error: None,
    };
    let mut seq = 0u64;
    let mut next = client;
    while Instant::now() < end {
        let started = Instant::now();
        let mut failed = None;
        for req in script.operation(client, seq) {
            let n = conns.len();
            let conn = &mut conns[next % n];
            next += 1;
            match conn.send(&req, REQUEST_LIMIT).await {
                Ok(a) if a.status.is_success() => {}
                Ok(a) => {
                    failed = Some(format!(
                        "{} {} on {}: {} {}",
                        req.method,
                        req.path,
                        conn.addr(),
                        a.status,
                        String::from_utf8_lossy(&a.body).trim()
                    ));
                    break;
                }
                Err(e) => {
                    failed = Some(format!(
                        "{} {} on {}: {e}",
                        req.method,
                        req.path,
                        conn.addr()
                    ));
                    break;
                }
            }
        }
        seq += 1;
        match failed {
            None => record(&mut result.hist, started.elapsed()),
            Some(e) => {
                result.errors += 1;
                result.first_error.get_or_insert(e);
            }
        }
    }
    result
}
