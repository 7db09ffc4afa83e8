//! An operator's restore: every table replaced with a snapshot archive's in one apply, and the
//! list of every record a state holds, which is what a whole-state replacement must rewrite.

use super::apply::Touched;
use super::tables::{State, StateImage, TableIndexes};
use crate::types::StoredMembership;
use stowage_proto::{Outcome, Tables};

impl StateImage {
    /// The tables, as an archive holds them (an archive has no Raft position).
    pub fn into_tables(self) -> Tables {
        Tables {
            volumes: self.volumes,
            claims: self.claims,
            plugins: self.plugins,
            namespaces: self.namespaces,
            acl_policies: self.acl_policies,
            acl_tokens: self.acl_tokens,
            acl_bootstrap: self.acl_bootstrap,
        }
    }
}

impl State {
    /// Every table, as an archive holds them.
    pub fn tables(&self) -> Tables {
        self.image(None, StoredMembership::default()).into_tables()
    }

    /// Every record this state holds, as `Touched` entries: what must be written to store it.
    pub fn all_records(&self) -> Vec<Touched> {
        self.volumes
            .keys()
            .map(|k| Touched::Volume(k.clone()))
            .chain(
                self.claims
                    .iter()
                    .flat_map(|(k, m)| m.keys().map(|a| Touched::Claim(k.clone(), a.clone()))),
            )
            .chain(self.history_records())
            .chain(self.plugins.keys().map(|p| Touched::Plugin(p.clone())))
            .chain(
                self.namespaces
                    .keys()
                    .map(|n| Touched::Namespace(n.clone())),
            )
            .chain(
                self.acl
                    .policies
                    .keys()
                    .map(|n| Touched::AclPolicy(n.clone())),
            )
            .chain(
                self.acl
                    .tokens()
                    .map(|t| Touched::AclToken(t.accessor_id.clone())),
            )
            .chain([Touched::AclBootstrap])
            .collect()
    }

    /// Replaces every table with `tables` at `index`. Every record of the old state and of the
    /// new one is touched, so the old ones are deleted from disk and the new ones written. Every
    /// table index and every record's modify index become `index`: a blocking read of one
    /// record compares its modify index with the index it last saw, and must see that the
    /// record changed. Records keep their create indexes.
    pub(super) fn restore(
        &mut self,
        tables: &Tables,
        index: u64,
        touched: &mut Vec<Touched>,
    ) -> Outcome {
        let mut records = self.all_records();
        let mut image = StateImage {
            last_applied: None,
            membership: StoredMembership::default(),
            indexes: TableIndexes {
                volumes: index,
                plugins: index,
                namespaces: index,
                acl_policies: index,
                acl_tokens: index,
            },
            volumes: tables.volumes.clone(),
            claims: tables.claims.clone(),
            plugins: tables.plugins.clone(),
            namespaces: tables.namespaces.clone(),
            acl_policies: tables.acl_policies.clone(),
            acl_tokens: tables.acl_tokens.clone(),
            acl_bootstrap: tables.acl_bootstrap,
        };
        image
            .volumes
            .iter_mut()
            .for_each(|v| v.modify_index = index);
        image
            .plugins
            .iter_mut()
            .for_each(|p| p.modify_index = index);
        image
            .namespaces
            .iter_mut()
            .for_each(|n| n.modify_index = index);
        image
            .acl_policies
            .iter_mut()
            .for_each(|p| p.modify_index = index);
        image
            .acl_tokens
            .iter_mut()
            .for_each(|t| t.modify_index = index);
        *self = State::from_image(&image);
        records.extend(self.all_records());
        records.sort();
        records.dedup();
        touched.extend(records);
        Outcome::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures::apply;
    use stowage_proto::{AccessMode, AttachmentMode, Capability, Command, Volume, VolumeKey};

    fn vol(id: &str) -> Volume {
        Volume {
            id: id.into(),
            namespace: "default".into(),
            plugin_id: "p".into(),
            requested_capabilities: vec![Capability {
                access_mode: AccessMode::SingleNodeWriter,
                attachment_mode: AttachmentMode::FileSystem,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_restore_puts_the_archived_tables_back_and_touches_old_and_new_records() {
        let mut s = State::default();
        apply(
            &mut s,
            Command::RegisterVolumes {
                volumes: vec![vol("kept")],
                cas: None,
            },
            5,
        );
        let archived = s.tables();
        apply(
            &mut s,
            Command::RegisterVolumes {
                volumes: vec![vol("later")],
                cas: None,
            },
            6,
        );
        assert!(archived.check().is_ok());

        let touched = apply(
            &mut s,
            Command::RestoreTables {
                tables: Box::new(archived.clone()),
            },
            9,
        );
        let kept = VolumeKey::new("default", "kept");
        let later = VolumeKey::new("default", "later");
        assert!(s.volumes.contains_key(&kept) && !s.volumes.contains_key(&later));
        assert_eq!(
            s.volumes[&kept].create_index, 5,
            "records keep their own indexes"
        );
        assert!(
            touched.contains(&Touched::Volume(later)),
            "the dropped volume is deleted on disk"
        );
        assert!(touched.contains(&Touched::Volume(kept)));
        assert_eq!(s.indexes.volumes, 9);
        assert_eq!(s.indexes.namespaces, 9);
        let mut expected = archived.clone();
        expected.volumes.iter_mut().for_each(|v| v.modify_index = 9);
        expected
            .namespaces
            .iter_mut()
            .for_each(|n| n.modify_index = 9);
        assert_eq!(s.tables(), expected);
    }

    #[test]
    fn tables_no_cluster_could_hold_are_refused() {
        let mut s = State::default();
        apply(
            &mut s,
            Command::RegisterVolumes {
                volumes: vec![vol("v")],
                cas: None,
            },
            3,
        );
        let mut no_default = s.tables();
        no_default.namespaces.clear();
        assert!(no_default.check().is_err());
        let mut orphan = s.tables();
        orphan.volumes[0].namespace = "elsewhere".into();
        assert!(orphan.check().is_err());
        let mut twice = s.tables();
        twice.volumes.push(twice.volumes[0].clone());
        assert!(twice.check().is_err());
        let mut two_defaults = s.tables();
        two_defaults
            .namespaces
            .push(two_defaults.namespaces[0].clone());
        assert!(two_defaults.check().is_err());
    }
}
