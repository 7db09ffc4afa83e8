//! The real apply with no Raft and no sockets: commands go straight into `State::apply` at
//! increasing indexes, and the real CSI endpoint and router run over it. Router tests and the
//! list benchmark use it.

use std::sync::{Arc, Mutex};
use stowage_http_gateway::{Backend, Freshness, HealthReport, Metrics};
use stowage_proto::acl::Token;
use stowage_proto::api::{CsiError, RaftConfiguration, RaftServer};
use stowage_proto::{Command, CommandResponse, Request, Watch};
use stowage_raft::state::State;
use stowage_raft::{Csi, Store, now_ns};
use tokio::sync::watch;
use tokio::time::Instant;

/// One `State` and its last index, written by `State::apply` directly. Entry `n` is applied at
/// `n` seconds after the epoch, so claim times are deterministic.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<(State, u64)>>,
    changed: Arc<watch::Sender<u64>>,
    acl_enabled: bool,
}

impl MemoryStore {
    /// A store whose callers are held to ACLs when `acl_enabled`.
    pub fn new(acl_enabled: bool) -> MemoryStore {
        MemoryStore {
            acl_enabled,
            ..MemoryStore::default()
        }
    }
}

impl MemoryStore {
    /// Applies `command` at the next index; with a caller's token (and ACLs on) it is admitted
    /// first, on the wall clock as the endpoint's reads are.
    fn apply(&self, command: Command, caller: Option<&Token>) -> Result<CommandResponse, CsiError> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (state, index) = &mut *guard;
        let held = caller.filter(|_| self.acl_enabled);
        if let Some(token) = held
            && !state.admits(token, &command, now_ns())
        {
            return Err(CsiError::PermissionDenied);
        }
        *index += 1;
        let req = Request {
            command,
            time_ns: 1_000_000_000 * *index as i64,
            caller: held.map(Token::proposer),
        };
        let resp = state.apply(&req, *index, &mut vec![]);
        self.changed.send_replace(*index);
        Ok(resp)
    }
}

impl Store for MemoryStore {
    async fn write(&self, command: Command, token: &Token) -> Result<CommandResponse, CsiError> {
        self.apply(command, Some(token))
    }

    async fn settle(&self, _stale: bool) -> Result<(), CsiError> {
        Ok(())
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.state.lock().unwrap_or_else(|p| p.into_inner()).0)
    }

    /// Nothing to make durable: this store has no disk.
    async fn make_durable(&self) -> Result<(), CsiError> {
        Ok(())
    }

    fn acl_enabled(&self) -> bool {
        self.acl_enabled
    }

    /// In memory, for router tests: no bound.
    fn room_for_watcher(&self) -> Result<(), CsiError> {
        Ok(())
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
    metrics: Metrics,
}

/// The one member a single in-memory node has.
const MEMBER_RPC: &str = "127.0.0.1:4647";

fn metrics() -> Metrics {
    #[allow(clippy::expect_used)]
    Metrics::new("memory").expect("the request metrics' names are valid")
}

impl Default for StateBackend {
    fn default() -> Self {
        StateBackend {
            csi: Csi::new(MemoryStore::default()),
            health: Arc::default(),
            metrics: metrics(),
        }
    }
}

impl StateBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// A backend whose callers are held to ACLs.
    pub fn with_acls() -> Self {
        StateBackend {
            csi: Csi::new(MemoryStore::new(true)),
            health: Arc::default(),
            metrics: metrics(),
        }
    }

    /// Applies a command directly as the node itself, with no caller to admit.
    pub async fn write(&self, command: Command) -> CommandResponse {
        match self.csi.store().apply(command, None) {
            Ok(resp) => resp,
            Err(e) => panic!("the node itself is always admitted: {e}"),
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
        healthy.then(|| MEMBER_RPC.into())
    }
    fn peer_rpc_addrs(&self) -> Vec<String> {
        vec![MEMBER_RPC.into()]
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
    async fn raft_configuration(&self, _stale: bool) -> Result<RaftConfiguration, CsiError> {
        Ok(RaftConfiguration {
            index: 1,
            servers: vec![RaftServer {
                id: 1,
                rpc_addr: MEMBER_RPC.into(),
                http_addr: "127.0.0.1:4646".into(),
                voter: true,
                leader: true,
            }],
        })
    }
    /// A single node can only be asked to remove itself, its only voter, which is refused.
    async fn remove_raft_peer(&self, id: u64) -> Result<u64, CsiError> {
        Err(if id == 1 {
            stowage_proto::api::only_voter(id)
        } else {
            stowage_proto::api::not_a_member(id)
        })
    }
    /// The in-memory state as an archive, as a node makes one.
    async fn snapshot(&self) -> Result<(u64, Vec<u8>), CsiError> {
        let (index, tables) = self.csi.store().read(|s| (s.indexes.volumes, s.tables()));
        let created = stowage_proto::api::rfc3339(now_ns());
        let header = stowage_proto::archive::ArchiveHeader::describe(index, 1, 1, created, &tables);
        let bytes = stowage_proto::archive::encode(&header, &tables)
            .map_err(|e| CsiError::invalid(e.to_string()))?;
        Ok((index, bytes))
    }
    /// The in-memory store keeps no events; router tests of the stream use a real node.
    async fn event_stream(
        &self,
        _token: Token,
        _query: stowage_proto::api::EventQuery,
    ) -> Result<futures::stream::BoxStream<'static, String>, CsiError> {
        Err(CsiError::invalid(
            "the in-memory test backend keeps no events",
        ))
    }
    fn agent_self(&self) -> serde_json::Value {
        serde_json::json!({ "config": { "NodeID": 1 }, "member": { "Name": "memory" } })
    }
    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
