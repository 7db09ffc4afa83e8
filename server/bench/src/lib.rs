//! `stowage bench`: starts a stowage cluster and a three-member etcd on loopback (or uses a
//! running stowage cluster), drives both with the same closed-loop HTTP load in alternating
//! rounds, and reports throughput and HDR latencies as a table, JSON and a chart.

pub mod chart;
pub mod etcd;
pub mod failover;
pub mod floor;
pub mod http;
pub mod idle;
pub mod load;
pub mod procs;
pub mod recovery;
pub mod report;
pub mod rounds;
pub mod systems;
pub mod target;
pub mod watchers;

use procs::{Group, Launch};
use report::Report;
use rounds::{Case, Scenario};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use systems::Kind;
use target::Target;

/// Everything a run is told.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where both systems keep their data and logs (the fsync floor is measured here too); it
    /// must exist.
    pub dir: PathBuf,
    pub rounds: usize,
    pub duration: Duration,
    /// Concurrencies of the write rows.
    pub write_clients: Vec<usize>,
    /// Concurrency of the claim, read and list rows.
    pub clients: usize,
    /// Volumes (etcd: keys) loaded for the list rows, recovery and memory.
    pub listed: usize,
    /// Blocking watchers parked on one node; 0 skips them.
    pub watchers: usize,
    /// Leader kills; 0 skips failover.
    pub kills: usize,
    /// How long to watch the idle cluster on a loaded machine for elections; zero skips it.
    pub idle: Duration,
    /// The etcd binary; `None` runs stowage alone.
    pub etcd: Option<PathBuf>,
    /// A running stowage cluster's HTTP addresses, instead of starting one. Scenarios that kill
    /// or measure processes are skipped against it.
    pub stowage_addrs: Option<Vec<SocketAddr>>,
}

const READY_LIMIT: Duration = Duration::from_secs(60);

/// Raises the open-file limit to its hard limit: every watcher is a socket, here and in the node
/// (children inherit the limit).
fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
}

async fn start(kind: Kind, mut group: Group) -> anyhow::Result<Target> {
    group.start_all()?;
    let mut target = Target::started(kind, group);
    target.wait_ready(READY_LIMIT).await?;
    Ok(target)
}

/// Runs the whole benchmark. `launch` starts one stowage node (the binary knows how).
pub async fn run(cfg: Config, launch: Launch) -> anyhow::Result<Report> {
    raise_fd_limit();
    let floor_before = floor::measure(&cfg.dir, 200)?;
    eprintln!(
        "fsync floor: p50 {:.2} ms, p99 {:.2} ms",
        floor_before.p50_ms, floor_before.p99_ms
    );
    let mut stowage = match &cfg.stowage_addrs {
        Some(addrs) => {
            let mut t = Target {
                kind: Kind::Stowage,
                addrs: addrs.clone(),
                group: None,
            };
            t.wait_ready(READY_LIMIT).await?;
            t
        }
        None => start(Kind::Stowage, Group::new("stowage", &cfg.dir, launch)?).await?,
    };
    stowage.send_any(&systems::plugin_report()).await?;
    let etcd = match &cfg.etcd {
        Some(bin) => Some(start(Kind::Etcd, etcd::group(bin.clone(), &cfg.dir)?).await?),
        None => None,
    };
    let etcd_version = cfg.etcd.as_deref().map(etcd::version);
    let systems: Vec<&Target> = std::iter::once(&stowage).chain(etcd.as_ref()).collect();

    let mut load_seconds = Vec::new();
    let ids: Vec<String> = (0..cfg.listed).map(systems::listed_id).collect();
    for t in &systems {
        let started = Instant::now();
        t.load(ids.clone(), 100, 8).await?;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "loaded {} volumes into {} in {secs:.1} s",
            cfg.listed,
            t.kind.name()
        );
        load_seconds.push((t.kind.name().to_string(), secs));
    }

    let mut cases: Vec<Case> = cfg
        .write_clients
        .iter()
        .map(|&clients| Case {
            scenario: Scenario::Write,
            clients,
        })
        .collect();
    for scenario in [
        Scenario::ClaimCycle,
        Scenario::ReadLinearizable,
        Scenario::ReadStale,
        Scenario::ListPage,
    ] {
        cases.push(Case {
            scenario,
            clients: cfg.clients,
        });
    }
    // Every case reads or claims the volumes the widest write row registers: make them exist.
    let widest = cfg
        .write_clients
        .iter()
        .copied()
        .chain([cfg.clients])
        .max()
        .unwrap_or(1);
    for t in &systems {
        let mut ids: Vec<String> = (0..widest).map(systems::write_id).collect();
        if t.kind == Kind::Stowage {
            ids.extend((0..cfg.clients).map(systems::claimed_id));
        }
        t.load(ids, 100, 1).await?;
    }
    let rows = rounds::run(&cases, &systems, cfg.rounds, cfg.duration, cfg.listed).await;

    let memory: Vec<(String, Vec<Option<f64>>)> = systems
        .iter()
        .filter(|t| t.group.is_some())
        .map(|t| (t.kind.name().to_string(), recovery::memory(t)))
        .collect();
    drop(systems);
    // etcd is idle from here on; stop it so the cluster scenarios have the machine.
    drop(etcd);
    let own = stowage.group.is_some();
    let recovery = if own {
        eprintln!("recovery: restarting a follower, then wiping one");
        Some(recovery::run(&mut stowage).await?)
    } else {
        None
    };
    let watchers = if own && cfg.watchers > 0 {
        eprintln!(
            "watchers: parking {} blocking queries on one node",
            cfg.watchers
        );
        // On the member the recovery test wiped: its heap holds little but the state, so
        // what the watchers add shows in its RSS rather than vanishing into freed memory.
        let node = recovery.as_ref().map_or(0, |r| r.wiped);
        Some(watchers::run(&stowage, node, cfg.watchers).await?)
    } else {
        None
    };
    let failover = if own && cfg.kills > 0 {
        eprintln!(
            "failover: killing the leader {} times under load",
            cfg.kills
        );
        Some(failover::run(&mut stowage, cfg.kills).await?)
    } else {
        None
    };
    let idle = if !cfg.idle.is_zero() {
        eprintln!(
            "idle: watching for elections for {:?} on a loaded machine",
            cfg.idle
        );
        Some(idle::run(&stowage, &cfg.dir, cfg.idle).await)
    } else {
        None
    };
    let floor_after = floor::measure(&cfg.dir, 200).ok();
    Ok(Report {
        unix_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        etcd: etcd_version,
        rounds: cfg.rounds,
        seconds_per_case: cfg.duration.as_secs_f64(),
        value_bytes: systems::register_body(&[systems::write_id(0)], 0).len(),
        floor_before,
        floor_after,
        listed: cfg.listed,
        load_seconds,
        rows,
        failover,
        idle,
        watchers,
        recovery,
        memory,
    })
}
