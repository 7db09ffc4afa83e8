//! What the state machine's integration tests share: a store opened on a dir, and one that has
//! applied a few registers.

use futures::stream;
use openraft::storage::RaftStateMachine;
use stowage_proto::{Command, Request, Volume};
use stowage_raft::TestFaults;
use stowage_raft::store::{DataDir, StateMachineStore};
use stowage_raft::types::{Entry, TypeConfig};

fn log_id(index: u64) -> stowage_raft::types::LogId {
    openraft::testing::log_id::<TypeConfig>(1, 1, index)
}

pub fn open(dir: &std::path::Path) -> StateMachineStore {
    let data = DataDir::open(dir, 1, TestFaults::default()).expect("open");
    StateMachineStore::open(data, TestFaults::default()).expect("state machine")
}

/// A store on `dir` that applied one register of volume `id` at each `(index, id)`.
pub async fn applied(dir: &std::path::Path, indexes: &[(u64, &str)]) -> StateMachineStore {
    let mut sm = open(dir);
    let entries = indexes.iter().map(|(index, id)| {
        let req = Request {
            command: Command::RegisterVolumes {
                volumes: vec![Volume {
                    id: id.to_string(),
                    namespace: "default".into(),
                    plugin_id: "p".into(),
                    ..Default::default()
                }],
                cas: None,
            },
            time_ns: 1,
            caller: None,
        };
        Ok((
            openraft::entry::RaftEntry::new_normal(log_id(*index), req),
            None,
        ))
    });
    let entries: Vec<Result<(Entry, _), std::io::Error>> = entries.collect();
    sm.apply(stream::iter(entries)).await.expect("apply");
    sm
}
