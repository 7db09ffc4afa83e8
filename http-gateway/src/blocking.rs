//! Nomad's blocking queries: with `index=N`, answer once the watched data has changed after N,
//! or when `wait` (plus up to wait/16 of jitter) runs out, with whatever is current then.

use crate::backend::{Backend, Watch};
use crate::error::ApiError;
use crate::params::ReadOptions;
use rand::Rng;
use stowage_proto::{Query, QueryResult};
use tokio::time::Instant;

/// Runs `query`, blocking as `opts` asks. `changed_at` gives the index the caller's watch cares
/// about from a result (for one volume, its ModifyIndex; for lists, the table index).
pub async fn read<B: Backend>(
    b: &B,
    opts: &ReadOptions,
    query: Query,
    watch: Watch,
    changed_at: impl Fn(&QueryResult, u64) -> u64,
) -> Result<(QueryResult, u64), ApiError> {
    let mut result = b.read(query.clone(), opts.stale).await?;
    if opts.index == 0 {
        return Ok(result);
    }
    let jitter_ms = rand::rng().random_range(0..=(opts.wait.as_millis() as u64 / 16).max(1) - 1);
    let deadline = Instant::now() + opts.wait + std::time::Duration::from_millis(jitter_ms);
    let mut seen = changed_at(&result.0, result.1);
    while seen <= opts.index && Instant::now() < deadline {
        let woke = b.wait(watch.clone(), opts.index, deadline).await;
        if woke <= opts.index {
            break;
        }
        // The first read already went through the leader when it had to; this node has applied
        // everything since, so its own state is at least as fresh.
        result = b.read(query.clone(), true).await?;
        seen = changed_at(&result.0, result.1).max(woke);
    }
    Ok(result)
}
