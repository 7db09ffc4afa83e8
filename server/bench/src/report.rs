//! What a run found, as JSON (everything, every round) and as a Markdown table (medians over
//! the rounds, and stowage's ratio to etcd measured in the same rounds).

use crate::failover::Failover;
use crate::floor::Floor;
use crate::idle::Idle;
use crate::load::Figures;
use crate::recovery::Recovery;
use crate::rounds::{Row, Scenario};
use crate::watchers::Watchers;
use serde::Serialize;
use std::fmt::Write;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub unix_time: u64,
    pub cores: usize,
    pub etcd: Option<String>,
    pub rounds: usize,
    pub seconds_per_case: f64,
    /// The register body's size; etcd's value is the same bytes.
    pub value_bytes: usize,
    pub floor_before: Floor,
    pub floor_after: Option<Floor>,
    pub listed: usize,
    /// Seconds to load the listed volumes, 100 per request.
    pub load_seconds: Vec<(String, f64)>,
    pub rows: Vec<Row>,
    pub failover: Option<Failover>,
    pub idle: Option<Idle>,
    pub watchers: Option<Watchers>,
    pub recovery: Option<Recovery>,
    /// RSS per member in MiB with the listed volumes loaded.
    pub memory: Vec<(String, Vec<Option<f64>>)>,
}

pub fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

/// Medians over the rounds: throughput, p50, p99, p99.9, and errors summed.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub per_sec: f64,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub errors: u64,
}

pub fn summarize(fs: &[Figures]) -> Option<Summary> {
    let m = |f: fn(&Figures) -> f64| median(fs.iter().map(f).collect());
    Some(Summary {
        per_sec: m(|f| f.per_sec)?,
        p50: m(|f| f.p50_ms)?,
        p99: m(|f| f.p99_ms)?,
        p999: m(|f| f.p999_ms)?,
        errors: fs.iter().map(|f| f.errors).sum(),
    })
}

/// Median over the rounds of stowage's throughput divided by etcd's in the same round.
pub fn ratio(row: &Row) -> Option<f64> {
    median(
        row.stowage
            .iter()
            .zip(&row.etcd)
            .filter(|(_, e)| e.per_sec > 0.0)
            .map(|(s, e)| s.per_sec / e.per_sec)
            .collect(),
    )
}

fn cell(s: Option<Summary>) -> (String, String) {
    match s {
        Some(s) => (
            format!(
                "{:.0}{}",
                s.per_sec,
                if s.errors > 0 {
                    format!(" ({} errors)", s.errors)
                } else {
                    String::new()
                }
            ),
            format!("{:.2} / {:.2} / {:.2}", s.p50, s.p99, s.p999),
        ),
        None => ("—".into(), "—".into()),
    }
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let f = &self.floor_before;
        let _ = writeln!(
            out,
            "fsync floor (4 KiB append + fdatasync, {} samples): p50 {:.2} ms, p99 {:.2} ms before the run{}",
            f.samples,
            f.p50_ms,
            f.p99_ms,
            self.floor_after
                .as_ref()
                .map(|a| format!("; p50 {:.2} ms, p99 {:.2} ms after", a.p50_ms, a.p99_ms))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "{} rounds of {:.0} s per case, systems alternating; value {} bytes; {} volumes loaded; {} cores; etcd: {}\n",
            self.rounds,
            self.seconds_per_case,
            self.value_bytes,
            self.listed,
            self.cores,
            self.etcd.as_deref().unwrap_or("not run")
        );
        out.push_str("| scenario | clients | stowage ops/s | stowage ms p50 / p99 / p99.9 | etcd ops/s | etcd ms p50 / p99 / p99.9 | stowage ÷ etcd |\n");
        out.push_str("|---|---|---|---|---|---|---|\n");
        for row in &self.rows {
            let (s_rate, s_lat) = cell(summarize(&row.stowage));
            let (e_rate, e_lat) = cell(summarize(&row.etcd));
            let r = ratio(row).map_or("—".into(), |r| format!("{r:.2}×"));
            let _ = writeln!(
                out,
                "| {} | {} | {s_rate} | {s_lat} | {e_rate} | {e_lat} | {r} |",
                row.case.scenario.label(),
                row.case.clients
            );
        }
        if let Some(line) = self.claim_line() {
            let _ = writeln!(out, "\n{line}");
        }
        out.push('\n');
        if let Some(fo) = &self.failover {
            let _ = writeln!(
                out,
                "- failover ({} leader kills under load, kill to next acknowledged write): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                fo.kills, fo.p50_ms, fo.p99_ms, fo.max_ms
            );
        }
        if let Some(i) = &self.idle {
            let _ = writeln!(
                out,
                "- idle cluster on a loaded machine for {:.0} s ({} polls of every node): {} leader changes, {} polls with no leader",
                i.seconds, i.polls, i.leader_changes, i.polls_without_leader
            );
        }
        if let Some(w) = &self.watchers {
            let _ = writeln!(
                out,
                "- {} blocking watchers on one node: RSS {:.1} → {:.1} MiB ({:.1} KiB each); woken after the write p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; {} missed",
                w.watchers,
                w.rss_before_mib,
                w.rss_parked_mib,
                w.kib_per_watcher,
                w.wake_p50_ms,
                w.wake_p99_ms,
                w.wake_max_ms,
                w.missed
            );
        }
        if let Some(r) = &self.recovery {
            let _ = writeln!(
                out,
                "- recovery with {} volumes: restarted follower serving after {:.0} ms; wiped follower after {:.0} ms",
                self.listed, r.restart_ms, r.wiped_ms
            );
        }
        for (system, rss) in &self.memory {
            let each: Vec<String> = rss
                .iter()
                .map(|m| m.map_or("?".into(), |m| format!("{m:.0}")))
                .collect();
            let _ = writeln!(
                out,
                "- RSS per {system} member with {} volumes: {} MiB",
                self.listed,
                each.join(", ")
            );
        }
        for (system, secs) in &self.load_seconds {
            let _ = writeln!(
                out,
                "- loading {} volumes into {system}, 100 per request: {secs:.1} s",
                self.listed
            );
        }
        out
    }

    /// Claim cycles against registers at the same concurrency, the same rounds.
    fn claim_line(&self) -> Option<String> {
        let cycles = self
            .rows
            .iter()
            .find(|r| r.case.scenario == Scenario::ClaimCycle)?;
        let writes = self.rows.iter().find(|r| {
            r.case.scenario == Scenario::Write && r.case.clients == cycles.case.clients
        })?;
        let c = summarize(&cycles.stowage)?.per_sec;
        let w = summarize(&writes.stowage)?.per_sec;
        Some(format!(
            "Claim + release cycles at {} clients: {c:.0}/s, {:.2}× stowage's register rate at the same concurrency.",
            cycles.case.clients,
            c / w
        ))
    }
}
