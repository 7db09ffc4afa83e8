//! stowage-proto owns the domain model (volumes, claims, plugins, namespaces), its pure rules, the
//! `Command` that goes through Raft, domain errors with stable codes, the persisted-value codec and
//! the generated gRPC envelopes.
//!
//! Must not depend on: openraft, rocksdb, axum.

pub mod codec;
pub mod command;
pub mod error;
pub mod model;
pub mod query;
pub mod rules;
pub mod unsafe_faults;

pub use command::{Command, CommandResponse, Outcome, Request};
pub use error::{ClusterError, DomainError};
pub use model::{
    AccessMode, AttachmentMode, Capability, Claim, ClaimAction, ClaimEvent, ClaimMode, ClaimState,
    MountOptions, Namespace, Plugin, Secrets, Topology, TopologyRequest, Volume, VolumeKey,
};
pub use query::{Query, QueryResult, VolumeDetail, Watch};

/// Generated tonic/prost code for `proto/stowage.proto`.
#[allow(clippy::all, missing_docs, unused_qualifications)]
pub mod pb {
    tonic::include_proto!("stowage.v1");
}
