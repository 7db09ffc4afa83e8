//! What the CSI endpoint needs from the cluster: write a command through the leader, make this
//! node's state fresh enough to read, read it, and wait for a change. A node implements it over
//! Raft (`Forwarder`); tests implement it over the same `State` with no Raft at all.

use crate::forward::Forwarder;
use crate::state::State;
use std::future::Future;
use stowage_proto::{ClusterError, Command, CommandResponse, Watch};
use tokio::time::Instant;

pub trait Store: Clone + Send + Sync + 'static {
    /// Applies `command` through the leader.
    fn write(
        &self,
        command: Command,
    ) -> impl Future<Output = Result<CommandResponse, ClusterError>> + Send;

    /// Returns once this node's state reflects every write acknowledged before the call, unless
    /// `stale` allows reading it as it is.
    fn settle(&self, stale: bool) -> impl Future<Output = Result<(), ClusterError>> + Send;

    /// Runs `f` over this node's current state.
    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T;

    /// Waits until what `watch` names changed after index `after`, or the deadline; returns the
    /// change index seen last (not above `after` when the deadline came first).
    fn wait(
        &self,
        watch: &Watch,
        after: u64,
        deadline: Instant,
    ) -> impl Future<Output = u64> + Send;
}

impl Store for Forwarder {
    async fn write(&self, command: Command) -> Result<CommandResponse, ClusterError> {
        Forwarder::write(self, command).await
    }

    async fn settle(&self, stale: bool) -> Result<(), ClusterError> {
        if stale || self.faults.stale_reads() {
            return Ok(());
        }
        self.linearize().await.map(|_| ())
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        self.reader.read(f)
    }

    async fn wait(&self, watch: &Watch, after: u64, deadline: Instant) -> u64 {
        self.reader.wait(watch, after, deadline).await
    }
}
