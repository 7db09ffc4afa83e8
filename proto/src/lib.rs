//! stowage-proto owns the domain model (volumes, claims, plugins, namespaces), its pure rules, the
//! `Command` that goes through Raft, the typed CSI API every door calls (requests, answers, Nomad's
//! views, one error type with stable codes), Nomad's filter language, the persisted-value codec
//! and the generated gRPC envelopes.
//!
//! Must not depend on: openraft, rocksdb, axum.

pub mod acl;
pub mod api;
pub mod archive;
pub mod codec;
pub mod command;
pub mod error;
pub mod filter;
pub mod model;
pub mod query;
pub mod rules;

pub use command::{ClaimRecord, Command, CommandResponse, Outcome, Proposer, Request, Tables};
pub use error::{ClusterError, DomainError};
pub use model::{
    AccessMode, AttachmentMode, Capability, Claim, ClaimAction, ClaimEvent, ClaimMode, ClaimState,
    MountOptions, Namespace, Plugin, Secrets, Topology, TopologyRequest, Volume, VolumeKey,
};
pub use query::{VolumeDetail, Watch};

/// Generated tonic/prost code for `proto/stowage.proto`.
#[allow(clippy::all, missing_docs, unused_qualifications)]
pub mod pb {
    tonic::include_proto!("stowage.v1");
}
