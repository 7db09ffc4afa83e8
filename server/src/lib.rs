//! stowage-server is the composition root: configuration, the `agent` and `dev` commands,
//! operator commands, start-up and shutdown. Cluster and chaos tests live beside it.
//!
//! Depends on every other crate; nothing depends on it.

pub mod agent;
mod backend;
pub mod chaos;
pub mod chaos_cmd;
pub mod config;
pub mod dev;
pub mod operator;
pub mod signal;
