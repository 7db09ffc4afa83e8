//! The domain model: one Rust type per concept, whose serde attributes are Nomad's JSON field names.

mod claim;
mod modes;
mod namespace;
mod plugin;
mod volume;

pub use claim::{Claim, ClaimAction, ClaimEvent, ClaimMode, ClaimState};
pub use modes::{AccessMode, AttachmentMode, Capability};
pub use namespace::{Namespace, check_namespace, valid_name};
pub use plugin::Plugin;
pub use volume::{MountOptions, Secrets, Topology, TopologyRequest, Volume, VolumeKey};
