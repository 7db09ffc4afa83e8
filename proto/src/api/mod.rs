//! The typed API that every door calls: one method per operation (the CSI ones in `CsiApi`,
//! ACLs and namespaces in `AclApi`, the cluster's own in `OperatorApi`), each taking the caller's token, typed requests and answers,
//! and one error type with a stable code per refusal. The HTTP gateway and the gRPC
//! `ClusterService` are both adapters over one implementation of both.

mod acl;
mod answer;
mod error;
mod operator;
mod request;
mod spec;
mod views;

pub use acl::{
    AclPolicySpec, AclPolicyStub, AclTokenSpec, AclTokenStub, ApiAclPolicy, ApiAclToken,
    ApiNamespace, BootstrapRequest, NamedListQuery, NamedQuery, NamespaceSpec, TokenWritten,
    go_duration, rfc3339,
};
pub use answer::{Claimed, Page, PluginWritten, Read, Registered, Written};
pub use error::{CsiError, ERROR_HEADER, ErrorCode, UnknownCode};
pub use operator::{
    ApiRaftConfiguration, ApiRaftServer, EventQuery, RaftConfiguration, RaftServer, not_a_member,
    only_voter,
};
pub use request::{
    CapabilitySpec, ClaimSpec, ClaimVolumeRequest, DeletePluginRequest, DeregisterRequest,
    DetachRequest, ListQuery, MAX_WAIT, Namespaces, PluginQuery, PluginReport, PluginsQuery,
    QueryOptions, RegisterRequest, VolumeQuery, VolumeSpec,
};
pub use spec::{GO_ZERO_TIME, parse_next_token};
pub use views::{AllocStub, ApiPlugin, ApiVolume, PluginStub, VolumeRef, VolumeStub};

use crate::acl::Token;
use serde::{Deserialize, Serialize};
use std::future::Future;

type Answer<T> = Result<T, CsiError>;

/// The CSI operations. Implementations check the caller's token, validate, then write through
/// the leader or read.
pub trait CsiApi: Send + Sync + 'static {
    fn register(
        &self,
        t: &Token,
        req: RegisterRequest,
    ) -> impl Future<Output = Answer<Registered>> + Send;
    fn deregister(
        &self,
        t: &Token,
        req: DeregisterRequest,
    ) -> impl Future<Output = Answer<Written>> + Send;
    fn claim(
        &self,
        t: &Token,
        req: ClaimVolumeRequest,
    ) -> impl Future<Output = Answer<Claimed>> + Send;
    fn detach(&self, t: &Token, req: DetachRequest)
    -> impl Future<Output = Answer<Written>> + Send;
    fn upsert_plugin(
        &self,
        t: &Token,
        req: PluginReport,
    ) -> impl Future<Output = Answer<PluginWritten>> + Send;
    fn delete_plugin(
        &self,
        t: &Token,
        req: DeletePluginRequest,
    ) -> impl Future<Output = Answer<Written>> + Send;
    fn volume(
        &self,
        t: &Token,
        req: VolumeQuery,
    ) -> impl Future<Output = Answer<Read<Option<ApiVolume>>>> + Send;
    fn volumes(
        &self,
        t: &Token,
        req: ListQuery,
    ) -> impl Future<Output = Answer<Page<VolumeStub>>> + Send;
    fn plugins(
        &self,
        t: &Token,
        req: PluginsQuery,
    ) -> impl Future<Output = Answer<Read<Vec<PluginStub>>>> + Send;
    fn plugin(
        &self,
        t: &Token,
        req: PluginQuery,
    ) -> impl Future<Output = Answer<Read<Option<ApiPlugin>>>> + Send;
}

/// The ACL and namespace operations, checked like the CSI ones.
pub trait AclApi: Send + Sync + 'static {
    fn acl_bootstrap(
        &self,
        req: BootstrapRequest,
    ) -> impl Future<Output = Answer<TokenWritten>> + Send;
    fn acl_policies(
        &self,
        t: &Token,
        req: NamedListQuery,
    ) -> impl Future<Output = Answer<Read<Vec<AclPolicyStub>>>> + Send;
    fn acl_policy(
        &self,
        t: &Token,
        req: NamedQuery,
    ) -> impl Future<Output = Answer<Read<Option<ApiAclPolicy>>>> + Send;
    fn upsert_acl_policy(
        &self,
        t: &Token,
        spec: AclPolicySpec,
    ) -> impl Future<Output = Answer<Written>> + Send;
    fn delete_acl_policy(
        &self,
        t: &Token,
        name: String,
    ) -> impl Future<Output = Answer<Written>> + Send;
    fn acl_tokens(
        &self,
        t: &Token,
        req: NamedListQuery,
    ) -> impl Future<Output = Answer<Read<Vec<AclTokenStub>>>> + Send;
    fn acl_token(
        &self,
        t: &Token,
        req: NamedQuery,
    ) -> impl Future<Output = Answer<Read<Option<ApiAclToken>>>> + Send;
    fn acl_token_self(&self, t: &Token) -> impl Future<Output = Answer<Read<ApiAclToken>>> + Send;
    fn upsert_acl_token(
        &self,
        t: &Token,
        spec: AclTokenSpec,
    ) -> impl Future<Output = Answer<TokenWritten>> + Send;
    fn delete_acl_token(
        &self,
        t: &Token,
        accessor_id: String,
    ) -> impl Future<Output = Answer<Written>> + Send;
    fn namespaces(
        &self,
        t: &Token,
        req: NamedListQuery,
    ) -> impl Future<Output = Answer<Read<Vec<ApiNamespace>>>> + Send;
    fn namespace(
        &self,
        t: &Token,
        req: NamedQuery,
    ) -> impl Future<Output = Answer<Read<Option<ApiNamespace>>>> + Send;
    fn upsert_namespace(
        &self,
        t: &Token,
        spec: NamespaceSpec,
    ) -> impl Future<Output = Answer<Written>> + Send;
    fn delete_namespace(
        &self,
        t: &Token,
        name: String,
    ) -> impl Future<Output = Answer<Written>> + Send;
}

/// The operations on the cluster itself, for operators, checked like the rest.
pub trait OperatorApi: Send + Sync + 'static {
    /// Refuses a caller that may not read or change the cluster itself (its Raft members, its
    /// snapshots, an agent's configuration): while ACLs are on, only a management token may.
    fn authorize_operator(&self, t: &Token) -> impl Future<Output = Answer<()>> + Send;
    /// Replaces every table with a snapshot archive's (management only).
    fn restore_tables(
        &self,
        t: &Token,
        tables: crate::Tables,
    ) -> impl Future<Output = Answer<Written>> + Send;
}

/// One call, as it travels over gRPC.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", content = "request", rename_all = "kebab-case")]
pub enum CsiCall {
    Register(RegisterRequest),
    Deregister(DeregisterRequest),
    Claim(ClaimVolumeRequest),
    Detach(DetachRequest),
    UpsertPlugin(PluginReport),
    DeletePlugin(DeletePluginRequest),
    Volume(VolumeQuery),
    Volumes(ListQuery),
    Plugins(PluginsQuery),
    Plugin(PluginQuery),
    AclBootstrap(BootstrapRequest),
    AclPolicies(NamedListQuery),
    AclPolicy(NamedQuery),
    UpsertAclPolicy(AclPolicySpec),
    DeleteAclPolicy(String),
    AclTokens(NamedListQuery),
    AclToken(NamedQuery),
    AclTokenSelf,
    UpsertAclToken(AclTokenSpec),
    DeleteAclToken(String),
    Namespaces(NamedListQuery),
    Namespace(NamedQuery),
    UpsertNamespace(NamespaceSpec),
    DeleteNamespace(String),
}

/// One call's answer, as it travels over gRPC.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", content = "answer", rename_all = "kebab-case")]
pub enum CsiAnswer {
    Registered(Registered),
    Written(Written),
    Claimed(Claimed),
    PluginWritten(PluginWritten),
    Volume(Read<Option<ApiVolume>>),
    Volumes(Page<VolumeStub>),
    Plugins(Read<Vec<PluginStub>>),
    Plugin(Read<Option<ApiPlugin>>),
    TokenWritten(TokenWritten),
    AclPolicies(Read<Vec<AclPolicyStub>>),
    AclPolicy(Read<Option<ApiAclPolicy>>),
    AclTokens(Read<Vec<AclTokenStub>>),
    AclToken(Read<Option<ApiAclToken>>),
    AclTokenSelf(Read<ApiAclToken>),
    Namespaces(Read<Vec<ApiNamespace>>),
    Namespace(Read<Option<ApiNamespace>>),
}

impl CsiCall {
    /// Carries this call out on `api`, as the caller holding `t`.
    pub async fn dispatch(self, api: &(impl CsiApi + AclApi), t: &Token) -> Answer<CsiAnswer> {
        use CsiAnswer as A;
        Ok(match self {
            CsiCall::Register(r) => A::Registered(api.register(t, r).await?),
            CsiCall::Deregister(r) => A::Written(api.deregister(t, r).await?),
            CsiCall::Claim(r) => A::Claimed(api.claim(t, r).await?),
            CsiCall::Detach(r) => A::Written(api.detach(t, r).await?),
            CsiCall::UpsertPlugin(r) => A::PluginWritten(api.upsert_plugin(t, r).await?),
            CsiCall::DeletePlugin(r) => A::Written(api.delete_plugin(t, r).await?),
            CsiCall::Volume(r) => A::Volume(api.volume(t, r).await?),
            CsiCall::Volumes(r) => A::Volumes(api.volumes(t, r).await?),
            CsiCall::Plugins(r) => A::Plugins(api.plugins(t, r).await?),
            CsiCall::Plugin(r) => A::Plugin(api.plugin(t, r).await?),
            CsiCall::AclBootstrap(r) => A::TokenWritten(api.acl_bootstrap(r).await?),
            CsiCall::AclPolicies(r) => A::AclPolicies(api.acl_policies(t, r).await?),
            CsiCall::AclPolicy(r) => A::AclPolicy(api.acl_policy(t, r).await?),
            CsiCall::UpsertAclPolicy(r) => A::Written(api.upsert_acl_policy(t, r).await?),
            CsiCall::DeleteAclPolicy(r) => A::Written(api.delete_acl_policy(t, r).await?),
            CsiCall::AclTokens(r) => A::AclTokens(api.acl_tokens(t, r).await?),
            CsiCall::AclToken(r) => A::AclToken(api.acl_token(t, r).await?),
            CsiCall::AclTokenSelf => A::AclTokenSelf(api.acl_token_self(t).await?),
            CsiCall::UpsertAclToken(r) => A::TokenWritten(api.upsert_acl_token(t, r).await?),
            CsiCall::DeleteAclToken(r) => A::Written(api.delete_acl_token(t, r).await?),
            CsiCall::Namespaces(r) => A::Namespaces(api.namespaces(t, r).await?),
            CsiCall::Namespace(r) => A::Namespace(api.namespace(t, r).await?),
            CsiCall::UpsertNamespace(r) => A::Written(api.upsert_namespace(t, r).await?),
            CsiCall::DeleteNamespace(r) => A::Written(api.delete_namespace(t, r).await?),
        })
    }
}
