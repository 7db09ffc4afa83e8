//! The seeded fault schedule: one fault at a time, injected, held, then healed. The same seed
//! replays the same schedule (which node is hit depends on who leads at that moment).

use super::network::Network;
use super::nodes::Nodes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    KillLeader,
    KillFollower,
    PauseLeader,
    PartitionLeader,
    IsolateFollower,
    OneWayCut,
    DelayLinks,
    WipeFollower,
    KillAll,
}

impl FaultKind {
    pub const ALL: [FaultKind; 9] = [
        FaultKind::KillLeader,
        FaultKind::KillFollower,
        FaultKind::PauseLeader,
        FaultKind::PartitionLeader,
        FaultKind::IsolateFollower,
        FaultKind::OneWayCut,
        FaultKind::DelayLinks,
        FaultKind::WipeFollower,
        FaultKind::KillAll,
    ];

    /// Whether the fault takes the current leader out of service.
    pub fn hits_leader(self) -> bool {
        matches!(
            self,
            FaultKind::KillLeader
                | FaultKind::PauseLeader
                | FaultKind::PartitionLeader
                | FaultKind::KillAll
        )
    }
}

/// How densely faults follow one another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pace {
    /// A fault every few seconds, held for seconds: the cluster recovers between faults.
    #[default]
    Steady,
    /// Kills in quick succession with short holds, so a node is often killed again while it is
    /// still replaying its log, catching up or electing: recovery itself is under test.
    CrashLoop,
}

/// One planned fault: wait `gap`, inject, hold for `hold`, heal.
#[derive(Clone, Debug, Serialize)]
pub struct Planned {
    pub kind: FaultKind,
    pub gap: Duration,
    pub hold: Duration,
    /// Chooses among candidate nodes, so a replay picks the same one.
    pub pick: u64,
}

pub fn plan(seed: u64, kinds: &[FaultKind], pace: Pace, count: usize) -> Vec<Planned> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let kind = kinds[rng.random_range(0..kinds.len())];
            // The hold is drawn before the gap, as it always was, so a seed replays the
            // schedules of earlier runs.
            let hold_ms = match (pace, kind) {
                (Pace::CrashLoop, _) => rng.random_range(0..800),
                (Pace::Steady, FaultKind::PauseLeader) => rng.random_range(1_000..10_000),
                (Pace::Steady, _) => rng.random_range(1_000..4_000),
            };
            let gap_ms = match pace {
                Pace::CrashLoop => rng.random_range(200..1_500),
                Pace::Steady => rng.random_range(1_500..4_000),
            };
            Planned {
                kind,
                gap: Duration::from_millis(gap_ms),
                hold: Duration::from_millis(hold_ms),
                pick: rng.random(),
            }
        })
        .collect()
}

/// What one injected fault did, for the report.
#[derive(Clone, Debug, Serialize)]
pub struct Injected {
    pub kind: FaultKind,
    pub nodes: Vec<u64>,
    /// Nanoseconds since the run started.
    pub injected_at: u64,
    pub healed_at: u64,
    pub leader_before: Option<u64>,
}

/// Injects `f` against a cluster whose leader is `leader`; returns the nodes it touched, none if
/// the fault could not be made.
pub async fn inject<N: Nodes, W: Network>(
    f: &Planned,
    leader: Option<u64>,
    ids: &[u64],
    net: &W,
    nodes: &mut N,
) -> Vec<u64> {
    let followers: Vec<u64> = ids.iter().copied().filter(|i| Some(*i) != leader).collect();
    let pick = |from: &[u64]| {
        from.get((f.pick % from.len().max(1) as u64) as usize)
            .copied()
    };
    let leader_or_any = leader.or_else(|| pick(ids));
    match f.kind {
        FaultKind::KillLeader | FaultKind::KillFollower | FaultKind::WipeFollower => {
            let victim = if f.kind == FaultKind::KillLeader {
                leader_or_any
            } else {
                pick(&followers)
            };
            let Some(v) = victim else { return vec![] };
            nodes.kill(v).await;
            if f.kind == FaultKind::WipeFollower {
                nodes.wipe(v).await;
            }
            vec![v]
        }
        FaultKind::PauseLeader => match leader_or_any {
            Some(v) if nodes.pause(v).await => vec![v],
            // Where a node cannot be frozen, silence its links instead.
            Some(v) if net.silence(v).await => vec![v],
            _ => vec![],
        },
        FaultKind::PartitionLeader => match leader_or_any {
            Some(v) if net.cut_off(v).await => vec![v],
            _ => vec![],
        },
        FaultKind::IsolateFollower => match pick(&followers) {
            Some(v) if net.cut_off(v).await => vec![v],
            _ => vec![],
        },
        FaultKind::OneWayCut => {
            // The leader can no longer reach one follower, which can still reach the leader.
            match (leader_or_any, pick(&followers)) {
                (Some(l), Some(v)) if net.cut_one_way(l, v).await => vec![l, v],
                _ => vec![],
            }
        }
        FaultKind::DelayLinks => {
            let d = Duration::from_millis(20 + f.pick % 200);
            if net.delay_all(d).await {
                ids.to_vec()
            } else {
                vec![]
            }
        }
        FaultKind::KillAll => {
            for &v in ids {
                nodes.kill(v).await;
            }
            ids.to_vec()
        }
    }
}

/// Undoes every fault: links healed, frozen nodes resumed, stopped nodes started.
pub async fn heal<N: Nodes, W: Network>(ids: &[u64], net: &W, nodes: &mut N) -> anyhow::Result<()> {
    net.heal().await;
    for &id in ids {
        if nodes.running(id) {
            nodes.resume(id).await;
        } else {
            nodes.start(id).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_plans_the_same_schedule() {
        let a = plan(42, &FaultKind::ALL, Pace::Steady, 20);
        let b = plan(42, &FaultKind::ALL, Pace::Steady, 20);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert_ne!(
            format!("{a:?}"),
            format!("{:?}", plan(43, &FaultKind::ALL, Pace::Steady, 20))
        );
    }
}
