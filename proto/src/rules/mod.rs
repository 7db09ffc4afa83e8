//! Pure rules of the domain, next to the types they govern: validation of a registration, Nomad's
//! merge rules for re-registering an existing volume, and Nomad's claim rules.

mod claim;
mod humanize;
mod limits;
mod merge;
mod validate;

pub use claim::{
    ClaimEffect, ClaimLimit, ClaimRefusal, ClaimRequest, apply_claim, has_free_read_claims,
    has_free_write_claims, read_schedulable, write_schedulable,
};
pub use humanize::bytes_si;
pub use limits::{MAX_ENTRIES, MAX_ID, MAX_ITEMS, MAX_KEY, MAX_TEXT, MAX_VALUE, unaddressable};
pub use merge::{MergeError, merge_update, multierror};
pub use validate::{RawModes, validate, validate_claim};
