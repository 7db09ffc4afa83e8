//! openraft's network over tonic: vote, pre-vote, append entries and chunked full snapshots, with
//! connection failures reported as `Unreachable` so openraft backs off.

use crate::peers::{Peers, RaftClient};
use crate::types::{NodeId, Snapshot, SnapshotData, TypeConfig, Vote};
use futures::future::BoxFuture;
use openraft::RPCTypes;
use openraft::errors::{
    NetworkError, RPCError, ReplicationClosed, StreamingError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::time::Duration;
use stowage_proto::codec;
use stowage_proto::pb::{RaftReply, RaftRequest, SnapshotChunk};

const SNAPSHOT_CHUNK: usize = 1024 * 1024;

/// Creates one client per target; all of them share the per-address channels in `Peers`.
#[derive(Clone, Debug)]
pub struct Network {
    pub(crate) id: NodeId,
    pub(crate) peers: Peers,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &openraft::NodeInfo) -> Self::Network {
        PeerClient {
            from: self.id,
            target,
            addr: node.raft_addr.clone(),
            peers: self.peers.clone(),
        }
    }
}

pub struct PeerClient {
    from: NodeId,
    target: NodeId,
    addr: String,
    peers: Peers,
}

#[derive(Clone, Copy)]
enum Call {
    Append,
    Vote,
    PreVote,
}

type Rpc<T> = Result<T, RPCError<TypeConfig>>;

impl PeerClient {
    fn client(&self) -> Rpc<RaftClient> {
        self.peers
            .raft_client(&self.addr)
            .map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))
    }

    /// What a failed call tells openraft. A peer that cannot be reached is `Unreachable`, so
    /// openraft backs off, and its channel is dropped so the next call dials afresh. A peer that
    /// is rejoining (`FAILED_PRECONDITION`) or whose disk is full (`RESOURCE_EXHAUSTED`)
    /// answered over a working link: openraft backs off the same way, but the channel is kept.
    fn status_error(&self, status: tonic::Status) -> RPCError<TypeConfig> {
        match status.code() {
            tonic::Code::Unavailable => {
                self.peers.invalidate(&self.addr);
                RPCError::Unreachable(Unreachable::new(&status))
            }
            tonic::Code::FailedPrecondition | tonic::Code::ResourceExhausted => {
                RPCError::Unreachable(Unreachable::new(&status))
            }
            _ => RPCError::Network(NetworkError::new(&status)),
        }
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        call: Call,
        req: &Req,
        ttl: Duration,
    ) -> Rpc<Resp> {
        let payload = codec::encode(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let request = RaftRequest {
            to: self.target,
            payload,
        };
        let mut client = self.client()?;
        let fut: BoxFuture<'_, Result<tonic::Response<RaftReply>, tonic::Status>> = match call {
            Call::Append => Box::pin(async move { client.append_entries(request).await }),
            Call::Vote => Box::pin(async move { client.vote(request).await }),
            Call::PreVote => Box::pin(async move { client.pre_vote(request).await }),
        };
        let action = match call {
            Call::Append => RPCTypes::AppendEntries,
            Call::Vote | Call::PreVote => RPCTypes::Vote,
        };
        let reply = tokio::time::timeout(ttl, fut)
            .await
            .map_err(|_| {
                RPCError::Timeout(Timeout {
                    action,
                    id: self.from,
                    target: self.target,
                    timeout: ttl,
                })
            })?
            .map_err(|s| self.status_error(s))?
            .into_inner();
        decode_reply(reply)
    }
}

/// A reply carries either the encoded response or the encoded remote failure. A remote failure
/// means the peer's Raft core has stopped, which to us is the same as the peer being gone.
fn decode_reply<Resp: DeserializeOwned>(reply: RaftReply) -> Rpc<Resp> {
    if !reply.err.is_empty() {
        let msg = codec::decode::<String>(&reply.err).unwrap_or_else(|e| e.to_string());
        return Err(RPCError::Unreachable(Unreachable::from_string(format!(
            "peer raft failed: {msg}"
        ))));
    }
    codec::decode(&reply.ok).map_err(|e| RPCError::Network(NetworkError::new(&e)))
}

/// The least time an append is given before it counts as lost.
const APPEND_TIMEOUT_FLOOR: std::time::Duration = std::time::Duration::from_secs(2);

impl RaftNetworkV2<TypeConfig> for PeerClient {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Rpc<AppendEntriesResponse<TypeConfig>> {
        // openraft gives an append the heartbeat interval (40 ms). An append of large entries
        // to a follower that must fsync them on a busy machine can take longer; timing it out
        // only sends the same entries again, and again, so replication never catches up.
        // Heartbeats travel on their own, so waiting longer for an append delays no election.
        self.call(
            Call::Append,
            &rpc,
            option.soft_ttl().max(APPEND_TIMEOUT_FLOOR),
        )
        .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Rpc<VoteResponse<TypeConfig>> {
        self.call(Call::Vote, &rpc, option.soft_ttl()).await
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Rpc<VoteResponse<TypeConfig>> {
        self.call(Call::PreVote, &rpc, option.soft_ttl()).await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let net = |e: &dyn std::error::Error| {
            StreamingError::Network(NetworkError::from_string(e.to_string()))
        };
        let vote = codec::encode(&vote).map_err(|e| net(&e))?;
        let meta = codec::encode(&snapshot.meta).map_err(|e| net(&e))?;
        let data = snapshot.snapshot;
        let mut chunks: Vec<SnapshotChunk> = data
            .chunks(SNAPSHOT_CHUNK)
            .map(|c| SnapshotChunk {
                to: self.target,
                vote: vec![],
                meta: vec![],
                data: c.to_vec(),
            })
            .collect();
        if chunks.is_empty() {
            chunks.push(SnapshotChunk {
                to: self.target,
                ..Default::default()
            });
        }
        chunks[0].vote = vote;
        chunks[0].meta = meta;
        let mut client = self.client().map_err(StreamingError::from)?;
        let send = client.install_snapshot(futures::stream::iter(chunks));
        let reply = tokio::select! {
            closed = cancel => return Err(StreamingError::Closed(closed)),
            r = tokio::time::timeout(option.hard_ttl(), send) => r,
        };
        let reply = reply
            .map_err(|_| {
                StreamingError::Timeout(Timeout {
                    action: RPCTypes::InstallSnapshot,
                    id: self.from,
                    target: self.target,
                    timeout: option.hard_ttl(),
                })
            })?
            .map_err(|s| StreamingError::from(self.status_error(s)))?
            .into_inner();
        decode_reply(reply).map_err(StreamingError::from)
    }
}
