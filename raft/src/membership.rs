//! Reading and changing who is in the cluster, from any node: a removal is carried to the leader,
//! which decides with its own view of the membership, so a stale view on the receiving node
//! cannot put back a member that another removal took out.

use crate::forward::{Forwarder, Miss, Route, remote_error};
use crate::types::NodeId;
use openraft::ChangeMembers;
use openraft::async_runtime::watch::WatchReceiver;
use openraft::errors::{ClientWriteError, RaftError};
use std::collections::BTreeSet;
use stowage_proto::ClusterError;
use stowage_proto::api::{CsiError, RaftConfiguration, RaftServer, not_a_member, only_voter};
use stowage_proto::pb::RemoveMemberRequest;
use tokio::time::Instant;

impl Forwarder {
    /// The configuration this node holds; after `linearize`, every change acknowledged before
    /// the call is in it.
    pub fn configuration(&self) -> RaftConfiguration {
        let m = self.raft.metrics().borrow_watched().clone();
        let stored = &m.membership_config;
        let membership = stored.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let servers = membership
            .nodes()
            .map(|(id, node)| RaftServer {
                id: *id,
                rpc_addr: node.raft_addr.clone(),
                http_addr: node.data.clone(),
                voter: voters.contains(id),
                leader: m.current_leader == Some(*id),
            })
            .collect();
        RaftConfiguration {
            index: stored.log_id().as_ref().map_or(0, |l| l.index()),
            servers,
        }
    }

    /// Takes member `id` (a voter or a learner) out of the cluster through the leader, holding
    /// while there is none. Returns the log index of the change. The leader refuses to remove
    /// the last voter, and a removal whose commit was not seen is reported as of unknown outcome.
    pub async fn remove_member(&self, id: NodeId) -> Result<u64, CsiError> {
        let deadline = Instant::now() + self.timeouts.leader_hold;
        loop {
            let attempt = match self.route() {
                Route::Local => self.remove_here(id).await,
                Route::Remote { addr, .. } => self.remove_at(&addr, id).await,
                Route::NoLeader => Err(Miss::Retry),
            };
            match attempt {
                Ok(index) => return Ok(index),
                Err(Miss::Final(e)) => return Err(e),
                Err(Miss::Retry) if Instant::now() >= deadline => {
                    return Err(ClusterError::NoLeader.into());
                }
                Err(Miss::Retry) => self.settle(deadline).await,
            }
        }
    }

    /// What a leader does for `RemoveMember`, from whichever node asked; "not leader" when it
    /// no longer leads.
    pub async fn remove_member_here_once(&self, id: NodeId) -> Result<u64, CsiError> {
        match self.remove_here(id).await {
            Ok(index) => Ok(index),
            Err(Miss::Retry) => Err(ClusterError::NotLeader.into()),
            Err(Miss::Final(e)) => Err(e),
        }
    }

    async fn remove_here(&self, id: NodeId) -> Result<u64, Miss> {
        let m = self.raft.metrics().borrow_watched().clone();
        if m.current_leader != Some(self.id) {
            return Err(Miss::Retry);
        }
        let membership = m.membership_config.membership();
        if membership.get_node(&id).is_none() {
            return Err(Miss::Final(not_a_member(id)));
        }
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let change = if voters.contains(&id) {
            if voters.len() == 1 {
                return Err(Miss::Final(only_voter(id)));
            }
            ChangeMembers::RemoveVoters(BTreeSet::from([id]))
        } else {
            ChangeMembers::RemoveNodes(BTreeSet::from([id]))
        };
        let call = self.raft.change_membership(change, false);
        match tokio::time::timeout(self.timeouts.commit, call).await {
            Err(_) => Err(Miss::from(ClusterError::OutcomeUnknown(
                "the membership change was not committed in time".into(),
            ))),
            Ok(Ok(resp)) => Ok(resp.log_id.index()),
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_)))) => Err(Miss::Retry),
            Ok(Err(RaftError::APIError(ClientWriteError::LogEntryDiscarded(_)))) => {
                Err(Miss::from(ClusterError::OutcomeUnknown(
                    "leadership changed before the membership change committed".into(),
                )))
            }
            // A change still in progress, or a precondition: nothing was proposed.
            Ok(Err(RaftError::APIError(e))) => Err(Miss::Final(CsiError::invalid(e.to_string()))),
            Ok(Err(RaftError::Fatal(f))) => Err(Miss::from(ClusterError::OutcomeUnknown(format!(
                "this node's raft stopped: {f}"
            )))),
        }
    }

    async fn remove_at(&self, addr: &str, id: NodeId) -> Result<u64, Miss> {
        let mut client = self.cluster_client(addr)?;
        let call = client.remove_member(RemoveMemberRequest { id });
        let reply = match tokio::time::timeout(self.timeouts.commit, call).await {
            Err(_) => {
                return Err(Miss::from(ClusterError::OutcomeUnknown(
                    "the leader did not answer in time".into(),
                )));
            }
            Ok(Err(status)) => return Err(self.transport_miss(addr, &status)),
            Ok(Ok(r)) => r.into_inner(),
        };
        if !reply.error.is_empty() {
            return Err(remote_error(&reply.error));
        }
        Ok(reply.index)
    }
}
