//! When this node last heard from a leader. openraft reports quorum contact only on leaders, and a
//! follower cut off under Pre-Vote keeps naming its old leader, so followers stamp every append
//! or snapshot they receive here.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Default)]
pub struct LeaderContact {
    last: Mutex<Option<Instant>>,
}

impl LeaderContact {
    pub fn touch(&self) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    /// Time since the last contact, or `None` if there was none since start.
    pub fn since(&self) -> Option<Duration> {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|t| t.elapsed())
    }
}
