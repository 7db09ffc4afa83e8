//! CSI plugins as node agents or operators report them through the fingerprint feed: provider,
//! version and health.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Plugin {
    #[serde(rename = "ID")]
    pub id: String,
    pub provider: String,
    pub version: String,
    pub controller_required: bool,
    pub controllers_healthy: i64,
    pub controllers_expected: i64,
    pub nodes_healthy: i64,
    pub nodes_expected: i64,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Plugin {
    /// Nomad's rule: nodes are healthy and, if a controller is required, a controller is too.
    pub fn schedulable(&self) -> bool {
        self.nodes_healthy > 0 && (!self.controller_required || self.controllers_healthy > 0)
    }
}
