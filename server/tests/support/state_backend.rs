//! A gateway `Backend` with no sockets and no Raft: commands go straight into the real
//! `State::apply`, at increasing indexes, and waits use the same notification as a node.

use std::sync::{Arc, Mutex};
use stowage_http_gateway::{Backend, Freshness, HealthReport, Watch};
use stowage_proto::{ClusterError, Command, CommandResponse, Query, QueryResult, Request};
use stowage_raft::state::State;
use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Clone)]
pub struct StateBackend {
    state: Arc<Mutex<(State, u64)>>,
    changed: watch::Sender<u64>,
}

impl StateBackend {
    pub fn new() -> Self {
        StateBackend {
            state: Arc::new(Mutex::new((State::default(), 0))),
            changed: watch::Sender::new(0),
        }
    }
}

impl Backend for StateBackend {
    fn leader_rpc_addr(&self) -> Option<String> {
        Some("127.0.0.1:4647".into())
    }
    fn peer_rpc_addrs(&self) -> Vec<String> {
        vec!["127.0.0.1:4647".into()]
    }
    async fn health(&self) -> HealthReport {
        HealthReport {
            healthy: true,
            message: "ok".into(),
        }
    }
    fn freshness(&self) -> Freshness {
        Freshness {
            known_leader: true,
            last_contact_ms: 0,
        }
    }
    async fn write(&self, command: Command) -> Result<CommandResponse, ClusterError> {
        let mut guard = self.state.lock().expect("lock");
        let (state, index) = &mut *guard;
        *index += 1;
        let resp = state.apply(
            &Request {
                command,
                time_ns: 1_000_000_000 * *index as i64,
            },
            *index,
            &mut vec![],
        );
        self.changed.send_replace(*index);
        Ok(resp)
    }
    async fn read(&self, query: Query, _stale: bool) -> Result<(QueryResult, u64), ClusterError> {
        Ok(self.state.lock().expect("lock").0.query(&query))
    }
    async fn wait(&self, _watch: Watch, after: u64, deadline: Instant) -> u64 {
        let mut rx = self.changed.subscribe();
        loop {
            let now = *rx.borrow_and_update();
            if now > after {
                return now;
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return now;
            }
        }
    }
}
