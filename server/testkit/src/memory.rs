//! The real apply with no Raft and no sockets: commands go straight into `State::apply` at
//! increasing indexes, and the real CSI endpoint and router run over it. Router tests and the
//! list benchmark use it.

use std::sync::{Arc, Mutex};
use stowage_http_gateway::{Backend, Freshness, HealthReport};
use stowage_proto::{ClusterError, Command, CommandResponse, Request, Watch};
use stowage_raft::state::State;
use stowage_raft::{Csi, Store};
use tokio::sync::watch;
use tokio::time::Instant;

/// One `State` and its last index, written by `State::apply` directly.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<(State, u64)>>,
    changed: Arc<watch::Sender<u64>>,
}

impl Store for MemoryStore {
    async fn write(&self, command: Command) -> Result<CommandResponse, ClusterError> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (state, index) = &mut *guard;
        *index += 1;
        let req = Request {
            command,
            time_ns: 1_000_000_000 * *index as i64,
        };
        let resp = state.apply(&req, *index, &mut vec![]);
        self.changed.send_replace(*index);
        Ok(resp)
    }

    async fn settle(&self, _stale: bool) -> Result<(), ClusterError> {
        Ok(())
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.state.lock().unwrap_or_else(|p| p.into_inner()).0)
    }

    /// Wakes on any write, whatever `watch` names: a blocking query may wake more often than it
    /// must, never less.
    async fn wait(&self, _watch: &Watch, after: u64, deadline: Instant) -> u64 {
        let mut rx = self.changed.subscribe();
        loop {
            let now = *rx.borrow_and_update();
            if now > after
                || tokio::time::timeout_at(deadline, rx.changed())
                    .await
                    .is_err()
            {
                return now;
            }
        }
    }
}

/// A gateway backend over a `MemoryStore`: one healthy node that leads.
#[derive(Clone)]
pub struct StateBackend {
    csi: Csi<MemoryStore>,
    health: Arc<Mutex<Option<HealthReport>>>,
}

impl Default for StateBackend {
    fn default() -> Self {
        StateBackend {
            csi: Csi::new(MemoryStore::default()),
            health: Arc::default(),
        }
    }
}

impl StateBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a command directly, as a write through the leader would.
    pub async fn write(&self, command: Command) -> CommandResponse {
        match self.csi.store().write(command).await {
            Ok(resp) => resp,
            Err(e) => panic!("a memory store cannot fail: {e}"),
        }
    }

    /// Makes the node report itself unhealthy (or healthy again with `None`).
    pub fn set_health(&self, report: Option<HealthReport>) {
        *self.health.lock().unwrap_or_else(|p| p.into_inner()) = report;
    }
}

impl Backend for StateBackend {
    type Csi = Csi<MemoryStore>;

    fn csi(&self) -> &Self::Csi {
        &self.csi
    }
    fn leader_rpc_addr(&self) -> Option<String> {
        let healthy = self
            .health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none();
        healthy.then(|| "127.0.0.1:4647".into())
    }
    fn peer_rpc_addrs(&self) -> Vec<String> {
        vec!["127.0.0.1:4647".into()]
    }
    async fn health(&self) -> HealthReport {
        let report = self
            .health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        report.unwrap_or(HealthReport {
            healthy: true,
            message: "ok".into(),
        })
    }
    fn freshness(&self) -> Freshness {
        Freshness {
            known_leader: true,
            last_contact_ms: 0,
        }
    }
}
