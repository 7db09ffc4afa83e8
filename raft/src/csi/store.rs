//! What the CSI endpoint needs from the cluster: write a command through the leader on behalf of
//! a caller, make this node's state fresh enough to read, read it, and wait for a change. A node
//! implements it over Raft (`Forwarder`); tests implement it over the same `State` with no Raft
//! at all.

use crate::forward::Forwarder;
use crate::state::State;
use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};
use stowage_proto::acl::Token;
use stowage_proto::api::CsiError;
use stowage_proto::{Command, CommandResponse, Watch};
use tokio::time::Instant;

/// This node's wall clock, in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

pub trait Store: Clone + Send + Sync + 'static {
    /// Applies `command` for the caller holding `token`. With ACLs on, the command is admitted
    /// (`State::admits`) against the state of whoever proposes it, the leader.
    fn write(
        &self,
        command: Command,
        token: &Token,
    ) -> impl Future<Output = Result<CommandResponse, CsiError>> + Send;

    /// Returns once this node's state reflects every write acknowledged before the call, unless
    /// `stale` allows reading it as it is.
    fn settle(&self, stale: bool) -> impl Future<Output = Result<(), CsiError>> + Send;

    /// Runs `f` over this node's current state.
    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T;

    /// Returns once the state `read` showed so far is on this node's disk, so that no answer
    /// shows state that a crash of the machine could take back.
    fn make_durable(&self) -> impl Future<Output = Result<(), CsiError>> + Send;

    /// Waits until what `watch` names changed after index `after`, or the deadline; returns the
    /// change index seen last (not above `after` when the deadline came first).
    fn wait(
        &self,
        watch: &Watch,
        after: u64,
        deadline: Instant,
    ) -> impl Future<Output = u64> + Send;

    /// Whether callers are held to ACLs.
    fn acl_enabled(&self) -> bool;

    /// Refuses one more blocking query when this node already holds as many as it allows.
    fn room_for_watcher(&self) -> Result<(), CsiError>;
}

impl Store for Forwarder {
    async fn write(&self, command: Command, token: &Token) -> Result<CommandResponse, CsiError> {
        Forwarder::write(self, command, token).await
    }

    async fn settle(&self, stale: bool) -> Result<(), CsiError> {
        if stale || self.faults.stale_reads() {
            return Ok(());
        }
        self.linearize().await.map(|_| ())
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        self.reader.read(f)
    }

    async fn make_durable(&self) -> Result<(), CsiError> {
        self.reader.make_durable().await.map_err(|e| {
            CsiError::Cluster(stowage_proto::ClusterError::Internal(format!(
                "cannot make the applied state durable: {e}"
            )))
        })
    }

    async fn wait(&self, watch: &Watch, after: u64, deadline: Instant) -> u64 {
        self.reader.wait(watch, after, deadline).await
    }

    fn acl_enabled(&self) -> bool {
        self.acl_enabled
    }

    fn room_for_watcher(&self) -> Result<(), CsiError> {
        let limit = self.max_blocking_queries;
        if self.reader.blocked_watchers() >= limit {
            Err(CsiError::TooManyWatchers { limit })
        } else {
            Ok(())
        }
    }
}
