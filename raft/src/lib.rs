//! stowage-raft owns consensus and storage: the openraft type config, the RocksDB log store and
//! state machine, deterministic apply, snapshots, the tonic Raft network, leader forwarding,
//! linearizable reads, and change notification for blocking queries.
//!
//! Must not depend on: axum, stowage-http-gateway.

mod bootstrap;
mod contact;
pub mod forward;
mod network;
pub mod node;
mod notify;
mod peers;
mod service;
pub mod state;
pub mod store;
pub mod types;

pub use forward::{Forwarder, Timeouts};
pub use node::{Health, NodeConfig, NodeStatus, RaftNode, RaftTiming, StartError};
pub use service::Member;
pub use store::StateReader;
