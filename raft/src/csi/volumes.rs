//! The CSI operations of the endpoint: volumes, claims and plugins. Reads check the caller's
//! namespace capabilities (a list of every namespace keeps only the namespaces it may list);
//! writes are admitted by the leader.

use super::{Csi, Found, Store, mismatched, require};
use crate::state::{LIST_VOLUMES, READ_VOLUME, may_mount, may_register};
use stowage_proto::acl::{PluginAccess, Token};
use stowage_proto::api::{
    ApiPlugin, ApiVolume, ClaimVolumeRequest, Claimed, CsiApi, CsiError, DeletePluginRequest,
    DeregisterRequest, DetachRequest, ListQuery, Namespaces, Page, PluginQuery, PluginReport,
    PluginStub, PluginWritten, PluginsQuery, Read, RegisterRequest, Registered, VolumeQuery,
    VolumeStub, Written,
};
use stowage_proto::command::require_volume_id;
use stowage_proto::filter::Filter;
use stowage_proto::{Command, Outcome, Plugin, VolumeKey, Watch};

impl<S: Store> CsiApi for Csi<S> {
    async fn register(&self, t: &Token, req: RegisterRequest) -> Result<Registered, CsiError> {
        let namespaces = req.volumes.iter().map(|v| v.namespace_in(&req.namespace));
        self.authorize(t, |acl| may_register(acl, namespaces.clone()))
            .await?;
        let volumes = req
            .volumes
            .iter()
            .map(|spec| spec.to_volume(&req.namespace))
            .collect::<Result<Vec<_>, _>>()?;
        let command = Command::RegisterVolumes {
            volumes,
            cas: req.cas,
        };
        match self.write(t, command).await? {
            (Outcome::Registered { volumes, warnings }, index) => Ok(Registered {
                volumes: volumes.iter().map(ApiVolume::from_detail).collect(),
                warnings,
                index,
            }),
            (other, _) => Err(mismatched("register", &other)),
        }
    }

    async fn deregister(&self, t: &Token, req: DeregisterRequest) -> Result<Written, CsiError> {
        let command = Command::DeregisterVolume {
            namespace: req.namespace,
            id: req.id,
            force: req.force,
            cas: req.cas,
        };
        let (_, index) = self.write(t, command).await?;
        Ok(Written { index })
    }

    async fn claim(&self, t: &Token, req: ClaimVolumeRequest) -> Result<Claimed, CsiError> {
        self.authorize(t, |acl| may_mount(acl, &req.namespace))
            .await?;
        let command = Command::Claim {
            namespace: req.namespace,
            volume_id: req.volume_id,
            request: req.claim.to_request()?,
            cas: req.cas,
        };
        match self.write(t, command).await? {
            (Outcome::Claimed { volume, changed }, index) => Ok(Claimed {
                volume: ApiVolume::from_detail(&volume),
                changed,
                index,
            }),
            (other, _) => Err(mismatched("claim", &other)),
        }
    }

    async fn detach(&self, t: &Token, req: DetachRequest) -> Result<Written, CsiError> {
        let command = Command::DetachNode {
            namespace: req.namespace,
            volume_id: req.volume_id,
            node_id: req.node_id,
        };
        let (_, index) = self.write(t, command).await?;
        Ok(Written { index })
    }

    async fn upsert_plugin(&self, t: &Token, req: PluginReport) -> Result<PluginWritten, CsiError> {
        let plugin = Plugin {
            id: req.id,
            provider: req.provider,
            version: req.version,
            controller_required: req.controller_required,
            controllers_healthy: req.controllers_healthy,
            controllers_expected: req.controllers_expected,
            nodes_healthy: req.nodes_healthy,
            nodes_expected: req.nodes_expected,
            ..Default::default()
        };
        match self.write(t, Command::UpsertPlugin { plugin }).await? {
            (Outcome::Plugin(stored), index) => Ok(PluginWritten {
                plugin: ApiPlugin::from_plugin(&stored),
                index,
            }),
            (other, _) => Err(mismatched("upsert-plugin", &other)),
        }
    }

    async fn delete_plugin(
        &self,
        t: &Token,
        req: DeletePluginRequest,
    ) -> Result<Written, CsiError> {
        let (_, index) = self.write(t, Command::DeletePlugin { id: req.id }).await?;
        Ok(Written { index })
    }

    async fn volume(
        &self,
        t: &Token,
        req: VolumeQuery,
    ) -> Result<Read<Option<ApiVolume>>, CsiError> {
        require_volume_id(&req.id)?;
        let key = VolumeKey::new(req.namespace, req.id);
        // A blocking read of one volume wakes only when that volume changes.
        let watch = Watch::Volume(key.clone());
        self.blocking(t, &req.options, watch, |s, caller| {
            require(caller.acl.allows_namespace(&key.namespace, READ_VOLUME))?;
            let found = s.volume_ref(&key);
            Ok(Found {
                value: found.map(|r| r.to_api()),
                index: s.indexes.volumes,
                changed_at: found.map_or(0, |r| r.volume.modify_index),
            })
        })
        .await
    }

    async fn volumes(&self, t: &Token, req: ListQuery) -> Result<Page<VolumeStub>, CsiError> {
        let filter = req
            .filter
            .as_deref()
            .map(Filter::parse)
            .transpose()
            .map_err(|e| {
                CsiError::invalid(format!(
                    "failed to create result paginator: failed to read filter expression: {e}"
                ))
            })?;
        let asked = match &req.namespaces {
            Namespaces::One(ns) => ns.as_str(),
            Namespaces::All => "*",
        };
        let read = self
            .blocking(t, &req.options, Watch::Volumes, |s, caller| {
                require(caller.acl.allows_namespace(asked, LIST_VOLUMES))?;
                // Across namespaces, only those the caller may list are listed.
                let visible = |ns: &str| caller.acl.allows_namespace(ns, LIST_VOLUMES);
                let index = s.indexes.volumes;
                Ok(Found {
                    value: s.list_volumes(&req, filter.as_ref(), &visible),
                    index,
                    changed_at: index,
                })
            })
            .await?;
        read.value
            .map_err(|e| CsiError::invalid(format!("failed to read result page: {e}")))
    }

    async fn plugins(
        &self,
        t: &Token,
        req: PluginsQuery,
    ) -> Result<Read<Vec<PluginStub>>, CsiError> {
        let prefix = req.prefix.unwrap_or_default();
        self.blocking(t, &req.options, Watch::Plugins, |s, caller| {
            require(caller.acl.allows_plugin(PluginAccess::List))?;
            Ok(Found {
                value: s
                    .plugins
                    .values()
                    .filter(|p| p.id.starts_with(&prefix))
                    .map(PluginStub::from_plugin)
                    .collect(),
                index: s.indexes.plugins,
                changed_at: s.indexes.plugins,
            })
        })
        .await
    }

    async fn plugin(
        &self,
        t: &Token,
        req: PluginQuery,
    ) -> Result<Read<Option<ApiPlugin>>, CsiError> {
        self.blocking(t, &req.options, Watch::Plugins, |s, caller| {
            require(caller.acl.allows_plugin(PluginAccess::Read))?;
            let found = s.plugins.get(&req.id);
            Ok(Found {
                value: found.map(ApiPlugin::from_plugin),
                index: s.indexes.plugins,
                changed_at: found.map_or(0, |p| p.modify_index),
            })
        })
        .await
    }
}
