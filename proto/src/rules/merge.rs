//! Re-registering an existing volume: Nomad's `CSIVolume.Merge` followed by its capacity
//! reconciliation, with Nomad's error texts and order.

use super::bytes_si;
use crate::model::{AccessMode, AttachmentMode, Capability, MountOptions, Volume};
use std::collections::BTreeSet;
use std::fmt;

/// Why an update was refused. Displays as the text Nomad puts after «unable to update volume: ».
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeError {
    /// Immutable fields changed: go-multierror's list format.
    Merge(Vec<String>),
    /// The requested capacity cannot be reconciled.
    Capacity(String),
}

/// go-multierror's text for a list of errors: `1 error occurred:\n\t* e\n\n`.
pub fn multierror(errs: &[String]) -> String {
    let head = if errs.len() == 1 {
        "1 error occurred:".to_string()
    } else {
        format!("{} errors occurred:", errs.len())
    };
    let items: String = errs.iter().map(|e| format!("\n\t* {e}")).collect();
    format!("{head}{items}\n\n")
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::Merge(errs) => f.write_str(&multierror(errs)),
            MergeError::Capacity(e) => f.write_str(e),
        }
    }
}

fn same_mount_options(a: &MountOptions, b: &MountOptions) -> bool {
    let flags = |m: &MountOptions| {
        m.mount_flags
            .as_ref()
            .map(|f| f.iter().cloned().collect::<BTreeSet<_>>())
    };
    a.fs_type == b.fs_type && flags(a) == flags(b)
}

/// Merges `update` onto `stored`; `in_use` says whether the volume has claims.
pub fn merge_update(stored: &Volume, update: &Volume, in_use: bool) -> Result<Volume, MergeError> {
    let mut errs = Vec::new();
    let mut v = stored.clone();
    if !update.name.is_empty() && update.name != stored.name {
        errs.push("volume name cannot be updated");
    }
    if !update.external_id.is_empty() && update.external_id != stored.external_id {
        errs.push("volume external ID cannot be updated");
    }
    if update.plugin_id != stored.plugin_id {
        errs.push("volume plugin ID cannot be updated");
    }
    if !update.clone_id.is_empty() && update.clone_id != stored.clone_id {
        errs.push("volume clone ID cannot be updated");
    }
    if !update.snapshot_id.is_empty() && update.snapshot_id != stored.snapshot_id {
        errs.push("volume snapshot ID cannot be updated");
    }
    let has_modes =
        stored.access_mode != AccessMode::Unset || stored.attachment_mode != AttachmentMode::Unset;
    let current = Capability {
        access_mode: stored.access_mode,
        attachment_mode: stored.attachment_mode,
    };
    if has_modes && !update.requested_capabilities.contains(&current) {
        errs.push("volume requested capabilities update was not compatible with existing capability in use");
    } else {
        v.requested_capabilities = update.requested_capabilities.clone();
    }
    if !stored.topologies.is_empty() && update.requested_topologies != stored.requested_topologies {
        errs.push("volume topology request update was not compatible with existing topology");
    }
    if in_use {
        if !same_mount_options(&update.mount_options, &stored.mount_options) {
            errs.push("can not update mount options while volume is in use");
        }
    } else {
        v.mount_options = update.mount_options.clone();
    }
    // Nomad replaces secrets on every update, even with none: an update without secrets wipes them.
    v.secrets = update.secrets.clone();
    if !update.parameters.is_empty() && update.parameters != stored.parameters {
        errs.push("volume parameters cannot be updated");
    }
    if !update.context.is_empty() {
        v.context = update.context.clone();
    }
    if !errs.is_empty() {
        return Err(MergeError::Merge(
            errs.into_iter().map(String::from).collect(),
        ));
    }
    reconcile_capacity(
        &mut v,
        update.requested_capacity_min,
        update.requested_capacity_max,
    )?;
    Ok(v)
}

fn reconcile_capacity(v: &mut Volume, new_min: i64, new_max: i64) -> Result<(), MergeError> {
    if (new_min == 0 && new_max == 0)
        || (new_min == v.requested_capacity_min && new_max == v.requested_capacity_max)
    {
        return Ok(());
    }
    if new_max > 0 && new_max < new_min {
        return Err(MergeError::Capacity(format!(
            "max requested capacity ({}) less than or equal to min ({})",
            bytes_si(new_max),
            bytes_si(new_min)
        )));
    }
    if new_max > 0 && new_max < v.capacity {
        return Err(MergeError::Capacity(format!(
            "max requested capacity ({}) less than or equal to current ({})",
            bytes_si(new_max),
            bytes_si(v.capacity)
        )));
    }
    if new_min > v.capacity {
        // Growing a volume needs the controller plugin, which this service does not call yet.
        return Err(MergeError::Capacity(
            "expand is not implemented by this controller plugin".into(),
        ));
    }
    v.requested_capacity_min = new_min;
    v.requested_capacity_max = new_max;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Secrets, Topology, TopologyRequest};
    use std::collections::BTreeMap;

    fn stored() -> Volume {
        Volume {
            id: "v".into(),
            name: "name".into(),
            external_id: "ext".into(),
            namespace: "default".into(),
            plugin_id: "p".into(),
            capacity: 5000,
            parameters: BTreeMap::from([("a".into(), "1".into())]),
            secrets: Secrets(Some(BTreeMap::from([("k".into(), "s".into())]))),
            requested_capabilities: vec![Capability {
                access_mode: AccessMode::SingleNodeWriter,
                attachment_mode: AttachmentMode::FileSystem,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn collects_immutable_field_errors_in_nomads_order_and_format() {
        let mut u = stored();
        u.name = "other".into();
        u.external_id = "other".into();
        let err = merge_update(&stored(), &u, false).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "2 errors occurred:\n\t* volume name cannot be updated\n\t* volume external ID cannot be updated\n\n"
        );
        let mut u = stored();
        u.parameters = BTreeMap::from([("a".into(), "2".into())]);
        let err = merge_update(&stored(), &u, false).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "1 error occurred:\n\t* volume parameters cannot be updated\n\n"
        );
    }

    #[test]
    fn empty_fields_keep_stored_values_but_secrets_are_always_replaced() {
        let mut u = stored();
        u.name.clear();
        u.external_id.clear();
        u.parameters.clear();
        u.secrets = Secrets(None);
        let merged = merge_update(&stored(), &u, false).expect("merged");
        assert_eq!(
            (merged.name.as_str(), merged.external_id.as_str()),
            ("name", "ext")
        );
        assert_eq!(merged.parameters, stored().parameters);
        assert_eq!(merged.secrets, Secrets(None));
    }

    #[test]
    fn capabilities_must_keep_the_mode_in_use() {
        let mut v = stored();
        v.access_mode = AccessMode::SingleNodeWriter;
        v.attachment_mode = AttachmentMode::FileSystem;
        let mut u = stored();
        u.requested_capabilities = vec![Capability {
            access_mode: AccessMode::MultiNodeReaderOnly,
            attachment_mode: AttachmentMode::FileSystem,
        }];
        let err = merge_update(&v, &u, true).expect_err("refused");
        assert!(
            err.to_string()
                .contains("not compatible with existing capability in use")
        );
        // Without a current mode the list is simply replaced.
        let merged = merge_update(&stored(), &u, false).expect("merged");
        assert_eq!(merged.requested_capabilities, u.requested_capabilities);
    }

    #[test]
    fn topology_and_mount_options_rules() {
        let mut v = stored();
        v.topologies = vec![Topology {
            segments: BTreeMap::from([("rack".into(), "r1".into())]),
        }];
        let mut u = stored();
        u.requested_topologies = Some(TopologyRequest {
            required: Some(vec![]),
            preferred: None,
        });
        assert!(
            merge_update(&v, &u, false)
                .expect_err("refused")
                .to_string()
                .contains("existing topology")
        );

        let mut u = stored();
        u.mount_options = MountOptions {
            fs_type: "ext4".into(),
            mount_flags: Some(vec!["ro".into()]),
        };
        assert!(
            merge_update(&stored(), &u, true)
                .expect_err("refused")
                .to_string()
                .contains("mount options")
        );
        let merged = merge_update(&stored(), &u, false).expect("merged");
        assert_eq!(merged.mount_options.fs_type, "ext4");
    }

    #[test]
    fn capacity_reconciliation() {
        let mut u = stored();
        (u.requested_capacity_min, u.requested_capacity_max) = (2000, 1000);
        assert_eq!(
            merge_update(&stored(), &u, false)
                .expect_err("refused")
                .to_string(),
            "max requested capacity (1.0 kB) less than or equal to min (2.0 kB)"
        );
        (u.requested_capacity_min, u.requested_capacity_max) = (0, 4000);
        assert_eq!(
            merge_update(&stored(), &u, false)
                .expect_err("refused")
                .to_string(),
            "max requested capacity (4.0 kB) less than or equal to current (5.0 kB)"
        );
        (u.requested_capacity_min, u.requested_capacity_max) = (1000, 9000);
        let merged = merge_update(&stored(), &u, false).expect("within capacity");
        assert_eq!(
            (merged.requested_capacity_min, merged.requested_capacity_max),
            (1000, 9000)
        );
        (u.requested_capacity_min, u.requested_capacity_max) = (6000, 9000);
        assert!(
            merge_update(&stored(), &u, false)
                .expect_err("expand")
                .to_string()
                .contains("expand")
        );
    }
}
