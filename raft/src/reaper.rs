//! The pass that removes expired ACL tokens. An expired token is refused the moment it expires;
//! this only keeps the table from growing. It runs on every node and acts only while the node
//! leads, proposing the removal as the node itself.

use crate::csi::now_ns;
use crate::forward::Forwarder;
use std::time::Duration;
use stowage_proto::Command;

/// The most tokens one pass removes, so that one log entry stays small; the rest wait a pass.
const MAX_PER_PASS: usize = 4096;

/// Every `every`, while this node leads, deletes the tokens that have expired.
pub(crate) async fn reap_expired_tokens(forwarder: Forwarder, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !forwarder.raft.is_leader() {
            continue;
        }
        let now = now_ns();
        let expired: Vec<String> = forwarder.reader().read(|s| {
            s.acl
                .tokens()
                .filter(|t| t.expired(now))
                .take(MAX_PER_PASS)
                .map(|t| t.accessor_id.clone())
                .collect()
        });
        if expired.is_empty() {
            continue;
        }
        let count = expired.len();
        let command = Command::DeleteAclTokens {
            accessor_ids: expired,
        };
        match forwarder.write_as_node(command).await {
            Ok(_) => tracing::info!(count, "removed expired ACL tokens"),
            Err(e) => tracing::warn!("removing expired ACL tokens: {e}"),
        }
    }
}
