//! Namespaces: the scope of volume IDs. `default` exists from the start and always will.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Namespace {
    pub name: String,
    pub description: String,
    pub meta: Option<std::collections::BTreeMap<String, String>>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Namespace {
    pub const DEFAULT: &'static str = "default";
}

/// Nomad's rule for namespace (and ACL policy) names: 1 to 128 letters, digits and dashes.
pub fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Refuses a namespace Nomad would refuse, with Nomad's text.
pub fn check_namespace(ns: &Namespace) -> Result<(), crate::api::CsiError> {
    let mut errs = Vec::new();
    if !valid_name(&ns.name) {
        errs.push(format!(
            "invalid name {:?}. Must match regex ^[a-zA-Z0-9-]{{1,128}}$",
            ns.name
        ));
    }
    if ns.description.len() > 256 {
        errs.push("description longer than 256".into());
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(crate::api::CsiError::invalid(format!(
            "Invalid namespace {:?}: {}",
            ns.name,
            crate::rules::multierror(&errs)
        )))
    }
}
