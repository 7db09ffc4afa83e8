//! The ACL tables (policies by name, tokens by accessor with an index by secret hash, and the
//! bootstrap mark), applying their commands and a namespace's removal, and resolving the token a
//! caller presents into what it may do.

use super::apply::Touched;
use super::tables::State;
use std::collections::BTreeMap;
use stowage_proto::acl::{
    Acl, AclPolicy, AclToken, NsCapability, PluginAccess, Token, TokenKind, hash_secret, is_uuid,
};
use stowage_proto::{Command, DomainError, Namespace, Outcome, Proposer, VolumeKey};

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
        // Secrets are unique (apply refuses a clash), but the index must never lose another
        // token's entry even so.
        if self.by_hash.get(&old.secret_hash).map(String::as_str) == Some(accessor_id) {
            self.by_hash.remove(&old.secret_hash);
        }
        Some(old)
    }

    /// Whether a new token would share an accessor or a secret with a stored one.
    fn clashes(&self, token: &AclToken) -> bool {
        self.tokens.contains_key(&token.accessor_id)
            || self.by_hash.contains_key(&token.secret_hash)
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
        match token.presented() {
            None => self.resolve_proposer(&Proposer::Anonymous, now),
            Some(secret) if is_uuid(secret) => {
                let secret_hash = hash_secret(secret);
                self.resolve_proposer(&Proposer::Token { secret_hash }, now)
            }
            Some(_) => Err(Denied::NotAToken),
        }
    }

    /// What the caller a command was proposed for may do at `now`, and its token.
    pub fn resolve_proposer(
        &self,
        caller: &Proposer,
        now: i64,
    ) -> Result<(Acl, Option<&AclToken>), Denied> {
        let secret_hash = match caller {
            Proposer::Anonymous => {
                return Ok((self.merged(&[ANONYMOUS_POLICY.to_string()]), None));
            }
            Proposer::Token { secret_hash } => secret_hash,
        };
        let found = self
            .by_hash
            .get(secret_hash)
            .and_then(|accessor| self.tokens.get(accessor))
            .ok_or(Denied::Unknown)?;
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
    match command {
        Command::RegisterVolumes { volumes, .. } => {
            may_register(acl, volumes.iter().map(|v| v.namespace.as_str()))
        }
        Command::DeregisterVolume { namespace, .. } => {
            in_namespace(acl, namespace, &["csi-write-volume"])
        }
        Command::Claim { namespace, .. } | Command::DetachNode { namespace, .. } => {
            may_mount(acl, namespace)
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
        | Command::DeleteAclTokens { .. }
        | Command::RestoreTables { .. } => acl.is_management(),
    }
}

/// Whether `acl` may register volumes into every one of `namespaces`.
pub fn may_register<'a>(acl: &Acl, mut namespaces: impl Iterator<Item = &'a str>) -> bool {
    acl.allows_plugin(PluginAccess::Read)
        && namespaces.all(|ns| in_namespace(acl, ns, &["csi-write-volume"]))
}

/// Whether `acl` may claim, release or detach volumes in `namespace`.
pub fn may_mount(acl: &Acl, namespace: &str) -> bool {
    acl.allows_plugin(PluginAccess::Read) && in_namespace(acl, namespace, &["csi-mount-volume"])
}

/// A write names one real namespace; `*` (any namespace, for reads) grants nothing here.
fn in_namespace(acl: &Acl, namespace: &str, caps: &[NsCapability]) -> bool {
    namespace != "*" && acl.allows_namespace(namespace, caps)
}

impl State {
    /// Whether the caller presenting `token` at `now` may have `command` applied.
    pub fn admits(&self, token: &Token, command: &Command, now: i64) -> bool {
        self.acl
            .resolve(token, now)
            .is_ok_and(|(acl, _)| command_allowed(&acl, command))
    }

    /// `admits`, for the caller a command was proposed for: what apply checks.
    pub(super) fn admits_proposer(&self, caller: &Proposer, command: &Command, now: i64) -> bool {
        self.acl
            .resolve_proposer(caller, now)
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
        if self.acl.clashes(token) {
            return Err(DomainError::AclTokenExists);
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
        let mut decided: Vec<AclToken> = Vec::with_capacity(tokens.len());
        for t in tokens {
            let mut t = t.clone();
            let clash_in_batch = decided.iter().any(|d| {
                d.accessor_id == t.accessor_id || (create && d.secret_hash == t.secret_hash)
            });
            if clash_in_batch || (create && self.acl.clashes(&t)) {
                return Err(DomainError::AclTokenExists);
            }
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
                (None, false) => {
                    return Err(DomainError::AclTokenMissing {
                        accessor_id: t.accessor_id.clone(),
                    });
                }
                (Some(_), true) => return Err(DomainError::AclTokenExists),
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
        if first_in_namespace.is_some_and(|(k, _)| k.namespace == name) {
            return Err(DomainError::NamespaceInUse { name: name.into() });
        }
        self.namespaces.remove(name);
        self.indexes.namespaces = index;
        touched.push(Touched::Namespace(name.into()));
        Ok(Outcome::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_proto::acl::{compile_policy_rules, new_uuid};
    use stowage_proto::{Proposer, Request, Volume};

    const NOW: i64 = 1_700_000_000_000_000_000;

    fn token(secret: &str, kind: TokenKind, policies: &[&str], expires: Option<i64>) -> AclToken {
        AclToken {
            accessor_id: new_uuid(),
            secret_hash: hash_secret(secret),
            name: "t".into(),
            kind,
            policies: policies.iter().map(|p| p.to_string()).collect(),
            global: false,
            create_time: NOW - 1,
            expiration_time: expires,
            expiration_ttl: expires.map_or(0, |e| e - NOW),
            create_index: 0,
            modify_index: 0,
        }
    }

    fn apply(
        s: &mut State,
        command: Command,
        caller: Option<Proposer>,
        index: u64,
    ) -> Result<Outcome, DomainError> {
        let req = Request {
            command,
            time_ns: NOW,
            caller,
        };
        s.apply(&req, index, &mut vec![]).result
    }

    fn register(id: &str) -> Command {
        Command::RegisterVolumes {
            volumes: vec![Volume {
                id: id.into(),
                namespace: "default".into(),
                plugin_id: "p".into(),
                ..Default::default()
            }],
            cas: None,
        }
    }

    fn as_holder(secret: &str) -> Option<Proposer> {
        Some(Token::secret(secret).proposer())
    }

    #[test]
    fn apply_checks_the_caller_again_against_the_state_it_applies_to() {
        let mut s = State::default();
        let root = new_uuid();
        let writer = new_uuid();
        let expired = new_uuid();
        let rules = "namespace \"default\" { policy = \"write\" }\nplugin { policy = \"read\" }";
        let policy = AclPolicy {
            name: "w".into(),
            description: String::new(),
            rules: rules.into(),
            compiled: compile_policy_rules(rules).expect("rules"),
            create_index: 0,
            modify_index: 0,
        };
        let bootstrap = Command::BootstrapAcl {
            token: token(&root, TokenKind::Management, &[], None),
            reset_index: None,
        };
        assert!(apply(&mut s, bootstrap, Some(Proposer::Anonymous), 1).is_ok());
        let tokens = vec![
            token(&writer, TokenKind::Client, &["w"], None),
            token(&expired, TokenKind::Management, &[], Some(NOW - 1)),
        ];
        let create = Command::UpsertAclTokens {
            tokens: tokens.clone(),
            create: true,
        };
        let policies = Command::UpsertAclPolicies {
            policies: vec![policy],
        };
        assert!(apply(&mut s, create, as_holder(&root), 2).is_ok());
        assert!(apply(&mut s, policies, as_holder(&root), 3).is_ok());

        let before = s.clone();
        for (who, caller) in [
            ("anonymous", Some(Proposer::Anonymous)),
            ("unknown", as_holder(&new_uuid())),
            ("expired", as_holder(&expired)),
        ] {
            let r = apply(&mut s, register("v"), caller, 4);
            assert_eq!(r, Err(DomainError::PermissionDenied), "{who}");
            assert_eq!(s, before, "a refusal changes nothing ({who})");
        }
        assert!(apply(&mut s, register("v"), as_holder(&writer), 5).is_ok());
        // Revoked between the leader's admission and apply: apply refuses.
        let revoke = Command::DeleteAclTokens {
            accessor_ids: vec![tokens[0].accessor_id.clone()],
        };
        assert!(apply(&mut s, revoke, as_holder(&root), 6).is_ok());
        let r = apply(&mut s, register("w"), as_holder(&writer), 7);
        assert_eq!(r, Err(DomainError::PermissionDenied));
        // The node itself is not held to ACLs.
        assert!(apply(&mut s, register("w"), None, 8).is_ok());
    }

    #[test]
    fn no_two_tokens_share_an_accessor_or_a_secret() {
        let mut s = State::default();
        let secret = new_uuid();
        let first = token(&secret, TokenKind::Management, &[], None);
        let bootstrap = |t: AclToken, reset_index| Command::BootstrapAcl {
            token: t,
            reset_index,
        };
        assert!(apply(&mut s, bootstrap(first.clone(), None), None, 1).is_ok());
        // A reset bootstrap reusing the first secret would leave two tokens behind one secret.
        let again = token(&secret, TokenKind::Management, &[], None);
        let r = apply(&mut s, bootstrap(again, Some(1)), None, 2);
        assert_eq!(r, Err(DomainError::AclTokenExists));
        let fresh = token(&new_uuid(), TokenKind::Management, &[], None);
        assert!(apply(&mut s, bootstrap(fresh, Some(1)), None, 3).is_ok());

        let twin = AclToken {
            accessor_id: new_uuid(),
            ..first.clone()
        };
        let create = Command::UpsertAclTokens {
            tokens: vec![twin],
            create: true,
        };
        assert_eq!(
            apply(&mut s, create, None, 4),
            Err(DomainError::AclTokenExists)
        );
        let same_accessor = AclToken {
            secret_hash: hash_secret(&new_uuid()),
            ..first.clone()
        };
        let create = Command::UpsertAclTokens {
            tokens: vec![same_accessor],
            create: true,
        };
        assert_eq!(
            apply(&mut s, create, None, 5),
            Err(DomainError::AclTokenExists)
        );
        assert_eq!(
            s.acl.token_by_secret(&secret).map(|t| &t.accessor_id),
            Some(&first.accessor_id)
        );
    }
}
