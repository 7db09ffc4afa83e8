//! What a chaos run found, and how it is printed: operations by outcome, faults by kind,
//! failover percentiles, convergence and anomalies.

use crate::faults::FaultKind;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The outcome of a run: what happened, and every anomaly found.
#[derive(Debug, Default)]
pub struct Summary {
    pub ops_by_outcome: BTreeMap<String, usize>,
    /// Writes the cluster acknowledged: each must show in every later read, and in the reads
    /// made after the last heal.
    pub acknowledged_writes: usize,
    pub faults_by_kind: BTreeMap<String, usize>,
    /// Faults the schedule asked for that could not be made, by kind.
    pub faults_not_made: BTreeMap<String, usize>,
    pub anomalies: Vec<String>,
    /// Per fault that took the leader out: its kind and the failover time.
    pub failover_ms: Vec<(FaultKind, u64)>,
    pub convergence_ms: Option<u64>,
    pub report: Option<PathBuf>,
}

impl Summary {
    /// The `p` percentile of the failover times of the faults `kind` selects.
    fn percentile(&self, p: f64, kind: impl Fn(FaultKind) -> bool) -> Option<u64> {
        let mut v: Vec<u64> = self
            .failover_ms
            .iter()
            .filter(|(k, _)| kind(*k))
            .map(|(_, ms)| *ms)
            .collect();
        v.sort_unstable();
        (!v.is_empty()).then(|| v[((v.len() - 1) as f64 * p).round() as usize])
    }

    pub fn print(&self, seed: u64) {
        println!("chaos seed {seed}");
        println!("operations by outcome: {:?}", self.ops_by_outcome);
        println!(
            "acknowledged writes: {} (a lost one is an anomaly below)",
            self.acknowledged_writes
        );
        println!("faults by kind: {:?}", self.faults_by_kind);
        if !self.faults_not_made.is_empty() {
            println!("faults that could not be made: {:?}", self.faults_not_made);
        }
        match (
            self.percentile(0.5, |_| true),
            self.percentile(0.99, |_| true),
        ) {
            (Some(p50), Some(p99)) => println!(
                "failover (leader lost → next acknowledged write): p50 {p50} ms, p99 {p99} ms over {} faults",
                self.failover_ms.len()
            ),
            _ => println!("failover: no fault took the leader out"),
        }
        // By kind, because a kill of all three includes the time they stay down.
        for kind in FaultKind::ALL.into_iter().filter(|k| k.hits_leader()) {
            let n = self.failover_ms.iter().filter(|(k, _)| *k == kind).count();
            if let (Some(p50), Some(max)) = (
                self.percentile(0.5, |k| k == kind),
                self.percentile(1.0, |k| k == kind),
            ) {
                println!("  {kind:?}: p50 {p50} ms, max {max} ms over {n}");
            }
        }
        if let Some(c) = self.convergence_ms {
            println!("convergence after the last heal: {c} ms");
        }
        println!("anomalies: {}", self.anomalies.len());
        for a in self.anomalies.iter().take(20) {
            println!("  - {a}");
        }
        if let Some(r) = &self.report {
            println!("failure report: {}", r.display());
        }
    }
}
