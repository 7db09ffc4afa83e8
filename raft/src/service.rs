//! The gRPC servers of a node: `RaftService` (peer traffic) and `ClusterService` (the typed CSI
//! API, forwarded writes, read index, node info, membership changes for operators). Both sit
//! behind the cluster secret (see `secret`); `ClusterService` is a thin adapter over the CSI
//! endpoint, so a gRPC caller meets exactly the checks an HTTP caller meets.

use crate::contact::LeaderContact;
use crate::csi::Csi;
use crate::disk::DiskGuard;
use crate::forward::Forwarder;
use crate::status::NodeStatus;
use crate::types::{NodeId, Raft, Snapshot, SnapshotMeta, TypeConfig, Vote};
use futures::StreamExt;
use openraft::errors::RaftError;
use openraft::raft::AppendEntriesRequest;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use stowage_proto::acl::Token;
use stowage_proto::api::{CsiCall, CsiError};
use stowage_proto::pb::cluster_service_server::ClusterService;
use stowage_proto::pb::raft_service_server::RaftService;
use stowage_proto::pb::{
    AddLearnerRequest, ChangeMembershipRequest, CsiReply, CsiRequest, MembershipReply,
    NodeInfoReply, NodeInfoRequest, RaftReply, RaftRequest, ReadIndexReply, ReadIndexRequest,
    RejoinRequest, RemoveMemberRequest, SnapshotChunk, WriteReply, WriteRequest,
};
use stowage_proto::{ClusterError, Command, codec};
use tonic::{Request, Response, Status, Streaming};

/// What a rejoining node says to replication it cannot accept yet.
pub(crate) const REJOINING: &str =
    "this node lost its data and is rejoining; waiting for the leader to reset replication";

pub struct RaftRpc {
    pub(crate) id: NodeId,
    pub(crate) raft: Raft,
    pub(crate) contact: Arc<LeaderContact>,
    /// False while a node that started with an empty data dir has not yet been readmitted: a
    /// leader that had replicated to this id would take the empty log for corruption and stop.
    pub(crate) admitted: Arc<AtomicBool>,
    pub(crate) disk: DiskGuard,
}

impl RaftRpc {
    /// Refuses traffic meant for another node: a caller with a stale address book must not
    /// mistake us for the peer it meant.
    fn check_target(&self, to: u64) -> Result<(), Status> {
        if to == self.id {
            Ok(())
        } else {
            Err(Status::not_found(format!(
                "this is node {}, not node {to}",
                self.id
            )))
        }
    }

    /// A node that is rejoining answers `FAILED_PRECONDITION`, not `UNAVAILABLE`: the link is
    /// fine, so the leader keeps its connection and only backs off (see `network`).
    fn check_admitted(&self) -> Result<(), Status> {
        if self.admitted.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(Status::failed_precondition(REJOINING))
        }
    }

    /// A follower whose disk is below its reserve takes no entries and no snapshot, and says so
    /// instead of failing inside RocksDB; the leader backs off and retries, and the other
    /// nodes carry on. Heartbeats, which bring nothing to store, are still answered.
    fn check_disk(&self) -> Result<(), Status> {
        self.disk.check().map_err(|full| {
            Status::resource_exhausted(format!(
                "node {}: disk full, {} MiB free, below its reserve of {} MiB",
                self.id, full.free_mib, full.reserve_mib
            ))
        })
    }

    fn decode<T: DeserializeOwned>(&self, req: Request<RaftRequest>) -> Result<T, Status> {
        let req = req.into_inner();
        self.check_target(req.to)?;
        codec::decode(&req.payload).map_err(|e| Status::invalid_argument(e.to_string()))
    }
}

fn reply<T: Serialize, E: std::fmt::Display>(
    res: Result<T, E>,
) -> Result<Response<RaftReply>, Status> {
    let encode =
        |r: Result<Vec<u8>, codec::CodecError>| r.map_err(|e| Status::internal(e.to_string()));
    Ok(Response::new(match res {
        Ok(v) => RaftReply {
            ok: encode(codec::encode(&v))?,
            err: vec![],
        },
        Err(e) => RaftReply {
            ok: vec![],
            err: encode(codec::encode(&e.to_string()))?,
        },
    }))
}

#[tonic::async_trait]
impl RaftService for RaftRpc {
    async fn append_entries(
        &self,
        req: Request<RaftRequest>,
    ) -> Result<Response<RaftReply>, Status> {
        self.check_admitted()?;
        let rpc: AppendEntriesRequest<TypeConfig> = self.decode(req)?;
        if !rpc.entries.is_empty() {
            self.check_disk()?;
        }
        let res = self.raft.append_entries(rpc).await;
        if res.is_ok() {
            self.contact.touch();
        }
        reply(res)
    }

    async fn vote(&self, req: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let rpc = self.decode(req)?;
        reply(self.raft.vote(rpc).await)
    }

    async fn pre_vote(&self, req: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let rpc = self.decode(req)?;
        reply(self.raft.pre_vote(rpc).await)
    }

    async fn install_snapshot(
        &self,
        req: Request<Streaming<SnapshotChunk>>,
    ) -> Result<Response<RaftReply>, Status> {
        self.check_admitted()?;
        self.check_disk()?;
        let mut stream = req.into_inner();
        let first = stream
            .next()
            .await
            .ok_or_else(|| Status::invalid_argument("empty snapshot stream"))??;
        self.check_target(first.to)?;
        let bad = |e: codec::CodecError| Status::invalid_argument(e.to_string());
        let vote: Vote = codec::decode(&first.vote).map_err(bad)?;
        let meta: SnapshotMeta = codec::decode(&first.meta).map_err(bad)?;
        let mut data = first.data;
        while let Some(chunk) = stream.next().await {
            data.extend_from_slice(&chunk?.data);
        }
        let snapshot = Snapshot {
            meta,
            snapshot: data,
        };
        let res = self.raft.install_full_snapshot(vote, snapshot).await;
        if res.is_ok() {
            self.contact.touch();
        }
        reply(res)
    }
}

pub struct ClusterRpc {
    pub(crate) forwarder: Forwarder,
    pub(crate) status: NodeStatus,
    pub(crate) csi: Csi<Forwarder>,
}

fn encode_error(e: impl Into<CsiError>) -> Vec<u8> {
    // The error is plain data; encoding it cannot fail, but a failure must not panic either.
    codec::encode(&e.into()).unwrap_or_default()
}

/// One membership entry as reported by `NodeInfo`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Member {
    pub id: NodeId,
    pub rpc_addr: String,
    pub http_addr: String,
    pub voter: bool,
}

#[tonic::async_trait]
impl ClusterService for ClusterRpc {
    async fn csi(&self, req: Request<CsiRequest>) -> Result<Response<CsiReply>, Status> {
        let req = req.into_inner();
        let call: CsiCall =
            codec::decode(&req.call).map_err(|e| Status::invalid_argument(e.to_string()))?;
        // Boxed: the dispatch over every operation is a deep future type to nest in tonic's own.
        let token = Token::secret(req.token);
        let answer = Box::pin(call.dispatch(&self.csi, &token)).await;
        let answer = codec::encode(&answer).map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(CsiReply { answer }))
    }

    async fn write(&self, req: Request<WriteRequest>) -> Result<Response<WriteReply>, Status> {
        let req = req.into_inner();
        let command: Command =
            codec::decode(&req.command).map_err(|e| Status::invalid_argument(e.to_string()))?;
        // Held to the rules every request meets, whoever built it: a refused command is never
        // proposed, so it never reaches the log.
        if let Err(refused) = command.check() {
            tracing::warn!(
                command = command.name(),
                "refused a command over gRPC: {refused}"
            );
            return Ok(Response::new(WriteReply {
                response: vec![],
                error: encode_error(refused),
            }));
        }
        let token = Token::secret(req.token);
        let outcome = if req.forwarded {
            self.forwarder
                .write_here_once(command, &token, req.acl)
                .await
        } else {
            self.forwarder.write(command, &token).await
        };
        let reply = match outcome {
            Ok(resp) => WriteReply {
                response: codec::encode(&resp).map_err(|e| Status::internal(e.to_string()))?,
                error: vec![],
            },
            Err(e) => WriteReply {
                response: vec![],
                error: encode_error(e),
            },
        };
        Ok(Response::new(reply))
    }

    async fn read_index(
        &self,
        _req: Request<ReadIndexRequest>,
    ) -> Result<Response<ReadIndexReply>, Status> {
        Ok(Response::new(
            match self.forwarder.read_index_batched().await {
                Ok(index) => ReadIndexReply {
                    index,
                    error: vec![],
                },
                Err(e) => ReadIndexReply {
                    index: 0,
                    error: encode_error(e),
                },
            },
        ))
    }

    async fn node_info(
        &self,
        _req: Request<NodeInfoRequest>,
    ) -> Result<Response<NodeInfoReply>, Status> {
        Ok(Response::new(self.status.info().await))
    }

    async fn add_learner(
        &self,
        req: Request<AddLearnerRequest>,
    ) -> Result<Response<MembershipReply>, Status> {
        let req = req.into_inner();
        let node = openraft::NodeInfo {
            raft_addr: req.rpc_addr,
            data: req.http_addr,
        };
        let res = self.forwarder.raft.add_learner(req.id, node, true).await;
        Ok(Response::new(membership_reply(res)))
    }

    async fn rejoin(
        &self,
        req: Request<RejoinRequest>,
    ) -> Result<Response<MembershipReply>, Status> {
        let id = req.into_inner().id;
        let raft = &self.forwarder.raft;
        if !raft.is_leader() {
            return Ok(Response::new(MembershipReply {
                index: 0,
                error: encode_error(ClusterError::NotLeader),
            }));
        }
        let reply = match raft.trigger().allow_next_revert(&id, true).await {
            Ok(Ok(())) => {
                tracing::info!(
                    "node {id} lost its data; replication to it will restart from scratch"
                );
                MembershipReply {
                    index: 0,
                    error: vec![],
                }
            }
            Ok(Err(e)) => MembershipReply {
                index: 0,
                error: encode_error(ClusterError::Internal(e.to_string())),
            },
            Err(fatal) => MembershipReply {
                index: 0,
                error: encode_error(ClusterError::Stopped(fatal.to_string())),
            },
        };
        Ok(Response::new(reply))
    }

    async fn change_membership(
        &self,
        req: Request<ChangeMembershipRequest>,
    ) -> Result<Response<MembershipReply>, Status> {
        let req = req.into_inner();
        let voters: BTreeSet<NodeId> = req.voters.into_iter().collect();
        let res = self
            .forwarder
            .raft
            .change_membership(voters, req.retain)
            .await;
        Ok(Response::new(membership_reply(res)))
    }

    async fn remove_member(
        &self,
        req: Request<RemoveMemberRequest>,
    ) -> Result<Response<MembershipReply>, Status> {
        let id = req.into_inner().id;
        let reply = match self.forwarder.remove_member_here_once(id).await {
            Ok(index) => MembershipReply {
                index,
                error: vec![],
            },
            Err(e) => MembershipReply {
                index: 0,
                error: encode_error(e),
            },
        };
        Ok(Response::new(reply))
    }
}

fn membership_reply(
    res: Result<
        openraft::raft::ClientWriteResponse<TypeConfig>,
        RaftError<TypeConfig, openraft::errors::ClientWriteError<TypeConfig>>,
    >,
) -> MembershipReply {
    match res {
        Ok(r) => MembershipReply {
            index: r.log_id.index(),
            error: vec![],
        },
        Err(RaftError::APIError(openraft::errors::ClientWriteError::ForwardToLeader(_))) => {
            MembershipReply {
                index: 0,
                error: encode_error(ClusterError::NotLeader),
            }
        }
        Err(e) => MembershipReply {
            index: 0,
            error: encode_error(ClusterError::Internal(e.to_string())),
        },
    }
}

/// Encodes the membership for `NodeInfoReply.members`.
pub(crate) fn encode_members(members: &BTreeMap<NodeId, Member>) -> Vec<u8> {
    codec::encode(&members.values().collect::<Vec<_>>()).unwrap_or_default()
}
