//! Blocking queries at scale: many watchers park on one node, each on its own connection, waiting
//! for one volume to change; one write must wake them all. Reports the node's memory per parked
//! watcher and how long after the write each one had its answer.

use crate::http::{Conn, Req};
use crate::load::{histogram, ms_at, record};
use crate::procs::wait_until;
use crate::systems::{Kind, WATCHED_ID};
use crate::target::Target;
use serde::Serialize;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Serialize)]
pub struct Watchers {
    pub watchers: usize,
    pub rss_before_mib: f64,
    pub rss_parked_mib: f64,
    pub kib_per_watcher: f64,
    /// From sending the write to each watcher's answer.
    pub wake_p50_ms: f64,
    pub wake_p99_ms: f64,
    pub wake_max_ms: f64,
    /// Watchers whose answer did not carry the write's index (an error or a timeout).
    pub missed: usize,
}

/// Opens connections this many at a time, so the node's listen backlog never overflows.
const CONNECT_BATCH: usize = 500;

pub async fn run(target: &Target, node: usize, watchers: usize) -> anyhow::Result<Watchers> {
    let group = target
        .group
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("watchers need the harness's own cluster, to read RSS"))?;
    let mib = |b: Option<u64>| b.unwrap_or(0) as f64 / (1024.0 * 1024.0);
    let register = Kind::Stowage.load(&[WATCHED_ID.to_string()]);
    let index = target.index_of(&register).await?;
    wait_until(
        "the watched node caught up",
        Duration::from_secs(30),
        || target.serves(node, index),
    )
    .await?;
    let before = group.rss(node);

    // Connect everything first, so the parked figure is of watchers, not of half-open sockets.
    let addr = target.addrs[node];
    let mut conns = Vec::with_capacity(watchers);
    for _ in 0..watchers.div_ceil(CONNECT_BATCH) {
        let batch = CONNECT_BATCH.min(watchers - conns.len());
        let opened = connect_all(batch, addr).await?;
        conns.extend(opened);
    }
    let watch = Req::get(format!("/v1/volume/csi/{WATCHED_ID}?index={index}&wait=5m"));
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut tasks = Vec::with_capacity(watchers);
    for mut conn in conns {
        let (watch, sent_tx) = (watch.clone(), sent_tx.clone());
        tasks.push(tokio::spawn(async move {
            let _ = sent_tx.send(());
            drop(sent_tx);
            let answer = conn.send(&watch, Duration::from_secs(330)).await;
            (answer.ok().and_then(|a| a.index), Instant::now())
        }));
    }
    drop(sent_tx);
    for _ in 0..tasks.len() {
        sent_rx.recv().await;
    }
    // Every request is out; parked once the node's memory stops growing.
    let mut last = group.rss(node);
    wait_until("the watchers parking", Duration::from_secs(60), || {
        let now = group.rss(node);
        let settled = now == last && now.is_some();
        last = now;
        async move {
            tokio::time::sleep(Duration::from_millis(250)).await;
            settled
        }
    })
    .await?;
    let parked = group.rss(node);

    let write_at = Instant::now();
    let written = target.index_of(&register).await?;
    let mut hist = histogram();
    let mut missed = 0;
    for t in tasks {
        match t.await {
            Ok((Some(i), at)) if i >= written => {
                record(&mut hist, at.saturating_duration_since(write_at))
            }
            _ => missed += 1,
        }
    }
    let (b, p) = (mib(before), mib(parked));
    Ok(Watchers {
        watchers,
        rss_before_mib: b,
        rss_parked_mib: p,
        kib_per_watcher: (p - b) * 1024.0 / watchers.max(1) as f64,
        wake_p50_ms: ms_at(&hist, 0.5),
        wake_p99_ms: ms_at(&hist, 0.99),
        wake_max_ms: ms_at(&hist, 1.0),
        missed,
    })
}

/// Opens `n` connections to `addr` at once.
async fn connect_all(n: usize, addr: std::net::SocketAddr) -> anyhow::Result<Vec<Conn>> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        set.spawn(async move {
            let mut c = Conn::new(addr);
            c.open().await.map(|_| c)
        });
    }
    let mut out = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        out.push(r??);
    }
    Ok(out)
}
