//! stowage-raft owns consensus and storage: the openraft type config, the RocksDB log store and
//! state machine, deterministic apply, snapshots, the tonic Raft network behind the cluster
//! secret, leader forwarding, linearizable reads, change notification for blocking queries, and
//! the CSI endpoint that both doors (the HTTP gateway and gRPC `ClusterService`) call.
//!
//! Must not depend on: axum, stowage-http-gateway.

mod backup;
mod bootstrap;
mod contact;
pub mod csi;
pub mod disk;
pub mod event_stream;
pub mod events;
pub mod faults;
pub mod forward;
mod membership;
mod metrics;
mod network;
pub mod node;
mod notify;
pub mod peers;
mod reaper;
mod rounds;
pub mod secret;
pub mod served;
mod service;
pub mod state;
mod status;
pub mod store;
pub mod tls;
pub mod types;

pub use csi::{Csi, Store, now_ns};
pub use disk::DEFAULT_MIN_FREE_DISK_MB;
pub use faults::TestFaults;
pub use forward::{Forwarder, Timeouts};
pub use metrics::RaftCollector;
pub use node::{NodeConfig, RaftNode, RaftTiming, StartError};
pub use peers::{ClusterClient, cluster_client, cluster_client_tls};
pub use secret::{ClusterSecret, SecretError};
pub use served::Served;
pub use service::Member;
pub use status::{Health, NodeStatus};
pub use store::StateReader;
pub use tls::{RpcTls, SERVER_NAME, TlsError, TlsFiles};
