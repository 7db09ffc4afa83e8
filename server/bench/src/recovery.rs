//! Recovery and memory with the loaded table: how soon a restarted follower serves again, how
//! soon a wiped one is back (by snapshot), and each member's resident memory.

use crate::procs::wait_until;
use crate::target::Target;
use serde::Serialize;
use std::time::Duration;

#[derive(Clone, Debug, Serialize)]
pub struct Recovery {
    /// From starting a stopped follower to its serving every write acknowledged before.
    pub restart_ms: f64,
    /// The same for a follower whose data dir was deleted while it was down.
    pub wiped_ms: f64,
    /// Which member was wiped (0-based): the one whose heap is freshest, where the watchers'
    /// memory is measured.
    #[serde(skip)]
    pub wiped: usize,
}

/// Each member's RSS in MiB, in member order; absent where it could not be read.
pub fn memory(target: &Target) -> Vec<Option<f64>> {
    let Some(group) = target.group.as_ref() else {
        return Vec::new();
    };
    (0..group.members.len())
        .map(|i| group.rss(i).map(|b| b as f64 / (1024.0 * 1024.0)))
        .collect()
}

pub async fn run(target: &mut Target) -> anyhow::Result<Recovery> {
    let (restart_ms, _) = back_after(target, false).await?;
    let (wiped_ms, wiped) = back_after(target, true).await?;
    Ok(Recovery {
        restart_ms,
        wiped_ms,
        wiped,
    })
}

/// Stops a follower (wiping it if asked), writes while it is down, starts it, and times until it
/// serves that write from its own copy. Returns the time and which member it was.
async fn back_after(target: &mut Target, wipe: bool) -> anyhow::Result<(f64, usize)> {
    let leader = target
        .leader()
        .await
        .ok_or_else(|| anyhow::anyhow!("no leader before the recovery test"))?;
    let follower = (leader + 1) % 3;
    let group = target.own_group("recovery")?;
    group.stop(follower, Duration::from_secs(10)).await;
    if wipe {
        group.wipe(follower)?;
    }
    let index = target.write_index(0).await?;
    target.own_group("recovery")?.start(follower)?;
    let t = &*target;
    let took = wait_until(
        "the follower serving again",
        Duration::from_secs(120),
        || t.serves(follower, index),
    )
    .await?;
    Ok((took.as_secs_f64() * 1000.0, follower))
}
