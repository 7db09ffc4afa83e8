//! The CSI endpoint: the one place every request passes, whichever door it came through (the
//! HTTP gateway or gRPC `ClusterService`). Each operation validates, then writes through the
//! leader or reads, and answers a typed result or a `CsiError`. Blocking queries wait here too,
//! so a woken query is answered by the same code that answered it first.

mod store;

pub use store::Store;

use crate::state::State;
use rand::Rng;
use stowage_proto::api::{
    ApiPlugin, ApiVolume, ClaimVolumeRequest, Claimed, CsiApi, CsiError, DeletePluginRequest,
    DeregisterRequest, DetachRequest, ListQuery, MAX_WAIT, Page, PluginQuery, PluginReport,
    PluginStub, PluginWritten, PluginsQuery, QueryOptions, Read, RegisterRequest, Registered,
    VolumeQuery, VolumeStub, Written,
};
use stowage_proto::command::require_volume_id;
use stowage_proto::filter::Filter;
use stowage_proto::{ClusterError, Command, Outcome, Plugin, VolumeKey, Watch};
use tokio::time::Instant;

/// The endpoint over a `Store`. Cloning shares the store.
#[derive(Clone, Debug)]
pub struct Csi<S> {
    store: S,
}

/// What a read found: the value, the index to report, and the index the watched data last
/// changed at (a blocking query returns once it exceeds the caller's index).
struct Found<T> {
    value: T,
    index: u64,
    changed_at: u64,
}

impl<S: Store> Csi<S> {
    pub fn new(store: S) -> Self {
        Csi { store }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Checks and applies `command`; a refusal by the domain rules is a `CsiError` like any
    /// other. Returns what apply answered and the table index to report.
    async fn write(&self, command: Command) -> Result<(Outcome, u64), CsiError> {
        command.check()?;
        let name = command.name();
        let resp = self.store.write(command).await?;
        let outcome = resp.result?;
        tracing::trace!(command = name, index = resp.index, "applied");
        Ok((outcome, resp.table_index))
    }

    /// Runs `query` on a state fresh enough for `opts`, then, for a blocking query, again each
    /// time what `watch` names changes, until the data changed after `opts.index` or the wait
    /// (plus up to 1/16 of it, so that woken clients spread out) runs out.
    async fn blocking<T>(
        &self,
        opts: &QueryOptions,
        watch: Watch,
        query: impl Fn(&State) -> Found<T>,
    ) -> Result<Read<T>, CsiError> {
        self.store.settle(opts.stale).await?;
        let mut found = self.store.read(&query);
        if opts.index == 0 {
            return Ok(Read {
                value: found.value,
                index: found.index,
            });
        }
        let wait = if opts.wait.is_zero() {
            MAX_WAIT
        } else {
            opts.wait.min(MAX_WAIT)
        };
        let jitter_ms = rand::rng().random_range(0..=(wait.as_millis() as u64 / 16).max(1) - 1);
        let deadline = Instant::now() + wait + std::time::Duration::from_millis(jitter_ms);
        while found.changed_at <= opts.index && Instant::now() < deadline {
            let woke = self.store.wait(&watch, opts.index, deadline).await;
            if woke <= opts.index {
                break;
            }
            // The first read was as fresh as the caller asked; this node has applied everything
            // since, so its own state is at least as fresh now.
            found = self.store.read(&query);
            found.changed_at = found.changed_at.max(woke);
        }
        Ok(Read {
            value: found.value,
            index: found.index,
        })
    }
}

/// Apply answered a command with an outcome of another command's kind: a fault of this server.
fn mismatched(command: &str, outcome: &Outcome) -> CsiError {
    CsiError::Cluster(ClusterError::Internal(format!(
        "apply answered {command} with {outcome:?}"
    )))
}

impl<S: Store> CsiApi for Csi<S> {
    async fn register(&self, req: RegisterRequest) -> Result<Registered, CsiError> {
        let volumes = req
            .volumes
            .iter()
            .map(|spec| spec.to_volume(&req.namespace))
            .collect::<Result<Vec<_>, _>>()?;
        let command = Command::RegisterVolumes {
            volumes,
            cas: req.cas,
        };
        match self.write(command).await? {
            (Outcome::Registered { volumes, warnings }, index) => Ok(Registered {
                volumes: volumes.iter().map(ApiVolume::from_detail).collect(),
                warnings,
                index,
            }),
            (other, _) => Err(mismatched("register", &other)),
        }
    }

    async fn deregister(&self, req: DeregisterRequest) -> Result<Written, CsiError> {
        let command = Command::DeregisterVolume {
            namespace: req.namespace,
            id: req.id,
            force: req.force,
            cas: req.cas,
        };
        let (_, index) = self.write(command).await?;
        Ok(Written { index })
    }

    async fn claim(&self, req: ClaimVolumeRequest) -> Result<Claimed, CsiError> {
        let command = Command::Claim {
            namespace: req.namespace,
            volume_id: req.volume_id,
            request: req.claim.to_request()?,
            cas: req.cas,
        };
        match self.write(command).await? {
            (Outcome::Claimed { volume, changed }, index) => Ok(Claimed {
                volume: ApiVolume::from_detail(&volume),
                changed,
                index,
            }),
            (other, _) => Err(mismatched("claim", &other)),
        }
    }

    async fn detach(&self, req: DetachRequest) -> Result<Written, CsiError> {
        let command = Command::DetachNode {
            namespace: req.namespace,
            volume_id: req.volume_id,
            node_id: req.node_id,
        };
        let (_, index) = self.write(command).await?;
        Ok(Written { index })
    }

    async fn upsert_plugin(&self, req: PluginReport) -> Result<PluginWritten, CsiError> {
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
        match self.write(Command::UpsertPlugin { plugin }).await? {
            (Outcome::Plugin(stored), index) => Ok(PluginWritten {
                plugin: ApiPlugin::from_plugin(&stored),
                index,
            }),
            (other, _) => Err(mismatched("upsert-plugin", &other)),
        }
    }

    async fn delete_plugin(&self, req: DeletePluginRequest) -> Result<Written, CsiError> {
        let (_, index) = self.write(Command::DeletePlugin { id: req.id }).await?;
        Ok(Written { index })
    }

    async fn volume(&self, req: VolumeQuery) -> Result<Read<Option<ApiVolume>>, CsiError> {
        require_volume_id(&req.id)?;
        let key = VolumeKey::new(req.namespace, req.id);
        // A blocking read of one volume wakes only when that volume changes.
        let watch = Watch::Volume(key.clone());
        self.blocking(&req.options, watch, |s| {
            let found = s.volume_ref(&key);
            Found {
                value: found.map(|r| r.to_api()),
                index: s.indexes.volumes,
                changed_at: found.map_or(0, |r| r.volume.modify_index),
            }
        })
        .await
    }

    async fn volumes(&self, req: ListQuery) -> Result<Page<VolumeStub>, CsiError> {
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
        let read = self
            .blocking(&req.options, Watch::Volumes, |s| {
                let index = s.indexes.volumes;
                Found {
                    value: s.list_volumes(&req, filter.as_ref()),
                    index,
                    changed_at: index,
                }
            })
            .await?;
        read.value
            .map_err(|e| CsiError::invalid(format!("failed to read result page: {e}")))
    }

    async fn plugins(&self, req: PluginsQuery) -> Result<Read<Vec<PluginStub>>, CsiError> {
        let prefix = req.prefix.unwrap_or_default();
        self.blocking(&req.options, Watch::Plugins, |s| Found {
            value: s
                .plugins
                .values()
                .filter(|p| p.id.starts_with(&prefix))
                .map(PluginStub::from_plugin)
                .collect(),
            index: s.indexes.plugins,
            changed_at: s.indexes.plugins,
        })
        .await
    }

    async fn plugin(&self, req: PluginQuery) -> Result<Read<Option<ApiPlugin>>, CsiError> {
        self.blocking(&req.options, Watch::Plugins, |s| {
            let found = s.plugins.get(&req.id);
            Found {
                value: found.map(ApiPlugin::from_plugin),
                index: s.indexes.plugins,
                changed_at: found.map_or(0, |p| p.modify_index),
            }
        })
        .await
    }
}
