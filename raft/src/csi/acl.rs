//! The ACL and namespace operations of the endpoint: bootstrap, policies, tokens and
//! namespaces, with Nomad's permissions. Policies and tokens need a management token, except
//! that a caller may read the policies attached to it and its own token; namespaces are listed
//! and read where the caller holds any capability, and written with a management token.

use super::{Csi, Found, Store, mismatched, now_ns, require};
use crate::state::ANONYMOUS_POLICY;
use stowage_proto::acl::{
    Acl, AclPolicy, AclToken, Token, TokenKind, compile_policy_rules, hash_secret, is_uuid,
    new_uuid,
};
use stowage_proto::api::{
    AclApi, AclPolicySpec, AclPolicyStub, AclTokenSpec, AclTokenStub, ApiAclPolicy, ApiAclToken,
    ApiNamespace, BootstrapRequest, CsiError, NamedListQuery, NamedQuery, NamespaceSpec, Read,
    TokenWritten, Written,
};
use stowage_proto::{Command, Namespace, Outcome, Watch};

impl<S: Store> Csi<S> {
    fn acl_on(&self) -> Result<(), CsiError> {
        require(self.store.acl_enabled()).map_err(|_| CsiError::AclDisabled)
    }

    async fn write_token(
        &self,
        t: &Token,
        command: Command,
        secret: Option<&str>,
    ) -> Result<TokenWritten, CsiError> {
        match self.write(t, command).await? {
            (Outcome::AclTokens(tokens), index) => match tokens.first() {
                Some(token) => Ok(TokenWritten {
                    token: ApiAclToken::from_token(token, secret),
                    index,
                }),
                None => Err(mismatched("a token write", &Outcome::AclTokens(vec![]))),
            },
            (other, _) => Err(mismatched("a token write", &other)),
        }
    }
}

fn required_name(name: &str, missing: &str) -> Result<(), CsiError> {
    if name.is_empty() {
        Err(CsiError::invalid(missing))
    } else {
        Ok(())
    }
}

impl<S: Store> AclApi for Csi<S> {
    /// The first management token. Anyone may ask; apply refuses every ask after the first,
    /// unless the reset file names that first bootstrap's index.
    async fn acl_bootstrap(&self, req: BootstrapRequest) -> Result<TokenWritten, CsiError> {
        self.acl_on()?;
        let secret = match req.bootstrap_secret.filter(|s| !s.is_empty()) {
            Some(s) if is_uuid(&s) => s,
            Some(_) => return Err(CsiError::invalid("invalid acl token")),
            None => new_uuid(),
        };
        let token = AclToken {
            accessor_id: new_uuid(),
            secret_hash: hash_secret(&secret),
            name: "Bootstrap Token".into(),
            kind: TokenKind::Management,
            policies: vec![],
            global: true,
            create_time: now_ns(),
            expiration_time: None,
            expiration_ttl: 0,
            create_index: 0,
            modify_index: 0,
        };
        // The leader fills in the reset index from its own reset file.
        let command = Command::BootstrapAcl {
            token,
            reset_index: None,
        };
        self.write_token(&Token::anonymous(), command, Some(&secret))
            .await
    }

    async fn acl_policies(
        &self,
        t: &Token,
        req: NamedListQuery,
    ) -> Result<Read<Vec<AclPolicyStub>>, CsiError> {
        self.acl_on()?;
        let prefix = req.prefix.unwrap_or_default();
        self.blocking(t, &req.options, Watch::AclPolicies, |s, caller| {
            // A management token sees every policy; anyone else, the policies attached to it.
            let linked = |name: &str| match caller.token {
                _ if caller.acl.is_management() => true,
                Some(token) => token.policies.iter().any(|p| p == name),
                None => name == ANONYMOUS_POLICY,
            };
            Ok(Found {
                value: s
                    .acl
                    .policies
                    .values()
                    .filter(|p| p.name.starts_with(&prefix) && linked(&p.name))
                    .map(|p| ApiAclPolicy::from_policy(p).stub())
                    .collect(),
                index: s.indexes.acl_policies.max(1),
                changed_at: s.indexes.acl_policies,
            })
        })
        .await
    }

    async fn acl_policy(
        &self,
        t: &Token,
        req: NamedQuery,
    ) -> Result<Read<Option<ApiAclPolicy>>, CsiError> {
        self.acl_on()?;
        required_name(&req.name, "Missing Policy Name")?;
        let name = req.name;
        self.blocking(t, &req.options, Watch::AclPolicies, |s, caller| {
            let linked = caller
                .token
                .is_some_and(|token| token.policies.contains(&name));
            require(caller.acl.is_management() || name == ANONYMOUS_POLICY || linked)?;
            let found = s.acl.policies.get(&name);
            Ok(Found {
                value: found.map(ApiAclPolicy::from_policy),
                index: found.map_or(s.indexes.acl_policies, |p| p.modify_index),
                changed_at: found.map_or(0, |p| p.modify_index),
            })
        })
        .await
    }

    async fn upsert_acl_policy(&self, t: &Token, spec: AclPolicySpec) -> Result<Written, CsiError> {
        self.acl_on()?;
        required_name(&spec.name, "Missing Policy Name")?;
        self.authorize(t, Acl::is_management).await?;
        let compiled = compile_policy_rules(&spec.rules)?;
        let policy = AclPolicy {
            name: spec.name,
            description: spec.description,
            rules: spec.rules,
            compiled,
            create_index: 0,
            modify_index: 0,
        };
        let (_, index) = self
            .write(
                t,
                Command::UpsertAclPolicies {
                    policies: vec![policy],
                },
            )
            .await?;
        Ok(Written { index })
    }

    async fn delete_acl_policy(&self, t: &Token, name: String) -> Result<Written, CsiError> {
        self.acl_on()?;
        required_name(&name, "Missing Policy Name")?;
        let (_, index) = self
            .write(t, Command::DeleteAclPolicies { names: vec![name] })
            .await?;
        Ok(Written { index })
    }

    async fn acl_tokens(
        &self,
        t: &Token,
        req: NamedListQuery,
    ) -> Result<Read<Vec<AclTokenStub>>, CsiError> {
        self.acl_on()?;
        let prefix = req.prefix.unwrap_or_default();
        self.blocking(t, &req.options, Watch::AclTokens, |s, caller| {
            require(caller.acl.is_management())?;
            let mut tokens: Vec<&AclToken> = s
                .acl
                .tokens()
                .filter(|t| t.accessor_id.starts_with(&prefix))
                .collect();
            tokens.sort_by(|a, b| {
                (a.create_index, &a.accessor_id).cmp(&(b.create_index, &b.accessor_id))
            });
            Ok(Found {
                value: tokens
                    .into_iter()
                    .map(|t| ApiAclToken::from_token(t, None).stub())
                    .collect(),
                index: s.indexes.acl_tokens,
                changed_at: s.indexes.acl_tokens,
            })
        })
        .await
    }

    async fn acl_token(
        &self,
        t: &Token,
        req: NamedQuery,
    ) -> Result<Read<Option<ApiAclToken>>, CsiError> {
        self.acl_on()?;
        required_name(&req.name, "Missing Token Accessor")?;
        let accessor = req.name;
        self.blocking(t, &req.options, Watch::AclTokens, |s, caller| {
            // Anyone may read their own token; only a management token may read another, or
            // learn that one does not exist.
            let own = caller.token.is_some_and(|own| own.accessor_id == accessor);
            require(caller.acl.is_management() || own)?;
            let found = s.acl.token(&accessor);
            Ok(Found {
                value: found.map(|t| ApiAclToken::from_token(t, None)),
                index: found.map_or(s.indexes.acl_tokens, |t| t.modify_index),
                changed_at: found.map_or(0, |t| t.modify_index),
            })
        })
        .await
    }

    async fn acl_token_self(&self, t: &Token) -> Result<Read<ApiAclToken>, CsiError> {
        if !self.store.acl_enabled() {
            return Ok(Read {
                value: ApiAclToken::acls_disabled(),
                index: 0,
            });
        }
        self.store.settle(false).await?;
        self.store.read(|s| {
            let caller = self.caller(s, t)?;
            Ok(match caller.token {
                Some(token) => Read {
                    value: ApiAclToken::from_token(token, None),
                    index: token.modify_index,
                },
                None => Read {
                    value: ApiAclToken::anonymous(),
                    index: 0,
                },
            })
        })
    }

    /// Makes a token (no accessor: its accessor and secret are new UUIDs, and the answer is the
    /// one place its secret is ever shown) or updates one (its accessor).
    async fn upsert_acl_token(
        &self,
        t: &Token,
        spec: AclTokenSpec,
    ) -> Result<TokenWritten, CsiError> {
        self.acl_on()?;
        self.authorize(t, Acl::is_management).await?;
        if !spec.accessor_id.is_empty() {
            let command = Command::UpsertAclTokens {
                tokens: vec![spec.update()?],
                create: false,
            };
            return self.write_token(t, command, None).await;
        }
        let secret = new_uuid();
        let token = spec.create(new_uuid(), hash_secret(&secret), now_ns())?;
        let command = Command::UpsertAclTokens {
            tokens: vec![token],
            create: true,
        };
        self.write_token(t, command, Some(&secret)).await
    }

    async fn delete_acl_token(&self, t: &Token, accessor_id: String) -> Result<Written, CsiError> {
        self.acl_on()?;
        required_name(&accessor_id, "Missing Token Accessor")?;
        let command = Command::DeleteAclTokens {
            accessor_ids: vec![accessor_id],
        };
        let (_, index) = self.write(t, command).await?;
        Ok(Written { index })
    }

    async fn namespaces(
        &self,
        t: &Token,
        req: NamedListQuery,
    ) -> Result<Read<Vec<ApiNamespace>>, CsiError> {
        let prefix = req.prefix.unwrap_or_default();
        self.blocking(t, &req.options, Watch::Namespaces, |s, caller| {
            Ok(Found {
                value: s
                    .namespaces
                    .values()
                    .filter(|n| n.name.starts_with(&prefix))
                    .filter(|n| caller.acl.allows_any_in_namespace(&n.name))
                    .map(ApiNamespace::from_namespace)
                    .collect(),
                index: s.indexes.namespaces.max(1),
                changed_at: s.indexes.namespaces,
            })
        })
        .await
    }

    async fn namespace(
        &self,
        t: &Token,
        req: NamedQuery,
    ) -> Result<Read<Option<ApiNamespace>>, CsiError> {
        required_name(&req.name, "Missing Namespace Name")?;
        let name = req.name;
        self.blocking(t, &req.options, Watch::Namespaces, |s, caller| {
            require(caller.acl.allows_any_in_namespace(&name))?;
            let found = s.namespaces.get(&name);
            Ok(Found {
                value: found.map(ApiNamespace::from_namespace),
                index: found.map_or(s.indexes.namespaces.max(1), |n| n.modify_index.max(1)),
                changed_at: found.map_or(0, |n| n.modify_index),
            })
        })
        .await
    }

    async fn upsert_namespace(&self, t: &Token, spec: NamespaceSpec) -> Result<Written, CsiError> {
        required_name(&spec.name, "Missing Namespace Name")?;
        self.authorize(t, Acl::is_management).await?;
        // Quotas are an enterprise feature of Nomad's; there is none to name here.
        if !spec.quota.is_empty() {
            return Err(CsiError::invalid(format!(
                "namespace {:?} using non-existent quota {:?}",
                spec.name, spec.quota
            )));
        }
        let namespace = Namespace {
            name: spec.name,
            description: spec.description,
            meta: spec.meta,
            create_index: 0,
            modify_index: 0,
        };
        let (_, index) = self
            .write(t, Command::UpsertNamespace { namespace })
            .await?;
        Ok(Written { index })
    }

    async fn delete_namespace(&self, t: &Token, name: String) -> Result<Written, CsiError> {
        required_name(&name, "Missing Namespace Name")?;
        let (_, index) = self.write(t, Command::DeleteNamespace { name }).await?;
        Ok(Written { index })
    }
}
