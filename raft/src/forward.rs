//! The only place that knows about leaders: a write or a linearizable read from any node is
//! carried out by the leader, locally or over gRPC, holding briefly while there is none.
//!
//! Retries happen only when the request certainly did not take effect (the leader said "not
//! leader", or the connection could not be made). Anything sent whose fate is unknown is
//! reported as `OutcomeUnknown`, never retried and never called failed.

use crate::csi::now_ns;
use crate::disk::DiskGuard;
use crate::faults::TestFaults;
use crate::peers::{ClusterClient, Peers, never_sent};
use crate::rounds::Rounds;
use crate::store::StateReader;
use crate::types::{NodeId, Raft};
use futures::FutureExt;
use openraft::ReadPolicy;
use openraft::async_runtime::watch::WatchReceiver;
use openraft::errors::{ClientWriteError, LinearizableReadError, RaftError};
use std::time::Duration;
use stowage_proto::acl::Token;
use stowage_proto::api::CsiError;
use stowage_proto::pb::{ReadIndexRequest, WriteRequest};
use stowage_proto::{ClusterError, Command, CommandResponse, DomainError, Request, codec};
use tokio::time::Instant;

/// How long requests wait for a leader and for a commit.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// How long a request is held while the cluster has no leader before "no leader".
    pub leader_hold: Duration,
    /// How long a proposed write may take to commit before its outcome is "unknown".
    pub commit: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            leader_hold: Duration::from_secs(3),
            commit: Duration::from_secs(10),
        }
    }
}

/// Where to send a request now.
pub(crate) enum Route {
    Local,
    Remote { leader: NodeId, addr: String },
    NoLeader,
}

/// Why one attempt did not finish.
pub(crate) enum Miss {
    /// Certainly not applied; try again (possibly elsewhere) until the hold runs out.
    Retry,
    Final(CsiError),
}

impl From<ClusterError> for Miss {
    fn from(e: ClusterError) -> Self {
        Miss::Final(CsiError::Cluster(e))
    }
}

#[derive(Clone)]
pub struct Forwarder {
    pub(crate) id: NodeId,
    pub(crate) raft: Raft,
    pub(crate) reader: StateReader,
    pub(crate) peers: Peers,
    pub(crate) timeouts: Timeouts,
    pub(crate) faults: TestFaults,
    /// Whether callers of this node are held to ACLs (see `write_here`).
    pub(crate) acl_enabled: bool,
    /// Where an operator may put the index of an ACL bootstrap to redo.
    pub(crate) bootstrap_reset: Option<std::path::PathBuf>,
    /// Linearizable reads on this node that share one read-index request to the leader.
    pub(crate) read_rounds: Rounds<Result<u64, CsiError>>,
    /// Read-index requests to this node, as leader, that share one quorum confirmation.
    pub(crate) leader_rounds: Rounds<Result<u64, ClusterError>>,
    /// How many blocking queries this node holds at once.
    pub(crate) max_blocking_queries: usize,
    /// Refuses new entries while this node's disk is below its reserve.
    pub(crate) disk: DiskGuard,
}

/// On whose behalf a write is made.
#[derive(Clone, Copy)]
enum Writer<'a> {
    /// The node itself, for housekeeping: never held to ACLs.
    Node,
    /// A caller and the token it presented; `acl` when the node it reached holds callers to
    /// ACLs.
    Caller { token: &'a Token, acl: bool },
}

impl Forwarder {
    pub(crate) fn route(&self) -> Route {
        let metrics = self.raft.metrics().borrow_watched().clone();
        match metrics.current_leader {
            Some(leader) if leader == self.id => Route::Local,
            Some(leader) => match metrics.membership_config.membership().get_node(&leader) {
                Some(node) => Route::Remote {
                    leader,
                    addr: node.raft_addr.clone(),
                },
                None => Route::NoLeader,
            },
            None => Route::NoLeader,
        }
    }

    /// Waits for the next change of this node's Raft view, or a short back-off, or the deadline.
    pub(crate) async fn settle(&self, deadline: Instant) {
        let mut rx = self.raft.metrics();
        let pause = Instant::now() + Duration::from_millis(50);
        let until = pause.min(deadline);
        let _ = tokio::time::timeout_at(until.max(Instant::now()), rx.changed()).await;
    }

    /// Resolves once this node knows of a leader other than `leader`. A request in flight there
    /// will not be answered by anyone else, and an old leader that is paused or cut off may hold
    /// it until its timeout, long after the cluster has moved on.
    async fn leader_moved_from(&self, leader: NodeId) {
        let mut rx = self.raft.metrics();
        loop {
            if rx
                .borrow_watched()
                .current_leader
                .is_some_and(|now| now != leader)
            {
                return;
            }
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Applies `command` through the leader, on behalf of the caller holding `token`: the
    /// leader decides, with its own state, whether that caller may.
    pub async fn write(
        &self,
        command: Command,
        token: &Token,
    ) -> Result<CommandResponse, CsiError> {
        let writer = Writer::Caller {
            token,
            acl: self.acl_enabled,
        };
        let deadline = Instant::now() + self.timeouts.leader_hold;
        loop {
            let attempt = match self.route() {
                Route::Local => self.write_here(command.clone(), writer).await,
                Route::Remote { leader, addr } => {
                    self.write_at(leader, &addr, &command, writer).await
                }
                Route::NoLeader => Err(Miss::Retry),
            };
            match attempt {
                Ok(resp) => return Ok(resp),
                Err(Miss::Final(e)) => return Err(e),
                Err(Miss::Retry) if Instant::now() >= deadline => {
                    return Err(ClusterError::NoLeader.into());
                }
                Err(Miss::Retry) => self.settle(deadline).await,
            }
        }
    }

    /// Proposes on this node, which believes it leads, for the caller holding `token`; `acl`
    /// when the node the caller reached holds callers to ACLs. Used for writes that other nodes
    /// forwarded here, which are never forwarded again.
    pub async fn write_here_once(
        &self,
        command: Command,
        token: &Token,
        acl: bool,
    ) -> Result<CommandResponse, CsiError> {
        match self
            .write_here(command, Writer::Caller { token, acl })
            .await
        {
            Ok(r) => Ok(r),
            Err(Miss::Retry) => Err(ClusterError::NotLeader.into()),
            Err(Miss::Final(e)) => Err(e),
        }
    }

    /// Proposes on this node as the node itself (housekeeping such as removing expired tokens),
    /// only while it leads. No caller's token is involved, and no request can reach this.
    pub async fn write_as_node(&self, command: Command) -> Result<CommandResponse, CsiError> {
        match self.write_here(command, Writer::Node).await {
            Ok(r) => Ok(r),
            Err(Miss::Retry) => Err(ClusterError::NotLeader.into()),
            Err(Miss::Final(e)) => Err(e),
        }
    }

    /// Proposes `command`. A caller is held to ACLs when this node or the node it reached
    /// holds callers to them: the command is admitted first, against this (leading) node's own
    /// state, and carries the caller for apply to check again. A bootstrap takes its reset
    /// index from this node's own reset file, whatever the caller sent.
    async fn write_here(
        &self,
        mut command: Command,
        writer: Writer<'_>,
    ) -> Result<CommandResponse, Miss> {
        let held = match writer {
            Writer::Node => None,
            Writer::Caller { token, acl } => (acl || self.acl_enabled).then_some(token),
        };
        if let Some(token) = held
            && !self.admits(token, &command).await?
        {
            return Err(Miss::Final(CsiError::PermissionDenied));
        }
        self.disk.check().map_err(|full| Miss::Final(full.into()))?;
        if let Command::BootstrapAcl { reset_index, .. } = &mut command {
            *reset_index = self.bootstrap_reset_index();
        }
        let req = Request {
            command,
            time_ns: now_ns(),
            caller: held.map(Token::proposer),
        };
        match tokio::time::timeout(self.timeouts.commit, self.raft.client_write(req)).await {
            Err(_) => Err(Miss::from(ClusterError::OutcomeUnknown(
                "not committed in time".into(),
            ))),
            // A caller admitted above whose rights were revoked before the entry applied.
            Ok(Ok(resp)) if resp.data.result == Err(DomainError::PermissionDenied) => {
                Err(Miss::Final(CsiError::PermissionDenied))
            }
            Ok(Ok(resp)) => Ok(resp.data),
            Ok(Err(RaftError::APIError(e))) => Err(match e {
                ClientWriteError::ForwardToLeader(_) => Miss::Retry,
                ClientWriteError::LogEntryDiscarded(_) => Miss::from(ClusterError::OutcomeUnknown(
                    "leadership changed before commit".into(),
                )),
                ClientWriteError::ChangeMembershipError(e) => {
                    Miss::from(ClusterError::Internal(e.to_string()))
                }
                ClientWriteError::PreconditionFailed(e) => {
                    Miss::from(ClusterError::Internal(e.to_string()))
                }
            }),
            // The entry may already have been replicated: its fate is unknown, not failed.
            Ok(Err(RaftError::Fatal(f))) => Err(Miss::from(ClusterError::OutcomeUnknown(format!(
                "this node's raft stopped: {f}"
            )))),
        }
    }

    /// The index of a bootstrap to redo, from the operator's reset file on this node (Nomad's
    /// `acl-bootstrap-reset` in the data dir), if there is one.
    fn bootstrap_reset_index(&self) -> Option<u64> {
        let text = std::fs::read_to_string(self.bootstrap_reset.as_ref()?).ok()?;
        text.trim().parse().ok()
    }

    /// Whether this (leading) node admits `command` for the caller holding `token`. A new
    /// leader may not have applied every committed entry yet, so before refusing it catches up:
    /// a token or policy written just before it took over is then known. (Apply checks again,
    /// so a revocation it has not applied yet cannot let the command through either.)
    async fn admits(&self, token: &Token, command: &Command) -> Result<bool, Miss> {
        let admitted = |f: &Self| f.reader.read(|s| s.admits(token, command, now_ns()));
        if admitted(self) {
            return Ok(true);
        }
        self.linearize().await.map_err(Miss::Final)?;
        Ok(admitted(self))
    }

    async fn write_at(
        &self,
        leader: NodeId,
        addr: &str,
        command: &Command,
        writer: Writer<'_>,
    ) -> Result<CommandResponse, Miss> {
        let encoded = codec::encode(command)
            .map_err(|e| Miss::from(ClusterError::Internal(e.to_string())))?;
        let mut client = self.cluster_client(addr)?;
        let (token, acl) = match writer {
            Writer::Caller { token, acl } => (token.presented().unwrap_or_default(), acl),
            Writer::Node => ("", false),
        };
        let call = client.write(WriteRequest {
            command: encoded,
            forwarded: true,
            token: token.to_string(),
            acl,
        });
        let answer = tokio::select! {
            a = tokio::time::timeout(self.timeouts.commit, call) => a,
            () = self.leader_moved_from(leader) => {
                return Err(Miss::from(ClusterError::OutcomeUnknown(
                    "the leader changed while the write was in flight".into(),
                )));
            }
        };
        let reply = match answer {
            Err(_) => {
                return Err(Miss::from(ClusterError::OutcomeUnknown(
                    "leader did not answer in time".into(),
                )));
            }
            Ok(Err(status)) => return Err(self.transport_miss(addr, &status)),
            Ok(Ok(r)) => r.into_inner(),
        };
        if !reply.error.is_empty() {
            return Err(remote_error(&reply.error));
        }
        codec::decode(&reply.response).map_err(|e| {
            Miss::from(ClusterError::OutcomeUnknown(format!(
                "undecodable reply: {e}"
            )))
        })
    }

    pub(crate) fn cluster_client(&self, addr: &str) -> Result<ClusterClient, Miss> {
        self.peers
            .cluster_client(addr)
            .map_err(|e| Miss::from(ClusterError::Internal(e.to_string())))
    }

    pub(crate) fn transport_miss(&self, addr: &str, status: &tonic::Status) -> Miss {
        if never_sent(status) {
            self.peers.invalidate(addr);
            Miss::Retry
        } else {
            Miss::from(ClusterError::OutcomeUnknown(format!(
                "lost contact with the leader: {}",
                status.message()
            )))
        }
    }

    /// `read_index_here`, with every caller that arrives while a confirmation is under way
    /// sharing the next one: what followers' read-index requests call.
    pub async fn read_index_batched(&self) -> Result<u64, ClusterError> {
        self.leader_rounds
            .join(|| {
                let this = self.clone();
                async move { this.read_index_here().await }.boxed()
            })
            .await
    }

    /// Confirms leadership with a quorum and returns the index this node must have applied before
    /// a read is linearizable.
    pub async fn read_index_here(&self) -> Result<u64, ClusterError> {
        let read = self.raft.ensure_linearizable(ReadPolicy::ReadIndex);
        match tokio::time::timeout(self.timeouts.leader_hold, read).await {
            Err(_) => Err(ClusterError::NoLeader),
            Ok(Ok(read_log_id)) => Ok(read_log_id.log_id().index()),
            Ok(Err(RaftError::APIError(LinearizableReadError::ForwardToLeader(_)))) => {
                Err(ClusterError::NotLeader)
            }
            Ok(Err(RaftError::APIError(LinearizableReadError::QuorumNotEnough(_)))) => {
                Err(ClusterError::NoLeader)
            }
            Ok(Err(RaftError::Fatal(f))) => Err(ClusterError::Stopped(f.to_string())),
        }
    }

    /// Waits until this node's state machine reflects every write acknowledged before the call,
    /// as confirmed by the leader. After it returns, reading the local state is linearizable.
    pub async fn linearize(&self) -> Result<u64, CsiError> {
        let deadline = Instant::now() + self.timeouts.leader_hold;
        // Concurrent reads share one read index: every one that arrived before a round began
        // may use its answer (see `Rounds`), so 64 readers cost a few round trips, not 64.
        let index = self
            .read_rounds
            .join(|| {
                let this = self.clone();
                async move { this.read_index(deadline).await }.boxed()
            })
            .await?;
        let remaining = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(500));
        self.raft
            .wait(Some(remaining))
            .applied_index_at_least(Some(index), "linearizable read")
            .await
            .map_err(|_| CsiError::Cluster(ClusterError::NoLeader))?;
        Ok(index)
    }

    /// The leader's read index, from wherever the leader is, holding until `deadline` while
    /// there is none.
    async fn read_index(&self, deadline: Instant) -> Result<u64, CsiError> {
        loop {
            let attempt = match self.route() {
                Route::Local => match self.read_index_here().await {
                    Err(ClusterError::NotLeader) => Err(Miss::Retry),
                    other => other.map_err(Miss::from),
                },
                Route::Remote { leader, addr } => self.read_index_at(leader, &addr).await,
                Route::NoLeader => Err(Miss::Retry),
            };
            match attempt {
                Ok(i) => return Ok(i),
                Err(Miss::Final(e)) => return Err(e),
                Err(Miss::Retry) if Instant::now() >= deadline => {
                    return Err(ClusterError::NoLeader.into());
                }
                Err(Miss::Retry) => self.settle(deadline).await,
            }
        }
    }

    async fn read_index_at(&self, leader: NodeId, addr: &str) -> Result<u64, Miss> {
        let mut client = self.cluster_client(addr)?;
        let call = client.read_index(ReadIndexRequest {});
        let answer = tokio::select! {
            a = tokio::time::timeout(self.timeouts.leader_hold, call) => a,
            // A read has no side effect: ask the new leader instead.
            () = self.leader_moved_from(leader) => return Err(Miss::Retry),
        };
        let reply = match answer {
            Err(_) => return Err(Miss::from(ClusterError::NoLeader)),
            // A read has no side effect, so any transport failure may be retried.
            Ok(Err(_)) => {
                self.peers.invalidate(addr);
                return Err(Miss::Retry);
            }
            Ok(Ok(r)) => r.into_inner(),
        };
        if !reply.error.is_empty() {
            return Err(remote_error(&reply.error));
        }
        Ok(reply.index)
    }

    pub fn reader(&self) -> &StateReader {
        &self.reader
    }
}

/// What a peer's refusal means for this request: "not leader" is worth another try; anything
/// else (no permission, no leader, an unknown outcome) is the answer.
pub(crate) fn remote_error(bytes: &[u8]) -> Miss {
    match codec::decode::<CsiError>(bytes) {
        Ok(CsiError::Cluster(ClusterError::NotLeader)) => Miss::Retry,
        Ok(refused) => Miss::Final(refused),
        Err(e) => Miss::from(ClusterError::OutcomeUnknown(format!(
            "undecodable error: {e}"
        ))),
    }
}
