//! Failover under load: SIGKILL the leader while writers run, and time from the kill to the
//! first write that was sent after the kill and acknowledged. Then restart the node, wait until
//! it has caught up, and kill the next leader.

use crate::http::Conn;
use crate::load::{histogram, ms_at, record};
use crate::procs::{wait_for, wait_until};
use crate::systems::Kind;
use crate::target::Target;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Serialize)]
pub struct Failover {
    pub kills: usize,
    /// Kill to first acknowledged write, each kill, in order.
    pub times_ms: Vec<f64>,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

const WRITERS: usize = 8;
const WRITE_LIMIT: Duration = Duration::from_secs(2);

/// Acknowledged writes: when each was sent, and when its acknowledgement came.
type Acks = Arc<Mutex<Vec<(Instant, Instant)>>>;

/// When the first write sent at or after `t0` was acknowledged.
fn acked_since(acks: &Acks, t0: Instant) -> Option<Instant> {
    acks.lock()
        .ok()?
        .iter()
        .filter(|(sent, _)| *sent >= t0)
        .map(|(_, acked)| *acked)
        .min()
}

pub async fn run(target: &mut Target, kills: usize) -> anyhow::Result<Failover> {
    let acks: Acks = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (addrs, acks, stop) = (target.addrs.clone(), acks.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut conns: Vec<Conn> = addrs.iter().map(|a| Conn::new(*a)).collect();
            let mut seq = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let conn = &mut conns[(w + seq as usize) % addrs.len()];
                seq += 1;
                let sent = Instant::now();
                if let Ok(a) = conn.send(&Kind::Stowage.write(w, seq), WRITE_LIMIT).await
                    && a.status.is_success()
                    && let Ok(mut acks) = acks.lock()
                {
                    acks.push((sent, Instant::now()));
                } else {
                    // A refused connection answers at once; do not spin on a dead node.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }));
    }
    let result = kill_loop(target, kills, &acks).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        let _ = w.await;
    }
    result
}

async fn kill_loop(target: &mut Target, kills: usize, acks: &Acks) -> anyhow::Result<Failover> {
    let mut hist = histogram();
    let mut times = Vec::new();
    for k in 0..kills {
        let t = &*target;
        let (leader, _) = wait_for("a leader before the kill", Duration::from_secs(30), || {
            t.leader()
        })
        .await?;
        // Steady state first: a write acknowledged after this moment.
        let steady = Instant::now();
        wait_until(
            "writes before the kill",
            Duration::from_secs(30),
            || async { acked_since(acks, steady).is_some() },
        )
        .await?;
        let group = target.own_group("failover")?;
        group.kill(leader).await;
        let t0 = Instant::now();
        let (acked, _) = wait_for(
            "a write acknowledged after the kill",
            Duration::from_secs(60),
            || async { acked_since(acks, t0) },
        )
        .await?;
        let dt = acked.duration_since(t0);
        record(&mut hist, dt);
        times.push(dt.as_secs_f64() * 1000.0);
        eprintln!(
            "failover {}/{kills}: leader {} killed, write acknowledged after {:.0} ms",
            k + 1,
            leader + 1,
            dt.as_secs_f64() * 1000.0
        );
        group.start(leader)?;
        let t = &*target;
        let index = t.write_index(0).await?;
        wait_until(
            "the killed node caught up again",
            Duration::from_secs(60),
            || async { t.serves(leader, index).await },
        )
        .await?;
    }
    Ok(Failover {
        kills,
        p50_ms: ms_at(&hist, 0.5),
        p99_ms: ms_at(&hist, 0.99),
        max_ms: ms_at(&hist, 1.0),
        times_ms: times,
    })
}
