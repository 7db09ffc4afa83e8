//! The replicated state: tables of volumes, claims, plugins and namespaces with their table
//! indexes, and the deterministic apply of one command to them.

mod acl;
mod apply;
mod audit;
mod claims;
#[cfg(test)]
pub(crate) mod fixtures;
mod history;
mod list;
mod restore;
mod tables;
mod volume_table;
mod volumes;

pub use acl::{
    ANONYMOUS_POLICY, AclTables, Denied, LIST_VOLUMES, READ_VOLUME, command_allowed, may_mount,
    may_register,
};
pub use apply::{Answer, Touched};
pub use history::HistoryRecord;
pub use tables::{ClaimRecord, Frozen, State, StateImage, TableIndexes};
pub use volume_table::VolumeTable;
