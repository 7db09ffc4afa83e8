//! The ACL tables (policies by name, tokens by accessor with an index by secret hash, and the
//! bootstrap mark), applying their commands and a namespace's removal, and resolving the token a
//! caller presents into what it may do.

use super::apply::Touched;
use super::tables::State;
use std::collections::BTreeMap;
use stowage_proto::acl::{
    Acl, AclPolicy, AclToken, NsCapability, PluginAccess, Token, TokenKind, hash_secret, is_uuid,
};
use stowage_proto::{Command, DomainError, Namespace, Outcome, VolumeKey};

/// The name of the policy that applies to callers with no token.
pub const ANONYMOUS_POLICY: &str = "anonymous";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AclTables {
    pub policies: BTreeMap<String, AclPolicy>,
    tokens: BTreeMap<String, AclToken>,
    /// Secret hash → accessor, kept in step with `tokens`.
    by_hash: BTreeMap<String, String>,
    /// The index the ACL system was bootstrapped at, if it was.
    pub bootstrap_index: Option<u64>,
}

/// Why a presented token gets no access: every kind answers the same 403.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    NotAToken,
    Unknown,
    Expired,
}

impl AclTables {
    pub fn from_parts(
        policies: impl IntoIterator<Item = AclPolicy>,
        tokens: impl IntoIterator<Item = AclToken>,
        bootstrap_index: Option<u64>,
    ) -> AclTables {
        let mut t = AclTables {
            policies: policies.into_iter().map(|p| (p.name.clone(), p)).collect(),
            bootstrap_index,
            ..AclTables::default()
        };
        for token in tokens {
            t.insert_token(token);
        }
        t
    }

    pub fn tokens(&self) -> impl Iterator<Item = &AclToken> {
        self.tokens.values()
    }

    pub fn token(&self, accessor_id: &str) -> Option<&AclToken> {
        self.tokens.get(accessor_id)
    }

    pub fn token_by_secret(&self, secret: &str) -> Option<&AclToken> {
        self.tokens.get(self.by_hash.get(&hash_secret(secret))?)
    }

    pub(crate) fn insert_token(&mut self, token: AclToken) {
        if let Some(old) = self.tokens.get(&token.accessor_id) {
            self.by_hash.remove(&old.secret_hash);
        }
        self.by_hash
            .insert(token.secret_hash.clone(), token.accessor_id.clone());
        self.tokens.insert(token.accessor_id.clone(), token);
    }

    pub(super) fn remove_token(&mut self, accessor_id: &str) -> Option<AclToken> {
        let old = self.tokens.remove(accessor_id)?;
        self.by_hash.remove(&old.secret_hash);
        Some(old)
    }

    /// The merged rules of the named policies that exist (missing ones grant nothing).
    fn merged(&self, names: &[String]) -> Acl {
        Acl::merge(
            names
                .iter()
                .filter_map(|n| self.policies.get(n))
                .map(|p| &p.compiled),
        )
    }

    /// What the caller presenting `token` may do at `now` (nanoseconds since the epoch), and
    /// its token, when it has one.
    pub fn resolve(&self, token: &Token, now: i64) -> Result<(Acl, Option<&AclToken>), Denied> {
        let Some(secret) = token.presented() else {
            return Ok((self.merged(&[ANONYMOUS_POLICY.to_string()]), None));
        };
        if !is_uuid(secret) {
            return Err(Denied::NotAToken);
        }
        let found = self.token_by_secret(secret).ok_or(Denied::Unknown)?;
        if found.expired(now) {
            return Err(Denied::Expired);
        }
        let acl = match found.kind {
            TokenKind::Management => Acl::Management,
            TokenKind::Client => self.merged(&found.policies),
        };
        Ok((acl, Some(found)))
    }
}

/// The capabilities that let a caller list, and read, volumes in a namespace.
pub const LIST_VOLUMES: &[NsCapability] = &[
    "csi-list-volume",
    "csi-read-volume",
    "csi-mount-volume",
    "list-jobs",
];
pub const READ_VOLUME: &[NsCapability] = &["csi-read-volume", "csi-mount-volume", "read-job"];

/// Whether `acl` may have `command` applied. Register needs plugin read and csi-write-volume in
/// every volume's namespace; deregister csi-write-volume; claims and detaches csi-mount-volume
/// and plugin read; the plugin feed plugin write; namespaces and ACLs a management token. The
/// bootstrap needs nothing: apply refuses a second one.
pub fn command_allowed(acl: &Acl, command: &Command) -> bool {
    let plugin_read = || acl.allows_plugin(PluginAccess::Read);
    match command {
        Command::RegisterVolumes { volumes, .. } => {
            plugin_read()
                && volumes
                    .iter()
                    .all(|v| acl.allows_namespace(&v.namespace, &["csi-write-volume"]))
        }
        Command::DeregisterVolume { namespace, .. } => {
            acl.allows_namespace(namespace, &["csi-write-volume"])
        }
        Command::Claim { namespace, .. } | Command::DetachNode { namespace, .. } => {
            plugin_read() && acl.allows_namespace(namespace, &["csi-mount-volume"])
        }
        Command::UpsertPlugin { .. } | Command::DeletePlugin { .. } => {
            acl.allows_plugin(PluginAccess::Write)
        }
        Command::BootstrapAcl { .. } => true,
        Command::UpsertNamespace { .. }
        | Command::DeleteNamespace { .. }
        | Command::UpsertAclPolicies { .. }
        | Command::DeleteAclPolicies { .. }
        | Command::UpsertAclTokens { .. }
        | Command::DeleteAclTokens { .. } => acl.is_management(),
    }
}

impl State {
    /// Whether the caller presenting `token` at `now` may have `command` applied.
    pub fn admits(&self, token: &Token, command: &Command, now: i64) -> bool {
        self.acl
            .resolve(token, now)
            .is_ok_and(|(acl, _)| command_allowed(&acl, command))
    }

    pub(super) fn bootstrap_acl(
        &mut self,
        token: &AclToken,
        reset_index: Option<u64>,
        index: u64,
        touched: &mut Vec<Touched>,
    ) -> Result<Outcome, DomainError> {
        if let Some(done) = self.acl.bootstrap_index {
            match reset_index {
                None => return Err(DomainError::AclBootstrapped { reset_index: done }),
                Some(specified) if specified != done => {
                    return Err(DomainError::BootstrapResetMismatch {
                        specified,
                        reset_index: done,
                    });
                }
                Some(_) => {}
            }
        }
        let mut token = token.clone();
        token.create_index = index;
        token.modify_index = index;
        self.acl.insert_token(token.clone());
        self.acl.bootstrap_index = Some(index);
        self.indexes.acl_tokens = index;
        touched.push(Touched::AclToken(token.accessor_id.clone()));
        touched.push(Touched::AclBootstrap);
        Ok(Outcome::AclTokens(vec![token]))
    }

    pub(super) fn upsert_acl_policies(
        &mut self,
        policies: &[AclPolicy],
        index: u64,
        touched: &mut Vec<Touched>,
    ) -> Outcome {
        for p in policies {
            let mut p = p.clone();
            p.create_index = self
                .acl
                .policies
                .get(&p.name)
                .map_or(index, |old| old.create_index);
            p.modify_index = index;
            touched.push(Touched::AclPolicy(p.name.clone()));
            self.acl.policies.insert(p.name.clone(), p);
        }
        self.indexes.acl_policies = index;
        Outcome::Done
    }

    /// Deleting a policy that does not exist is no error, as in Nomad: the result is the same.
    pub(super) fn delete_acl_policies(
        &mut self,
        names: &[String],
        index: u64,
        touched: &mut Vec<Touched>,
    ) -> Outcome {
        for name in names {
            self.acl.policies.remove(name);
            touched.push(Touched::AclPolicy(name.clone()));
        }
        self.indexes.acl_policies = index;
        Outcome::Done
    }

    /// Creates tokens (an empty accessor never reaches here: the endpoint names new ones), or
    /// updates existing ones. An update may change the name, the type and the policies; never
    /// the secret, the scope, the creation or the expiry.
    pub(super) fn upsert_acl_tokens(
        &mut self,
        tokens: &[AclToken],
        create: bool,
        index: u64,
        touched: &mut Vec<Touched>,
    ) -> Result<Outcome, DomainError> {
        let mut decided = Vec::with_capacity(tokens.len());
        for t in tokens {
            let mut t = t.clone();
            match (self.acl.token(&t.accessor_id), create) {
                (Some(old), false) => {
                    let unchangeable =
                        |what: &str| Err(DomainError::AclTokenUnchangeable(what.into()));
                    if old.global != t.global {
                        return unchangeable("cannot toggle global mode");
                    }
                    if old.expiration_ttl != t.expiration_ttl {
                        return unchangeable("cannot update expiration TTL");
                    }
                    if t.expiration_time.is_some() && t.expiration_time != old.expiration_time {
                        return unchangeable("cannot update expiration time");
                    }
                    t.secret_hash = old.secret_hash.clone();
                    t.create_time = old.create_time;
                    t.expiration_time = old.expiration_time;
                    t.create_index = old.create_index;
                }
                (None, true) => t.create_index = index,
                // A fresh accessor is a UUID nobody has: finding it taken means a replay.
                (Some(_), true) | (None, false) => {
                    return Err(DomainError::AclTokenMissing {
                        accessor_id: t.accessor_id.clone(),
                    });
                }
            }
            t.modify_index = index;
            decided.push(t);
        }
        for t in &decided {
            touched.push(Touched::AclToken(t.accessor_id.clone()));
            self.acl.insert_token(t.clone());
        }
        self.indexes.acl_tokens = index;
        Ok(Outcome::AclTokens(decided))
    }

    pub(super) fn delete_acl_tokens(
        &mut self,
        accessor_ids: &[String],
        index: u64,
        touched: &mut Vec<Touched>,
    ) -> Result<Outcome, DomainError> {
        let missing: Vec<String> = accessor_ids
            .iter()
            .filter(|a| self.acl.token(a).is_none())
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(DomainError::AclTokensMissing {
                accessor_ids: missing,
            });
        }
        for a in accessor_ids {
            self.acl.remove_token(a);
            touched.push(Touched::AclToken(a.clone()));
        }
        self.indexes.acl_tokens = index;
        Ok(Outcome::Done)
    }

    pub(super) fn delete_namespace(
        &mut self,
        name: &str,
        index: u64,
        touched: &mut Vec<Touched>,
    ) -> Result<Outcome, DomainError> {
        if name == Namespace::DEFAULT {
            return Err(DomainError::DefaultNamespace);
        }
        if !self.namespaces.contains_key(name) {
            return Err(DomainError::NamespaceNotFound { name: name.into() });
        }
        let first_in_namespace = self.volumes.range(VolumeKey::new(name, "")..).next();
        if let Some((key, _)) = first_in_namespace.filter(|(k, _)| k.namespace == name) {
            return Err(DomainError::NamespaceInUse {
                name: name.into(),
                volume_id: key.id.clone(),
            });
        }
        self.namespaces.remove(name);
        self.indexes.namespaces = index;
        touched.push(Touched::Namespace(name.into()));
        Ok(Outcome::Done)
    }
}
