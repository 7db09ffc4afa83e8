//! What the CSI endpoint answers, one type per kind of operation. `index` is what Nomad sends as
//! `X-Nomad-Index`: the index of the table the answer reflects. Field names are Nomad's JSON
//! where the HTTP API answers the type as it is.

use super::views::{ApiPlugin, ApiVolume};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Registered {
    /// The volumes as a reader now sees them.
    pub volumes: Vec<ApiVolume>,
    /// Advice for the caller (an unknown or unhealthy plugin), not errors.
    pub warnings: Vec<String>,
    pub index: u64,
}

/// A write that answers nothing but where it left the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    pub index: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Claimed {
    /// The volume as a reader now sees it.
    pub volume: ApiVolume,
    /// False for a re-sent claim or release, which changes nothing.
    pub changed: bool,
    pub index: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginWritten {
    pub plugin: ApiPlugin,
    pub index: u64,
}

/// A read's value and the index it reflects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Read<T> {
    pub value: T,
    pub index: u64,
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts (`<namespace>.<id>`), when there is one.
    pub next_token: Option<String>,
    pub index: u64,
}
