//! Typed reads of the replicated state, answered by any node.

use crate::model::{Claim, Namespace, Plugin, Volume, VolumeKey};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "q")]
pub enum Query {
    /// One volume by its exact key.
    Volume {
        namespace: String,
        id: String,
    },
    /// Every volume of a namespace, or of all namespaces when `namespace` is `None`, in
    /// (namespace, id) order.
    Volumes {
        namespace: Option<String>,
    },
    Plugins,
    Plugin {
        id: String,
    },
    Namespaces,
}

/// A volume with what its API views are derived from: its claims and its plugin's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VolumeDetail {
    pub volume: Volume,
    pub claims: Vec<Claim>,
    pub plugin: Option<Plugin>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum QueryResult {
    Volume(Option<Box<VolumeDetail>>),
    Volumes(Vec<VolumeDetail>),
    Plugins(Vec<Plugin>),
    Plugin(Option<Plugin>),
    Namespaces(Vec<Namespace>),
}

/// What a blocking query waits on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Watch {
    /// Any volume (or plugin health, which every volume shows) changed.
    Volumes,
    /// This one volume changed: created, updated, claimed or deleted (Part A D11).
    Volume(VolumeKey),
    Plugins,
}
