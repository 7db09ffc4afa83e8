//! What reads of the replicated state are built from: a volume with its claims and plugin, and
//! what a blocking query waits on.

use crate::model::{Claim, Plugin, Volume, VolumeKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A volume with what its API views are derived from: its claims (by allocation ID) and its
/// plugin's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VolumeDetail {
    pub volume: Volume,
    pub claims: BTreeMap<String, Claim>,
    pub plugin: Option<Plugin>,
}

/// What a blocking query waits on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Watch {
    /// Any volume (or plugin health, which every volume shows) changed.
    Volumes,
    /// This one volume changed: created, updated, claimed or deleted.
    Volume(VolumeKey),
    Plugins,
    Namespaces,
    AclPolicies,
    AclTokens,
}
