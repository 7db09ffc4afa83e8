//! What a node says about itself: its Raft view, its leader and when it last heard from it,
//! its health, and the `NodeInfo` it answers peers and operators with.

use crate::contact::LeaderContact;
use crate::service::{Member, encode_members};
use crate::types::{NodeId, Raft, TypeConfig};
use openraft::async_runtime::watch::WatchReceiver;
use openraft::{Instant as _, RaftMetrics, ServerState};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use stowage_proto::pb::NodeInfoReply;

/// Cheap, cloneable view of a node's Raft status for status endpoints and `NodeInfo`.
#[derive(Clone)]
pub struct NodeStatus {
    pub(crate) id: NodeId,
    pub(crate) raft: Raft,
    pub(crate) reader: crate::store::StateReader,
    pub(crate) rpc_addr: String,
    pub(crate) http_addr: String,
    pub(crate) contact: Arc<LeaderContact>,
    /// Without contact for this long, a follower no longer trusts the leader it last knew.
    pub(crate) contact_timeout: Duration,
}

/// What `/v1/agent/health` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Health {
    pub healthy: bool,
    pub reason: String,
}

impl NodeStatus {
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// A snapshot of openraft's view of this node.
    pub fn metrics(&self) -> RaftMetrics<TypeConfig> {
        self.raft.metrics().borrow_watched().clone()
    }

    pub fn members(&self) -> BTreeMap<NodeId, Member> {
        let m = self.raft.metrics().borrow_watched().clone();
        let membership = m.membership_config.membership();
        let voters: std::collections::BTreeSet<NodeId> = membership.voter_ids().collect();
        membership
            .nodes()
            .map(|(id, n)| {
                (
                    *id,
                    Member {
                        id: *id,
                        rpc_addr: n.raft_addr.clone(),
                        http_addr: n.data.clone(),
                        voter: voters.contains(id),
                    },
                )
            })
            .collect()
    }

    /// The leader's gRPC address, if a leader is known.
    pub fn leader_rpc_addr(&self) -> Option<String> {
        let leader = self.raft.metrics().borrow_watched().current_leader?;
        self.members().get(&leader).map(|m| m.rpc_addr.clone())
    }

    /// Time since this node last heard from its leader (a leader: from a quorum of followers).
    /// A leader that no quorum has answered yet has no contact: one handed leadership just
    /// before the others stopped would otherwise call itself healthy with no quorum at all.
    fn contact_age(&self) -> Option<Duration> {
        let m = self.raft.metrics().borrow_watched().clone();
        if m.state == ServerState::Leader {
            m.last_quorum_acked.map(|t| t.elapsed())
        } else {
            self.contact.since()
        }
    }

    /// Milliseconds since the last leader contact, for `X-Nomad-LastContact`; 0 on the leader.
    pub fn last_contact_ms(&self) -> u64 {
        if self.raft.metrics().borrow_watched().state == ServerState::Leader {
            return 0;
        }
        self.contact
            .since()
            .map_or(u64::MAX, |d| d.as_millis() as u64)
    }

    /// A leader is known and was heard from recently.
    pub fn known_leader(&self) -> bool {
        self.raft
            .metrics()
            .borrow_watched()
            .current_leader
            .is_some()
            && self
                .contact_age()
                .is_some_and(|age| age < self.contact_timeout)
    }

    pub fn health(&self) -> Health {
        let m = self.raft.metrics().borrow_watched().clone();
        let unhealthy = |reason: String| Health {
            healthy: false,
            reason,
        };
        if let Err(e) = &m.running_state {
            return unhealthy(format!("raft core stopped: {e}"));
        }
        if m.current_leader.is_none() {
            return unhealthy("no cluster leader".into());
        }
        let leader = m.current_leader.map_or_else(String::new, |id| {
            let addr = self.members().get(&id).map(|n| n.rpc_addr.clone());
            format!(
                "node {id} ({})",
                addr.unwrap_or_else(|| "address unknown".into())
            )
        });
        if !self.known_leader() {
            return unhealthy(format!(
                "no contact with the leader, {leader}, for over {} ms",
                self.contact_timeout.as_millis()
            ));
        }
        let applied = m.last_applied.as_ref().map_or(0, |l| l.index());
        let committed = m.local_committed.as_ref().map_or(0, |l| l.index());
        if applied < committed {
            return unhealthy(format!(
                "catching up: applied {applied} of {committed} committed entries"
            ));
        }
        Health {
            healthy: true,
            reason: format!("leader {leader}, applied {applied}"),
        }
    }

    pub async fn info(&self) -> NodeInfoReply {
        let m = self.raft.metrics().borrow_watched().clone();
        let initialized = self.raft.is_initialized().await.unwrap_or(false);
        let (digest_index, state_digest) = self.reader.digest_off_runtime().await;
        NodeInfoReply {
            id: self.id,
            rpc_addr: self.rpc_addr.clone(),
            http_addr: self.http_addr.clone(),
            initialized,
            leader_id: m.current_leader.unwrap_or(0),
            has_leader: m.current_leader.is_some(),
            leader_rpc_addr: self.leader_rpc_addr().unwrap_or_default(),
            term: m.current_term,
            last_applied: m.last_applied.as_ref().map_or(0, |l| l.index()),
            committed: m.local_committed.as_ref().map_or(0, |l| l.index()),
            state: format!("{:?}", m.state),
            members: encode_members(&self.members()),
            state_digest,
            digest_index,
            claim_limit_breaches: self.reader.claim_limit_breaches(),
        }
    }
}
