//! What a node reports about its consensus and storage to `/v1/metrics`: Raft's term and indexes,
//! leader changes, replication lag per follower, the log's and snapshot's sizes on disk, fsync
//! latency, and the volumes, claims and blocked watchers it holds. Values are read when
//! scraped, so nothing is computed for a metric nobody asks for; only leader changes are counted
//! as they happen, since a scrape would miss a change that came and went between two scrapes.

use crate::status::NodeStatus;
use crate::store::DataDir;
use openraft::ServerState;
use openraft::async_runtime::watch::WatchReceiver;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Histogram, IntCounter, IntGauge, IntGaugeVec, Opts};
use std::sync::{Arc, Mutex};

/// The collector of one node's Raft and storage metrics; register it in the node's registry.
#[derive(Clone)]
pub struct RaftCollector {
    status: NodeStatus,
    dir: DataDir,
    fsync: Histogram,
    leader_changes: IntCounter,
    gauges: Gauges,
    /// Held from refreshing the gauges until they are collected: two scrapes at once would
    /// otherwise interleave, and one could see the lag series the other just reset.
    scrape: Arc<Mutex<()>>,
}

#[derive(Clone)]
struct Gauges {
    term: IntGauge,
    leader: IntGauge,
    last_log_index: IntGauge,
    commit_index: IntGauge,
    applied_index: IntGauge,
    snapshot_index: IntGauge,
    lag: IntGaugeVec,
    log_bytes: IntGauge,
    snapshot_bytes: IntGauge,
    volumes: IntGauge,
    claims: IntGauge,
    watchers: IntGauge,
}

fn gauge(name: &str, help: &str) -> prometheus::Result<IntGauge> {
    IntGauge::new(name, help)
}

impl Gauges {
    fn new() -> prometheus::Result<Self> {
        Ok(Gauges {
            term: gauge("stowage_raft_term", "This node's current Raft term.")?,
            leader: gauge("stowage_raft_is_leader", "1 while this node is the leader.")?,
            last_log_index: gauge(
                "stowage_raft_last_log_index",
                "The index of the last entry in this node's log.",
            )?,
            commit_index: gauge(
                "stowage_raft_commit_index",
                "The highest log index this node knows to be committed.",
            )?,
            applied_index: gauge(
                "stowage_raft_applied_index",
                "The highest log index applied to this node's state machine.",
            )?,
            snapshot_index: gauge(
                "stowage_raft_snapshot_index",
                "The last log index in this node's latest snapshot.",
            )?,
            lag: IntGaugeVec::new(
                Opts::new(
                    "stowage_raft_replication_lag_entries",
                    "On the leader: entries each follower has yet to acknowledge.",
                ),
                &["follower"],
            )?,
            log_bytes: gauge(
                "stowage_raft_log_bytes",
                "Bytes the Raft log takes in RocksDB (files and memtables).",
            )?,
            snapshot_bytes: gauge(
                "stowage_raft_snapshot_bytes",
                "Bytes the stored snapshot takes in RocksDB (files and memtables).",
            )?,
            volumes: gauge("stowage_volumes", "Volumes in this node's state.")?,
            claims: gauge(
                "stowage_claims",
                "Claims (reads and writes, all volumes) in this node's state.",
            )?,
            watchers: gauge(
                "stowage_blocked_watchers",
                "Blocking queries waiting on this node now.",
            )?,
        })
    }

    fn all(&self) -> [&dyn Collector; 12] {
        [
            &self.term,
            &self.leader,
            &self.last_log_index,
            &self.commit_index,
            &self.applied_index,
            &self.snapshot_index,
            &self.lag,
            &self.log_bytes,
            &self.snapshot_bytes,
            &self.volumes,
            &self.claims,
            &self.watchers,
        ]
    }
}

fn as_gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl RaftCollector {
    pub(crate) fn new(status: NodeStatus, dir: DataDir) -> prometheus::Result<Self> {
        let leader_changes = IntCounter::new(
            "stowage_raft_leader_changes_total",
            "Times this node saw the cluster's leader change since it started.",
        )?;
        Ok(RaftCollector {
            fsync: dir.fsync_histogram().clone(),
            status,
            dir,
            leader_changes,
            gauges: Gauges::new()?,
            scrape: Arc::default(),
        })
    }

    /// Counts leader changes until this node's Raft stops.
    pub(crate) fn count_leader_changes(&self) -> tokio::task::JoinHandle<()> {
        let mut rx = self.status.raft.metrics();
        let counter = self.leader_changes.clone();
        tokio::spawn(async move {
            let mut last = rx.borrow_watched().current_leader;
            while rx.changed().await.is_ok() {
                let now = rx.borrow_watched().current_leader;
                if now.is_some() && now != last {
                    counter.inc();
                }
                last = now;
            }
        })
    }

    fn refresh(&self) {
        let g = &self.gauges;
        let m = self.status.metrics();
        let index = |l: &Option<crate::types::LogId>| as_gauge(l.as_ref().map_or(0, |l| l.index()));
        g.term.set(as_gauge(m.current_term));
        g.leader.set(i64::from(m.state == ServerState::Leader));
        g.last_log_index
            .set(as_gauge(m.last_log_index.unwrap_or(0)));
        g.commit_index.set(index(&m.local_committed));
        g.applied_index.set(index(&m.last_applied));
        g.snapshot_index.set(index(&m.snapshot));
        g.lag.reset();
        let last = m.last_log_index.unwrap_or(0);
        for (follower, matched) in m.replication.iter().flatten() {
            if *follower == self.status.id {
                continue;
            }
            let acked = matched.as_ref().map_or(0, |l| l.index());
            g.lag
                .with_label_values(&[follower.to_string()])
                .set(as_gauge(last.saturating_sub(acked)));
        }
        let (log, snapshot) = self.dir.sizes();
        g.log_bytes.set(as_gauge(log));
        g.snapshot_bytes.set(as_gauge(snapshot));
        let (volumes, claims) = self.status.reader.read(|s| {
            (
                s.volumes.len(),
                s.claims.values().map(|c| c.len()).sum::<usize>(),
            )
        });
        g.volumes.set(as_gauge(volumes as u64));
        g.claims.set(as_gauge(claims as u64));
        g.watchers
            .set(as_gauge(self.status.reader.blocked_watchers() as u64));
    }
}

impl Collector for RaftCollector {
    fn desc(&self) -> Vec<&Desc> {
        let mut out = self.fsync.desc();
        out.extend(self.leader_changes.desc());
        for c in self.gauges.all() {
            out.extend(c.desc());
        }
        out
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let _one_at_a_time = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        self.refresh();
        let mut out = self.fsync.collect();
        out.extend(self.leader_changes.collect());
        for c in self.gauges.all() {
            out.extend(c.collect());
        }
        out
    }
}
