//! Durable storage on one RocksDB per node: the Raft log, the vote, and the state machine, each
//! in its own column family so that one WriteBatch can cover several atomically.

mod db;
mod load;
mod log_cache;
mod log_store;
mod reader;
mod records;
mod snapshot_blob;
mod state_machine;

pub use db::{DataDir, OpenError};
pub use log_store::LogStore;
pub use reader::StateReader;
pub use state_machine::StateMachineStore;
