//! stowage-server is the composition root: configuration, the `agent` and `dev` commands, the
//! operator, chaos and bench commands, the gateway in front of a cluster, how an agent is started
//! as a child process, start-up and shutdown. Cluster and process tests live beside it; the kits
//! they use are the crates nested here (`testkit`, `chaos`, `bench`).
//!
//! Depends on every other crate; only the test kit and the chaos self-check depend on it.

pub mod agent;
mod backend;
pub mod bench_cmd;
pub mod chaos_cmd;
pub mod config;
pub mod dev;
pub mod entry;
pub mod launch;
pub mod limits;
pub mod operator;
pub mod secret_cmd;
pub mod tls;
pub mod tls_cmd;

pub use backend::NodeBackend;
