//! The typed CSI API that every door calls: one method per operation, typed requests and
//! answers, and one error type with a stable code per refusal. The HTTP gateway and the gRPC
//! `ClusterService` are both adapters over an implementation of `CsiApi`.

mod answer;
mod error;
mod request;
mod spec;
mod views;

pub use answer::{Claimed, Page, PluginWritten, Read, Registered, Written};
pub use error::{CsiError, ERROR_HEADER, ErrorCode, UnknownCode};
pub use request::{
    CapabilitySpec, ClaimSpec, ClaimVolumeRequest, DeletePluginRequest, DeregisterRequest,
    DetachRequest, ListQuery, MAX_WAIT, Namespaces, PluginQuery, PluginReport, PluginsQuery,
    QueryOptions, RegisterRequest, VolumeQuery, VolumeSpec,
};
pub use spec::{GO_ZERO_TIME, parse_next_token};
pub use views::{AllocStub, ApiPlugin, ApiVolume, PluginStub, VolumeRef, VolumeStub};

use serde::{Deserialize, Serialize};
use std::future::Future;

type Answer<T> = Result<T, CsiError>;

/// The CSI operations. Implementations validate, then write through the leader or read.
pub trait CsiApi: Send + Sync + 'static {
    fn register(&self, req: RegisterRequest) -> impl Future<Output = Answer<Registered>> + Send;
    fn deregister(&self, req: DeregisterRequest) -> impl Future<Output = Answer<Written>> + Send;
    fn claim(&self, req: ClaimVolumeRequest) -> impl Future<Output = Answer<Claimed>> + Send;
    fn detach(&self, req: DetachRequest) -> impl Future<Output = Answer<Written>> + Send;
    fn upsert_plugin(
        &self,
        req: PluginReport,
    ) -> impl Future<Output = Answer<PluginWritten>> + Send;
    fn delete_plugin(
        &self,
        req: DeletePluginRequest,
    ) -> impl Future<Output = Answer<Written>> + Send;
    fn volume(
        &self,
        req: VolumeQuery,
    ) -> impl Future<Output = Answer<Read<Option<ApiVolume>>>> + Send;
    fn volumes(&self, req: ListQuery) -> impl Future<Output = Answer<Page<VolumeStub>>> + Send;
    fn plugins(
        &self,
        req: PluginsQuery,
    ) -> impl Future<Output = Answer<Read<Vec<PluginStub>>>> + Send;
    fn plugin(
        &self,
        req: PluginQuery,
    ) -> impl Future<Output = Answer<Read<Option<ApiPlugin>>>> + Send;
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
}

impl CsiCall {
    /// Carries this call out on `api`.
    pub async fn dispatch(self, api: &impl CsiApi) -> Answer<CsiAnswer> {
        Ok(match self {
            CsiCall::Register(r) => CsiAnswer::Registered(api.register(r).await?),
            CsiCall::Deregister(r) => CsiAnswer::Written(api.deregister(r).await?),
            CsiCall::Claim(r) => CsiAnswer::Claimed(api.claim(r).await?),
            CsiCall::Detach(r) => CsiAnswer::Written(api.detach(r).await?),
            CsiCall::UpsertPlugin(r) => CsiAnswer::PluginWritten(api.upsert_plugin(r).await?),
            CsiCall::DeletePlugin(r) => CsiAnswer::Written(api.delete_plugin(r).await?),
            CsiCall::Volume(r) => CsiAnswer::Volume(api.volume(r).await?),
            CsiCall::Volumes(r) => CsiAnswer::Volumes(api.volumes(r).await?),
            CsiCall::Plugins(r) => CsiAnswer::Plugins(api.plugins(r).await?),
            CsiCall::Plugin(r) => CsiAnswer::Plugin(api.plugin(r).await?),
        })
    }
}
