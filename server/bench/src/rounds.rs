//! The throughput scenarios, run in alternating rounds: within a round every scenario runs on
//! each system back to back, and the order flips every round, so a ratio compares two figures
//! taken under the same machine state rather than minutes apart.

use crate::load::{Figures, Script, Shape, drive};
use crate::systems::{Kind, claim};
use crate::target::Target;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// One scenario at one concurrency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Re-register one volume per client (etcd: put the same bytes).
    Write,
    /// Claim a volume for writing, then release it: two writes per operation (stowage only).
    ClaimCycle,
    /// Read one volume, linearizable.
    ReadLinearizable,
    /// Read one volume from the node's own copy (`?stale`; etcd: serializable).
    ReadStale,
    /// A page of 100 out of the loaded volumes, linearizable.
    ListPage,
}

impl Scenario {
    pub fn label(self) -> &'static str {
        match self {
            Scenario::Write => "register (etcd: put)",
            Scenario::ClaimCycle => "claim + release cycle",
            Scenario::ReadLinearizable => "linearizable GET (etcd: range)",
            Scenario::ReadStale => "stale GET over 3 nodes (etcd: serializable)",
            Scenario::ListPage => "list page of 100",
        }
    }

    fn runs_on(self, kind: Kind) -> bool {
        self != Scenario::ClaimCycle || kind == Kind::Stowage
    }

    fn script(self, kind: Kind, listed: usize) -> Arc<dyn Script> {
        match self {
            Scenario::Write => Arc::new(move |c: usize, seq: u64| vec![kind.write(c, seq)]),
            Scenario::ClaimCycle => Arc::new(move |c: usize, _seq: u64| {
                let alloc = format!("{:08x}-0000-4000-8000-{c:012x}", c);
                vec![claim(c, &alloc, false), claim(c, &alloc, true)]
            }),
            Scenario::ReadLinearizable => Arc::new(move |c: usize, _| vec![kind.read(c, false)]),
            Scenario::ReadStale => Arc::new(move |c: usize, _| vec![kind.read(c, true)]),
            Scenario::ListPage => Arc::new(move |c: usize, seq: u64| {
                // Pages start all over the table, the same sequence for both systems.
                let spread =
                    (c as u64 * 7919 + seq * 104_729) % listed.saturating_sub(100).max(1) as u64;
                vec![kind.page(spread as usize)]
            }),
        }
    }
}

/// A scenario at a concurrency: what the rounds run.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Case {
    pub scenario: Scenario,
    pub clients: usize,
}

/// One case's figures, every round, per system.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub case: Case,
    pub stowage: Vec<Figures>,
    pub etcd: Vec<Figures>,
}

/// Runs every case on every system, `rounds` times, alternating which system goes first.
pub async fn run(
    cases: &[Case],
    systems: &[&Target],
    rounds: usize,
    duration: Duration,
    listed: usize,
) -> Vec<Row> {
    let mut rows: Vec<Row> = cases
        .iter()
        .map(|c| Row {
            case: *c,
            stowage: Vec::new(),
            etcd: Vec::new(),
        })
        .collect();
    for round in 0..rounds {
        for row in rows.iter_mut() {
            let mut order: Vec<&Target> = systems.to_vec();
            if round % 2 == 1 {
                order.reverse();
            }
            for target in order {
                let Case { scenario, clients } = row.case;
                if !scenario.runs_on(target.kind) {
                    continue;
                }
                let shape = Shape {
                    clients,
                    duration,
                    targets: target.addrs.clone(),
                };
                let figures = drive(scenario.script(target.kind, listed), &shape).await;
                eprintln!(
                    "round {} {:>7} {:<44} c={:<3} {:>9.0}/s p50 {:.2} ms p99 {:.2} ms{}",
                    round + 1,
                    target.kind.name(),
                    scenario.label(),
                    clients,
                    figures.per_sec,
                    figures.p50_ms,
                    figures.p99_ms,
                    figures
                        .first_error
                        .as_ref()
                        .map(|e| format!("  ({} errors, first: {e})", figures.errors))
                        .unwrap_or_default()
                );
                match target.kind {
                    Kind::Stowage => row.stowage.push(figures),
                    Kind::Etcd => row.etcd.push(figures),
                }
            }
        }
    }
    rows
}
