//! Deterministic apply: a command plus its log index and leader-stamped time in, a response and
//! the set of touched records out. No clock, randomness or I/O here.

use super::tables::State;
use stowage_proto::rules::ClaimLimit;
use stowage_proto::{
    Command, CommandResponse, DomainError, Namespace, Outcome, Plugin, Request, VolumeKey,
};

/// A record whose stored value must be rewritten (or deleted, if now absent) after apply.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Touched {
    Volume(VolumeKey),
    Claim(VolumeKey, String),
    /// The volume's claim-history events at one log index.
    History(VolumeKey, u64),
    Plugin(String),
    Namespace(String),
    AclPolicy(String),
    AclToken(String),
    AclBootstrap,
}

/// Whether anyone waits for an applied command's answer. The leader's proposer does; nobody
/// waits on a follower, or for an entry an earlier leader proposed. An answer nobody waits for
/// is `Outcome::Done`: a volume's full answer (a copy of it with its claims, plugin and claim
/// history) is not built only to be dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Wanted,
    Unwanted,
}

impl State {
    /// Applies one command at `index`. Rule violations come back inside the response and leave
    /// the state exactly as it was.
    pub fn apply(
        &mut self,
        req: &Request,
        index: u64,
        touched: &mut Vec<Touched>,
    ) -> CommandResponse {
        self.apply_with(req, index, ClaimLimit::Enforced, Answer::Wanted, touched)
    }

    /// `apply`, with the claim limit as given (a node always enforces it, except in the chaos
    /// suite's deliberately wrong builds), building the answer only if it is wanted.
    pub fn apply_with(
        &mut self,
        req: &Request,
        index: u64,
        limit: ClaimLimit,
        answer: Answer,
        touched: &mut Vec<Touched>,
    ) -> CommandResponse {
        if let Some(caller) = &req.caller
            && !self.admits_proposer(caller, &req.command, req.time_ns)
        {
            return CommandResponse {
                index,
                table_index: self.table_index_of(&req.command),
                result: Err(DomainError::PermissionDenied),
            };
        }
        let result = match &req.command {
            Command::RegisterVolumes { volumes, cas } => {
                self.register_volumes(volumes, *cas, (index, req.time_ns), answer, touched)
            }
            Command::DeregisterVolume {
                namespace,
                id,
                force,
                cas,
            } => {
                self.deregister_volume(&VolumeKey::new(namespace, id), *force, *cas, index, touched)
            }
            Command::Claim {
                namespace,
                volume_id,
                request,
                cas,
            } => self.claim(
                &VolumeKey::new(namespace, volume_id),
                request,
                *cas,
                (index, req.time_ns),
                (limit, answer),
                touched,
            ),
            Command::DetachNode {
                namespace,
                volume_id,
                node_id,
            } => self.detach(
                &VolumeKey::new(namespace, volume_id),
                node_id,
                index,
                req.time_ns,
                touched,
            ),
            Command::UpsertPlugin { plugin } => Ok(self.upsert_plugin(plugin, index, touched)),
            Command::DeletePlugin { id } => self.delete_plugin(id, index, touched),
            Command::UpsertNamespace { namespace } => {
                Ok(self.upsert_namespace(namespace, index, touched))
            }
            Command::DeleteNamespace { name } => self.delete_namespace(name, index, touched),
            Command::BootstrapAcl { token, reset_index } => {
                self.bootstrap_acl(token, *reset_index, index, touched)
            }
            Command::UpsertAclPolicies { policies } => {
                Ok(self.upsert_acl_policies(policies, index, touched))
            }
            Command::DeleteAclPolicies { names } => {
                Ok(self.delete_acl_policies(names, index, touched))
            }
            Command::UpsertAclTokens { tokens, create } => {
                self.upsert_acl_tokens(tokens, *create, index, touched)
            }
            Command::DeleteAclTokens { accessor_ids } => {
                self.delete_acl_tokens(accessor_ids, index, touched)
            }
            Command::RestoreTables { tables } => Ok(self.restore(tables, index, touched)),
        };
        let table_index = self.table_index_of(&req.command);
        CommandResponse {
            index,
            table_index,
            result,
        }
    }

    /// The index of the table `command` writes, which its answer reports.
    fn table_index_of(&self, command: &Command) -> u64 {
        match command {
            Command::UpsertPlugin { .. } | Command::DeletePlugin { .. } => self.indexes.plugins,
            Command::UpsertNamespace { .. } | Command::DeleteNamespace { .. } => {
                self.indexes.namespaces
            }
            Command::UpsertAclPolicies { .. } | Command::DeleteAclPolicies { .. } => {
                self.indexes.acl_policies
            }
            Command::BootstrapAcl { .. }
            | Command::UpsertAclTokens { .. }
            | Command::DeleteAclTokens { .. } => self.indexes.acl_tokens,
            Command::RegisterVolumes { .. }
            | Command::DeregisterVolume { .. }
            | Command::Claim { .. }
            | Command::DetachNode { .. }
            | Command::RestoreTables { .. } => self.indexes.volumes,
        }
    }

    fn upsert_plugin(
        &mut self,
        plugin: &Plugin,
        index: u64,
        touched: &mut Vec<Touched>,
    ) -> Outcome {
        let mut plugin = plugin.clone();
        plugin.create_index = self
            .plugins
            .get(&plugin.id)
            .map_or(index, |p| p.create_index);
        plugin.modify_index = index;
        self.plugins.insert(plugin.id.clone(), plugin.clone());
        self.indexes.plugins = index;
        // Volumes show plugin health, so a plugin change is a change to every volume read.
        self.indexes.volumes = index;
        touched.push(Touched::Plugin(plugin.id.clone()));
        Outcome::Plugin(plugin)
    }

    fn delete_plugin(
        &mut self,
        id: &str,
        index: u64,
        touched: &mut Vec<Touched>,
    ) -> Result<Outcome, DomainError> {
        if self.plugins.remove(id).is_none() {
            return Err(DomainError::PluginNotFound { id: id.to_string() });
        }
        self.indexes.plugins = index;
        self.indexes.volumes = index;
        touched.push(Touched::Plugin(id.to_string()));
        Ok(Outcome::Done)
    }

    fn upsert_namespace(
        &mut self,
        ns: &Namespace,
        index: u64,
        touched: &mut Vec<Touched>,
    ) -> Outcome {
        let mut ns = ns.clone();
        ns.create_index = self
            .namespaces
            .get(&ns.name)
            .map_or(index, |n| n.create_index);
        ns.modify_index = index;
        self.namespaces.insert(ns.name.clone(), ns.clone());
        self.indexes.namespaces = index;
        touched.push(Touched::Namespace(ns.name.clone()));
        Outcome::Namespace(ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_proto::rules::ClaimRequest;
    use stowage_proto::{AccessMode, AttachmentMode, Capability, ClaimMode, ClaimState, Volume};

    fn req(command: Command) -> Request {
        Request {
            command,
            time_ns: 1_700_000_000_000_000_000,
            caller: None,
        }
    }

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

    fn register(v: Volume, cas: Option<u64>) -> Request {
        req(Command::RegisterVolumes {
            volumes: vec![v],
            cas,
        })
    }

    fn dereg(force: bool, cas: Option<u64>) -> Request {
        req(Command::DeregisterVolume {
            namespace: "default".into(),
            id: "a".into(),
            force,
            cas,
        })
    }

    #[test]
    fn register_stamps_indexes_and_time_and_keeps_create_index() {
        let mut s = State::default();
        let mut t = vec![];
        let r = s.apply(&register(vol("a"), None), 5, &mut t);
        assert_eq!(r.index, 5);
        let stored = &s.volumes[&VolumeKey::new("default", "a")];
        assert_eq!((stored.create_index, stored.modify_index), (5, 5));
        assert_eq!(stored.create_time, 1_700_000_000_000_000_000);
        s.apply(&register(vol("a"), None), 9, &mut t);
        let stored = &s.volumes[&VolumeKey::new("default", "a")];
        assert_eq!((stored.create_index, stored.modify_index), (5, 9));
        assert_eq!(s.indexes.volumes, 9);
        assert_eq!(t, vec![Touched::Volume(VolumeKey::new("default", "a")); 2]);
    }

    #[test]
    fn unknown_plugin_registers_with_a_warning_and_known_plugin_sets_provider() {
        let mut s = State::default();
        let mut t = vec![];
        let r = s.apply(&register(vol("a"), None), 1, &mut t);
        let Ok(Outcome::Registered { warnings, .. }) = r.result else {
            panic!("{:?}", r.result)
        };
        assert!(
            warnings[0].starts_with("no CSI plugin named: p could be found"),
            "{warnings:?}"
        );
        let plugin = Plugin {
            id: "p".into(),
            provider: "ebs".into(),
            version: "1.2".into(),
            nodes_healthy: 1,
            ..Default::default()
        };
        s.apply(&req(Command::UpsertPlugin { plugin }), 2, &mut t);
        let r = s.apply(&register(vol("a"), None), 3, &mut t);
        let Ok(Outcome::Registered { volumes, warnings }) = r.result else {
            panic!()
        };
        assert!(warnings.is_empty());
        assert_eq!(
            (
                volumes[0].volume.provider.as_str(),
                volumes[0].volume.provider_version.as_str()
            ),
            ("ebs", "1.2")
        );
    }

    #[test]
    fn refusals_change_nothing() {
        let mut s = State::default();
        let mut t = vec![];
        let mut v = vol("a");
        v.namespace = "prod".into();
        let r = s.apply(&register(v, None), 1, &mut t);
        assert_eq!(
            r.result,
            Err(DomainError::NamespaceMissing {
                id: "a".into(),
                namespace: "prod".into()
            })
        );
        s.apply(&register(vol("a"), None), 2, &mut t);
        let before = s.clone();
        let mut changed = vol("a");
        changed.plugin_id = "other".into();
        let r = s.apply(
            &req(Command::RegisterVolumes {
                volumes: vec![vol("b"), changed],
                cas: None,
            }),
            3,
            &mut t,
        );
        assert_eq!(
            r.result.map(|_| ()).map_err(|e| e.to_string()),
            Err("unable to update volume: 1 error occurred:\n\t* volume plugin ID cannot be updated\n\n".to_string())
        );
        assert_eq!(
            s, before,
            "a refused command changes nothing, not even its valid volumes"
        );
    }

    #[test]
    fn cas_guards_register_and_deregister() {
        let mut s = State::default();
        let mut t = vec![];
        assert!(
            s.apply(&register(vol("a"), Some(0)), 4, &mut t)
                .result
                .is_ok()
        );
        assert_eq!(
            s.apply(&register(vol("a"), Some(0)), 5, &mut t).result,
            Err(DomainError::AlreadyExists { id: "a".into() })
        );
        assert_eq!(
            s.apply(&register(vol("a"), Some(3)), 6, &mut t).result,
            Err(DomainError::IndexMismatch {
                id: "a".into(),
                expected: 3,
                current: 4
            })
        );
        assert!(
            s.apply(&register(vol("a"), Some(4)), 7, &mut t)
                .result
                .is_ok()
        );
        assert!(s.apply(&dereg(false, Some(4)), 8, &mut t).result.is_err());
        assert_eq!(
            s.apply(&dereg(false, Some(7)), 9, &mut t).result,
            Ok(Outcome::Done)
        );
    }

    #[test]
    fn deregister_respects_claims_and_force() {
        let mut s = State::default();
        let mut t = vec![];
        s.apply(&register(vol("a"), None), 1, &mut t);
        let key = VolumeKey::new("default", "a");
        let mut claim = ClaimRequest {
            allocation_id: "alloc".into(),
            node_id: "n1".into(),
            external_node_id: String::new(),
            mode: ClaimMode::Write,
            access_mode: AccessMode::SingleNodeWriter,
            attachment_mode: AttachmentMode::FileSystem,
            state: ClaimState::Taken,
            job_id: String::new(),
            task_group: String::new(),
            name: String::new(),
        }
        .to_claim(0);
        s.claims
            .entry(key.clone())
            .or_default()
            .insert("alloc".into(), claim.clone());
        for force in [false, true] {
            let r = s.apply(&dereg(force, None), 2, &mut t);
            assert_eq!(r.result, Err(DomainError::VolumeInUse { id: "a".into() }));
        }
        claim.state = ClaimState::NodeDetached;
        s.claims
            .entry(key.clone())
            .or_default()
            .insert("alloc".into(), claim);
        assert!(s.apply(&dereg(false, None), 3, &mut t).result.is_err());
        assert_eq!(
            s.apply(&dereg(true, None), 4, &mut t).result,
            Ok(Outcome::Done)
        );
        assert!(s.volumes.is_empty() && s.claims.is_empty());
        assert_eq!(
            s.apply(&dereg(false, None), 5, &mut t).result,
            Err(DomainError::VolumeNotFound { id: "a".into() })
        );
    }

    #[test]
    fn an_answer_nobody_wants_is_not_built_and_changes_nothing_else() {
        use crate::state::fixtures::{claim, claimable};
        let access = AccessMode::MultiNodeMultiWriter;
        let commands = [
            claim("a", "n", ClaimMode::Write, access, ClaimState::Taken),
            claim("a", "n", ClaimMode::Write, access, ClaimState::Taken),
            Command::RegisterVolumes {
                volumes: vec![Volume {
                    capacity: 5,
                    ..Volume::clone(
                        &claimable(access).volumes[&crate::state::fixtures::claimed_key()],
                    )
                }],
                cas: None,
            },
        ];
        let (mut wanted, mut unwanted) = (claimable(access), claimable(access));
        for (i, command) in commands.into_iter().enumerate() {
            let index = 3 + i as u64;
            let r = req(command);
            let (mut t1, mut t2) = (Vec::new(), Vec::new());
            let limit = ClaimLimit::Enforced;
            let built = wanted.apply_with(&r, index, limit, Answer::Wanted, &mut t1);
            let skipped = unwanted.apply_with(&r, index, limit, Answer::Unwanted, &mut t2);
            assert!(
                matches!(
                    built.result,
                    Ok(Outcome::Claimed { .. } | Outcome::Registered { .. })
                ),
                "{built:?}"
            );
            assert_eq!(skipped.result, Ok(Outcome::Done));
            assert_eq!(
                (skipped.index, skipped.table_index),
                (built.index, built.table_index)
            );
            assert_eq!(t1, t2);
            assert_eq!(wanted, unwanted);
        }
    }
}
