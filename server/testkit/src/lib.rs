//! stowage-testkit owns what stowage's tests share: three nodes in the test process, three agents
//! as real processes, the real apply with no Raft under the real router, HTTP calls through that
//! router, mirrors of Nomad's Go `api` structs, and polls with deadlines. Nothing sleeps to wait
//! for readiness.
//!
//! Used only by tests; nothing in a shipped binary depends on it.

pub mod acl_cluster;
pub mod cluster;
pub mod http;
pub mod memory;
pub mod nomad_api;
pub mod poll;
pub mod processes;
pub mod router_acl;

pub use cluster::{Shape, TestCluster, fast_timing, volume};
pub use memory::{MemoryStore, StateBackend};
pub use poll::{POLL, eventually, loopback_ips};

/// A secret for test clusters: every node of one test shares it.
pub fn test_secret() -> stowage_raft::ClusterSecret {
    stowage_raft::ClusterSecret::generate()
}

/// A management token holding `secret`, named `name`, that never expires, as the node itself
/// would write it (no endpoint checks); tests change what they need with struct update syntax.
pub fn management_token(secret: &str, name: &str) -> stowage_proto::acl::AclToken {
    use stowage_proto::acl::{AclToken, TokenKind, hash_secret, new_uuid};
    AclToken {
        accessor_id: new_uuid(),
        secret_hash: hash_secret(secret),
        name: name.into(),
        kind: TokenKind::Management,
        policies: vec![],
        global: false,
        create_time: 1,
        expiration_time: None,
        expiration_ttl: 0,
        create_index: 0,
        modify_index: 0,
    }
}
