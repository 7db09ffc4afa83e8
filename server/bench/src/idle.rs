//! The idle run: no client load on the cluster, but a loaded machine (a busy thread per core and
//! a thread that fsyncs in a loop), watched for elections nobody needed. Every node's view of the
//! leader is polled every 50 ms; a change of leader, or a poll where no node names one, counts.

use crate::http::Conn;
use crate::systems::{leader_request, named_leader};
use crate::target::Target;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Serialize)]
pub struct Idle {
    pub seconds: f64,
    pub polls: u64,
    /// Times the leader named by the nodes changed.
    pub leader_changes: u64,
    /// Polls in which no node named a leader.
    pub polls_without_leader: u64,
}

const POLL: Duration = Duration::from_millis(50);

/// Keeps every core busy and the disk syncing until dropped.
struct Burden {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Burden {
    fn start(dir: &std::path::Path) -> Burden {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        for _ in 0..cores {
            let stop = stop.clone();
            threads.push(std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }));
        }
        let (stop2, path) = (stop.clone(), dir.join("idle-fsync-load"));
        threads.push(std::thread::spawn(move || {
            use std::io::Write;
            let Ok(mut f) = std::fs::File::create(&path) else {
                return;
            };
            while !stop2.load(Ordering::Relaxed) {
                let _ = f.write_all(&[0u8; 4096]);
                let _ = f.sync_data();
            }
            let _ = std::fs::remove_file(&path);
        }));
        Burden { stop, threads }
    }
}

impl Drop for Burden {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

pub async fn run(target: &Target, dir: &std::path::Path, length: Duration) -> Idle {
    let burden = Burden::start(dir);
    let mut conns: Vec<Conn> = target.addrs.iter().map(|a| Conn::new(*a)).collect();
    let ask = leader_request();
    let (mut polls, mut changes, mut leaderless) = (0, 0, 0);
    let mut last: Option<String> = None;
    let start = Instant::now();
    while start.elapsed() < length {
        let mut named = None;
        for c in conns.iter_mut() {
            if let Some(leader) = c
                .send(&ask, Duration::from_secs(2))
                .await
                .ok()
                .as_ref()
                .and_then(named_leader)
            {
                named = Some(leader);
            }
        }
        polls += 1;
        match (&named, &last) {
            (None, _) => leaderless += 1,
            (Some(now), Some(before)) if now != before => changes += 1,
            _ => {}
        }
        if named.is_some() {
            last = named;
        }
        tokio::time::sleep(POLL).await;
    }
    drop(burden);
    Idle {
        seconds: start.elapsed().as_secs_f64(),
        polls,
        leader_changes: changes,
        polls_without_leader: leaderless,
    }
}
